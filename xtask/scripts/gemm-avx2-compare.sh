#!/usr/bin/env bash
# charrnn's AVX2 GEMM tile against the `gemm` crate's AVX2 (FMA) path, as an
# AVX2-only machine runs it, on any x86-64 machine with AVX2: the `gemm` crate
# picks AVX-512 by itself where the CPU has it, so this builds a scratch crate
# against a copy of gemm-common whose AVX-512 branch is cut out. Both run in
# one binary, alternating; products with a packed right-hand side, the shapes
# of many streams' generation steps and of an LSTM's recurrent steps.
#
#   xtask/scripts/gemm-avx2-compare.sh             # split across rayon's threads
#   xtask/scripts/gemm-avx2-compare.sh in-thread   # on one thread (training's split)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${GEMM_COMPARE_DIR:-${TMPDIR:-/tmp}/charrnn-gemm-avx2-compare}"
common=$(ls -d "$HOME"/.cargo/registry/src/*/gemm-common-0.19.0 2>/dev/null | head -1)
if [ -z "$common" ]; then
    echo "gemm-compare: gemm-common 0.19.0 is not in ~/.cargo/registry (run cargo build first)" >&2
    exit 1
fi
rm -rf "$work/gemm-common"
mkdir -p "$work"
cp -r "$common" "$work/gemm-common"
sed -i 's/\$crate::feature_detected!("avx512f")/false/g' "$work/gemm-common/src/gemm.rs"
if grep -q 'feature_detected!("avx512f")' "$work/gemm-common/src/gemm.rs"; then
    echo "gemm-compare: could not cut the AVX-512 branch out of gemm-common" >&2
    exit 1
fi
cat > "$work/Cargo.toml" <<TOML
[package]
name = "gemm-avx2-compare"
version = "0.1.0"
edition = "2021"
publish = false

[[bin]]
name = "gemm-avx2-compare"
path = "$repo/xtask/scripts/gemm-avx2-compare/main.rs"

[dependencies]
gemm = { version = "0.19", features = ["rayon"] }
rayon = "1"
charrnn-cpu = { path = "$repo/crates/cpu" }

[patch.crates-io]
gemm-common = { path = "$work/gemm-common" }

[workspace]
TOML
cargo build --release --quiet --manifest-path "$work/Cargo.toml" --target-dir "$work/target"
CHARRNN_SIMD=avx2 "$work/target/release/gemm-avx2-compare" "$@"
