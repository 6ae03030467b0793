#!/usr/bin/env bash
# The main job: set-up (idempotent), then train the tutorial's CNN on MNIST in Node.
# Extra arguments go to the trainer (e.g. --epochs 3, --model bn-everywhere; see --help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BALLAST_ROOT"
bash scripts/setup.sh
node examples/mnist-node/train.mjs --save mnist-model "$@"
