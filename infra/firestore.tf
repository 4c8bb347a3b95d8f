# Job state: jobs/{jobId} and jobs/{jobId}/events/{seq} (shared/SpotJax.Google/Firestore).
resource "google_firestore_database" "default" {
  count = var.create_firestore_database ? 1 : 0

  name        = "(default)"
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  # terraform destroy removes the database with everything in it (README, "Remove everything").
  delete_protection_state = "DELETE_PROTECTION_DISABLED"
  deletion_policy         = "DELETE"

  depends_on = [google_project_service.apis]
}

# A named database, for a deployment that shares a project whose (default) database another
# deployment uses (var.firestore_database); the functions are told its name.
resource "google_firestore_database" "named" {
  count = var.firestore_database == "(default)" ? 0 : 1

  name        = var.firestore_database
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  delete_protection_state = "DELETE_PROTECTION_DISABLED"
  deletion_policy         = "DELETE"

  depends_on = [google_project_service.apis]
}

# Indexes. FirestoreJobStore asks three queries, and the single-field indexes Firestore builds for
# every field serve all of them, so no composite index is declared:
#   * the sweep's active jobs: state IN [the non-terminal states], ordered by __name__ (document
#     name order is what an equality or IN filter returns anyway; a NOT_IN, or an order by
#     submittedAt, would need the composite (state, submittedAt) and is avoided on purpose);
#   * the recent jobs (status page, command line): no filter, submittedAt DESCENDING;
#   * a job's history: a plain listing of jobs/{jobId}/events in document name order.
# A query that needs a missing composite index fails with FAILED_PRECONDITION and a link that
# creates it; add it here as a google_firestore_index if a later query needs one.

# Webhook delivery records (deliveries/{eventId}, the notify function's deduplication) carry
# expireAt, 8 days after their last write (IJobEventStore.DeliveryRetention: the push subscription keeps a
# message 7 days, so no duplicate comes later). This TTL policy has Firestore delete them after it
# (https://cloud.google.com/firestore/docs/ttl), so they do not pile up. Single-field indexing of
# expireAt is switched off (empty index_config): nothing queries it.
resource "google_firestore_field" "delivery_expiry" {
  project    = var.project_id
  database   = var.firestore_database
  collection = "deliveries"
  field      = "expireAt"

  ttl_config {}
  index_config {}

  depends_on = [google_firestore_database.default, google_firestore_database.named]
}
