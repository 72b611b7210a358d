#!/usr/bin/env bash
# The real components the tests run (Debian packages), checked or installed in one place:
#   bash scripts/test-prereqs.sh --check    exit 1 listing what is missing (fast, never installs)
#   bash scripts/test-prereqs.sh --install  apt-get install what the tests need (root, or sudo)
# Used by .ci/run (install) and by scripts/run-tests.mjs (check, then install when it is root on a
# Debian/Ubuntu machine, else stop naming the command). The Go test tools are separate:
# scripts/test-tools.sh.
set -euo pipefail
# nginx lives in /usr/sbin; Go may be in /usr/local/go/bin (as .ci/run adds).
export PATH="$PATH:/usr/sbin:/sbin:/usr/local/go/bin"

# command:package pairs (kubectl falls back to Debian's kubernetes-client).
needs=(
  docker-registry:docker-registry skopeo:skopeo nginx:nginx zstd:zstd openssl:openssl
  htpasswd:apache2-utils gpg:gnupg tmux:tmux sha256sum:coreutils script:bsdutils tar:tar
  kubectl:kubernetes-client qemu-aarch64-static:qemu-user-static systemd-analyze:systemd flock:util-linux
  containerd:containerd
)
# Files without a command: the arm64 C library qemu-user runs ferry-load-linux-arm64 with.
ARM64_LIBS="libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross"

missing_packages() {
  local out=()
  for pair in "${needs[@]}"; do
    local cmd="${pair%%:*}" pkg="${pair#*:}"
    command -v "$cmd" >/dev/null 2>&1 || out+=("$pkg")
  done
  [ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || out+=($ARM64_LIBS)
  echo "${out[@]:-}"
}

case "${1:---check}" in
  --check)
    m="$(missing_packages)"
    # Go builds the pinned test tools (scripts/test-tools.sh); Debian's is too old for them.
    if ! command -v go >/dev/null 2>&1; then
      echo "missing: go (1.22 or newer, https://go.dev/dl/ or the machine image), which builds the pinned test tools" >&2
      [ -n "$m" ] || exit 1
    fi
    if [ -n "$m" ]; then
      echo "missing test prerequisites (Debian packages): $m" >&2
      echo "install them with: sudo apt-get install -y --no-install-recommends $m   (or run: bash .ci/run)" >&2
      exit 1
    fi
    ;;
  --install)
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # Installed daemons must not start on their own (docker-registry would grab :5000); the policy
    # is removed again on exit, whatever happens, so later installs on this machine behave normally.
    made_policy=0
    remove_policy() { if [ "$made_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; made_policy=0; fi; }
    # The trap is in place before the file exists, so no exit path (error, Ctrl-C, SIGTERM) leaves it.
    trap remove_policy EXIT
    trap 'remove_policy; exit 130' INT TERM HUP
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      made_policy=1
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
      $SUDO chmod +x /usr/sbin/policy-rc.d
    fi
    # Exactly the packages --check asks for (one list, so the two cannot drift apart); kubectl
    # may come from elsewhere, so Debian's kubernetes-client only when there is none.
    pkgs=(ca-certificates $ARM64_LIBS)
    for pair in "${needs[@]}"; do
      pkg="${pair#*:}"
      [ "$pkg" = kubernetes-client ] || pkgs+=("$pkg")
    done
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${pkgs[@]}"
    command -v kubectl >/dev/null 2>&1 || $SUDO apt-get install -y -q --no-install-recommends kubernetes-client
    for svc in docker-registry nginx containerd; do $SUDO /etc/init.d/$svc stop >/dev/null 2>&1 || true; done
    remove_policy
    ;;
  *)
    echo "usage: $0 --check|--install" >&2
    exit 2
    ;;
esac
