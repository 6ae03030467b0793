#!/usr/bin/env bash
# The main job: set-up (idempotent), then the GEMM demo in Node.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BALLAST_ROOT"
bash scripts/setup.sh
node packages/ballast/bench/gemm.mjs "$@"
