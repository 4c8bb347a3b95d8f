#!/usr/bin/env bash
# Installs what `dotnet test SpotJax.sln` needs on a machine of this project's kind (Debian), then
# checks the rest. The README's test command runs it first, and .ci/run runs that same line.
#
# Idempotent: when everything is there it installs nothing and returns within seconds.
# As root (or with password-less sudo) it installs the missing Debian packages and the storage
# test server. Without root or apt-get it installs nothing: it names every missing piece with the
# command that provides it and exits 1, so that the suite does not start only to fail test by test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

missing=()      # "what|how to get it", for the report
packages=()     # Debian packages to install

need_package() { # $1: what is missing, $2...: the Debian packages that provide it
  local what=$1; shift
  missing+=("$what|apt-get install -y --no-install-recommends $*")
  packages+=("$@")
}
need_other() { # $1: what is missing, $2: how to get it (not a Debian package here)
  missing+=("$1|$2")
}

# The node agent, the examples and the worker stand-ins are Python 3 with venv (ensurepip).
if ! command -v python3 >/dev/null; then
  need_package "python3" python3-venv
elif ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  need_package "python3's venv module (ensurepip)" python3-venv
fi
# The SSH runner's tests and local mode's --ssh-workers start private OpenSSH servers.
[[ -x /usr/sbin/sshd ]] || need_package "/usr/sbin/sshd" openssh-server
# The status page's browser test drives Debian's headless Chromium (Playwright downloads nothing).
[[ -x /usr/bin/chromium ]] || need_package "/usr/bin/chromium" chromium
# The Cloud Storage tests run the JSON API server inside the npm package firebase-tools.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  need_package "node and npm (Node.js 20 or later)" nodejs npm
elif (( $(node -p 'process.versions.node.split(".")[0]') < 20 )); then
  need_other "Node.js 20 or later (found $(node --version))" "install Node.js 20 or later"
fi
# The Pub/Sub and Firestore emulators come with gcloud and run on Java 17+.
if ! command -v java >/dev/null; then
  need_package "java (17 or later, for the emulators)" openjdk-17-jre-headless
fi
if ! command -v gcloud >/dev/null; then
  need_other "gcloud (the Google Cloud CLI)" "install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"
else
  sdk=$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)
  compgen -G "$sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar" >/dev/null \
    || need_other "the Pub/Sub emulator" "gcloud components install pubsub-emulator (or apt-get install google-cloud-cli-pubsub-emulator)"
  [[ -f "$sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar" ]] \
    || need_other "the Firestore emulator" "gcloud components install cloud-firestore-emulator (or apt-get install google-cloud-cli-firestore-emulator)"
fi
# The infra tests evaluate Terraform expressions with `terraform console` (no provider needed).
command -v terraform >/dev/null \
  || need_other "terraform" "install Terraform 1.5 or later: https://developer.hashicorp.com/terraform/install"

as_root=()
if [[ $(id -u) -eq 0 ]]; then
  as_root=(env)
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n env)
fi

if (( ${#packages[@]} > 0 )) && (( ${#as_root[@]} > 0 )) && command -v apt-get >/dev/null \
    && [[ -z "${SPOTJAX_PREREQUISITES_INSTALLED:-}" ]]; then
  echo "prerequisites: installing ${packages[*]}"
  "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
  SPOTJAX_PREREQUISITES_INSTALLED=1 exec bash "$0" # check once more, now with the packages
fi

if (( ${#missing[@]} > 0 )); then
  echo "prerequisites: the tests need these, and this script cannot install them here:" >&2
  for entry in "${missing[@]}"; do
    printf '  - %s: %s\n' "${entry%%|*}" "${entry#*|}" >&2
  done
  if (( ${#packages[@]} > 0 )); then
    echo "Debian packages need root: run this script as root (or with password-less sudo), or install them yourself." >&2
  fi
  exit 1
fi

# sshd as root wants its privilege separation folder (the private daemons run as the caller).
if [[ $(id -u) -eq 0 && ! -d /run/sshd ]]; then
  mkdir -p -m0755 /run/sshd
fi

# Installed once into a cache folder outside the repository; returns at once afterwards.
bash "$here/SpotJax.Google.Tests/Storage/storage-server/install.sh"
echo "prerequisites: all present"
