#!/usr/bin/env python3
"""How generation scales with streams: `charrnn sample --num-samples N
--length L` (300 unless told) at N = 1, 8, 16, 64, for one or more builds of charrnn, runs
alternating, medians of --rounds, at each SIMD level asked for.

    python3 xtask/scripts/stream-scaling.py --run runs/X /tmp/charrnn-before target/release/charrnn
"""
import argparse
import os
import re
import statistics
import subprocess


def chars_per_sec(binary, run, streams, simd, length):
    env = dict(os.environ, CHARRNN_SIMD=simd)
    out = subprocess.run([binary, "sample", "--run", run, "--length", str(length), "--num-samples", str(streams)],
                         env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"\(([0-9]+) chars/s\)", out.stderr).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--run", required=True, help="a run folder (its best checkpoint is used)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--length", type=int, default=300, help="characters per sample")
    parser.add_argument("--simd", default="avx512,avx2")
    args = parser.parse_args()
    streams = [1, 8, 16, 64]
    for simd in args.simd.split(","):
        figures = {(b, n): [] for b in args.binaries for n in streams}
        for _ in range(args.rounds):
            for n in streams:
                for b in args.binaries:
                    figures[(b, n)].append(chars_per_sec(b, args.run, n, simd, args.length))
        print(f"CHARRNN_SIMD={simd}: median chars/s of {args.rounds} (x one stream of the same build)")
        for b in args.binaries:
            one = statistics.median(figures[(b, 1)])
            cells = [f"{n}: {statistics.median(figures[(b, n)]):.0f} ({statistics.median(figures[(b, n)]) / one:.2f}x)"
                     for n in streams]
            print(f"  {b}: " + ", ".join(cells) + f"  all: {[figures[(b, n)] for n in streams]}")


if __name__ == "__main__":
    main()
