"""Runs an ONNX export in onnxruntime and compares it with charrnn: the logits and states
of a text stepped one character at a time and run at once, then greedy text.

usage: check_onnx.py EXPORT_DIR EXPECTED_JSON   (exits 1 on a mismatch)
"""
import json
import sys

import numpy as np
import onnxruntime as ort

from expected import compare, load_expected

TOLERANCE = 1e-4


def main(export_dir, expected_path):
    session = ort.InferenceSession(f"{export_dir}/model.onnx", providers=["CPUExecutionProvider"])
    manifest = json.loads(session.get_modelmeta().custom_metadata_map["charrnn.json"])
    with open(f"{export_dir}/charrnn.json") as f:
        assert json.load(f) == manifest, "charrnn.json differs from the model's metadata"
    expected = load_expected(expected_path)
    assert manifest["vocab"] == expected["vocab"], "the vocabulary differs"
    shape = (manifest["model"]["num_layers"], 1, manifest["model"]["hidden_size"])
    zeros = np.zeros(shape, np.float32)

    def run(ids, h, c):
        feed = {"ids": np.array(ids, np.int64).reshape(-1, 1), "h0": h, "c0": c}
        return session.run(["logits", "hn", "cn"], feed)

    h, c = zeros, zeros
    for t, char_id in enumerate(expected["ids"]):
        logits, h, c = run([char_id], h, c)
        compare(f"step {t} logits", logits[0, 0], expected["logits"][t], TOLERANCE)
        compare(f"step {t} h", h[:, 0], expected["h"][t], TOLERANCE)
        compare(f"step {t} c", c[:, 0], expected["c"][t], TOLERANCE)
    logits, h, c = run(expected["ids"], zeros, zeros)
    compare("the whole text's logits", logits[:, 0], expected["logits"], TOLERANCE)
    compare("the whole text's h", h[:, 0], expected["h"][-1], TOLERANCE)
    compare("the whole text's c", c[:, 0], expected["c"][-1], TOLERANCE)

    prime = expected["greedy_prime"]
    logits, h, c = run(prime, zeros, zeros)
    text = []
    for _ in range(len(expected["greedy"])):
        text.append(int(np.argmax(logits[-1, 0])))
        logits, h, c = run(text[-1:], h, c)
    if text != expected["greedy"]:
        first = next(i for i, (a, b) in enumerate(zip(text, expected["greedy"])) if a != b)
        sys.exit(f"greedy text differs from charrnn's at character {first}")
    print(f"onnxruntime {ort.__version__}: {len(expected['ids'])} steps within {TOLERANCE}, "
          f"{len(text)} greedy characters equal")


if __name__ == "__main__":
    main(*sys.argv[1:])
