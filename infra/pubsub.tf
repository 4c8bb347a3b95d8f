resource "google_pubsub_topic" "topic" {
  for_each = toset(values(local.topics))

  name                       = each.value
  message_retention_duration = each.value == local.topics.dead_letter ? "604800s" : null

  depends_on = [google_project_service.apis]
}

# One push subscription per event function: the message goes to the function that handles its
# topic, with an OIDC token of the invoker account for the service's deterministic URL.
resource "google_pubsub_subscription" "push" {
  for_each = local.pushed

  name                 = "${var.name_prefix}-${each.key}-push"
  topic                = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds = each.value.ack_deadline_seconds

  push_config {
    push_endpoint = google_cloud_run_v2_service.function[each.key].uri

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = local.audience[each.key]
    }
  }

  # Handlers answer 503 on a transient error: back off from 10 s to 10 min between deliveries.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic[local.topics.dead_letter].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  # A quiet deployment must not lose its subscriptions (the default expires them after 31 idle days).
  expiration_policy {
    ttl = ""
  }

  message_retention_duration = "604800s"

  depends_on = [
    google_cloud_run_v2_service_iam_member.invoker,
    google_service_account_iam_member.pubsub_mints_tokens,
  ]
}

# Messages that ran out of delivery attempts, kept for a week for inspection:
#   gcloud pubsub subscriptions pull NAME_PREFIX-dead-letter --limit=10   (spotjax-dead-letter by default)
resource "google_pubsub_subscription" "dead_letter" {
  name                       = local.topics.dead_letter
  topic                      = google_pubsub_topic.topic[local.topics.dead_letter].id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic = google_pubsub_topic.topic[local.topics.dead_letter].name
  # The Pub/Sub service agent forwards undeliverable messages to the dead-letter topic.
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.pushed

  subscription = google_pubsub_subscription.push[each.key].name
  # The Pub/Sub service agent acknowledges a message on this subscription once it dead-letters it.
  role   = "roles/pubsub.subscriber"
  member = local.pubsub_service_agent
}
