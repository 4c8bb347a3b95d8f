variable "project_id" {
  description = "The Google Cloud project that runs the control plane and owns the TPUs."
  type        = string
  nullable    = false
}

variable "name_prefix" {
  description = "Prefix of every resource name this configuration creates (topics, subscriptions, Cloud Run services, service accounts, the Scheduler job, the SSH key secret, network resources, the job secrets' default prefix), so that several SpotJax deployments (staging and production, say) can share one project; the functions get it as SPOTJAX_NAME_PREFIX and the command line reads it from the bucket's deployment.json. The default gives the names of a deployment made before prefixes. 1 to 16 characters: lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen and not starting with goog (Pub/Sub refuses such topic names)."
  type        = string
  default     = "spotjax"
  nullable    = false

  validation {
    # 16 characters keep the longest name within its limit: the service account id PREFIX-bucket-events (30).
    condition     = can(regex("^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$", var.name_prefix)) && !startswith(var.name_prefix, "goog")
    error_message = "name_prefix must be 1 to 16 characters of a-z, 0-9 and '-', start with a letter, not end with '-' and not start with goog."
  }
}

variable "deployment_name" {
  description = "This deployment's name (SPOTJAX_DEPLOYMENT): the spotjax-deployment label of every queued resource it creates. Its sweep lists, recovers and deletes only queued resources with this label, so deployments sharing a project never touch each other's TPUs. Null or empty means var.name_prefix. A label value: 1 to 63 characters of a-z, 0-9, '_' and '-', starting with a letter."
  type        = string
  default     = null

  validation {
    condition     = var.deployment_name == null || can(regex("^([a-z][a-z0-9_-]{0,62})?$", var.deployment_name))
    error_message = "deployment_name must be empty or 1 to 63 characters of a-z, 0-9, '_' and '-', starting with a letter."
  }
}

variable "firestore_database" {
  description = "The Firestore database of the job store (SPOTJAX_FIRESTORE_DATABASE). \"(default)\" is the project's default database (see create_firestore_database); any other name is a database this configuration creates, for a second deployment in a project whose (default) database another deployment uses."
  type        = string
  default     = "(default)"
  nullable    = false

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be (default) or a database id: 4 to 63 characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit."
  }
}

variable "region" {
  description = "Region of the Cloud Run services, the Scheduler job, the image repository and (by default) the bucket and Firestore. TPU zones may be in other regions."
  type        = string
  default     = "us-central1"
  nullable    = false

  validation {
    condition     = trimspace(var.region) != ""
    error_message = "Set region to a Google Cloud region such as us-central1."
  }
}

variable "bucket_name" {
  description = "The control bucket (globally unique): manifests under jobs/, code bundles under code/, each job's checkpoints, logs, markers and host keys, the pip cache. SPOTJAX_BUCKET of every function."
  type        = string
  nullable    = false
}

variable "bucket_location" {
  description = "Location of the control bucket; null means var.region. Put it near the TPU zones you use: checkpoints are written from there."
  type        = string
  default     = null
}

variable "image" {
  description = "The functions image, best by digest: REGION-docker.pkg.dev/PROJECT/REPOSITORY/spotjax-functions@sha256:... (cloudbuild.yaml passes it)."
  type        = string
  nullable    = false

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "Set image to the functions image (cloudbuild.yaml passes the digest it pushed)."
  }
}

variable "repository" {
  description = "Artifact Registry repository (Docker format, in var.region) that holds the functions image."
  type        = string
  default     = "spotjax"
  nullable    = false
}

variable "firestore_location" {
  description = "Location of the (default) Firestore database; null means var.region. It cannot be changed once created."
  type        = string
  default     = null
}

variable "create_firestore_database" {
  description = "Create the (default) Firestore database. Set false when the project already has one (Native mode) that SpotJax should share."
  type        = bool
  default     = true
  nullable    = false
}

variable "ssh_user" {
  description = "The user launch logs in as on the TPU VMs; provisioning authorizes the public key for it (SPOTJAX_SSH_USER)."
  type        = string
  default     = "spotjax"
  nullable    = false
}

