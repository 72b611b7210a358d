#!/usr/bin/env bash
# Builds the pinned Go clients and servers (cosign v2 and v3, crane, helm, chartmuseum, k8s-strict) the tests use as
# independent checks (never a dependency of Ferry itself) into the git-ignored .tools/ directory,
# one directory per name@version so a version bump rebuilds and an unchanged pin is skipped.
# Called by .ci/run and by the test harness. Progress goes to stderr; the last stdout line is the
# bin directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${FERRY_TOOLS_DIR:-$root/.tools}"

# Tools `go install pkg@version` can fetch from the module proxy. The binary keeps the name go
# gives it (the last element of the package path) inside NAME@VERSION/, and bin/NAME links to it:
# so cosign v3 lives beside v2 as cosign3@v3.1.3/cosign, reached as bin/cosign3. cosign v3 signs
# and attests as Sigstore bundles v0.3 stored as OCI 1.1 referrers by default (v2 writes the
# `sha256-<hex>.sig`/`.att` tags), which is why the tests need both. v3.1.3 builds with go1.26.
# name  module/cmd path  version
pins=(
  "cosign github.com/sigstore/cosign/v2/cmd/cosign v2.6.5"
  "cosign3 github.com/sigstore/cosign/v3/cmd/cosign v3.1.3"
  "crane github.com/google/go-containerregistry/cmd/crane v0.22.1"
  "helm helm.sh/helm/v3/cmd/helm v3.22.0"
)

# Module-dir builds: tools `go install pkg@version` cannot fetch, built with `go build` inside a
# small module of ours, scripts/go-tools/NAME, whose go.mod requires MODULE VERSION and whose
# committed go.sum pins every hash. chartmuseum is one: its go.mod declares helm.sh/chartmuseum,
# which the module proxy reachable here refuses (403) for every version, and under
# github.com/helm/chartmuseum `go install` needs the version list (also refused) and a checksum
# database record (there is none). The proxy does serve the github.com/helm/chartmuseum v0.16.3
# zip, so scripts/go-tools/chartmuseum/go.mod replaces helm.sh/chartmuseum with it, and the go.sum
# committed next to it is where that zip's hash is pinned: by us, not by sum.golang.org (see the
# comment in that go.mod, also for how to bump).
# name  module  package  version
# k8s-strict is ours: it decodes the Kubernetes examples into the real k8s.io/api types with
# strict field checking (no API server runs here, and kubectl's own validation needs one).
dir_pins=(
  "chartmuseum helm.sh/chartmuseum helm.sh/chartmuseum/cmd/chartmuseum v0.16.3"
  "k8s-strict k8s.io/api . v0.37.2"
)

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    echo "test-tools: go is not installed; cannot build $1 $2" >&2
    exit 1
  fi
}

mkdir -p "$tools/bin"
for pin in "${pins[@]}"; do
  read -r name pkg version <<<"$pin"
  dir="$tools/$name@$version"
  exe="${pkg##*/}"
  if [ ! -x "$dir/$exe" ]; then
    need_go "$name" "$version"
    echo "test-tools: building $name $version (go install $pkg@$version)" >&2
    mkdir -p "$dir"
    CGO_ENABLED=0 GOBIN="$dir" GOFLAGS=-trimpath go install "$pkg@$version" >&2
  fi
  ln -sfn "../$name@$version/$exe" "$tools/bin/$name"
done

for pin in "${dir_pins[@]}"; do
  read -r name module pkg version <<<"$pin"
  moddir="$root/scripts/go-tools/$name"
  # The version is written twice (here, for the .tools/ dir name, and in go.mod, for go): refuse a
  # bump of one without the other, which would keep serving the old binary as the new version.
  if ! grep -Eq "^(require)?[[:space:]]+${module//./\\.} ${version//./\\.}([[:space:]]|$)" "$moddir/go.mod"; then
    echo "test-tools: $moddir/go.mod does not require $module $version, which this script pins for $name" >&2
    exit 1
  fi
  dir="$tools/$name@$version"
  if [ ! -x "$dir/$name" ]; then
    need_go "$name" "$version"
    echo "test-tools: building $name $version (go build $pkg in scripts/go-tools/$name)" >&2
    mkdir -p "$dir"
    # -mod=readonly: every download is checked against the committed go.sum, and a go.mod or go.sum
    # that would need changing fails the build instead of being rewritten in the checkout.
    # -buildvcs=false: the binary must not depend on the state of Ferry's own git checkout.
    # GOWORK=off: no go.work above this directory may change what is built.
    # -X main.Version: what `NAME --version` prints (chartmuseum's release builds set it so; the
    # linker ignores -X for a package without that variable).
    # Built under a temporary name and renamed, so an interrupted build is never taken as done.
    (cd "$moddir" && GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
      go build -trimpath -ldflags="-X main.Version=$version" -o "$dir/$name.partial" "$pkg") >&2
    mv -f "$dir/$name.partial" "$dir/$name"
  fi
  ln -sfn "../$name@$version/$name" "$tools/bin/$name"
done
echo "$tools/bin"
