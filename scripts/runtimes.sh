#!/usr/bin/env bash
# The runtime matrix: Node 22, 24 and 26 (from the npm packages that ship Node binaries) run
# the package's tests (vitest: every file runs in a process of the Node under test, about
# 25 s each) and the consumer checks on the packed tarball; Bun and Deno (from their npm
# packages) run the consumer checks: ESM import and a short training on the threaded build,
# and CommonJS require(). The machine's own Node runs everything in run-tests.sh.
# Needs scripts/setup.sh (it installs the runtimes). Usage: scripts/runtimes.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BALLAST_ROOT"

runtimes=()
for v in $MATRIX_NODES; do
  node=$(matrix_node_bin "$v")
  [[ -x "$node" ]] || { echo "error: Node $v missing; run scripts/setup.sh" >&2; exit 1; }
  echo "== vitest on Node $v"
  (cd packages/ballast && "$node" node_modules/vitest/vitest.mjs run)
  runtimes+=("node=$node")
done
runtimes+=("bun=$(bun_bin)" "deno=$(deno_bin)")

echo "== consumer checks on Node $MATRIX_NODES, Bun $BUN_VERSION, Deno $DENO_VERSION"
BALLAST_CONSUMER_RUNTIMES="${runtimes[*]}" bash scripts/consumers.sh --only node
