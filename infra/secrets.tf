# The private key launch logs in with (SPOTJAX_SSH_KEY_SECRET). Its public half goes to every
# function as SPOTJAX_SSH_PUBLIC_KEY, and provision puts it into each TPU node's ssh-keys metadata.
resource "google_secret_manager_secret" "ssh_key" {
  secret_id = "${var.name_prefix}-ssh-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# Generated here unless var.ssh_public_key is set. The private key is then also in the Terraform
# state (the state bucket must be as private as the secret). To keep it out, make the key yourself,
# set var.ssh_public_key to its public half, apply, and add the private half to the secret
# (README, "The SSH key"):
#   mkdir -p -m 700 ~/.ssh && ssh-keygen -t ed25519 -N "" -C spotjax -f ~/.ssh/spotjax_key
#   gcloud secrets versions add NAME_PREFIX-ssh-key --data-file=$HOME/.ssh/spotjax_key   (spotjax-ssh-key by default)
# Null (unset) and empty (Cloud Build's default _SSH_PUBLIC_KEY) both mean "generate": coalesce would
# fail on either ("no non-null, non-empty-string arguments"), so null is tested first.
locals {
  generate_ssh_key = trimspace(var.ssh_public_key == null ? "" : var.ssh_public_key) == ""
}

resource "tls_private_key" "ssh" {
  count = local.generate_ssh_key ? 1 : 0

  algorithm = "ED25519"
}

resource "google_secret_manager_secret_version" "ssh_key" {
  count = local.generate_ssh_key ? 1 : 0

  secret      = google_secret_manager_secret.ssh_key.id
  secret_data = tls_private_key.ssh[0].private_key_openssh
}

locals {
  ssh_public_key = trimspace(local.generate_ssh_key ? tls_private_key.ssh[0].public_key_openssh : var.ssh_public_key)
}
