"""charrnn's LSTM in plain numpy, from a safetensors export (the README's example)."""
import json
import struct

import numpy as np


def load(path):
    """The tensors of a model.safetensors by name, and its charrnn.json manifest."""
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        data = f.read()
    manifest = json.loads(header.pop("__metadata__")["charrnn.json"])
    tensors = {
        name: np.frombuffer(data[t["data_offsets"][0] : t["data_offsets"][1]], "<f4")
        .reshape(t["shape"])
        .astype(np.float64)
        for name, t in header.items()
    }
    return tensors, manifest


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def step(t, state, char_id):
    """Feeds one character id; updates state ([(h, c)] per layer) and returns the logits."""
    x = t["embedding"][char_id]
    for l, (h, c) in enumerate(state):
        z = x @ t[f"lstm.{l}.w_ih"] + h @ t[f"lstm.{l}.w_hh"] + t[f"lstm.{l}.bias"]
        i, f, o, g = np.split(z, 4)  # charrnn's gate order: i, f, o, g
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        state[l] = (h, c)
        x = h
    return x @ t["output.weight"] + t["output.bias"]


def zero_state(manifest):
    hidden = manifest["model"]["hidden_size"]
    return [(np.zeros(hidden), np.zeros(hidden))] * manifest["model"]["num_layers"]


def to_torch_gates(w):
    """[input, 4·hidden] in charrnn's i, f, o, g → PyTorch's [4·hidden, input] in i, f, g, o."""
    i, f, o, g = np.split(w, 4, axis=-1)
    return np.concatenate([i, f, g, o], axis=-1).T


def torch_layout(t):
    """The tensors as nn.Embedding, nn.LSTM and nn.Linear name and shape them."""
    out = {"embedding.weight": t["embedding"], "linear.weight": t["output.weight"].T,
           "linear.bias": t["output.bias"]}
    for l in range(sum(1 for name in t if name.endswith(".w_hh"))):
        out[f"lstm.weight_ih_l{l}"] = to_torch_gates(t[f"lstm.{l}.w_ih"])
        out[f"lstm.weight_hh_l{l}"] = to_torch_gates(t[f"lstm.{l}.w_hh"])
        out[f"lstm.bias_ih_l{l}"] = to_torch_gates(t[f"lstm.{l}.bias"][None, :])[:, 0]
        out[f"lstm.bias_hh_l{l}"] = np.zeros_like(out[f"lstm.bias_ih_l{l}"])
    return out


def torch_step(p, state, char_id):
    """One step as torch.nn.LSTM computes it (W·x, gates i, f, g, o), on torch_layout's tensors."""
    x = p["embedding.weight"][char_id]
    for l, (h, c) in enumerate(state):
        z = (p[f"lstm.weight_ih_l{l}"] @ x + p[f"lstm.bias_ih_l{l}"]
             + p[f"lstm.weight_hh_l{l}"] @ h + p[f"lstm.bias_hh_l{l}"])
        i, f, g, o = np.split(z, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        state[l] = (h, c)
        x = h
    return p["linear.weight"] @ x + p["linear.bias"]
