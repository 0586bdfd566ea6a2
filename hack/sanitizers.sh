#!/usr/bin/env bash
# Runs test targets under ThreadSanitizer and AddressSanitizer (swift test --sanitize=...),
# each in its own build folder (.build-tsan, .build-asan). Exits non-zero when a test fails
# or a sanitizer reports anything, in the test process or in a process the tests start (the
# controller binary): reports go to files (log_path) and are printed at the end.
#
#   bash hack/sanitizers.sh                  # both sanitizers, every test target
#   bash hack/sanitizers.sh thread           # one sanitizer
#   SANITIZER_FILTER='^KubeClientTests\.' bash hack/sanitizers.sh address
#
# False positives are suppressed in hack/tsan-suppressions.txt (one reason per entry).
set -euo pipefail
cd "$(dirname "$0")/.."

. hack/lib/prerequisites.sh
install_build_prerequisites

# swift test --filter matches "<target>.<suite>/<test>" for XCTest and Swift Testing alike.
# Every test target by default (about 240 tests; ~2 minutes per sanitizer after the build).
filter=${SANITIZER_FILTER:-'^(KubeClientTests|NodeIPAMControllerTests|ClusterCIDRAPITests|MultiCIDRTests|LocalAPIServerTests)\.'}
if [ $# -gt 0 ]; then sanitizers=("$@"); else sanitizers=(thread address); fi

failed=0
for sanitizer in "${sanitizers[@]}"; do
  case "$sanitizer" in
    thread) scratch="$PWD/.build-tsan" ;;
    address) scratch="$PWD/.build-asan" ;;
    *) echo "unknown sanitizer $sanitizer (thread or address)"; exit 2 ;;
  esac
  reports="$scratch/sanitizer-reports"
  rm -rf "$reports"; mkdir -p "$reports"
  # Reports of every process (tests and the binaries they start) go to $reports/report.<pid>.
  # The Swift runtime's backtracer is off so that the sanitizer's own report is the one printed.
  export SWIFT_BACKTRACE=enable=no
  export TSAN_OPTIONS="suppressions=$PWD/hack/tsan-suppressions.txt log_path=$reports/report second_deadlock_stack=1"
  # No leak check: LeakSanitizer reports XCTest's own runner objects (libXCTest) at exit in
  # every run; ASan is here for memory errors. By hand: ASAN_OPTIONS=detect_leaks=1.
  export ASAN_OPTIONS="log_path=$reports/report detect_leaks=0 strict_string_checks=1 detect_stack_use_after_return=1"

  echo "==> build with --sanitize=$sanitizer ($scratch)"
  started=$(date +%s)
  mkdir -p "$scratch"
  log="$scratch/sanitizer-build.log"
  if ! swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" >"$log" 2>&1; then
    cat "$log"; exit 1
  fi
  built=$(date +%s)
  echo "build: $((built - started)) s"

  echo "==> swift test --sanitize=$sanitizer --filter '$filter'"
  status=0
  # One test at a time: the sanitizers slow everything 2-15x, and in parallel on two cores
  # the tests' lease and request timeouts (1-3 s) expire.
  swift test --skip-build --no-parallel --sanitize="$sanitizer" --scratch-path "$scratch" --filter "$filter" 2>&1 || status=$?
  finished=$(date +%s)
  count=$(find "$reports" -type f | wc -l)
  if [ "$count" -gt 0 ]; then
    echo "==> $count sanitizer report file(s):"
    for report in "$reports"/*; do echo "--- $report"; cat "$report"; done
  fi
  summary="sanitizer $sanitizer: tests exit $status, $count report file(s), build $((built - started)) s, tests $((finished - built)) s"
  if [ "$status" -ne 0 ] || [ "$count" -gt 0 ]; then
    echo "$summary: FAILED"; failed=1
  else
    echo "$summary: ok"
  fi
done
exit "$failed"
