#!/usr/bin/env bash
# Every test: set-up (idempotent), the Rust core natively, then the npm package against the
# real WASM builds in Node and in Chromium, the packed tarball in fresh consumer projects,
# the runtime matrix (Node 22/24/26, Bun, Deno).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BALLAST_ROOT"
bash scripts/setup.sh

echo "== cargo test (native)"
cargo test --workspace --exclude ballast-wasm --release

echo "== vitest (Node + Chromium, against the WASM builds)"
pnpm --filter ballast exec vitest run

echo "== consumers (the packed tarball in fresh projects: Node, TypeScript, publint, attw, bundlers in Chromium)"
bash scripts/consumers.sh

echo "== runtimes (the package tests on Node 22/24/26, consumer checks there and on Bun and Deno)"
bash scripts/runtimes.sh

echo "== mnist-browser (the example app built and trained in Chromium)"
pnpm --filter mnist-browser test

echo "== gradient-flow (the claims of the BN report)"
pnpm --filter gradient-flow test

echo "== resnet (a short ResNet on Fashion-MNIST; the 5-epoch run is benches/resnet)"
pnpm --filter resnet test
