#!/usr/bin/env python3
"""Writes a large synthetic UTF-8 corpus of mixed CJK and ASCII text, for
testing corpora larger than memory (never commit its output).

    python3 xtask/scripts/synthetic-corpus.py /tmp/big.txt --mb 2000

Lines are drawn from a fixed pool of made-up lines (seeded, so the same
command writes the same file): runs of CJK characters and punctuation
between ASCII words, numbers and code-like tokens, about 70% of the bytes CJK.
"""
import argparse
import random


def make_lines(rng, count):
    # About as many distinct characters as jinpingmei.txt (4,339), so a model
    # trained on either has the same size.
    cjk = [chr(c) for c in rng.sample(range(0x4E00, 0x9FA6), 4254)]
    punct = list("，。！？“”：；、（）《》")
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    lines = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(2, 8)):
            kind = rng.random()
            if kind < 0.6:
                run = "".join(rng.choices(cjk, k=rng.randint(4, 30)))
                parts.append(run + rng.choice(punct))
            elif kind < 0.9:
                words = ["".join(rng.choices(letters, k=rng.randint(1, 9))) for _ in range(rng.randint(1, 6))]
                parts.append(" ".join(words) + rng.choice([" ", ", ", ". ", "; "]))
            else:
                parts.append(f"{rng.randint(0, 99999)}_{rng.choice(['x', 'id', 'fn()', '[i]'])} ")
        lines.append("".join(parts))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--mb", type=int, default=2000, help="size in MB (10^6 bytes)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    lines = make_lines(rng, 20000)
    target = args.mb * 1_000_000
    written = 0
    with open(args.out, "wb") as out:
        while written < target:
            block = ("\n".join(rng.choices(lines, k=4000)) + "\n").encode()
            if written + len(block) > target:
                # The last block is cut to size, dropping a character cut in two.
                block = block[: target - written].decode("utf-8", "ignore").encode()
            if not block:
                break
            out.write(block)
            written += len(block)
    print(f"wrote {args.out}: {written} bytes")


if __name__ == "__main__":
    main()
