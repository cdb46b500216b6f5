#!/usr/bin/env python3
"""Corpora larger than memory, measured: `charrnn prepare` speed on a large
synthetic corpus, and the peak memory of 20 training steps of the
jinpingmei-cpu model on it against the same run on jinpingmei.txt.

    cargo build --release -p charrnn-cli
    python3 xtask/scripts/large-corpus-bench.py --mb 2000 --work /tmp/large

Peak RSS is read with wait4(2), as `cargo xtask bench` does. The corpus is
written by synthetic-corpus.py into --work (never into the repository).
Validation is held to about the same number of characters on both corpora
(jinpingmei.txt's 5%), so both runs do the same work but for the text.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "charrnn")


def measured(cmd, env=None):
    """Runs cmd; returns (seconds, peak RSS in MB, stdout, stderr) via wait4."""
    out_path, err_path = "/tmp/.lcb-out", "/tmp/.lcb-err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.time()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.time() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = open(out_path).read(), open(err_path).read()
    if child.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({child.returncode}):\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout, stderr


def train_20_steps(corpus, run_dir, val_fraction):
    cmd = [BIN, "train", "--config", os.path.join(REPO, "configs/jinpingmei-cpu.toml"), "--device", "cpu",
           "--set", "train.max_steps=20", "--set", f"train.out_dir={json.dumps(run_dir)}",
           "--set", f"data.val_fraction={val_fraction}", "--set", 'sample.prime="a"']
    if corpus:
        cmd += ["--set", f"data.corpus={json.dumps(corpus)}"]
    return measured(cmd)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=2000)
    parser.add_argument("--work", default="/tmp/large-corpus")
    parser.add_argument("--prepares", type=int, default=3, help="timed prepare runs")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    text = os.path.join(args.work, f"synthetic-{args.mb}mb.txt")
    if not os.path.exists(text) or os.path.getsize(text) != args.mb * 1_000_000:
        subprocess.run([sys.executable, os.path.join(REPO, "xtask/scripts/synthetic-corpus.py"), text,
                        "--mb", str(args.mb)], check=True)
    tokens = os.path.join(args.work, "synthetic.tokens")
    rates = []
    for _ in range(args.prepares):
        if os.path.exists(tokens):
            os.remove(tokens)
        subprocess.run(["sync"], check=True)
        _, rss, said, _ = measured([BIN, "prepare", text, "--out", tokens])
        rate = float(re.search(r"\(([0-9.]+) MB/s\)", said).group(1))
        chars = int(re.search(r"([0-9]+) characters", said).group(1))
        rates.append(rate)
        print(f"prepare: {rate:.0f} MB/s, peak RSS {rss:.0f} MB: {said.strip()}", flush=True)
    # The reference: the same text loaded whole into memory, as for a small corpus.
    _, memory_rss, said, _ = measured([BIN, "corpus", text, "--json"])
    in_memory = json.loads(said)["mb_per_sec"]
    print(f"in-memory load (charrnn corpus): {in_memory:.0f} MB/s, peak RSS {memory_rss:.0f} MB", flush=True)
    jpm_chars = 763_085
    runs = {}
    for name, corpus, fraction in [
        ("jinpingmei.txt", None, 0.05),
        ("synthetic.tokens", tokens, round(jpm_chars * 0.05 / chars, 9)),
        ("jinpingmei.txt again", None, 0.05),
        ("synthetic.tokens again", tokens, round(jpm_chars * 0.05 / chars, 9)),
        # The text itself: prepared into the run folder first, automatically.
        ("synthetic text, prepared by train", text, round(jpm_chars * 0.05 / chars, 9)),
    ]:
        run_dir = os.path.join(args.work, "run-" + name.replace(" ", "-"))
        subprocess.run(["rm", "-rf", run_dir], check=True)
        seconds, rss, _, log = train_20_steps(corpus, run_dir, fraction)
        line = next((l for l in log.splitlines() if "training on" in l), "")
        runs[name] = rss
        print(f"20 steps on {name}: peak RSS {rss:.1f} MB, {seconds:.1f} s; {line.strip()[-220:]}", flush=True)
    record = {
        "mb": args.mb,
        "chars": chars,
        "prepare_mb_per_sec": rates,
        "in_memory_load": {"mb_per_sec": in_memory, "peak_rss_mb": memory_rss},
        "peak_rss_mb": runs,
        "rss_difference_mb": [runs["synthetic.tokens"] - runs["jinpingmei.txt"],
                              runs["synthetic.tokens again"] - runs["jinpingmei.txt again"]],
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
