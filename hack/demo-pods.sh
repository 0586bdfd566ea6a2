#!/usr/bin/env bash
# The whole path: ClusterCIDR → node range (node-ipam-controller) → node-ipam-agent's conflist →
# pod address (Debian's bridge plugin with node-ipam in network namespaces) → ping. Also the
# end-to-end test hack/test.sh runs as root (hack/pods_demo.py exits non-zero when a check fails).
# Builds what it needs unless NODE_IPAM_BIN_DIR names a directory of built binaries (CI reuses
# its build). Without root the pods are skipped, and it says so.
set -euo pipefail
cd "$(dirname "$0")/.."

. hack/lib/prerequisites.sh
install_build_prerequisites

install_cni_test_packages
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check pyyaml

if [ -z "${NODE_IPAM_BIN_DIR:-}" ]; then
  echo "==> building local-apiserver, node-ipam-controller, node-ipam-agent, node-ipam (the first build takes a few minutes)"
  for product in local-apiserver node-ipam-controller node-ipam-agent node-ipam; do
    log=$(mktemp)
    if ! swift build --product "$product" >"$log" 2>&1; then cat "$log"; rm -f "$log"; exit 1; fi
    rm -f "$log"
  done
  NODE_IPAM_BIN_DIR="$(swift build --show-bin-path)"
fi
exec python3 hack/pods_demo.py --bin "$NODE_IPAM_BIN_DIR"
