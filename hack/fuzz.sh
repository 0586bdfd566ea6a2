#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (watch lines, LIST pages, kubeconfigs, ClusterCIDRs,
# YAML manifests, CIDR texts) and runs each for a fixed number of inputs from its committed
# seed corpus (Fuzz/Corpus/<target>). Exits non-zero when any target crashes, fails one of its checks,
# runs out of memory or takes longer than FUZZ_TIMEOUT seconds on one input; the input is
# saved under .build-fuzz/artifacts/. One summary line per target.
#
#   bash hack/fuzz.sh                      # what CI runs (a fixed number of inputs per target)
#   FUZZ_RUNS=500000 bash hack/fuzz.sh     # longer; for hours by hand see Fuzz/README.md
#   bash hack/fuzz.sh FuzzCIDR FuzzKubeConfig   # some targets only
#
# Settings (environment): FUZZ_RUNS (inputs per target; defaults below), FUZZ_SEED (default
# 1, so that a CI run is repeatable; 0 picks a random seed), FUZZ_TIMEOUT (seconds per input,
# default 10).
set -euo pipefail
cd "$(dirname "$0")/.."

. hack/lib/prerequisites.sh
install_build_prerequisites

# Inputs per target: about 20-40 s each on two shared cores, under 3 minutes in all after the
# build (the YAML targets run ~1,000 inputs/s, the CIDR parser ~10,000).
declare -A default_runs=(
  [FuzzWatchLine]=50000 [FuzzListDecoding]=100000 [FuzzKubeConfig]=30000
  [FuzzClusterCIDR]=200000 [FuzzManifests]=30000 [FuzzCIDR]=200000
)
seed=${FUZZ_SEED:-1}
timeout=${FUZZ_TIMEOUT:-10}
scratch="$PWD/.build-fuzz"
all_targets=(FuzzWatchLine FuzzListDecoding FuzzKubeConfig FuzzClusterCIDR FuzzManifests FuzzCIDR)
targets=("${@:-${all_targets[@]}}")

declare -A dictionary=(
  [FuzzWatchLine]=json [FuzzListDecoding]=json [FuzzClusterCIDR]=json
  [FuzzKubeConfig]=yaml [FuzzManifests]=yaml [FuzzCIDR]=cidr
)

echo "==> building the fuzz targets (swift build --sanitize=fuzzer, debug, $scratch)"
log=$(mktemp)
started=$(date +%s)
# Debug on purpose: FuzzWatchLine imports KubeClient @testable, which needs testing enabled.
if ! swift build --package-path Fuzz --scratch-path "$scratch" --sanitize=fuzzer >"$log" 2>&1; then
  cat "$log"; rm -f "$log"; exit 1
fi
if grep -E "warning:" "$log" | grep -v "/\.build[^/]*/checkouts/" | grep -E "/(Sources|Tests|Fuzz)/"; then
  echo "error: the fuzz build printed warnings in our code (listed above)"; rm -f "$log"; exit 1
fi
rm -f "$log"
echo "build: $(( $(date +%s) - started )) s"
bin="$scratch/debug"

artifacts="$scratch/artifacts"
work="$scratch/corpus-new"   # inputs a run finds; the committed corpus is only read
mkdir -p "$artifacts"
failed=0
for target in "${targets[@]}"; do
  seeds="Fuzz/Corpus/$target"
  [ -x "$bin/$target" ] && [ -d "$seeds" ] || { echo "fuzz $target: unknown target (no binary or no $seeds)"; failed=1; continue; }
  rm -rf "${work:?}/$target"; mkdir -p "$work/$target"
  log="$scratch/$target.log"
  started=$(date +%s%N)
  # The Swift runtime's own crash handler would end the process before libFuzzer saves
  # the input: turn it off so libFuzzer's handler runs.
  set +e
  runs=${FUZZ_RUNS:-${default_runs[$target]}}
  SWIFT_BACKTRACE=enable=no "$bin/$target" -runs="$runs" -seed="$seed" -timeout="$timeout" -rss_limit_mb=2048 \
    -dict="Fuzz/Dictionaries/${dictionary[$target]}.dict" -artifact_prefix="$artifacts/$target-" -print_final_stats=1 \
    "$work/$target" "$seeds" >"$log" 2>&1
  status=$?
  set -e
  ms=$(( ($(date +%s%N) - started) / 1000000 ))
  seconds="$((ms / 1000)).$(( ms % 1000 / 100 ))"
  executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  used_seed=$(sed -n 's/^INFO: Seed: *//p' "$log" | head -1)   # the one libFuzzer drew when FUZZ_SEED=0
  if [ "$status" -eq 0 ]; then
    printf 'fuzz %-17s ok      %8s executions in %5s s (seed %s)\n' "$target" "${executed:-?}" "$seconds" "${used_seed:-$seed}"
  else
    failed=1
    artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    printf 'fuzz %-17s FAILED  %8s executions in %5s s (seed %s), exit %s\n' "$target" "${executed:-?}" "$seconds" "${used_seed:-$seed}" "$status"
    # What went wrong, without the stack addresses.
    grep -E "fuzz check failed|Fatal error|ERROR: libFuzzer|SUMMARY|ERROR: AddressSanitizer" "$log" | head -5 | sed 's/^/    /'
    if [ -n "$artifact" ]; then
      echo "    input: $artifact (reproduce: SWIFT_BACKTRACE=enable=no $bin/$target $artifact)"
    fi
    echo "    full log: $log"
  fi
done
exit "$failed"
