# The sweep, every minute: Cloud Scheduler calls its service over HTTP with an OIDC token of the
# invoker account (the functions host takes an X-CloudScheduler request as a scheduled event).
resource "google_cloud_scheduler_job" "function" {
  for_each = local.scheduled

  name        = "${var.name_prefix}-${each.key}"
  region      = var.region
  description = "Reconciles SpotJax jobs with the Cloud TPU API."
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"

  # A sweep is never retried: the next one comes within a minute.
  attempt_deadline = "${each.value.timeout_seconds}s"
  retry_config {
    retry_count = 0
  }

  http_target {
    uri         = google_cloud_run_v2_service.function[each.key].uri
    http_method = "POST"

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = local.audience[each.key]
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.invoker]
}
