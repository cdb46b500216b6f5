#!/usr/bin/env python3
"""Load test for `charrnn serve`: CLIENTS concurrent clients, each asking
for LENGTH streamed characters per request until REQUESTS are done; then
one client alone as the reference, and `charrnn sample --num-samples
CLIENTS` for the engine's own batched rate.

    charrnn serve --run RUN --addr 127.0.0.1:8080 --max-in-flight 256 &
    python3 xtask/scripts/serve-load.py --run RUN --addr 127.0.0.1:8080

Prints errors, aggregate characters per second, the single client's rate,
the engine's rate, and percentiles of the time to the first streamed
character, as one JSON line at the end.
"""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def one_request(host, port, length, seed, token):
    """Streams one request; returns (first char seconds, chars, error or None)."""
    started = time.time()
    try:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("POST", "/v1/generate", json.dumps({"length": length, "seed": seed, "stream": True}), headers)
        reply = conn.getresponse()
        if reply.status != 200:
            return None, 0, f"status {reply.status}: {reply.read()[:200]!r}"
        # Read in blocks, not lines, and parse only the final event: the
        # client shares the server's cores, so it must cost little per event.
        first, received = None, []
        while True:
            block = reply.read1(65536)
            if not block:
                break
            if first is None and b"event: chunk" in block:
                first = time.time() - started
            received.append(block)
        events = b"".join(received).decode().split("\n\n")
        done = [e for e in events if e.startswith("event: done")]
        if first is None or len(done) != 1:
            return first, 0, f"{len(done)} done events, chunks: {first is not None}"
        summary = json.loads(done[0].split("data: ", 1)[1])
        chars = len(summary["texts"][0])
        if summary["stop_reasons"] != ["length"]:
            return first, chars, f"stopped: {summary['stop_reasons']}"
        conn.close()
        if chars != length:
            return first, chars, f"{chars} of {length} characters"
        return first, chars, None
    except Exception as e:  # any failure is an error of the run
        return None, 0, repr(e)


def load(host, port, clients, requests, length, token):
    lock = threading.Lock()
    issued = [0]
    results = []

    def client():
        while True:
            with lock:
                if issued[0] >= requests:
                    return
                issued[0] += 1
                seed = issued[0]
            results.append(one_request(host, port, length, seed, token))

    started = time.time()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.time() - started
    return results, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:8080")
    parser.add_argument("--run", required=True, help="the run served, for the engine's own rate")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--token", default=os.environ.get("CHARRNN_TOKEN"))
    parser.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "charrnn"))
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    port = int(port)
    results, seconds = load(host, port, args.clients, args.requests, args.length, args.token)
    errors = [r[2] for r in results if r[2]]
    chars = sum(r[1] for r in results)
    firsts = sorted(r[0] for r in results if r[0] is not None)
    pct = lambda p: firsts[min(len(firsts) - 1, int(p / 100 * len(firsts)))] if firsts else None
    single, single_seconds = load(host, port, 1, 20, args.length, args.token)
    single_rate = sum(r[1] for r in single) / single_seconds
    engine = subprocess.run([args.bin, "sample", "--run", args.run, "--length", str(args.length),
                             "--num-samples", str(args.clients)], capture_output=True, text=True, check=True)
    engine_rate = int(re.search(r"\(([0-9]+) chars/s\)", engine.stderr).group(1))
    record = {
        "clients": args.clients, "requests": len(results), "length": args.length, "errors": len(errors),
        "error_examples": errors[:3], "seconds": seconds, "chars_per_sec": chars / seconds,
        "single_client_chars_per_sec": single_rate, "engine_batch_chars_per_sec": engine_rate,
        "vs_single": chars / seconds / single_rate, "vs_engine": chars / seconds / engine_rate,
        "first_char_ms": {"p50": pct(50) * 1e3, "p90": pct(90) * 1e3, "p99": pct(99) * 1e3, "max": firsts[-1] * 1e3}
        if firsts else None,
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
