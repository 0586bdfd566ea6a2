#!/usr/bin/env bash
# Runs the benchmarks (Benchmarks/, package-benchmark) in release mode and checks them
# against the committed targets; exits non-zero when one is missed. Suites: the allocation
# engine (NextFitAllocation, PoolDecision, MillionIPv6Nodes) and the Kubernetes client
# against an in-process LocalAPIServer (KubeClientRequests). Installs what it needs first
# (Debian packages), so it works on a fresh machine as root. The first release build takes
# about 5 minutes on 2 cores (swift-nio for the client suite).
#
# The targets live in each benchmark's configuration (absolute p90 tolerances) against the
# hand-written references in Benchmarks/Thresholds/ (see Benchmarks/README.md). Do not
# run `benchmark thresholds update`: it would replace them with this machine's measurements.
#
#   hack/bench.sh                        build, print the figures, check the targets
#   hack/bench.sh --target PoolDecision  one suite (extra arguments go to both runs)
#   BENCH_CHECK_ONLY=1 hack/bench.sh     only the check (one run instead of two)
set -euo pipefail
cd "$(dirname "$0")/.."

# libcurl (pkg-config) for the root package's CCurl target. package-benchmark needs nothing from Debian on Swift
# 6.3: its malloc statistics come from ordo-one/malloc-interposer, built from source (the
# jemalloc backend and libjemalloc-dev are only for Swift 6.2 and older).
. hack/lib/prerequisites.sh
install_build_prerequisites

cd Benchmarks
phase() { echo "==> $1"; SECONDS=0; }
took() { echo "    ($1 took ${SECONDS}s)"; }

phase "swift build -c release (Benchmarks)"
log=$(mktemp)
if ! swift build -c release >"$log" 2>&1; then cat "$log"; rm -f "$log"; exit 1; fi
# Our own code must build without warnings (dependencies' warnings are not ours).
if grep -E "warning:" "$log" | grep -v "/\.build[^/]*/checkouts/" | grep -E "/(Sources|Benchmarks)/"; then
  echo "error: swift build printed warnings in our code (listed above)"; rm -f "$log"; exit 1
fi
rm -f "$log"
took build

if [ -z "${BENCH_CHECK_ONLY:-}" ]; then
  phase "swift package benchmark (figures)"
  swift package benchmark --no-progress "$@" || { status=$?; took run; exit "$status"; }
  took run
fi

phase "swift package benchmark thresholds check (targets)"
swift package benchmark thresholds check --no-progress "$@" || { status=$?; took check; exit "$status"; }
took check
