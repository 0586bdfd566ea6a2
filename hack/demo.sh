#!/usr/bin/env bash
# The demo: builds the controller and runs it against the bundled LocalAPIServer (HTTPS,
# kind-shaped kubeconfig) with the CRD, examples/ and labelled sample nodes, then prints
# which node got which ranges from which ClusterCIDR. Installs its own prerequisites.
# Extra arguments go to `node-ipam-demo` (--nodes N, --keep-running, -v N).
# `--pods` runs the whole path instead: pool → node range → node agent → pod address → ping
# (hack/demo-pods.sh; network namespaces as root).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--pods" ]; then shift; exec bash hack/demo-pods.sh "$@"; fi

. hack/lib/prerequisites.sh
install_build_prerequisites

echo "==> building node-ipam-demo and node-ipam-controller (the first build takes a few minutes)"
log=$(mktemp)
if ! swift build --product node-ipam-demo >"$log" 2>&1 || ! swift build --product node-ipam-controller >>"$log" 2>&1; then cat "$log"; rm -f "$log"; exit 1; fi
rm -f "$log"
exec "$(swift build --show-bin-path)/node-ipam-demo" "$@"
