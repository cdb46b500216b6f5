#!/usr/bin/env bash
# GPU check: run on a machine with an NVIDIA GPU, from the repository root. GPU
# machines here have no Rust toolchain, so the binaries are built elsewhere and
# carried (stripped, with the corpora) in .gpu/:
#
#   cargo build --release -p charrnn-cli -p xtask            # on the build machine
#   cargo test --workspace --no-run                           # the GPU-kernel tests
#   mkdir -p .gpu/data && strip -o .gpu/charrnn target/release/charrnn \
#     && strip -o .gpu/xtask target/release/xtask && cp ../shared/data/*.txt .gpu/data/ \
#     && strip -o .gpu/gpu_kernels $(ls -t target/debug/deps/gpu_kernels-* | grep -v '\.d$' | head -1) \
#     && gzip -f .gpu/charrnn .gpu/gpu_kernels                # 40 MiB each stripped, ~11 gzipped
#   bash xtask/scripts/gpu-check.sh                           # on the GPU machine
#
# What travels to a device machine is capped at 64 MiB, hence the gzip: the
# script unpacks any `.gpu/*.gz` first.
#
# Stages, each under its own time limit so that one stuck stage still leaves
# the others' figures:
#   0. kernels: the GPU-kernel tests on CUDA (charrnn-gpu's LSTM cell against the
#      portable recurrence on the CPU), when .gpu/gpu_kernels was carried;
#   1. smoke: a few CUDA training steps (the first run compiles kernels with NVRTC);
#   2. agreement: validation loss of that checkpoint on CUDA and on the CPU;
#   3. `xtask bench --device cuda`: charrnn against PyTorch/cuDNN on this machine
#      (training both configs, sampling, encoding, peak memory), which appends its
#      row to BENCHMARKS.md;
#   4. steady state: STEADY_STEPS (40) seed-config steps, chars/s after step 10;
#   5. with PROFILE_STEPS > 0, cubecl's per-kernel profiling log of that many steps.
# The figures land in $OUT (or /tmp/gpu-check), at most eight files: kernels.log
# (appended to smoke.log), smoke.log,
# eval.txt, bench.log, bench.json, BENCHMARKS.md, steady.txt, profile.log and the
# GPU memory trace. DEVICE=cpu runs the same stages on the CPU (a dry run of
# the script itself on a machine without a GPU).
set -uo pipefail
BIN="${CHARRNN_BIN:-.gpu/charrnn}"
XTASK="${XTASK_BIN:-.gpu/xtask}"
DEVICE="${DEVICE:-cuda}"
export CHARRNN_DATA_DIR="${CHARRNN_DATA_DIR:-.gpu/data}"
OUT="${OUT:-/tmp/gpu-check}"
SMOKE_DIR="${SMOKE_DIR:-/tmp/gpu-check-smoke}"
SMOKE_STEPS="${SMOKE_STEPS:-4}"
BENCH_ARGS="${BENCH_ARGS:---seed-steps 10 --small-steps 30 --sample-length 1000}"
STEADY_STEPS="${STEADY_STEPS:-40}"
PROFILE_STEPS="${PROFILE_STEPS:-0}"
CORPUS="$CHARRNN_DATA_DIR/jinpingmei.txt"
mkdir -p "$OUT"
for packed in .gpu/*.gz; do
    [ -f "$packed" ] && gunzip -kf "$packed" && chmod +x "${packed%.gz}"
done
for f in "$BIN" "$XTASK"; do
    [ -x "$f" ] || { echo "gpu-check: $f not found; see the header of this script" >&2; exit 1; }
done
[ -f "$CORPUS" ] || { echo "gpu-check: $CORPUS not found; set CHARRNN_DATA_DIR" >&2; exit 1; }
stage() { echo; echo "== $(date +%T) $*"; }

# NVRTC and the CUDA headers: the toolkit's, or the ones PyTorch's wheels bring.
if [ -z "${CUDA_PATH:-}" ] && [ ! -d /usr/local/cuda ] && command -v nvcc >/dev/null; then
    export CUDA_PATH="$(dirname "$(dirname "$(command -v nvcc)")")"
fi
extra_libs=$(python3 - <<'PY' 2>/dev/null
import glob, os, site
dirs = {os.path.dirname(p) for s in site.getsitepackages()
        for p in glob.glob(s + "/nvidia/**/libnvrtc*.so*", recursive=True)}
print(":".join(sorted(dirs)))
PY
)
export LD_LIBRARY_PATH="/usr/local/cuda/lib64${extra_libs:+:$extra_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

if [ "$DEVICE" = cuda ]; then
    stage "GPU"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader -lms 250 \
        > "$OUT/gpu-trace.csv" &
    TRACE_PID=$!
    trap 'kill $TRACE_PID 2>/dev/null' EXIT
fi

