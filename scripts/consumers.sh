#!/usr/bin/env bash
# Consumer tests: packs packages/ballast and installs the tarball into fresh projects outside
# the workspace (see consumers/run.mjs). Needs the package built (scripts/setup.sh).
# The npm cache is kept across runs beside the other tools, so a rerun installs offline-fast.
# Usage: scripts/consumers.sh [--only node,types,lint] [--keep]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BALLAST_ROOT"
export BALLAST_CONSUMER_CACHE="${BALLAST_CONSUMER_CACHE:-$BALLAST_TOOLS/npm-cache}"
exec node consumers/run.mjs "$@"