variable "ssh_login" {
  description = "How launch logs in to the TPU VMs (SPOTJAX_SSH_LOGIN): auto uses OS Login where the organisation policy constraints/compute.requireOsLogin or the project metadata enable-oslogin turns it on and metadata keys elsewhere; oslogin always uses OS Login (and sets enable-oslogin=TRUE on the VMs); metadata always uses the ssh-keys metadata (and sets enable-oslogin=FALSE on the VMs, which an organisation policy overrides)."
  type        = string
  default     = "auto"
  nullable    = false

  validation {
    condition     = contains(["auto", "oslogin", "metadata"], var.ssh_login)
    error_message = "ssh_login must be auto, oslogin or metadata."
  }
}

variable "ssh_public_key" {
  description = "Public half of a launch key you made yourself (ssh-ed25519 AAAA...); add its private half to the secret spotjax-ssh-key. Null or empty makes Terraform generate the pair and store the private key in Secret Manager, which also puts it in the Terraform state."
  type        = string
  default     = null
}

variable "network" {
  description = "An existing VPC network for the TPU VMs: its name (a network of project_id) or its full name projects/HOST_PROJECT/global/networks/NAME (a Shared VPC host project; Terraform then creates the subnets, routers and firewall rules there). Null or empty creates the custom-mode network NAME_PREFIX-tpu."
  type        = string
  default     = null
}

