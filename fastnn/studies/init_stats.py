"""The init study's activation statistics: for each scheme and activation, at initialization,
on one batch of training images, per weighted layer (Dense, and Conv2D for the CNN) the mean
and std of the pre-activations z, of the outputs act(z), the fraction saturated (sigmoid outputs
below 0.01 or above 0.99, tanh |a| > 0.99) or zero (ReLU), and the std of the gradients
dL/d(output) and dL/dW.

The variance argument: with zero-mean weights of variance s^2 independent of the inputs and
zero biases, Var(z_j) = s^2 * E[||h||^2], h the layer's input vector (for a convolution: the
input patch under the kernel), so the table also gives that prediction next to the measurement.
With N(0, 1) weights a 784-input layer has std(z) = sqrt(E||x||^2), i.e. sqrt(784) = 28 for
unit-variance inputs and about 9-10 for MNIST pixels scaled to [0, 1]: far outside the range
where the sigmoid has any slope.
"""
import os

import numpy as np

from .. import backend
from .._config import threads as kernel_threads
from ..layers import Conv2D
from ..losses import SoftmaxCrossEntropy
from . import plots, report, runner
from .schemes import baseline_scheme, scheme_entries
from .train import build_model, weighted_layers

__all__ = ["STATS_COLUMNS", "activation_statistics", "write_statistics"]

STATS_COLUMNS = ("activation", "scheme", "label", "layer_index", "layer", "shape", "fan_in",
                 "weight_std", "z_mean", "z_std", "z_std_predicted", "a_mean", "a_std",
                 "saturated", "grad_out_std", "grad_w_std")


def _pre_activation(layer, h64, w, b):
    """(z, E||input vector||^2, fan_in) of a weighted layer in float64."""
    if isinstance(layer, Conv2D):
        K = backend.K()
        kh, kw = w.shape[2:]
        z = K.conv2d_forward(h64, w, b, layer.stride, layer.padding)
        cols = K.im2col(h64, kh, kw, layer.stride, layer.padding)   # one patch per column
        return z, float(np.mean(np.sum(cols ** 2, axis=0))), int(np.prod(w.shape[1:]))
    return h64 @ w + b, float(np.mean(np.sum(h64 ** 2, axis=1))), int(w.shape[0])


def _saturated(act, a):
    if act == "sigmoid":
        return float(np.mean((a < 0.01) | (a > 0.99)))
    if act == "relu":
        return float(np.mean(a == 0))
    if act == "tanh":
        return float(np.mean(np.abs(a) > 0.99))
    return None


def activation_statistics(cfg, data):
    """Per (activation, scheme, weighted layer) statistics at initialization, on the first
    ``stats_batch`` training images, model seed ``seed_offset`` (dropout off: inference).

    Returns ``(rows, samples)``: rows as STATS_COLUMNS (z = h W + b, the pre-activation (a
    convolution for Conv2D); a = act(z), the layer output, linear for the last layer;
    z_std_predicted = std(W) * sqrt(mean ||h||^2) over the input vectors (patches for a
    convolution), the variance argument; saturated = fraction of sigmoid outputs < 0.01 or
    > 0.99, of ReLU outputs == 0, of tanh outputs with |a| > 0.99, None for the linear output
    layer; grad_out_std = std of dL/da, grad_w_std = std of dL/dW, for the mean softmax
    cross-entropy of the batch), and ``samples[(act, scheme)]`` = [(layer name, hidden
    outputs)] for the histogram figure.  Computed in this process (cheap)."""
    rows, samples = [], {}
    for act in cfg["activations"]:
        for key, spec, label in scheme_entries(cfg):
            run = {"model": cfg["model"], "hidden": cfg.get("hidden"), "activation": act,
                   "init": spec, "seed": cfg["seed_offset"], "dropout": 0.0}
            model, (x, y, _, _) = build_model(run, data)
            n = min(cfg["stats_batch"], x.shape[0])
            x, y = x[:n], y[:n]
            weighted = weighted_layers(model)
            names = {id(layer): name for name, layer in weighted}
            last_weighted = weighted[-1][1]
            h = x
            layer_rows, hidden, row_of = [], [], {}
            for layer in model.layers:
                if id(layer) not in names:
                    h = layer.forward(h, training=False)
                    continue
                w = layer.kernel.value.astype(np.float64)
                z, sq_norm, fan_in = _pre_activation(layer, h.astype(np.float64), w,
                                                     layer.bias.value.astype(np.float64))
                a = layer.forward(h, training=False)
                last = layer is last_weighted
                row = {
                    "activation": act, "scheme": key, "label": label,
                    "layer_index": len(layer_rows) + 1, "layer": names[id(layer)],
                    "shape": "x".join(map(str, w.shape)), "fan_in": fan_in,
                    "weight_std": float(w.std()), "z_mean": float(z.mean()),
                    "z_std": float(z.std()), "z_std_predicted": float(w.std() * np.sqrt(sq_norm)),
                    "a_mean": float(np.mean(a, dtype=np.float64)),
                    "a_std": float(np.std(a, dtype=np.float64)),
                    "saturated": None if last else _saturated(act, a)}
                layer_rows.append(row)
                row_of[id(layer)] = row
                if not last:
                    hidden.append(("layer %d (%s)" % (row["layer_index"], row["shape"]),
                                   a.copy()))
                h = a
            loss = SoftmaxCrossEntropy()
            loss.forward(h, y)
            g = loss.backward()
            for layer in reversed(model.layers):
                row = row_of.get(id(layer))
                if row is not None:
                    row["grad_out_std"] = float(np.std(g, dtype=np.float64))
                g = layer.backward(g)
                if row is not None:
                    row["grad_w_std"] = float(np.std(layer.kernel.grad, dtype=np.float64))
            rows.extend(layer_rows)
            samples[(act, key)] = hidden
    return rows, samples


