# Provisioning leaves networkConfig.network unset, so the TPU API puts every TPU VM on the
# project's network named "default" (auto mode: a subnet in every region, so any TPU zone works).
resource "google_compute_network" "default" {
  count = var.create_default_network ? 1 : 0

  name                    = "default"
  auto_create_subnetworks = true

  depends_on = [google_project_service.apis]
}

data "google_compute_network" "default" {
  count = var.create_default_network ? 0 : 1

  name = "default"

  depends_on = [google_project_service.apis]
}

locals {
  tpu_network = var.create_default_network ? google_compute_network.default[0].self_link : data.google_compute_network.default[0].self_link
}

# launch connects to each TPU worker's internal address on port 22, so its Cloud Run service sends
# private-range traffic into the TPU network (Direct VPC egress) with addresses from this subnet.
resource "google_compute_subnetwork" "launch_egress" {
  name                     = "spotjax-launch-egress"
  region                   = var.region
  network                  = local.tpu_network
  ip_cidr_range            = var.launch_egress_cidr
  private_ip_google_access = true
}

# SSH from launch to the TPU VMs, and from nowhere else this configuration adds. (The default
# network's own default-allow-ssh / default-allow-internal rules, where they still exist, are
# left alone; this rule keeps launch working when they are gone.)
resource "google_compute_firewall" "launch_ssh" {
  name        = "spotjax-allow-ssh-from-launch"
  network     = local.tpu_network
  description = "SpotJax launch (Cloud Run, Direct VPC egress) logs in to TPU workers over SSH."
  direction   = "INGRESS"
  priority    = 900

  source_ranges = [google_compute_subnetwork.launch_egress.ip_cidr_range]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}