KERNELS="${KERNELS_BIN:-.gpu/gpu_kernels}"
if [ "$DEVICE" = cuda ] && [ -x "$KERNELS" ]; then
    stage "kernels: the GPU-kernel tests on CUDA"
    timeout -k 5 120 "$KERNELS" --ignored --test-threads 1 2>&1 | tee "$OUT/smoke.log"
    echo "kernel tests exit ${PIPESTATUS[0]}" | tee -a "$OUT/smoke.log"
fi

stage "smoke: $SMOKE_STEPS training steps on $DEVICE, small config"
SECONDS=0
rm -rf "$SMOKE_DIR"
timeout -k 5 150 "$BIN" train --config configs/jinpingmei-cpu.toml --device "$DEVICE" \
    --set train.max_steps="$SMOKE_STEPS" --set train.log_every=1 --set train.eval_every=0 \
    --set train.save_every=0 --set train.sample_every=0 \
    --set train.out_dir="\"$SMOKE_DIR\"" 2>&1 | tee -a "$OUT/smoke.log"
smoke_rc=${PIPESTATUS[0]}
echo "smoke exit $smoke_rc after ${SECONDS} s"
[ -f "$SMOKE_DIR/metrics.jsonl" ] && tee -a "$OUT/smoke.log" < "$SMOKE_DIR/metrics.jsonl"
if [ "$smoke_rc" -ne 0 ]; then
    echo "gpu-check: training on $DEVICE failed; stopping here" >&2
    exit 1
fi

stage "agreement: validation loss of the smoke checkpoint on $DEVICE and on the CPU"
for d in "$DEVICE" cpu; do
    SECONDS=0
    timeout -k 5 60 "$BIN" -q eval --checkpoint "$SMOKE_DIR" --corpus "$CORPUS" --split val \
        --device "$d" > "$SMOKE_DIR/eval-$d.txt"
    echo "$d: $(cat "$SMOKE_DIR/eval-$d.txt") [${SECONDS} s]" | tee -a "$OUT/eval.txt"
done
python3 - "$SMOKE_DIR/eval-$DEVICE.txt" "$SMOKE_DIR/eval-cpu.txt" <<'PY' | tee -a "$OUT/eval.txt"
import sys
a, b = (float(open(p).read().split()[0]) for p in sys.argv[1:3])
verdict = "AGREE" if abs(a - b) < 1e-3 else "DISAGREE"
print(f"device {a:.6f} vs cpu {b:.6f}: {verdict} (|diff| {abs(a - b):.2e})")
PY

stage "xtask bench --device $DEVICE $BENCH_ARGS"
# shellcheck disable=SC2086
timeout -k 5 330 "$XTASK" bench --device "$DEVICE" --bin "$BIN" $BENCH_ARGS 2>&1 | tee "$OUT/bench.log"
echo "bench exit ${PIPESTATUS[0]}"
cp target/bench/bench.json BENCHMARKS.md "$OUT/" 2>/dev/null

if [ "$STEADY_STEPS" -gt 0 ]; then
    stage "steady state: seed config, $STEADY_STEPS steps on $DEVICE, chars/s over steps 11 on"
    rm -rf "$SMOKE_DIR-seed"
    timeout -k 5 150 "$BIN" train --quiet --config configs/jinpingmei.toml --device "$DEVICE" \
        --set train.max_steps="$STEADY_STEPS" --set train.log_every=1 --set train.eval_every=0 \
        --set train.save_every=0 --set train.sample_every=0 \
        --set train.out_dir="\"$SMOKE_DIR-seed\"" > /dev/null
    python3 - "$SMOKE_DIR-seed/metrics.jsonl" <<'PY' | tee "$OUT/steady.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
steady = [r for r in rows if r["step"] > 10]
secs = sum(128 * 100 / r["chars_per_sec"] for r in steady)
print(json.dumps({"steps": len(steady), "chars_per_sec": round(128 * 100 * len(steady) / secs),
                  "sec_per_step": round(secs / len(steady), 4),
                  "first_steps_sec": [round(r["elapsed_sec"], 2) for r in rows[:4]]}))
PY
fi

if [ "$PROFILE_STEPS" -gt 0 ]; then
    stage "kernel profile: small config, $PROFILE_STEPS steps, cubecl's profiling log"
    rm -rf "$SMOKE_DIR-profile"
    CUBECL_DEBUG_LOG="$SMOKE_DIR-profile.log" CUBECL_DEBUG_OPTION=profile \
        timeout -k 5 90 "$BIN" train --quiet --config configs/jinpingmei-cpu.toml --device "$DEVICE" \
        --set train.max_steps="$PROFILE_STEPS" --set train.eval_every=0 --set train.save_every=0 \
        --set train.sample_every=0 --set train.out_dir="\"$SMOKE_DIR-profile\"" > /dev/null
    tail -c 4000000 "$SMOKE_DIR-profile.log" > "$OUT/profile.log" 2>/dev/null
fi
stage "done"
