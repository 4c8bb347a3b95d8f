output "bucket" {
  description = "The control bucket: upload manifests to gs://BUCKET/jobs/."
  value       = google_storage_bucket.control.name
}

output "jobs_topic" {
  description = "Publish job documents and cancel commands here."
  value       = google_pubsub_topic.topic[local.topics.jobs].name
}

output "dead_letter_subscription" {
  description = "Messages no function could handle, kept for a week."
  value       = google_pubsub_subscription.dead_letter.name
}

output "service_urls" {
  description = "Cloud Run URL of each function."
  value       = { for name, service in google_cloud_run_v2_service.function : name => service.uri }
}

output "status_url" {
  description = "The status page (open with an identity token of a member of var.status_viewers)."
  value       = google_cloud_run_v2_service.function["status"].uri
}

output "service_accounts" {
  description = "Service account of each function."
  value       = { for name, account in google_service_account.function : name => account.email }
}

output "invoker_service_account" {
  description = "The account Pub/Sub pushes and the Scheduler call come from (SPOTJAX_PUSH_SERVICE_ACCOUNT)."
  value       = google_service_account.invoker.email
}

output "node_service_account" {
  description = "The account the TPU VMs run as; grant it read access to any other bucket your jobs' code or data live in."
  value       = google_service_account.node.email
}

output "ssh_public_key" {
  description = "Public half of the launch key (SPOTJAX_SSH_PUBLIC_KEY)."
  value       = local.ssh_public_key
}

output "ssh_key_secret" {
  description = "Secret Manager secret holding the private launch key."
  value       = google_secret_manager_secret.ssh_key.secret_id
}

output "image_repository" {
  description = "Artifact Registry path images are pushed to."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "tpu_network" {
  description = "The TPU VMs' network (SPOTJAX_TPU_NETWORK)."
  value       = local.tpu_network
}

output "tpu_subnetworks" {
  description = "The TPU VMs' subnet in each region (SPOTJAX_TPU_SUBNETWORKS); jobs may name zones of these regions only."
  value       = { for region, subnet in google_compute_subnetwork.tpu : region => subnet.id }
}

output "tpu_network_tag" {
  description = "The network tag provisioning puts on every TPU VM, the target of the SSH firewall rule; use it for rules of your own."
  value       = local.tpu_network_tag
}

output "launch_egress_subnetwork" {
  description = "The subnet launch's Direct VPC egress takes its addresses from; the only source admitted to the TPU VMs' port 22."
  value       = google_compute_subnetwork.launch_egress.id
}

output "name_prefix" {
  description = "The prefix of this deployment's resource names (SPOTJAX_NAME_PREFIX); its topics are NAME_PREFIX-jobs, NAME_PREFIX-provision, ..."
  value       = var.name_prefix
}
