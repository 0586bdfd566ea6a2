#!/usr/bin/env bash
# Runs every test of the project. Installs what it needs first (Debian packages, PyPI
# packages), so it works on a fresh machine as root. Used by .ci/run and documented in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

. hack/lib/prerequisites.sh
install_build_prerequisites

echo "==> installing Python test tools"
python3 -m pip install --quiet --disable-pip-version-check -r hack/checks/requirements.txt

echo "==> CRD, CEL and manifest checks (pytest)"
python3 -m pytest -q hack/checks

echo "==> swift build (with tests, so their warnings count too)"
log=$(mktemp)
if ! swift build --build-tests >"$log" 2>&1; then cat "$log"; rm -f "$log"; exit 1; fi
# Our own code must build without warnings (dependencies' warnings are not ours).
if grep -E "warning:" "$log" | grep -v "/\.build[^/]*/checkouts/" | grep -E "/(Sources|Tests|Benchmarks)/"; then
  echo "error: swift build printed warnings in our code (listed above)"; rm -f "$log"; exit 1
fi
rm -f "$log"

echo "==> Helm chart, RBAC and image manifests checks (pytest, offline)"
python3 -m pip install --quiet --disable-pip-version-check -r hack/chart-checks/requirements.txt
# The checks run the binaries just built (the controller's request list, helm install into LocalAPIServer).
bin=$(swift build --show-bin-path)
NODE_IPAM_CONTROLLER_BIN="$bin/node-ipam-controller" LOCAL_APISERVER_BIN="$bin/local-apiserver" \
  python3 -m pytest -q hack/chart-checks

echo "==> node-ipam CNI plugin with the real bridge/host-local plugins (pytest; network namespaces as root)"
NODE_IPAM_BIN="$bin/node-ipam" bash hack/cni-test.sh -q

echo "==> the whole path end to end: ClusterCIDR → node range → node-ipam-agent → pod address → ping (root: network namespaces)"
NODE_IPAM_BIN_DIR="$bin" bash hack/demo-pods.sh

# The benchmarks are run by hand (hack/bench.sh: release build, timings on a quiet machine);
# here they are only compiled, so an API change cannot leave them broken.
echo "==> compiling Benchmarks/ (debug, not run)"
log=$(mktemp)
if ! swift build --package-path Benchmarks >"$log" 2>&1; then cat "$log"; rm -f "$log"; exit 1; fi
if grep -E "warning:" "$log" | grep -v "/\.build[^/]*/checkouts/" | grep -E "/(Sources|Tests|Benchmarks)/"; then
  echo "error: swift build printed warnings in our code (listed above)"; rm -f "$log"; exit 1
fi
rm -f "$log"

echo "==> fault soak: 3 replicas, leader election, API and process faults (hack/soak.py, docs/architecture.md)"
# 20 seeded schedules of about 10 s each; the time budget only guards CI against a slow machine.
python3 hack/soak.py --bin "$bin" --seeds "${SOAK_SEEDS:-20}" --minutes 8

echo "==> fuzzing: watch lines, LIST pages, kubeconfigs, manifests, ClusterCIDRs, CIDRs (hack/fuzz.sh, Fuzz/README.md)"
bash hack/fuzz.sh

echo "==> swift test"
swift test 2>&1
