# The control bucket (SPOTJAX_BUCKET). Layout, from shared/SpotJax.Core/BucketLayout.cs:
#   jobs/                 manifests; a finalized one submits a job
#   code/                 code bundles uploaded by the command line
#   <jobId>/ckpt/         checkpoints (SPOT_CHECKPOINT_DIR), <jobId>/logs/ (SPOT_LOG_DIR)
#   <jobId>/markers/      the node agent's booted/preempted/exited markers
#   <jobId>/hostkeys/     the SSH host keys pinned by launch
#   cache/pip/            wheel archives of requirements installs
resource "google_storage_bucket" "control" {
  name     = var.bucket_name
  location = local.bucket_location

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Refuses to delete a bucket that still holds objects: checkpoints are the user's data. Empty it
  # first (README, "Remove everything").
  force_destroy = false

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_retention_seconds
  }

  lifecycle_rule {
    condition {
      age            = var.manifest_retention_days
      matches_prefix = ["jobs/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.code_retention_days
      matches_prefix = ["code/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.pip_cache_retention_days
      matches_prefix = ["cache/pip/"]
    }
    action {
      type = "Delete"
    }
  }

  # Uploads interrupted by a preemption leave parts behind that are billed until aborted.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.apis]
}

# Finalize events reach bucket-events as Cloud Storage Pub/Sub notifications (JSON_API_V1) on
# NAME_PREFIX-bucket-events, pushed like every other step (see README: the event path and why).
# No prefix filter: manifests are under jobs/, but checkpoints and markers are under each job id.
resource "google_storage_notification" "finalize" {
  bucket         = google_storage_bucket.control.name
  topic          = google_pubsub_topic.topic[local.topics.bucket_events].id
  payload_format = "JSON_API_V1"
  event_types    = ["OBJECT_FINALIZE"]

  depends_on = [google_pubsub_topic_iam_member.storage_publishes]
}

data "google_storage_project_service_account" "storage" {
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic_iam_member" "storage_publishes" {
  topic = google_pubsub_topic.topic[local.topics.bucket_events].name
  # The Cloud Storage service agent publishes the bucket's notifications to this topic only.
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${data.google_storage_project_service_account.storage.email_address}"
}

# The deployment descriptor (shared/SpotJax.Core/DeploymentDescriptor.cs): what the command line needs
# besides the bucket to reach this deployment: the prefix of its topics and its Firestore database.
# bucket-events ignores its finalize event (a top-level object belongs to no job).
resource "google_storage_bucket_object" "deployment" {
  bucket       = google_storage_bucket.control.name
  name         = "deployment.json"
  content_type = "application/json"
  content = jsonencode({
    version           = 1
    namePrefix        = var.name_prefix
    deployment        = local.deployment_name
    firestoreDatabase = var.firestore_database
  })
}
