#!/usr/bin/env bash
# Builds the release node-ipam-controller and local-apiserver in their own scratch path
# (.build-bench, never .build) and runs hack/bench-controller.py: LocalAPIServer's raw node
# PATCH rate, then the controller allocating new nodes (unthrottled, QPS 20, QPS 100), a
# backlog of existing nodes, and adopting 50,000 nodes that already have podCIDRs.
# Everything on 127.0.0.1 over plain HTTP; about 3-5 minutes after the build on 2 cores.
# Arguments go to the driver, e.g. --json /tmp/bench.json, --phases unthrottled,adopt,
# --adopt-nodes 20000 (see python3 hack/bench-controller.py --help).
set -euo pipefail
cd "$(dirname "$0")/.."

. hack/lib/prerequisites.sh
install_build_prerequisites

scratch="${BENCH_SCRATCH_PATH:-$PWD/.build-bench}"
for product in node-ipam-controller local-apiserver; do
  echo "==> swift build -c release --product $product (scratch path $scratch)"
  log=$(mktemp)
  if ! swift build -c release --scratch-path "$scratch" --product "$product" >"$log" 2>&1; then
    cat "$log"; rm -f "$log"; exit 1
  fi
  rm -f "$log"
done
bin_dir=$(swift build -c release --scratch-path "$scratch" --show-bin-path)

python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check pyyaml

exec python3 hack/bench-controller.py --bin-dir "$bin_dir" "$@"
