#!/usr/bin/env bash
# Installs the npm packages of the storage tests' server (firebase-tools, about 310 MB) into a
# cache folder outside the repository: $SPOTJAX_TEST_TOOLS/storage-server, by default
# ~/.cache/spotjax-test-tools/storage-server. A second run with the same package files returns at
# once. Needs Node.js 20 or later and npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target="${SPOTJAX_TEST_TOOLS:-$HOME/.cache/spotjax-test-tools}/storage-server"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install.sh: node and npm are needed (Node.js 20 or later)" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if (( node_major < 20 )); then
  echo "install.sh: firebase-tools needs Node.js 20 or later, found $(node --version)" >&2
  exit 1
fi

stamp=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
if [[ -d "$target/node_modules/firebase-tools" && "$(cat "$target/.installed" 2>/dev/null)" == "$stamp" ]]; then
  exit 0
fi

echo "installing the storage test server into $target"
mkdir -p "$target"
rm -f "$target/.installed"
cp "$here/package.json" "$here/package-lock.json" "$target/"
(cd "$target" && npm ci --no-audit --no-fund --loglevel=error)
echo "$stamp" > "$target/.installed"
