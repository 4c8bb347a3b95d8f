# One service account per function, with only the roles that function needs (locals.tf).
resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = "${var.name_prefix}-${each.key}"
  display_name = "SpotJax ${each.key} function"
  description  = "Runs the SpotJax ${each.key} Cloud Run service."

  depends_on = [google_project_service.apis]
}

# The identity of Pub/Sub pushes and of the Scheduler call: the only caller the event functions
# admit (Cloud Run IAM, and SPOTJAX_PUSH_SERVICE_ACCOUNT checked by the functions host).
resource "google_service_account" "invoker" {
  account_id   = "${var.name_prefix}-invoker"
  display_name = "SpotJax push and scheduler invoker"
  description  = "Signs the OIDC tokens of the Pub/Sub push subscriptions and of the sweep schedule."

  depends_on = [google_project_service.apis]
}

# The identity of the TPU VMs (SPOTJAX_NODE_SERVICE_ACCOUNT): the node agent and the training
# script use its tokens from the metadata server to reach the control bucket.
resource "google_service_account" "node" {
  account_id   = "${var.name_prefix}-tpu-node"
  display_name = "SpotJax TPU VMs"
  description  = "Runs on the TPU VMs SpotJax provisions: code, markers, logs and checkpoints in the control bucket."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "function" {
  for_each = local.project_role_grants

  project = var.project_id
  # The role and its reason are listed per function in locals.tf (project_roles).
  role   = each.value.role
  member = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_storage_bucket_iam_member" "function" {
  for_each = local.bucket_role_grants

  bucket = google_storage_bucket.control.name
  # The role and its reason are listed per function in locals.tf (bucket_roles).
  role   = each.value.role
  member = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publish_grants

  topic = google_pubsub_topic.topic[each.value.topic].name
  # Publishes the next lifecycle step on this one topic (locals.tf publishes).
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_secret_manager_secret_iam_member" "launch_reads_key" {
  secret_id = google_secret_manager_secret.ssh_key.id
  # launch reads the private SSH key (versions/latest:access) to log in to the TPU workers.
  role   = "roles/secretmanager.secretAccessor"
  member = "serviceAccount:${google_service_account.function["launch"].email}"
}

resource "google_service_account_iam_member" "provision_acts_as_node" {
  service_account_id = google_service_account.node.name
  # provision creates TPU VMs that run as the node account, which needs actAs on that account only.
  role   = "roles/iam.serviceAccountUser"
  member = "serviceAccount:${google_service_account.function["provision"].email}"
}

resource "google_service_account_iam_member" "launch_acts_as_node" {
  service_account_id = google_service_account.node.name
  # OS Login to a VM that runs as a service account needs actAs on that account (the node account only).
  role   = "roles/iam.serviceAccountUser"
  member = "serviceAccount:${google_service_account.function["launch"].email}"
}

resource "google_storage_bucket_iam_member" "node" {
  bucket = google_storage_bucket.control.name
  # The agent reads code and the pip cache, writes markers and logs (rewritten as they grow) and
  # the script writes and prunes checkpoints: object read, write and delete on this bucket only.
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.node.email}"
}

resource "google_project_iam_member" "node_reads_job_secrets" {
  project = var.project_id
  # The agent reads a job's secretEnv (versions/V:access) with the node's token and hands the
  # values to the script only; the condition limits it to secrets named with the job prefix.
  role   = "roles/secretmanager.secretAccessor"
  member = "serviceAccount:${google_service_account.node.email}"

  condition {
    title       = "${var.name_prefix}-job-secrets"
    description = "Only secrets whose id starts with local.job_secret_prefix."
    expression  = "resource.name.startsWith(\"projects/${local.project_number}/secrets/${local.job_secret_prefix}\")"
  }
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.invoked

  name     = google_cloud_run_v2_service.function[each.key].name
  location = var.region
  # Pub/Sub pushes and the Scheduler call reach the event functions as this account only.
  role   = "roles/run.invoker"
  member = "serviceAccount:${google_service_account.invoker.email}"
}

resource "google_cloud_run_v2_service_iam_member" "status_viewer" {
  for_each = toset(var.status_viewers)

  name     = google_cloud_run_v2_service.function["status"].name
  location = var.region
  # The people allowed to open the status page (var.status_viewers); nobody else gets in.
  role   = "roles/run.invoker"
  member = each.value
}

resource "google_service_account_iam_member" "pubsub_mints_tokens" {
  service_account_id = google_service_account.invoker.name
  # The Pub/Sub service agent signs the push OIDC tokens as the invoker account (projects made
  # before April 2021 lack this grant at project level; here it is on the one account).
  role   = "roles/iam.serviceAccountTokenCreator"
  member = local.pubsub_service_agent

  depends_on = [google_project_service.apis]
}
