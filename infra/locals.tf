locals {
  # Null, empty or blank means var.region (coalesce would fail on a blank region and keep a blank location).
  bucket_location    = trimspace(var.bucket_location == null ? "" : var.bucket_location) == "" ? var.region : trimspace(var.bucket_location)
  firestore_location = trimspace(var.firestore_location == null ? "" : var.firestore_location) == "" ? var.region : trimspace(var.firestore_location)
  project_number     = data.google_project.this.number

  # The spotjax-deployment label of this deployment's queued resources; null or empty means the prefix.
  deployment_name = trimspace(var.deployment_name == null ? "" : var.deployment_name) == "" ? var.name_prefix : trimspace(var.deployment_name)

  # The start of the secret ids the TPU VMs may read (jobs' secretEnv); null or empty means the prefix's.
  job_secret_prefix = var.job_secret_prefix == null || var.job_secret_prefix == "" ? "${var.name_prefix}-job-" : var.job_secret_prefix

  # Topic names, as shared/SpotJax.Core/Topics.cs names the step topics from the prefix
  # (SPOTJAX_NAME_PREFIX), plus the two only infra uses.
  topics = {
    jobs          = "${var.name_prefix}-jobs"
    provision     = "${var.name_prefix}-provision"
    launch        = "${var.name_prefix}-launch"
    recover       = "${var.name_prefix}-recover"
    finish        = "${var.name_prefix}-finish"
    job_events    = "${var.name_prefix}-job-events"
    bucket_events = "${var.name_prefix}-bucket-events"
    dead_letter   = "${var.name_prefix}-dead-letter"
  }

  # The functions (functions/SpotJax.Functions/FunctionNames.cs): one Cloud Run service and one
  # service account each, FUNCTION_TARGET = the key. How each one is triggered:
  #   topic    - a push subscription on `topic` (Pub/Sub push, OIDC token of the invoker account);
  #   schedule - Cloud Scheduler over HTTP with an OIDC token of the invoker account;
  #   http     - people (the status page), through Cloud Run IAM only.
  # ack_deadline_seconds is also the push request timeout (600 s at most); timeout_seconds is the
  # Cloud Run request timeout, never shorter than the ack deadline.
  functions = {
    "submit" = {
      trigger              = "topic"
      topic                = local.topics.jobs
      concurrency          = 20
      max_instances        = 5
      timeout_seconds      = 60
      ack_deadline_seconds = 60
      cpu                  = "1"
      memory               = "512Mi"
      vpc_egress           = false
    }
    "bucket-events" = {
      trigger = "topic"
      # Fed by the control bucket's OBJECT_FINALIZE notification (storage.tf), not by the code.
      topic                = local.topics.bucket_events
      concurrency          = 40
      max_instances        = 10
      timeout_seconds      = 60
      ack_deadline_seconds = 60
      cpu                  = "1"
      memory               = "512Mi"
      vpc_egress           = false
    }
    "provision" = {
      trigger              = "topic"
      topic                = local.topics.provision
      concurrency          = 10
      max_instances        = 5
      timeout_seconds      = 120
      ack_deadline_seconds = 120
      cpu                  = "1"
      memory               = "512Mi"
      vpc_egress           = false
    }
    "launch" = {
      trigger = "topic"
      topic   = local.topics.launch
      # One launch per instance: it holds up to 32 SSH sessions at once to a slice's workers, one
      # command each that installs the agent and starts it detached (the agents prepare on their
      # own), so it ends in seconds; 300 s covers a slow SSH connect and a 64-worker slice. The
      # request ends before Pub/Sub would redeliver it.
      concurrency          = 1
      max_instances        = 20
      timeout_seconds      = 300
      ack_deadline_seconds = 300
      cpu                  = "2"
      memory               = "1Gi"
      vpc_egress           = true
    }
    "recover" = {
      trigger              = "topic"
      topic                = local.topics.recover
      concurrency          = 10
      max_instances        = 5
      timeout_seconds      = 120
      ack_deadline_seconds = 120
      cpu                  = "1"
      memory               = "512Mi"
      vpc_egress           = false
    }
    "finish" = {
      trigger              = "topic"
      topic                = local.topics.finish
      concurrency          = 10
      max_instances        = 5
      timeout_seconds      = 120
      ack_deadline_seconds = 120
      cpu                  = "1"
      memory               = "512Mi"
      vpc_egress           = false
    }
    "sweep" = {
      trigger = "schedule"
      topic   = null
      # One sweep at a time: Scheduler does not start a run before the previous one ended.
      concurrency          = 1
      max_instances        = 1
      timeout_seconds      = 300
      ack_deadline_seconds = null
      cpu                  = "1"
      memory               = "512Mi"
      vpc_egress           = false
    }
    "notify" = {
      trigger = "topic"
      # Job events (docs/job-events.md); users add subscriptions of their own to the same topic.
      # A webhook POST times out after 10 s, well inside the ack deadline.
      topic                = local.topics.job_events
      concurrency          = 20
      max_instances        = 5
      timeout_seconds      = 60
      ack_deadline_seconds = 60
      cpu                  = "1"
      memory               = "512Mi"
      vpc_egress           = false
    }
    "status" = {
      trigger              = "http"
      topic                = null
      concurrency          = 20
      max_instances        = 2
      timeout_seconds      = 60
      ack_deadline_seconds = null
      cpu                  = "1"
      memory               = "512Mi"
      vpc_egress           = false
    }
  }

  pushed    = { for name, f in local.functions : name => f if f.trigger == "topic" }
  scheduled = { for name, f in local.functions : name => f if f.trigger == "schedule" }
  invoked   = { for name, f in local.functions : name => f if f.trigger != "http" }

  # What the OIDC token of a push or of the Scheduler call is issued for, and what the function
  # checks (SPOTJAX_PUSH_AUDIENCE): the service's deterministic URL, known before the service exists.
  audience = {
    for name, f in local.invoked : name => "https://${var.name_prefix}-${name}-${local.project_number}.${var.region}.run.app"
  }

  # Project-level roles of each function's service account. Firestore and the Cloud TPU API have
  # no finer-grained IAM than the project; everything else is granted on the one resource.
  project_roles = {
    "submit" = [
      # Creates job documents and applies cancel transitions in Firestore.
      "roles/datastore.user",
    ]
    "bucket-events" = [
      # Creates jobs from manifests and records checkpoints and exits on job documents.
      "roles/datastore.user",
      # Reads the queued resource and node to tell a preemption from a clean exit (get only).
      "roles/tpu.viewer",
    ]
    "provision" = [
      # Moves the job to PROVISIONING and records the attempt's queued resource.
      "roles/datastore.user",
      # Creates the attempt's Spot queued resource; no predefined role below admin can create one.
      "roles/tpu.admin",
    ]
    "launch" = [
      # Reads the job and moves it to LAUNCHING and RUNNING.
      "roles/datastore.user",
      # Reads the queued resource and the node's worker addresses (get only).
      "roles/tpu.viewer",
      # OS Login: imports its key and logs in to the TPU VMs with sudo; project wide, as TPU VM instance names are generated.
      "roles/compute.osAdminLogin",
      # Reads the effective constraints/compute.requireOsLogin to choose the login mode (ssh_login=auto); read only.
      "roles/orgpolicy.policyViewer",
    ]
    "recover" = [
      # Ends the attempt and spends the budgets on the job document.
      "roles/datastore.user",
      # Deletes the ended attempt's queued resource (force=true also deletes its nodes).
      "roles/tpu.admin",
    ]
    "finish" = [
      # Reads the finished job and completes a cancel.
      "roles/datastore.user",
      # Deletes the queued resource of a finished or cancelled job.
      "roles/tpu.admin",
    ]
    "sweep" = [
      # Lists the active jobs and applies stall and timeout transitions.
      "roles/datastore.user",
      # Lists queued resources per zone and deletes orphaned SpotJax ones.
      "roles/tpu.admin",
    ]
    "status" = [
      # Reads job documents and their history for the page; never writes.
      "roles/datastore.viewer",
    ]
    "notify" = [
      # Reads the job's notify setting; claims and completes delivery records (deliveries/).
      "roles/datastore.user",
    ]
  }

  # Roles on the control bucket only (never project-wide storage roles).
  bucket_roles = {
    "bucket-events" = [
      # Reads manifests under jobs/ and the exited markers, lists an attempt's markers.
      "roles/storage.objectViewer",
    ]
    "launch" = [
      # Reads the host keys pinned under <jobId>/hostkeys/ and a local code bundle.
      "roles/storage.objectViewer",
      # Writes a host key on first contact; without delete rights a pin cannot be overwritten.
      "roles/storage.objectCreator",
    ]
    "status" = [
      # Lists a job's checkpoints for the page's charts.
      "roles/storage.objectViewer",
    ]
  }

  # The topics each function publishes to (shared/SpotJax.Core/Steps/StepPublisher.cs callers); every
  # function that writes a transition also publishes its job event (shared/SpotJax.Core/Events/JobEventRelay.cs).
  publishes = {
    "submit"        = [local.topics.provision, local.topics.finish, local.topics.job_events]
    "bucket-events" = [local.topics.provision, local.topics.recover, local.topics.finish, local.topics.job_events]
    "provision"     = [local.topics.launch, local.topics.recover, local.topics.job_events]
    "launch"        = [local.topics.recover, local.topics.job_events]
    "recover"       = [local.topics.provision, local.topics.finish, local.topics.job_events]
    "finish"        = [local.topics.job_events]
    "sweep"         = [local.topics.provision, local.topics.launch, local.topics.recover, local.topics.finish, local.topics.job_events]
    "status"        = []
    "notify"        = []
  }

  project_role_grants = merge([
    for name, roles in local.project_roles : { for role in roles : "${name} ${role}" => { function = name, role = role } }
  ]...)
  bucket_role_grants = merge([
    for name, roles in local.bucket_roles : { for role in roles : "${name} ${role}" => { function = name, role = role } }
  ]...)
  publish_grants = merge([
    for name, topics in local.publishes : { for topic in topics : "${name} ${topic}" => { function = name, topic = topic } }
  ]...)

  pubsub_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
