#!/usr/bin/env bash
# Benchmark driver for the node-ipam CNI plugin (not a test): release build, then ADD/DEL
# latency p50/p99 against Debian's host-local (same ranges, same run; sequential and 16 in
# parallel), a /64 random range against a /24, and process start-up time.
# NODE_IPAM_BIN=<path> skips the build; extra arguments go to hack/bench-cni.py.
set -euo pipefail
cd "$(dirname "$0")/.."
dpkg -s containernetworking-plugins >/dev/null 2>&1 || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins >/dev/null
}
if [ -z "${NODE_IPAM_BIN:-}" ]; then
  echo "==> swift build -c release --product node-ipam"
  swift build -c release --product node-ipam
  NODE_IPAM_BIN="$(swift build -c release --show-bin-path)/node-ipam"
fi
exec python3 hack/bench-cni.py --node-ipam "$NODE_IPAM_BIN" "$@"
