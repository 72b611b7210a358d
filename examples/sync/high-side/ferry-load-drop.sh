#!/usr/bin/env bash
# High side: load every bundle that arrived in a drop directory, oldest first, unattended.
#
#   ferry-load-drop.sh DROP_DIR
#
#   DROP_DIR/incoming/NAME/   a bundle directory, moved here (mv, not cp) once fully copied
#                             from the media: a half-copied bundle must never be seen here
#   DROP_DIR/loaded/NAME/     loaded and checked
#   DROP_DIR/failed/NAME/     refused (bad checksum or signature, policy): look at the report
#   DROP_DIR/reports/         NAME.checksum.json and NAME.push.json of every attempt
#
# Settings (environment; the systemd unit sets them):
#   FERRY_TO            target: REGISTRY[/PREFIX] or oci:DIR (required)
#   FERRY_TRUSTED_KEY   the bundle signer's public key the high side trusts (required)
#   FERRY_LOAD          the ferry-load command (default: ferry-load on PATH, or the
#                       ferry-load-linux-x64 executable that came with the bundle)
#   FERRY_PUSH_ARGS     extra push flags, e.g. "--image-key /etc/ferry/cosign.pub --require-signed-images"
#
# Bundles are deltas against the one before, so they load in name (= date) order and the run
# stops at the first one that cannot load: exit 15 (a volume is missing) and 25 (the target lacks
# what an earlier bundle carried) leave it in incoming/ for the next run; any other failure moves
# it to failed/. Exit status: 0 all loaded (or nothing arrived), else the failing ferry-load's.
set -uo pipefail

drop="${1:?usage: ferry-load-drop.sh DROP_DIR}"
: "${FERRY_TO:?set FERRY_TO to the target registry or oci:DIR}"
: "${FERRY_TRUSTED_KEY:?set FERRY_TRUSTED_KEY to the trusted public key}"
load="${FERRY_LOAD:-ferry-load}"
read -r -a extra <<< "${FERRY_PUSH_ARGS:-}"

mkdir -p "$drop/incoming" "$drop/loaded" "$drop/failed" "$drop/reports"
# One run at a time (a timer and a path unit may fire together).
exec 9>"$drop/.lock"
if ! flock -n 9; then
  echo "another ferry-load-drop run holds $drop/.lock; leaving it to that run"
  exit 0
fi

log() { echo "[$(date -u '+%Y-%m-%d %H:%M:%S')] $*"; }

status=0
shopt -s nullglob
for dir in "$drop"/incoming/*/; do
  dir="${dir%/}"
  name="$(basename "$dir")"
  log "bundle $name: checking"
  "$load" checksum "$dir" --trusted-key "$FERRY_TRUSTED_KEY" --json > "$drop/reports/$name.checksum.json"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    "$load" push "$dir" --to "$FERRY_TO" --trusted-key "$FERRY_TRUSTED_KEY" "${extra[@]}" --yes --json \
      --report "$drop/reports/$name.push.json" > /dev/null
    rc=$?
  fi
  case "$rc" in
    0)  mv "$dir" "$drop/loaded/$name"; log "✅ Loaded: $name" ;;
    15|25)
        log "❌ Not loaded: $name (exit $rc: $([ "$rc" -eq 15 ] && echo 'a volume is missing' || echo 'the target lacks blobs an earlier bundle carried; load that one first')); left in incoming/"
        status=$rc; break ;;
    *)  mv "$dir" "$drop/failed/$name"; log "❌ Failed: $name (exit $rc); moved to failed/, see reports/$name.*.json"
        status=$rc; break ;;
  esac
done
exit "$status"
