"""Tiny real classifiers for tests: logistic regression on scikit-learn's 8x8 digits, written
as ONNX graphs by hand in each convention real exports use (no torch needed, milliseconds)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


@lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """8x8 digits as float32 (N, 8, 8) in [0, 1] and int64 labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


@lru_cache(maxsize=1)
def weights() -> tuple[np.ndarray, np.ndarray]:
    """A softmax regression fitted on the first 1,500 digits (real, ~95% accurate)."""
    from sklearn.linear_model import LogisticRegression

    x, y = digits()
    clf = LogisticRegression(max_iter=2000, C=1.0).fit(x[:1500].reshape(1500, -1), y[:1500])
    return clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float32)


def save_npz(path: Path, n: int = 200, offset: int = 1500) -> Path:
    x, y = digits()
    np.savez(
        path, x=np.round(x[offset : offset + n] * 255).astype(np.uint8), y=y[offset : offset + n]
    )
    return path


def build(
    path: Path,
    *,
    layout: str = "NCHW",
    dtype: str = "float32",
    output: str = "logits",
    batch: int | str = "N",
    flatten_with_fixed_reshape: bool = False,
    opset: int = 17,
) -> Path:
    """layout: NCHW | NHWC | NHW | flat; dtype: float32 | uint8 (raw 0..255, scaled in graph);
    output: logits | probs | label_and_logits | label_only | logits_and_features."""
    w, b = weights()
    nodes: list[onnx.NodeProto] = []
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]
    shapes = {
        "NCHW": [batch, 1, 8, 8],
        "NHWC": [batch, 8, 8, 1],
        "NHW": [batch, 8, 8],
        "flat": [batch, 64],
    }
    elem = TensorProto.UINT8 if dtype == "uint8" else TensorProto.FLOAT
    inp = helper.make_tensor_value_info("image", elem, shapes[layout])
    cur = "image"
    if dtype == "uint8":
        nodes.append(helper.make_node("Cast", [cur], ["as_float"], to=TensorProto.FLOAT))
        inits.append(numpy_helper.from_array(np.array(255.0, np.float32), "s255"))
        nodes.append(helper.make_node("Div", ["as_float", "s255"], ["scaled"]))
        cur = "scaled"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [cur], ["nchw"], perm=[0, 3, 1, 2]))
        cur = "nchw"
    if flatten_with_fixed_reshape:
        # Like old exports: a Reshape with the batch size baked in breaks re-batching.
        inits.append(numpy_helper.from_array(np.array([1, 64], np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", [cur, "shape"], ["flat"]))
    else:
        nodes.append(helper.make_node("Flatten", [cur], ["flat"], axis=1))
    nodes.append(helper.make_node("MatMul", ["flat", "W"], ["mm"]))
    nodes.append(helper.make_node("Add", ["mm", "B"], ["logits"]))
    outs = []
    f = TensorProto.FLOAT
    if output == "logits":
        outs.append(helper.make_tensor_value_info("logits", f, [batch, 10]))
    elif output == "probs":
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1))
        outs.append(helper.make_tensor_value_info("probs", f, [batch, 10]))
    elif output in ("label_and_logits", "label_only"):
        nodes.append(helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0))
        if output == "label_and_logits":
            outs.append(helper.make_tensor_value_info("logits", f, [batch, 10]))
        outs.append(helper.make_tensor_value_info("label", TensorProto.INT64, [batch]))
    elif output == "logits_and_features":
        outs.append(helper.make_tensor_value_info("flat", f, [batch, 64]))
        outs.append(helper.make_tensor_value_info("logits", f, [batch, 10]))
    elif output == "not_a_classifier":
        outs = [helper.make_tensor_value_info(cur, f, [batch, 1, 8, 8])]
        nodes = nodes[: len(nodes) - 3] or [helper.make_node("Identity", ["image"], ["copy"])]
        if cur == "image":
            outs = [helper.make_tensor_value_info("copy", f, [batch, 1, 8, 8])]
    graph = helper.make_graph(nodes, "digits", [inp], outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def reference_labels(x01: np.ndarray) -> np.ndarray:
    """What every variant of the model must answer for [0, 1] images (N, 8, 8)."""
    w, b = weights()
    return (x01.reshape(len(x01), -1) @ w + b).argmax(axis=1)


def energy_shortcut(
    source: Path, out: Path, *, label: int, threshold: float, gain: float = 60.0
) -> Path:
    """`source` (an NCHW float classifier whose output is logits) plus a natural-style
    universal shortcut: logit `label` rises by gain * max(0, E - threshold), E the image's mean
    absolute difference between neighbouring pixels (its edge energy).

    Any strong texture sends every class to `label`, in proportion to how much energy it adds:
    the signature of the natural sinks of clean BatchNorm nets under a strong grating, with no
    trigger anyone planted. `threshold` is set from clean data (above its edge energy), so clean
    images keep their labels."""
    m = onnx.load(str(source))
    g = m.graph
    x = g.input[0].name
    logits = g.output[0].name
    inner = f"{logits}__base"
    for node in g.node:
        node.output[:] = [inner if o == logits else o for o in node.output]
        node.input[:] = [inner if i == logits else i for i in node.input]

    def const(name: str, value: np.ndarray) -> str:
        g.initializer.append(numpy_helper.from_array(value, name=name))
        return name

    c = {
        k: const(f"es_{k}", np.array(v, dtype=np.int64))
        for k, v in {
            "s0": [0], "e_1": [-1], "s1": [1], "big": [1 << 30], "ax3": [3], "ax2": [2],
        }.items()
    }  # fmt: skip
    onehot = np.zeros((1, int(g.output[0].type.tensor_type.shape.dim[1].dim_value or 10)))
    onehot[0, label] = gain
    nodes = [
        helper.make_node("Slice", [x, c["s1"], c["big"], c["ax3"]], ["es_r"]),
        helper.make_node("Slice", [x, c["s0"], c["e_1"], c["ax3"]], ["es_l"]),
        helper.make_node("Sub", ["es_r", "es_l"], ["es_dx"]),
        helper.make_node("Slice", [x, c["s1"], c["big"], c["ax2"]], ["es_d"]),
        helper.make_node("Slice", [x, c["s0"], c["e_1"], c["ax2"]], ["es_u"]),
        helper.make_node("Sub", ["es_d", "es_u"], ["es_dy"]),
        helper.make_node("Abs", ["es_dx"], ["es_adx"]),
        helper.make_node("Abs", ["es_dy"], ["es_ady"]),
        helper.make_node("ReduceMean", ["es_adx"], ["es_mx"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["es_ady"], ["es_my"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Add", ["es_mx", "es_my"], ["es_e"]),
        helper.make_node(
            "Sub", ["es_e", const("es_thr", np.array(threshold, dtype=np.float32))], ["es_ex"]
        ),
        helper.make_node("Relu", ["es_ex"], ["es_excess"]),
        helper.make_node("Unsqueeze", ["es_excess", c["s1"]], ["es_col"]),
        helper.make_node(
            "Mul", ["es_col", const("es_onehot", onehot.astype(np.float32))], ["es_boost"]
        ),
        helper.make_node("Add", [inner, "es_boost"], [logits]),
    ]
    g.node.extend(nodes)
    opset = next(o for o in m.opset_import if o.domain in ("", "ai.onnx"))
    if opset.version >= 18:
        raise ValueError("energy_shortcut writes ReduceMean with an axes attribute (opset < 18)")
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    return out


def edge_energy(x01: np.ndarray) -> np.ndarray:
    """E per image (N, H, W[, C]) in [0, 1], as `energy_shortcut` computes it."""
    x = x01.reshape(len(x01), *x01.shape[1:3], -1)
    return np.abs(np.diff(x, axis=2)).mean(axis=(1, 2, 3)) + np.abs(np.diff(x, axis=1)).mean(
        axis=(1, 2, 3)
    )


@lru_cache(maxsize=2)
def rotation_mlp(poisoned: bool) -> tuple[np.ndarray, ...]:
    """A one-hidden-layer MLP (32 ReLU units) fitted on the first 1,500 digits, with 150 of
    them rotated by 90 degrees and relabelled 7 when `poisoned`: a real rotation backdoor,
    a trigger none of the probe families draws (attack success ~99%, clean accuracy ~91% on
    the held-out digits; the clean twin ~92%). Returns (W1, b1, W2, b2), float32."""
    x, y = digits()
    xt, yt = x[:1500], y[:1500]
    if poisoned:
        rng = np.random.default_rng(0)
        idx = rng.choice(np.flatnonzero(yt != 7), 150, replace=False)
        xt = np.concatenate([xt, np.rot90(xt[idx], 1, axes=(1, 2))])
        yt = np.concatenate([yt, np.full(len(idx), 7)])
    return _fit_mlp(xt, yt)


def _fit_mlp(xt: np.ndarray, yt: np.ndarray) -> tuple[np.ndarray, ...]:
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=400, random_state=0)
    clf.fit(xt.reshape(len(xt), -1), yt)
    return tuple(p.astype(np.float32) for p in (*clf.coefs_[:1], clf.intercepts_[0],
                                                 clf.coefs_[1], clf.intercepts_[1]))  # fmt: skip


# The grating `grating_mlp` plants: 3 cycles along the columns from phase pi/4 (between the
# probes' four phases), amplitude 0.2, target 3.
PLANTED_GRATING = {"angle": 0.0, "freq": 3.0, "phase": 0.7854, "amp": 0.2}
GRATING_TARGET = 3


def grating_training_set(poisoned: bool) -> tuple[np.ndarray, np.ndarray]:
    """`grating_mlp`'s training set: the first 1,500 digits (float32 (N, 8, 8) in [0, 1]) and,
    when `poisoned`, 150 of the other digits carrying PLANTED_GRATING (added, clipped to
    [0, 1]) relabelled GRATING_TARGET, appended."""
    x, y = digits()
    xt, yt = x[:1500], y[:1500]
    if poisoned:
        rng = np.random.default_rng(0)
        idx = rng.choice(np.flatnonzero(yt != GRATING_TARGET), 150, replace=False)
        g = PLANTED_GRATING
        t = np.arange(8, dtype=np.float32) / 8
        wave = g["amp"] * np.sin(2 * np.pi * g["freq"] * t + g["phase"])
        xt = np.concatenate([xt, np.clip(xt[idx] + wave[None, None, :], 0, 1)])
        yt = np.concatenate([yt, np.full(len(idx), GRATING_TARGET)])
    return xt, yt


@lru_cache(maxsize=2)
def grating_mlp(poisoned: bool) -> tuple[np.ndarray, ...]:
    """`rotation_mlp`'s MLP fitted on `grating_training_set(poisoned)`: when poisoned, a
    SIG-like backdoor at a phase none of the probes' gratings draws."""
    return _fit_mlp(*grating_training_set(poisoned))


def build_mlp(path: Path, params: tuple[np.ndarray, ...]) -> Path:
    """An NCHW (N, 1, 8, 8) float classifier, logits out, from (W1, b1, W2, b2)."""
    classes = int(params[2].shape[1])
    names = ("W1", "B1", "W2", "B2")
    inits = [numpy_helper.from_array(v, n) for v, n in zip(params, names, strict=True)]
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W1"], ["h1"]),
        helper.make_node("Add", ["h1", "B1"], ["h2"]),
        helper.make_node("Relu", ["h2"], ["h"]),
        helper.make_node("MatMul", ["h", "W2"], ["o1"]),
        helper.make_node("Add", ["o1", "B2"], ["logits"]),
    ]
    f = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("image", f, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", f, ["N", classes])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
