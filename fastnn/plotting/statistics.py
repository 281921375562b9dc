"""Figures of what ``fastnn.callbacks.LayerStatistics`` recorded during training: stacked
histograms over epochs (TensorBoard's histogram view), the moments over epochs, and the
gradient norm per layer (where a vanishing gradient shows).

    stats = callbacks.LayerStatistics()
    model.fit(x, y, epochs=5, callbacks=[stats])
    plot_layer_histograms(stats, "weights", path="weights.png")
    plot_layer_moments(stats, "activations", path="activation_moments.png")
    plot_gradient_norms({"sigmoid": stats_sigmoid, "relu": stats_relu}, path="grads.png")

Each function takes a LayerStatistics or its ``to_dict()`` (e.g. read back from JSON), returns
the Figure and writes a PNG when ``path`` is given.
"""
import math

import numpy as np

from .figure import log_axis, mpl, new_figure, save_figure, series_colors

__all__ = ["plot_layer_histograms", "plot_layer_moments", "plot_gradient_norms"]

_KINDS = ("weights", "gradients", "activations")
_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _as_dict(stats):
    d = stats.to_dict() if hasattr(stats, "to_dict") else stats
    if not isinstance(d, dict) or "epochs" not in d or "weights" not in d:
        raise TypeError("stats must be a fastnn.callbacks.LayerStatistics or its to_dict(), "
                        "got %s" % type(stats).__name__)
    return d


def _entries(d, kind, parameters):
    """[(name, records)] of ``kind``, and the epoch label of each record."""
    if kind not in _KINDS:
        raise ValueError("kind must be one of %s, got %r" % (", ".join(_KINDS), kind))
    if parameters not in ("kernels", "all"):
        raise ValueError("parameters must be 'kernels' or 'all', got %r" % (parameters,))
    table = d[kind]
    names = list(table)
    if kind != "activations" and parameters == "kernels":
        kernels = [n for n in names if str(n).endswith("/kernel")]
        names = kernels or names          # a model of custom layers: every parameter
    epochs = list(d["epochs"])
    if kind == "gradients":
        epochs = epochs[1:]
    entries = [(n, table[n]) for n in names if table[n]]
    if not entries:
        raise ValueError("no %s were recorded (activations need a sample batch: fit passes "
                         "its training inputs, or give LayerStatistics(x_sample=...))" % kind)
    return entries, epochs


def _epoch_label(e):
    return "before" if e == 0 else "epoch %d" % e


def _change(records, key):
    first, last = records[0].get(key), records[-1].get(key)
    if first is None or last is None:
        return "n/a"
    return "%.3g → %.3g" % (first, last)


