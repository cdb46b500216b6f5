#!/usr/bin/env bash
# GPU check: run on a machine with an NVIDIA GPU, from the repository root, with a
# release `charrnn` built elsewhere (GPU machines here have no Rust toolchain):
#
#   cargo build --release -p charrnn-cli        # on the build machine
#   bash xtask/scripts/gpu-check.sh             # on the GPU machine
#
# It checks that CUDA training runs and agrees with the CPU backend, and measures
# the seed config (batch 128 x seq 100, 2x512) against PyTorch/cuDNN on the same
# GPU: chars/s and peak GPU memory. Figures go to stdout and to $OUT (or
# /tmp/gpu-check).
set -uo pipefail
BIN="${CHARRNN_BIN:-target/release/charrnn}"
export CHARRNN_DATA_DIR="${CHARRNN_DATA_DIR:-data}"
OUT="${OUT:-/tmp/gpu-check}"
STEPS="${GPU_CHECK_STEPS:-40}"
CORPUS="$CHARRNN_DATA_DIR/jinpingmei.txt"
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "gpu-check: $BIN not found; build it with cargo build --release -p charrnn-cli" >&2; exit 1; }
[ -f "$CORPUS" ] || { echo "gpu-check: $CORPUS not found; set CHARRNN_DATA_DIR" >&2; exit 1; }

echo "== GPU"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

echo "== charrnn train, seed config, $STEPS steps on CUDA"
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$OUT/gpu-mem.csv" &
MEM_PID=$!
BASE_MEM=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
SECONDS=0
"$BIN" train --config configs/jinpingmei.toml --device cuda \
    --set train.max_steps="$STEPS" --set train.eval_every=0 --set train.save_every=0 \
    --set train.log_every=5 --set train.out_dir="\"$OUT/run\"" 2>&1 | tee "$OUT/train.log"
train_rc=${PIPESTATUS[0]}
kill "$MEM_PID" 2>/dev/null
PEAK_MEM=$(sort -n "$OUT/gpu-mem.csv" | tail -1)
echo "train exit $train_rc, wall ${SECONDS} s, peak GPU memory ${PEAK_MEM} MiB (idle ${BASE_MEM} MiB)"

echo "== charrnn chars/s (steady state: records after step 10)"
python3 - "$OUT/run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
steady = [r for r in rows if r["step"] > 10]
cps = sum(r["chars_per_sec"] for r in steady) / max(len(steady), 1)
print(json.dumps({"charrnn_cuda_chars_per_sec": round(cps), "first_loss": rows[0]["train_loss"], "last_loss": rows[-1]["train_loss"]}))
PY

echo "== sample (CPU engine) from the CUDA-trained checkpoint"
"$BIN" sample --run "$OUT/run" --length 200

echo "== eval on validation text: CUDA vs CPU backends must agree"
"$BIN" -q eval --checkpoint "$OUT/run" --corpus "$CORPUS" --split val --device cuda | tee "$OUT/eval-cuda.txt"
"$BIN" -q eval --checkpoint "$OUT/run" --corpus "$CORPUS" --split val --device cpu | tee "$OUT/eval-cpu.txt"
python3 - "$OUT/eval-cuda.txt" "$OUT/eval-cpu.txt" <<'PY'
import sys
a, b = (float(open(p).read().split()[0]) for p in sys.argv[1:3])
print(f"cuda {a:.6f} vs cpu {b:.6f}: {'AGREE' if abs(a - b) < 1e-3 else 'DISAGREE'} (|diff| {abs(a-b):.2e})")
PY

echo "== PyTorch cuDNN reference, same model and batching"
python3 bench/pytorch_reference.py --device cuda --corpus "$CORPUS" --steps 20 --warmup 3 | tee "$OUT/pytorch.json"