variable "tpu_subnets" {
  description = "Region => IPv4 range of the TPU VMs' subnet there (NAME_PREFIX-tpu-REGION, with Private Google Access and Cloud NAT). TPUs can be created only in zones of these regions; a job naming another zone is rejected at submission. Ranges must not overlap each other, launch_egress_cidr or other subnets of the network."
  type        = map(string)
  default = {
    "us-central1"  = "10.20.0.0/20"
    "us-central2"  = "10.20.16.0/20"
    "us-east1"     = "10.20.32.0/20"
    "us-east5"     = "10.20.48.0/20"
    "us-west4"     = "10.20.64.0/20"
    "europe-west4" = "10.20.80.0/20"
  }
  nullable = false

  validation {
    condition     = length(var.tpu_subnets) > 0 && alltrue([for region, cidr in var.tpu_subnets : can(regex("^[a-z]+-[a-z]+[0-9]+$", region)) && can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+/([89]|[12][0-9])$", cidr)) && can(cidrhost(cidr, 0))])
    error_message = "tpu_subnets must map at least one region (such as us-central2) to an IPv4 range with a prefix of /8 to /29 (such as 10.20.16.0/20)."
  }

  validation {
    # Two ranges overlap when they agree on the bits of the shorter prefix; malformed ones are the rule above's.
    condition     = alltrue([for pair in setproduct(keys(var.tpu_subnets), keys(var.tpu_subnets)) : pair[0] == pair[1] || try(cidrhost("${split("/", var.tpu_subnets[pair[0]])[0]}/${min(tonumber(split("/", var.tpu_subnets[pair[0]])[1]), tonumber(split("/", var.tpu_subnets[pair[1]])[1]))}", 0) != cidrhost("${split("/", var.tpu_subnets[pair[1]])[0]}/${min(tonumber(split("/", var.tpu_subnets[pair[0]])[1]), tonumber(split("/", var.tpu_subnets[pair[1]])[1]))}", 0), true)])
    error_message = "The ranges of tpu_subnets must not overlap."
  }
}

variable "tpu_external_ips" {
  description = "Give the TPU VMs external IP addresses (networkConfig.enableExternalIps, SPOTJAX_TPU_EXTERNAL_IPS). Off by default: Cloud NAT and Private Google Access are enough, and organisations often forbid external addresses (constraints/compute.vmExternalIpAccess). Turn it on only to reach the VMs from outside the network yourself."
  type        = bool
  default     = false
  nullable    = false
}

variable "launch_egress_cidr" {
  description = "Range of the subnet (in var.region, on the TPU network) that launch's Direct VPC egress takes its addresses from; the firewall admits SSH to the TPU VMs from this range only. Must not overlap tpu_subnets or other subnets of the network."
  type        = string
  default     = "10.8.0.0/24"
  nullable    = false
}

variable "sweep_schedule" {
  description = "unix-cron schedule of the sweep; every minute is the finest Cloud Scheduler allows."
  type        = string
  default     = "* * * * *"
  nullable    = false
}

variable "sweep_zones" {
  description = "Zones the sweep lists every minute for orphaned SpotJax queued resources (SPOTJAX_SWEEP_ZONES), besides the zones of the active jobs. List every zone your jobs use: a queued resource left behind in a zone where no job is active any more is found only here, and a Spot TPU bills until it is deleted."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    # The rule of tpu.zone in a job document (shared/SpotJax.Core/Jobs/JobSpecValidator.cs).
    condition     = alltrue([for zone in var.sweep_zones : can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", zone))])
    error_message = "Each entry of sweep_zones must be a zone such as us-central2-b or europe-west4-a."
  }
}

variable "status_viewers" {
  description = "IAM members allowed to open the status page (user:you@example.com, group:team@example.com). The status service admits nobody else."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "manifest_retention_days" {
  description = "Days after which manifests under jobs/ are deleted (a job's document is copied into Firestore at submission)."
  type        = number
  default     = 30
  nullable    = false
}

variable "code_retention_days" {
  description = "Days after which code bundles under code/ are deleted. Keep it longer than your longest job: a recovery fetches the bundle again."
  type        = number
  default     = 90
  nullable    = false
}

variable "pip_cache_retention_days" {
  description = "Days after which the requirements wheel cache under cache/pip/ is deleted (it is rebuilt on the next install)."
  type        = number
  default     = 30
  nullable    = false
}

variable "soft_delete_retention_seconds" {
  description = "Soft-delete retention of the control bucket. 0 turns it off: checkpoint rotation deletes a lot, and soft-deleted objects are billed."
  type        = number
  default     = 0
  nullable    = false
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message before Pub/Sub moves it to the dead-letter topic (5 to 100). The sweep republishes steps that were lost this way."
  type        = number
  default     = 10
  nullable    = false
}

variable "job_secret_prefix" {
  description = "Secrets whose id starts with this prefix are readable by the TPU VMs' service account, for the secretEnv of jobs (projects/PROJECT/secrets/<prefix>NAME/versions/V). No other secret of the project is. Null or empty means NAME_PREFIX-job- (spotjax-job- by default), so that the TPU VMs of one deployment cannot read another's job secrets."
  type        = string
  default     = null

  validation {
    condition     = var.job_secret_prefix == null || var.job_secret_prefix == "" || can(regex("^[A-Za-z0-9_-]{1,200}$", var.job_secret_prefix))
    error_message = "job_secret_prefix must be 1 to 200 characters of A-Z, a-z, 0-9, '_', '-' (the start of a secret id)."
  }
}

variable "labels" {
  description = "Labels put on every resource that takes labels."
  type        = map(string)
  default     = { app = "spotjax" }
  nullable    = false
}

variable "webhook_url" {
  description = "The webhook told of every job's end, preemptions and stall warnings unless the job names its own (notify: in the job document; SPOTJAX_WEBHOOK_URL of the notify service). Empty (the default) is none. An https:// URL without user:password@, at most 2048 characters. A Slack webhook URL is the credential of its channel: it ends up in the notify service's configuration."
  type        = string
  default     = ""
  nullable    = false

  validation {
    # The rule of notify.webhook in a job document (shared/SpotJax.Core/Jobs/NotifySpec.cs), less the loopback of local mode.
    condition     = var.webhook_url == "" || (length(var.webhook_url) <= 2048 && can(regex("^https://[^@/[:space:]]+(/[^[:space:]]*)?$", var.webhook_url)))
    error_message = "webhook_url must be empty or an https:// URL of at most 2048 characters without user:password@ or spaces."
  }
}

variable "webhook_format" {
  description = "How webhook_url is posted to (SPOTJAX_WEBHOOK_FORMAT): json (the job event itself, docs/job-events.md) or slack ({\"text\": ...} for Slack-compatible incoming webhooks)."
  type        = string
  default     = "json"
  nullable    = false

  validation {
    condition     = contains(["json", "slack"], var.webhook_format)
    error_message = "webhook_format must be json or slack."
  }
}
