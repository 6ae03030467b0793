#!/usr/bin/env bash
# The long fuzz run of the public API (packages/ballast/test/fuzz): FUZZ_CASES cases (default
# 20000) from FUZZ_SEED (default: the time, printed so a run can be repeated), on the threaded
# build and then the SIMD-only one. Each build's run is stopped after FUZZ_TIMEOUT seconds
# (default 1800): a synchronous hang inside WASM cannot be timed out from within.
#   FUZZ_CASES=50000 FUZZ_SEED=42 bash scripts/fuzz.sh
#   FUZZ_SEED=42 FUZZ_ONLY=1234 bash scripts/fuzz.sh   # one case again, alone
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BALLAST_ROOT/packages/ballast"
export FUZZ_CASES="${FUZZ_CASES:-20000}"
export FUZZ_SEED="${FUZZ_SEED:-$(date +%s)}"
echo "== fuzz: $FUZZ_CASES cases, seed $FUZZ_SEED"
status=0
for build in threads simd; do
  echo "== fuzz on the $build build"
  BALLAST_TEST_BUILD=$build timeout --kill-after=10 "${FUZZ_TIMEOUT:-1800}" \
    npx vitest run --project threads test/fuzz/api.fuzz.test.ts || status=$?
  if [[ $status -eq 124 ]]; then echo "== fuzz: the $build run did not finish (a hang?); rerun with FUZZ_ONLY to find the case" >&2; fi
done
exit $status
