data "google_project" "this" {
  project_id = var.project_id
}

# The APIs the control plane calls or is built on. They stay enabled on destroy: other things in
# the project may use them, and disabling an API can delete data.
resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "orgpolicy.googleapis.com",
    "oslogin.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "tpu.googleapis.com",
  ])

  service            = each.value
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  location      = var.region
  repository_id = var.repository
  format        = "DOCKER"
  description   = "SpotJax functions image (one image, FUNCTION_TARGET picks the function)."

  # Every build pushes an image: delete those older than 30 days, except the ten most recent (a
  # KEEP policy wins over a DELETE one), so the image the services run is never removed.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.apis]
}
