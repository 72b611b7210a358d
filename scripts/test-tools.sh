#!/usr/bin/env bash
# Builds the pinned Go clients (cosign, crane, helm) the tests use as independent checks (never a
# dependency of Ferry itself) into the git-ignored .tools/ directory, one directory per
# name@version so a version bump rebuilds and an unchanged pin is skipped. Called by .ci/run and by the test harness.
# Prints the bin directory on its last line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${FERRY_TOOLS_DIR:-$root/.tools}"

# name  module/cmd path  version
pins=(
  "cosign github.com/sigstore/cosign/v2/cmd/cosign v2.6.5"
  "crane github.com/google/go-containerregistry/cmd/crane v0.22.1"
  "helm helm.sh/helm/v3/cmd/helm v3.22.0"
)
# No chartmuseum pin: the Go module proxy reachable here answers 403 "This module version is not
# available" for its version list and for v0.16.3, v0.16.4 and v0.16.5, under both the module path
# its go.mod declares (helm.sh/chartmuseum) and github.com/helm/chartmuseum. A pin that cannot be
# fetched would fail this whole script and with it every test that needs cosign, crane or helm.

mkdir -p "$tools/bin"
for pin in "${pins[@]}"; do
  read -r name pkg version <<<"$pin"
  dir="$tools/$name@$version"
  if [ ! -x "$dir/$name" ]; then
    if ! command -v go >/dev/null 2>&1; then
      echo "test-tools: go is not installed; cannot build $name $version" >&2
      exit 1
    fi
    echo "test-tools: building $name $version (go install $pkg@$version)" >&2
    mkdir -p "$dir"
    CGO_ENABLED=0 GOBIN="$dir" GOFLAGS=-trimpath go install "$pkg@$version" >&2
  fi
  ln -sfn "../$name@$version/$name" "$tools/bin/$name"
done
echo "$tools/bin"
