# The TPU VMs' private network. Provisioning names the network and, for each job's zone, the subnet
# of its region (SPOTJAX_TPU_NETWORK, SPOTJAX_TPU_SUBNETWORKS), and asks for no external addresses
# unless var.tpu_external_ips: the VMs reach Google APIs through Private Google Access and the
# internet (uv, pip, GitHub) through Cloud NAT, and admit SSH from launch's egress subnet only.
locals {
  # Null, empty or blank: SpotJax creates the network.
  network_input = var.network == null ? "" : trimspace(var.network)
  # projects/HOST/global/networks/NAME (a self link ends the same way) names its project, a Shared VPC
  # host project for instance; a bare name is a network of var.project_id.
  network_project = try(regex("projects/([^/]+)/global/networks/[^/]+$", local.network_input)[0], var.project_id)
  network_name    = local.network_input == "" ? "${var.name_prefix}-tpu" : regex("[^/]+$", local.network_input)
  # The full name, projects/P/global/networks/N, the form provisioning sends.
  tpu_network = local.network_input == "" ? google_compute_network.tpu[0].id : data.google_compute_network.tpu[0].id

  # Provisioning puts this network tag on every TPU VM (node.tags, which the Cloud TPU API documents as
  # "used to identify valid sources or targets for network firewalls"); the firewall rules target it.
  tpu_network_tag = "${var.name_prefix}-tpu"

  # REGION=projects/P/regions/REGION/subnetworks/S for each TPU region, as the functions read it.
  tpu_subnetworks = join(",", [for region, subnet in google_compute_subnetwork.tpu : "${region}=${subnet.id}"])
}

resource "google_compute_network" "tpu" {
  count = local.network_input == "" ? 1 : 0

  name                    = local.network_name
  description             = "SpotJax TPU VMs (no external addresses; Cloud NAT and Private Google Access)."
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.apis]
}

data "google_compute_network" "tpu" {
  count = local.network_input == "" ? 0 : 1

  name    = local.network_name
  project = local.network_project

  depends_on = [google_project_service.apis]
}

# One subnet per TPU region: the TPU API wants the subnet of the zone's own region.
resource "google_compute_subnetwork" "tpu" {
  for_each = var.tpu_subnets

  name          = "${var.name_prefix}-tpu-${each.key}"
  project       = local.network_project
  region        = each.key
  network       = local.tpu_network
  ip_cidr_range = each.value
  # Without external addresses the VMs reach Cloud Storage and Secret Manager through Private Google Access.
  private_ip_google_access = true
}

# Outbound internet for the TPU VMs (uv, PyPI, the libtpu index, GitHub) without external addresses.
resource "google_compute_router" "tpu" {
  for_each = google_compute_subnetwork.tpu

  name    = "${var.name_prefix}-tpu-${each.key}"
  project = local.network_project
  region  = each.key
  network = local.tpu_network
}

resource "google_compute_router_nat" "tpu" {
  for_each = google_compute_subnetwork.tpu

  name                               = "${var.name_prefix}-tpu-${each.key}"
  project                            = local.network_project
  region                             = each.key
  router                             = google_compute_router.tpu[each.key].name
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"

  subnetwork {
    name                    = each.value.id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# launch connects to each TPU worker's internal address on port 22, so its Cloud Run service sends
# private-range traffic into the TPU network (Direct VPC egress) with addresses from this subnet.
resource "google_compute_subnetwork" "launch_egress" {
  name                     = "${var.name_prefix}-launch-egress"
  project                  = local.network_project
  region                   = var.region
  network                  = local.tpu_network
  ip_cidr_range            = var.launch_egress_cidr
  private_ip_google_access = true

  lifecycle {
    precondition {
      # Two ranges overlap when they agree on the bits of the shorter prefix.
      condition     = alltrue([for cidr in values(var.tpu_subnets) : try(cidrhost("${split("/", cidr)[0]}/${min(tonumber(split("/", cidr)[1]), tonumber(split("/", var.launch_egress_cidr)[1]))}", 0) != cidrhost("${split("/", var.launch_egress_cidr)[0]}/${min(tonumber(split("/", cidr)[1]), tonumber(split("/", var.launch_egress_cidr)[1]))}", 0), true)])
      error_message = "launch_egress_cidr overlaps a range of tpu_subnets; choose ranges that do not overlap."
    }
  }
}

# SSH from launch to the TPU VMs (the tagged ones), and from nowhere else.
resource "google_compute_firewall" "launch_ssh" {
  name        = "${var.name_prefix}-allow-ssh-from-launch"
  project     = local.network_project
  network     = local.tpu_network
  description = "SpotJax launch (Cloud Run, Direct VPC egress) logs in to TPU workers over SSH."
  direction   = "INGRESS"
  priority    = 900

  source_ranges = [google_compute_subnetwork.launch_egress.ip_cidr_range]
  target_tags   = [local.tpu_network_tag]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

# The workers of one slice talk to each other (the JAX coordinator on worker 0, the runtime's own
# traffic between hosts); a custom network admits nothing by default.
resource "google_compute_firewall" "tpu_internal" {
  name        = "${var.name_prefix}-tpu-internal"
  project     = local.network_project
  network     = local.tpu_network
  description = "SpotJax TPU workers of a slice reach each other."
  direction   = "INGRESS"
  priority    = 900

  source_tags = [local.tpu_network_tag]
  target_tags = [local.tpu_network_tag]

  allow {
    protocol = "tcp"
  }
  allow {
    protocol = "udp"
  }
  allow {
    protocol = "icmp"
  }
}
