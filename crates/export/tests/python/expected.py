"""What charrnn computed, as the Rust test writes it, and the one comparison every check makes."""
import json
import sys

import numpy as np


def load_expected(path):
    with open(path) as f:
        expected = json.load(f)
    for key in ("logits", "h", "c"):
        expected[key] = np.array(expected[key], dtype=np.float64)
    return expected


def compare(what, got, want, tolerance):
    worst = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - want)))
    if not worst <= tolerance:
        sys.exit(f"{what}: differs from charrnn by {worst:.3g} (tolerance {tolerance})")
