#!/usr/bin/env python3
"""PyTorch reference for charrnn benchmarks: the same model and batching.

Embedding -> nn.LSTM (dropout between layers) -> dropout -> Linear; Adam;
global-norm clipping; hidden state carried (detached) across batches; vocabulary
= sorted set of the corpus's characters; the last `val_fraction` is validation.

Prints one JSON object on stdout. Modes:
  train   time `--steps` training steps after `--warmup` ones (chars/sec)
  sample  time generating `--length` characters at batch 1 with top-n
  curve   train for `--minutes` of wall clock, validating every `--eval-every` steps
  encode  time reading and encoding the corpus (MB/s)
"""
import argparse
import json
import math
import resource
import sys
import time

import torch
import torch.nn as nn


def load(path, val_fraction):
    text = open(path, encoding="utf-8").read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    n_val = max(1, round(len(ids) * val_fraction))
    return vocab, ids[: len(ids) - n_val], ids[len(ids) - n_val :]


def batches(ids, batch, seq):
    """charrnn's batching: rows continue across batches, targets are the next char."""
    per = batch * seq
    n = (len(ids) - 1) // per
    row = n * seq
    x = torch.stack([ids[r * row : r * row + row] for r in range(batch)])
    y = torch.stack([ids[r * row + 1 : r * row + row + 1] for r in range(batch)])
    for k in range(n):
        yield x[:, k * seq : (k + 1) * seq], y[:, k * seq : (k + 1) * seq]


class CharRnn(nn.Module):
    def __init__(self, vocab, embed, hidden, layers, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, layers, dropout=dropout if layers > 1 else 0.0, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        out, state = self.lstm(self.embedding(x), state)
        return self.output(self.dropout(out)), state


def peak_memory_mb(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluate(model, ids, batch, seq, device):
    model.eval()
    total, n, state = 0.0, 0, None
    with torch.no_grad():
        for x, y in batches(ids, batch, seq):
            x, y = x.to(device), y.to(device)
            logits, state = model(x, state)
            total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
            n += 1
    model.train()
    return total / max(n, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["train", "sample", "curve", "encode"], default="train")
    p.add_argument("--corpus", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seq", type=int, default=100)
    p.add_argument("--embed", type=int, default=512)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--val-fraction", type=float, default=0.05)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--length", type=int, default=1000)
    p.add_argument("--top-n", type=int, default=5)
    p.add_argument("--minutes", type=float, default=7.5)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()

    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    start = time.perf_counter()
    vocab, train_ids, val_ids = load(a.corpus, a.val_fraction)
    if a.mode == "encode":
        import os

        secs = time.perf_counter() - start
        size = os.path.getsize(a.corpus)
        print(json.dumps({"torch": torch.__version__, "seconds": secs, "mb_per_sec": size / 1e6 / secs,
                          "chars": len(train_ids) + len(val_ids), "vocab": len(vocab)}))
        return
    model = CharRnn(len(vocab), a.embed, a.hidden, a.layers, a.dropout).to(device)
    result = {"device": a.device, "torch": torch.__version__, "threads": torch.get_num_threads(), "vocab": len(vocab)}

    if a.mode == "sample":
        model.eval()
        gen = torch.Generator().manual_seed(a.seed)
        with torch.no_grad():
            state, x = None, torch.tensor([[0]], device=device)
            for _ in range(20):  # warm-up
                logits, state = model(x, state)
            start = time.perf_counter()
            for _ in range(a.length):
                logits, state = model(x, state)
                probs = torch.softmax(logits[0, -1].float().cpu(), dim=-1)
                top = torch.topk(probs, a.top_n)
                pick = top.indices[torch.multinomial(top.values / top.values.sum(), 1, generator=gen)]
                x = pick.view(1, 1).to(device)
            secs = time.perf_counter() - start
        result.update(chars_per_sec=a.length / secs, peak_memory_mb=peak_memory_mb(device))
        print(json.dumps(result))
        return

    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y, state):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits, state = model(x, state)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        return loss.item(), tuple(s.detach() for s in state)

    if a.mode == "train":
        it = batches(train_ids, a.batch, a.seq)
        state = None
        for _ in range(a.warmup):
            _, state = step(*next(it), state)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(a.steps):
            loss, state = step(*next(it), state)
        secs = time.perf_counter() - start
        result.update(
            chars_per_sec=a.steps * a.batch * a.seq / secs,
            sec_per_step=secs / a.steps,
            loss=loss,
            peak_memory_mb=peak_memory_mb(device),
        )
        print(json.dumps(result))
        return

    # curve: wall-clock budget, validation every eval_every steps.
    curve, steps, start = [], 0, time.perf_counter()
    budget = a.minutes * 60
    done = False
    while not done:
        state = None
        for x, y in batches(train_ids, a.batch, a.seq):
            loss, state = step(x, y, state)
            steps += 1
            if steps % a.eval_every == 0:
                v = evaluate(model, val_ids, a.batch, a.seq, device)
                curve.append({"step": steps, "elapsed_sec": time.perf_counter() - start, "train_loss": loss, "val_loss": v})
                print(json.dumps(curve[-1]), file=sys.stderr, flush=True)
            if time.perf_counter() - start > budget:
                done = True
                break
    v = evaluate(model, val_ids, a.batch, a.seq, device)
    curve.append({"step": steps, "elapsed_sec": time.perf_counter() - start, "val_loss": v})
    result.update(curve=curve, final_val_loss=v, peak_memory_mb=peak_memory_mb(device))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
