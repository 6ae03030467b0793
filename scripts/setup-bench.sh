#!/usr/bin/env bash
# Installs the reference engines the benchmarks and the golden script compare Ballast with,
# skipping what is already there. Not part of the test command: the goldens are committed,
# and the tests need no Python.
#   Debian's PyTorch 1.13 CPU and numpy (benches/compare, benches/resnet,
#   crates/ballast-core/tests/golden/make_golden.py)
# Usage: scripts/setup-bench.sh   (after scripts/setup.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BALLAST_ROOT"

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in python3-torch python3-numpy; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "== setup-bench: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/python3 -c 'import numpy, torch; print(f"== setup-bench: PyTorch {torch.__version__}, numpy {numpy.__version__}")'
