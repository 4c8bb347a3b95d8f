terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    tls = {
      source  = "hashicorp/tls"
      version = ">= 4.0, < 5.0"
    }
  }

  # State lives in a Cloud Storage bucket so that Cloud Build (cloudbuild.yaml) and people share it.
  # The bucket is chosen at init time: terraform init -backend-config="bucket=STATE_BUCKET".
  backend "gcs" {
    prefix = "spotjax"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}
