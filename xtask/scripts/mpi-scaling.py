#!/usr/bin/env python3
"""Data-parallel scaling on one machine: 1 process x 1 thread against
N processes x 1 thread (mpirun), at the same batch per process, on a config
(configs/jinpingmei-cpu.toml by default). Prints throughput, the all-reduce's
share of a step and the bytes each step all-reduces, as JSON.

Needs a charrnn built with MPI:
    cargo build --release -p charrnn-cli --features mpi
    python3 xtask/scripts/mpi-scaling.py --bin target/release/charrnn
The corpus is looked up as `charrnn train` does ($CHARRNN_DATA_DIR, data/).
A benchmark, not a test: run it on a quiet machine.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def train(cmd_prefix, bin_path, config, run, batch, steps, env):
    sets = {
        "train.batch_size": batch,
        "train.max_steps": steps,
        "train.log_every": 10,
        "train.eval_every": 0,
        "train.save_every": 0,
        "train.sample_every": 0,
        "train.out_dir": json.dumps(str(run)),
    }
    args = [str(bin_path), "train", "--config", str(config)]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    out = subprocess.run(
        cmd_prefix + args, env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"training failed:\n{out.stderr[-3000:]}")
    records = [json.loads(line) for line in open(run / "metrics.jsonl")]
    # The first interval holds the warm-up (allocation, packing).
    speeds = [r["chars_per_sec"] for r in records[1:]]
    shares = [float(s) for s in re.findall(r"all-reduce ([0-9.]+)%", out.stderr)[1:]]
    params = int(re.search(r"([0-9]+) params", out.stderr).group(1))
    seconds = [
        float(s) for s in re.findall(r"([0-9.]+) s/batch", out.stderr)[1:]
    ]
    return {
        "chars_per_sec": statistics.median(speeds),
        "sec_per_step": statistics.median(seconds),
        "all_reduce_percent": statistics.median(shares) if shares else 0.0,
        "params": params,
        "final_train_loss": records[-1]["train_loss"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=str(ROOT / "target/release/charrnn"))
    parser.add_argument("--config", default=str(ROOT / "configs/jinpingmei-cpu.toml"))
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--batch-per-rank", type=int, default=32)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    env = dict(
        os.environ,
        RAYON_NUM_THREADS="1",
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one = train(
            ["taskset", "-c", "0"], args.bin, args.config, tmp / "one",
            args.batch_per_rank, args.steps, env,
        )
        mpirun = [
            "mpirun", "-n", str(args.ranks), "--bind-to", "core",
            "-x", "RAYON_NUM_THREADS",
        ]
        many = train(
            mpirun, args.bin, args.config, tmp / "many",
            args.batch_per_rank * args.ranks, args.steps, env,
        )
    # One f32 per parameter, and three numbers the step agrees on.
    bytes_per_step = 4 * (one["params"] + 3)
    print(json.dumps({
        "ranks": args.ranks,
        "batch_per_rank": args.batch_per_rank,
        "one_process": one,
        "processes": many,
        "speedup": many["chars_per_sec"] / one["chars_per_sec"],
        "all_reduce_bytes_per_step": bytes_per_step,
        "all_reduce_ms_per_step": many["sec_per_step"] * many["all_reduce_percent"] * 10,
    }, indent=2))


if __name__ == "__main__":
    main()
