"""Runs a safetensors export in numpy and compares it with charrnn's own logits and states.

usage: check_safetensors.py EXPORT_DIR EXPECTED_JSON   (exits 1 on a mismatch)
"""
import json
import sys

import numpy as np

from expected import compare, load_expected
from numpy_lstm import load, step, torch_layout, torch_step, zero_state

TOLERANCE = 1e-4


def main(export_dir, expected_path):
    tensors, manifest = load(f"{export_dir}/model.safetensors")
    with open(f"{export_dir}/charrnn.json") as f:
        assert json.load(f) == manifest, "charrnn.json differs from the file's metadata"
    expected = load_expected(expected_path)
    assert manifest["vocab"] == expected["vocab"], "the vocabulary differs"
    # charrnn's layout, and the README's mapping onto PyTorch's.
    for name, run, weights in [("charrnn", step, tensors), ("torch", torch_step, torch_layout(tensors))]:
        state = zero_state(manifest)
        for t, char_id in enumerate(expected["ids"]):
            logits = run(weights, state, char_id)
            compare(f"{name} layout, step {t} logits", logits, expected["logits"][t], TOLERANCE)
            compare(f"{name} layout, step {t} h", np.stack([h for h, _ in state]), expected["h"][t], TOLERANCE)
            compare(f"{name} layout, step {t} c", np.stack([c for _, c in state]), expected["c"][t], TOLERANCE)
    print(f"numpy, in charrnn's layout and in PyTorch's: {len(expected['ids'])} steps within {TOLERANCE} of charrnn")


if __name__ == "__main__":
    main(*sys.argv[1:])
