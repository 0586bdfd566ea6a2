#!/usr/bin/env bash
# Integration checks of the node-ipam CNI plugin: the real binary against Debian's
# containernetworking-plugins (bridge, host-local) in network namespaces it creates.
# Installs the Debian packages it needs, builds node-ipam (unless NODE_IPAM_BIN names a
# built binary, as CI does to avoid a second build), runs hack/cni-checks with pytest.
# Network-namespace tests need root; without it they are reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

. hack/lib/prerequisites.sh
install_cni_test_packages
python3 -m pytest --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check "pytest>=8"

if [ -z "${NODE_IPAM_BIN:-}" ]; then
  echo "==> swift build --product node-ipam"
  swift build --product node-ipam
  NODE_IPAM_BIN="$(swift build --show-bin-path)/node-ipam"
fi
export NODE_IPAM_BIN
[ "$(id -u)" -eq 0 ] || echo "NOTE: not root: the bridge/network-namespace tests need root and will be skipped"

# The namespaces the tests create are named nit<role><run tag><2 hex digits> and deleted by
# their fixtures; this trap removes any that a killed run left behind — only this run's.
CNI_TEST_RUN_TAG=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
export CNI_TEST_RUN_TAG
cleanup() {
  if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^nit[h12]${CNI_TEST_RUN_TAG}[0-9a-f]{2}\$" || true); do
      ip netns del "$ns" 2>/dev/null || true
    done
  fi
}
trap cleanup EXIT

echo "==> node-ipam integration checks (pytest, binary $NODE_IPAM_BIN)"
python3 -m pytest -rs -p no:cacheprovider hack/cni-checks "$@"
