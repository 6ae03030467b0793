#!/usr/bin/env bash
# Builds ballast-wasm three times into packages/ballast/wasm/:
#   relaxed/  threads/ plus relaxed-simd (fused multiply-add in the micro-kernels), where the
#             runtime validates it (Node 22+, Chromium); its .wasm only: it has the same
#             exports and imports as threads/, whose glue it uses (checked below)
#   threads/  atomics + bulk-memory + simd128, shared memory, rayon pool  (Node, isolated pages)
#   simd/     simd128 only, no atomics                                    (pages without isolation)
#   scalar/   no SIMD128, single-threaded: only with --scalar, as a benchmark baseline
# Usage: scripts/build-wasm.sh [--if-stale] [--scalar]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BALLAST_ROOT"

out="packages/ballast/wasm"
if [[ " $* " == *" --if-stale "* && -f "$out/relaxed/ballast_wasm_bg.wasm" && -f "$out/threads/ballast_wasm_bg.wasm" && -f "$out/simd/ballast_wasm_bg.wasm" ]]; then
  newest_src=$(find crates Cargo.toml Cargo.lock scripts/build-wasm.sh -newer "$out/simd/ballast_wasm_bg.wasm" -type f | head -1)
  if [[ -z "$newest_src" ]]; then
    echo "wasm builds are up to date"
    exit 0
  fi
fi

llvm=$(rustc_llvm_major)
linker="/usr/lib/llvm-$llvm/bin/wasm-ld"
if [[ -z "$llvm" || ! -x "$linker" ]]; then
  echo "error: Debian's rustc (LLVM ${llvm:-?}) needs wasm-ld from lld-$llvm; run scripts/setup.sh" >&2
  exit 1
fi
wasm_bindgen=$(wasm_bindgen_bin)
[[ -x "$wasm_bindgen" ]] || { echo "error: $wasm_bindgen missing; run scripts/setup.sh" >&2; exit 1; }
# wasm-opt from the npm package binaryen (a devDependency of the workspace, pinned).
wasm_opt="$BALLAST_ROOT/node_modules/.bin/wasm-opt"
[[ -x "$wasm_opt" ]] || { echo "error: $wasm_opt missing; run scripts/setup.sh (pnpm install)" >&2; exit 1; }

# The most memory a module may grow to (2 GiB); the core reads it too (crates/ballast-wasm/src/alloc.rs)
# to refuse requests that cannot fit with an OutOfMemoryError.
export BALLAST_MAX_MEMORY=2147483648
# Panic locations name source files: remap the machine's paths to the crates' own
# (rust/library/core/src/..., rayon-core-1.13.0/src/...), so no build path or registry
# directory ships in a .wasm.
remap="--remap-path-prefix=$("$DEBIAN_RUSTC" --print sysroot)/lib/rustlib/src/rust/=rust/"
for index in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  if [[ -d "$index" ]]; then remap+=" --remap-path-prefix=$index="; fi
done
remap+=" --remap-path-prefix=$BALLAST_ROOT/="
# Link arguments for threads follow wasm-bindgen's threading docs: memory is imported and
# shared, and the TLS symbols are exported so each worker can set up its own TLS block.
common_flags="$remap -C target-feature=+simd128,+bulk-memory -C link-arg=--max-memory=$BALLAST_MAX_MEMORY"
thread_flags="$remap -C target-feature=+atomics,+bulk-memory,+simd128 -C link-arg=--shared-memory \
 -C link-arg=--import-memory -C link-arg=--max-memory=$BALLAST_MAX_MEMORY -C link-arg=--export=__heap_base \
 -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size \
 -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"

# After a trap the instance's state is unknown (a borrow or a lock may be held), so a wrapper
# the garbage collector finalizes later must not call into it: each of the glue's
# FinalizationRegistry callbacks is gated on a flag that the package sets on a trap through
# the added export stopFinalizers() (packages/ballast/src/errors.ts).
stop_finalizers() { # dir
  local js="$1/ballast_wasm.js" registries
  registries=$(grep -c "new FinalizationRegistry(" "$js")
  perl -0pi -e 's/new FinalizationRegistry\(ptr => (wasm\.__wbg_\w+_free\([^()]*\))\)/new FinalizationRegistry(ptr => { if (!finalizersStopped) $1; })/g' "$js"
  if [[ $(grep -c "if (!finalizersStopped)" "$js") -ne $registries || $registries -eq 0 ]]; then
    echo "error: $js: not every FinalizationRegistry could be gated (has the glue's form changed?)" >&2; exit 1
  fi
  printf '%s\n' '' 'let finalizersStopped = false;' \
    '/** Frees nothing more from the FinalizationRegistry callbacks: called once the instance has trapped. */' \
    'export function stopFinalizers() { finalizersStopped = true; }' >> "$js"
  printf '%s\n' '/** Frees nothing more from the FinalizationRegistry callbacks: called once the instance has trapped. */' \
    'export function stopFinalizers(): void;' >> "$1/ballast_wasm.d.ts"
}

build() { # name, rustflags, cargo feature args...
  local name=$1 flags=$2; shift 2
  echo "== building ballast-wasm ($name)"
  RUSTC="$DEBIAN_RUSTC" RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$linker" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" \
    "$DEBIAN_CARGO" build -p ballast-wasm --release --target wasm32-unknown-unknown \
      -Z build-std=std,panic_abort --target-dir "target/wasm-$name" "$@"
  rm -rf "$out/$name"
  # The name section (function names, 40% of the file) and the producers section are only
  # for debugging: a trap's stack then shows wasm-function[N] instead of a Rust name.
  "$wasm_bindgen" --target web --remove-name-section --remove-producers-section --out-dir "$out/$name" \
    "target/wasm-$name/wasm32-unknown-unknown/release/ballast_wasm.wasm"
  stop_finalizers "$out/$name"
  if grep -aqE "$BALLAST_ROOT|${CARGO_HOME:-$HOME/.cargo}|/rustlib/" "$out/$name/ballast_wasm_bg.wasm"; then
    echo "error: the $name build names a path of this machine (see the remapping above)" >&2; exit 1
  fi
  # Binaryen's -O3 on top of LLVM's, on the single-threaded builds only: 5% smaller raw, 1%
  # gzip, the same results (the golden tests run on these files). On the threaded builds
  # (threads, relaxed) its output hangs in the pool (binaryen 132: graph.test.ts never
  # finishes), so they stay as LLVM wrote them. Features come from the target_features
  # section rustc writes.
  if [[ "$name" == simd || "$name" == scalar ]]; then
    echo "== wasm-opt -O3 ($name)"
    "$wasm_opt" -O3 "$out/$name/ballast_wasm_bg.wasm" -o "$out/$name/ballast_wasm_bg.wasm"
  fi
}

build threads "$thread_flags" --features threads
build relaxed "${thread_flags/+simd128/+simd128,+relaxed-simd}" --features threads
# wasm-bindgen names each import shim after a hash of what it binds, so identical glue
# means identical exports and imports: the threaded glue (and its pool worker) serves both.
for glue in ballast_wasm.js ballast_wasm.d.ts; do
  cmp -s "$out/threads/$glue" "$out/relaxed/$glue" ||
    { echo "error: the relaxed build's $glue differs from the threaded build's" >&2; exit 1; }
done
find "$out/relaxed" -type f ! -name ballast_wasm_bg.wasm -delete
build simd "$common_flags"
if [[ " $* " == *" --scalar "* ]]; then
  build scalar "$remap -C target-feature=+bulk-memory -C link-arg=--max-memory=$BALLAST_MAX_MEMORY"
fi
echo "wasm builds written to $out/"

