# One Cloud Run service per function, all from the one image; FUNCTION_TARGET picks the function.
# The variable names are the constants of functions/SpotJax.Functions.Host (FunctionHostOptions.cs,
# Deployment.cs); tests/SpotJax.Tests/Infra checks them.
locals {
  push_env = {
    for name in keys(local.functions) : name => {
      SPOTJAX_PUSH_AUDIENCE        = lookup(local.audience, name, "")
      SPOTJAX_PUSH_SERVICE_ACCOUNT = google_service_account.invoker.email
    }
  }

  step_env = {
    SPOTJAX_WORKERS              = "ssh"
    SPOTJAX_SSH_USER             = var.ssh_user
    SPOTJAX_SSH_LOGIN            = var.ssh_login
    SPOTJAX_SSH_PUBLIC_KEY       = local.ssh_public_key
    SPOTJAX_SSH_KEY_SECRET       = google_secret_manager_secret.ssh_key.secret_id
    SPOTJAX_NODE_SERVICE_ACCOUNT = google_service_account.node.email
    # The private network (network.tf): provisioning puts each TPU VM on the subnet of its zone's
    # region; submission rejects a job naming a zone of another region.
    SPOTJAX_TPU_NETWORK      = local.tpu_network
    SPOTJAX_TPU_SUBNETWORKS  = local.tpu_subnetworks
    SPOTJAX_TPU_NETWORK_TAGS = local.tpu_network_tag
    SPOTJAX_TPU_EXTERNAL_IPS = tostring(var.tpu_external_ips)
  }

  # Settings that one function alone reads, by function.
  function_env = {
    "launch" = {
      # The OS Login user launch imports its key for and logs in as (when OS Login is on).
      SPOTJAX_LAUNCH_SERVICE_ACCOUNT = google_service_account.function["launch"].email
    }
    "sweep" = {
      # Zones listed every minute for orphaned queued resources, besides those of the active jobs.
      SPOTJAX_SWEEP_ZONES = join(",", var.sweep_zones)
    }
    "notify" = {
      # The webhook of jobs without notify: of their own; empty (the default) is none.
      SPOTJAX_WEBHOOK_URL    = var.webhook_url
      SPOTJAX_WEBHOOK_FORMAT = var.webhook_format
    }
  }
}

resource "google_cloud_run_v2_service" "function" {
  for_each = local.functions

  name     = "${var.name_prefix}-${each.key}"
  location = var.region

  # Event functions admit Pub/Sub and Cloud Scheduler of this project only ("internal" covers
  # both); the status page is for people, behind Cloud Run IAM.
  ingress             = each.value.trigger == "http" ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"
  custom_audiences    = [for name, audience in local.audience : audience if name == each.key]
  deletion_protection = false

  template {
    service_account                  = google_service_account.function[each.key].email
    timeout                          = "${each.value.timeout_seconds}s"
    max_instance_request_concurrency = each.value.concurrency

    # Scale to zero between events: an idle deployment costs nothing here.
    scaling {
      min_instance_count = 0
      max_instance_count = each.value.max_instances
    }

    dynamic "vpc_access" {
      for_each = each.value.vpc_egress ? [1] : []
      content {
        # Private ranges (the TPU workers' internal addresses) through the VPC, Google APIs direct.
        egress = "PRIVATE_RANGES_ONLY"
        # Full names, so that a subnet of a Shared VPC host project works too.
        network_interfaces {
          network    = local.tpu_network
          subnetwork = google_compute_subnetwork.launch_egress.id
        }
      }
    }

    containers {
      image = var.image

      resources {
        limits = {
          cpu    = each.value.cpu
          memory = each.value.memory
        }
        # CPU only while a request is being handled: every function does its work inside one.
        cpu_idle = true
      }

      env {
        name  = "FUNCTION_TARGET"
        value = each.key
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      env {
        name  = "SPOTJAX_BUCKET"
        value = google_storage_bucket.control.name
      }
      env {
        name  = "SPOTJAX_DEPLOYMENT"
        value = local.deployment_name
      }
      # The prefix the step functions name their topics with (NAME_PREFIX-provision, ...).
      env {
        name  = "SPOTJAX_NAME_PREFIX"
        value = var.name_prefix
      }
      env {
        name  = "SPOTJAX_FIRESTORE_DATABASE"
        value = var.firestore_database
      }

      # Push verification: the OIDC token must be for this service and from the invoker account.
      dynamic "env" {
        for_each = { for name, value in local.push_env[each.key] : name => value if each.value.trigger != "http" }
        content {
          name  = env.key
          value = env.value
        }
      }

      # The step functions' settings (the status page reads only Firestore and the bucket).
      dynamic "env" {
        for_each = { for name, value in local.step_env : name => value if each.value.trigger != "http" }
        content {
          name  = env.key
          value = env.value
        }
      }

      # This function's own settings; an empty one is left out (the host reads empty as unset anyway).
      dynamic "env" {
        for_each = { for name, value in lookup(local.function_env, each.key, {}) : name => value if value != "" }
        content {
          name  = env.key
          value = env.value
        }
      }

      startup_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 2
        failure_threshold = 15
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.function,
    google_storage_bucket_iam_member.function,
    google_secret_manager_secret_iam_member.launch_reads_key,
    google_firestore_database.default,
    google_firestore_database.named,
  ]
}