def plot_layer_histograms(stats, kind="weights", path=None, parameters="kernels", cols=3):
    """Stacked histograms over epochs, one panel per layer (TensorBoard's "offset" view).

    ``kind``: 'weights', 'gradients' (the last mini-batch of each epoch) or 'activations'
    (the fixed sample batch; exact zeros left out of the histograms, their fraction in the
    panel title).  ``parameters``: 'kernels' (default) or 'all' (biases too).  In each panel
    every recorded epoch is one histogram, scaled to its own peak, stacked from the first
    (top, light) to the last (bottom, dark); the x range is each layer's own.

        plot_layer_histograms(stats, "activations", path="activations.png")
    """
    d = _as_dict(stats)
    entries, epochs = _entries(d, kind, parameters)
    cmap = mpl().colormaps["viridis_r"]
    n = len(entries)
    cols = max(1, min(int(cols), n))
    rows = math.ceil(n / cols)
    depth = len(epochs)
    fig = new_figure((5.2 * cols, (0.32 * depth + 2.4) * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    step = max(1, math.ceil(depth / 12))       # at most ~12 epoch labels per panel
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        name, records = entries[k]
        for i, rec in enumerate(records):
            edges = np.asarray(rec.get("edges") or [], dtype=np.float64)
            counts = np.asarray(rec.get("counts") or [], dtype=np.float64)
            if counts.size == 0:
                continue
            base = depth - 1 - i
            top = counts.max()
            height = 0.9 * counts / top if top > 0 else counts
            xs = np.repeat(edges, 2)[1:-1]
            ys = base + np.repeat(height, 2)
            color = cmap(0.15 + 0.8 * i / max(depth - 1, 1))
            ax.fill_between(xs, base, ys, color=color, alpha=0.85, linewidth=0, zorder=2 * i)
            ax.plot(xs, ys, color="black", linewidth=0.5, zorder=2 * i + 1)
        ticks = list(range(0, depth, step))
        ax.set_yticks([depth - 1 - i for i in ticks])
        ax.set_yticklabels([_epoch_label(epochs[i]) for i in ticks], fontsize=8)
        ax.set_ylim(-0.1, depth)
        ax.set_xlabel("value")
        title = "%s\nstd %s" % (name, _change(records, "std"))
        if kind == "activations" and records[0].get("zeros") is not None \
                and records[-1].get("zeros") is not None:
            title += ", zeros %.0f%% → %.0f%%" % (100 * records[0]["zeros"],
                                                  100 * records[-1]["zeros"])
        ax.set_title(title, fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
    what = {"weights": "weights", "gradients": "gradients at the last mini-batch of each epoch",
            "activations": "layer outputs on a fixed sample batch (inference mode; exact zeros "
                           "not drawn)"}[kind]
    fig.suptitle("Histograms of the %s, one per epoch (top: first, bottom: last)" % what,
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return save_figure(fig, path)


def _epoch_ticks(ax, epochs):
    """Integer epoch ticks: each epoch when there are few (one epoch alone gets its tick, not
    0.95, 1.0, 1.05), else matplotlib's integer locator."""
    if len(epochs) <= 12:
        ax.set_xticks(list(epochs))
    else:
        ax.xaxis.set_major_locator(mpl().ticker.MaxNLocator(integer=True))


def _styles(n):
    colors = series_colors(n)
    return [(colors[i], _LINESTYLES[i % len(_LINESTYLES)], _MARKERS[i % len(_MARKERS)])
            for i in range(n)]


def plot_layer_moments(stats, kind="weights", path=None, parameters="kernels"):
    """The moments over epochs, one line per layer: mean, standard deviation, L2 norm, and the
    fraction of exact zeros (dead ReLU units show there).  ``kind`` and ``parameters`` as
    :func:`plot_layer_histograms`.

        plot_layer_moments(stats, "weights", path="weight_moments.png")
    """
    d = _as_dict(stats)
    entries, epochs = _entries(d, kind, parameters)
    fig = new_figure((17, 4.4))
    axes = fig.subplots(1, 4)
    panels = (("mean", "mean", False), ("std", "standard deviation", True),
              ("norm", "L2 norm", True), ("zeros", "fraction of exact zeros", False))
    handles = []
    for (name, records), (color, ls, marker) in zip(entries, _styles(len(entries))):
        for ax, (key, _title, _log) in zip(axes, panels):
            ys = np.array([np.nan if r.get(key) is None else r[key] for r in records], float)
            (h,) = ax.plot(epochs[:ys.size], ys, color=color, linestyle=ls, marker=marker,
                           markersize=4, linewidth=1.6, label=name)
            if key == "mean":
                handles.append(h)
    for ax, (_key, title, log) in zip(axes, panels):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch (0 = before training)" if kind != "gradients" else "epoch")
        _epoch_ticks(ax, epochs)
        ax.grid(True, alpha=0.3, which="both")
        values = [v for line in ax.get_lines() for v in np.asarray(line.get_ydata(), float)]
        if log and any(v > 0 for v in values if np.isfinite(v)):
            log_axis(ax)
    fig.suptitle("Moments of the %s per epoch" % {
        "weights": "weights", "gradients": "gradients (last mini-batch of each epoch)",
        "activations": "layer outputs on the fixed sample batch"}[kind], fontsize=11)
    fig.subplots_adjust(left=0.05, right=0.84, wspace=0.3, top=0.86, bottom=0.13)
    fig.legend(handles, [h.get_label() for h in handles], loc="center left",
               bbox_to_anchor=(0.85, 0.5), frameon=False, fontsize=9)
    return save_figure(fig, path)


def plot_gradient_norms(stats, path=None, parameters="kernels"):
    """The L2 norm of each layer's gradient, averaged over each epoch's mini-batches.

    ``stats``: one LayerStatistics, or a dict ``{label: LayerStatistics}`` to compare runs
    (e.g. ``{"sigmoid": ..., "relu": ...}``): one row per run, all on the same log scale.
    Left: norm against depth (input layer on the left), one line per epoch; a vanishing
    gradient is a line falling towards the input (sigmoid's derivative is at most 1/4, so each
    layer can shrink it).  Right: norm against epoch, one line per layer.

        plot_gradient_norms({"sigmoid": s1, "relu": s2}, path="gradient_norms.png")
    """
    runs = stats if isinstance(stats, dict) and "epochs" not in stats else {"": stats}
    if not runs:
        raise ValueError("stats must hold at least one LayerStatistics")
    rows = []
    for label, st in runs.items():
        d = _as_dict(st)
        entries, _ = _entries(d, "gradients", parameters)
        names = [name for name, _ in entries]
        norms = np.array([d["grad_norm_mean"][name] for name in names], dtype=np.float64)
        rows.append((label, names, norms, list(d["epochs"])[1:]))
    fig = new_figure((14, 4.2 * len(rows)))
    axes = fig.subplots(len(rows), 2, squeeze=False)
    cmap = mpl().colormaps["viridis_r"]
    positive = np.concatenate([r[2].ravel() for r in rows])
    positive = positive[np.isfinite(positive) & (positive > 0)]
    for (label, names, norms, epochs), (left, right) in zip(rows, axes):
        depth = np.arange(1, len(names) + 1)
        n_ep = norms.shape[1]
        for j in range(n_ep):
            shade = 0.15 + 0.8 * j / (n_ep - 1) if n_ep > 1 else 0.9
            left.plot(depth, norms[:, j], color=cmap(shade), marker="o", linewidth=1.6,
                      label="epoch %d" % epochs[j])
        left.set_xticks(depth)
        left.set_xticklabels(["%d\n%s" % (i, n.split("/")[0]) for i, n in zip(depth, names)],
                             fontsize=8)
        left.set_xlabel("layer (input side on the left)")
        left.set_ylabel("mean gradient L2 norm")
        ratio = norms[0, -1] / norms[-1, -1] if norms[-1, -1] > 0 else float("nan")
        left.set_title("%sper layer; first / last layer after the last epoch: %.3g"
                       % (label + ": " if label else "", ratio), fontsize=10)
        left.legend(fontsize=8, ncol=2 if n_ep > 6 else 1)
        for (name, values), (color, ls, marker) in zip(zip(names, norms), _styles(len(names))):
            right.plot(epochs, values, color=color, linestyle=ls, marker=marker, linewidth=1.6,
                       label=name)
        right.set_xlabel("epoch")
        _epoch_ticks(right, epochs)
        right.set_title("%sper epoch" % (label + ": " if label else ""), fontsize=10)
        right.legend(fontsize=8, loc="best")
        for ax in (left, right):
            if positive.size:
                log_axis(ax)
                ax.set_ylim(positive.min() / 1.5, positive.max() * 1.5)
            ax.grid(True, alpha=0.3, which="both")
    fig.suptitle("Gradient norm per layer (mean over each epoch's mini-batches; same log scale "
                 "in every panel)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return save_figure(fig, path)