def write_statistics(cfg, data, out, sections, threads):
    """Compute the statistics with ``threads`` kernel threads and write
    activation_stats.csv/.md/.png and activation_hist.png under ``out``; appends the report
    section and the table to ``sections``; returns the rows."""
    with kernel_threads(threads):
        rows, samples = activation_statistics(cfg, data)
    runner.atomic_write(os.path.join(out, "activation_stats.csv"),
                        report.csv_text(rows, STATS_COLUMNS))
    f = report.fmt
    table = report.markdown_table(
        ["activation", "initialization", "layer", "std(W)", "mean z", "std z",
         "predicted std z", "mean a", "std a", "saturated / zero", "std dL/da", "std dL/dW"],
        [[r["activation"], r["label"], "%d (%s)" % (r["layer_index"], r["shape"]),
          f(r["weight_std"], 3), f(r["z_mean"], 3), f(r["z_std"], 3),
          f(r["z_std_predicted"], 3), f(r["a_mean"], 3), f(r["a_std"], 3),
          "-" if r["saturated"] is None else "%.1f%%" % (100 * r["saturated"]),
          f(r["grad_out_std"], 3), f(r["grad_w_std"], 3)] for r in rows],
        align="lllrrrrrrrrr")
    runner.atomic_write(os.path.join(out, "activation_stats.md"), table)
    entries = scheme_entries(cfg)
    keys = [k for k, _, _ in entries]
    labels = {k: label for k, _, label in entries}
    plots.activation_stats_figure(rows, keys, cfg["activations"], labels,
                                  os.path.join(out, "activation_stats.png"),
                                  baseline=baseline_scheme(cfg))
    plots.activation_hist_figure(samples, keys, cfg["activations"], labels,
                                 os.path.join(out, "activation_hist.png"))
    x = data.arrays()[0][:cfg["stats_batch"]].astype(np.float64)
    norm = float(np.sqrt(np.mean(np.sum(x ** 2, axis=1))))
    naive = [s for s in cfg["normal_std"]] if "normal" in cfg["schemes"] else []
    text = ["## Activation statistics at initialization\n",
            "One batch of %d training images, model seed %d, dropout off.  z = h W + b is a "
            "weighted layer's pre-activation (a convolution for a conv layer), a = act(z) its "
            "output (the last layer is linear: the logits).  *Predicted std z* is the variance "
            "argument std(W) * sqrt(E||h||^2), h the layer's input vector (for a convolution, "
            "the input patch under the kernel; zero-mean weights independent of the input, "
            "zero biases).  For the first layer of the MLP sqrt(E||x||^2) = %.2f on these "
            "images (pixels in [0, 1]; it would be sqrt(784) = 28 for unit-variance inputs)%s.  "
            "Saturated column: sigmoid outputs below 0.01 or above 0.99; for ReLU: outputs "
            "exactly 0.  Gradients are those of the batch's mean cross-entropy.\n"
            % (min(cfg["stats_batch"], data.n_train), cfg["seed_offset"], norm,
               "".join(", so N(0, %g) weights give pre-activations of std about %.2g there"
                       % (s, s * norm) for s in naive[:1])),
            "![activation statistics](activation_stats.png)\n",
            "![hidden-layer outputs](activation_hist.png)\n",
            "Table (`activation_stats.csv`):\n", table]
    sections.append(("statistics", "\n".join(text)))
    sections.append(("statistics table", "Activation statistics at initialization:\n" + table))
    return rows
