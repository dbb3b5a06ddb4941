#!/usr/bin/env bash
# Runs a command inside a private network namespace: loopback plus a veth pair whose
# two ends both stay inside (10.77.0.1 and 10.77.0.2), nothing routed anywhere else.
# WebRTC needs it: browsers offer no loopback ICE candidates. Needs root (or
# CAP_SYS_ADMIN); without it the command runs as is and the WebRTC tests skip.
set -euo pipefail
if [ -n "${VMS_NETNS_ADDR:-}" ]; then exec "$@"; fi
if ! unshare -n true 2>/dev/null; then
  echo "netns.sh: cannot create a network namespace; WebRTC tests will skip" >&2
  exec "$@"
fi
exec unshare -n bash -c '
  set -e
  ip link set lo up
  ip link add vms0 type veth peer name vms1
  ip addr add 10.77.0.1/24 dev vms0
  ip addr add 10.77.0.2/24 dev vms1
  ip link set vms0 up
  ip link set vms1 up
  export VMS_NETNS_ADDR=10.77.0.1
  exec "$@"' netns "$@"
