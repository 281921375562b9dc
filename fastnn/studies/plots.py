"""Figures of the studies (matplotlib, Agg canvas, never pyplot: see fastnn.plotting).

Every figure keeps its legend in a column of its own, right of the plots, so no curve is ever
hidden; every series has its own colour AND its own line style and markers (the baseline, when
there is one, is black and dashed), markers staggered along the curves so that two series on
the same curve both show; bands are ±1 std across runs, drawn translucent under their mean
curve; log axes are labelled in plain numbers (``fastnn.plotting.log_axis``).
"""
import numpy as np

from ..plotting import log_axis, mpl, new_figure, save_figure, series_colors

__all__ = ["series_style", "comparison_figure", "curves_figure", "weight_histogram_figure",
           "activation_stats_figure", "activation_hist_figure"]

_BAND_ALPHA = 0.18


_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
_MARKS_PER_CURVE = 8


def series_style(names, baseline=None):
    """{name: (color, linestyle, linewidth, marker)}: the baseline black, dashed, thicker, with
    crosses; the others each a colour of their own (``fastnn.plotting.series_colors``:
    16 before any repeats) with line styles and markers cycling alongside, so two series never
    share both colour and line style, and consecutive ones differ in both."""
    others = [n for n in names if n != baseline]
    colors = series_colors(len(others))
    out, k = {}, 0
    for name in names:
        if name == baseline:
            out[name] = ("black", "--", 2.4, "x")
        else:
            out[name] = (colors[k], _LINESTYLES[k % len(_LINESTYLES)], 1.6,
                         _MARKERS[k % len(_MARKERS)])
            k += 1
    return out


def _markevery(n_points, index, n_series):
    """About _MARKS_PER_CURVE markers along a curve of ``n_points``, series ``index`` of
    ``n_series`` starting at its own offset, so series that coincide show both marker sets."""
    step = max(1, n_points // _MARKS_PER_CURVE)
    return (int(step * index / max(n_series, 1)) % step, step)


def _use_log(arrays, log_scale):
    """log_scale True/False, or None: log when the positive finite values span more than a
    factor 20 (a fast drop or a diverging start would otherwise flatten every other curve)."""
    if log_scale is not None:
        return bool(log_scale)
    vals = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.zeros(0)
    vals = vals[np.isfinite(vals) & (vals > 0)]
    return bool(vals.size) and vals.max() / vals.min() > 20.0


def _band(ax, x, mean, std, color, linestyle, linewidth, label, log, marker=None,
          where=(0, 1)):
    """A mean curve with its ±1 std band; ``where`` = (series index, series count) staggers the
    markers."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    x = np.asarray(x)[:mean.size]
    (line,) = ax.plot(x, mean, color=color, linestyle=linestyle, linewidth=linewidth,
                      label=label, marker=marker, markersize=5, markerfacecolor="none",
                      markevery=_markevery(mean.size, *where) if marker else None)
    if std.size and np.any(std > 0):
        lo, hi = mean - std, mean + std
        if log:   # a band reaching 0 or below cannot be drawn on a log axis: clip it
            lo = np.maximum(lo, np.where(mean > 0, mean / 50.0, np.nan))
        ax.fill_between(x, lo, hi, color=color, alpha=_BAND_ALPHA, linewidth=0)
    return line


def _legend_column(fig, handles, labels, title, right=0.80):
    fig.subplots_adjust(right=right)
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(right + 0.01, 0.5),
               frameon=False, title=title, fontsize=9, title_fontsize=9)


def _integer_epochs(ax):
    """Integer epoch ticks (a one-epoch axis gets its epochs as ticks, not 0.95 ... 1.05)."""
    xs = sorted({float(x) for line in ax.get_lines() for x in np.asarray(line.get_xdata())})
    if 0 < len(xs) <= 3:
        ax.set_xticks(xs)
        ax.set_xlim(xs[0] - 0.5, xs[-1] + 0.5)
    else:
        ax.xaxis.set_major_locator(mpl().ticker.MaxNLocator(integer=True))


def comparison_figure(series, title, path=None, log_scale=None, batches_per_epoch=None,
                      smooth_window=1, legend_title=None, loss_name="training loss"):
    """Three panels for one activation: (1) mean training loss per epoch ±1 std across runs,
    (2) the per-iteration (mini-batch) training loss, moving-averaged over ``smooth_window``
    batches, mean ±1 std across runs, (3) test accuracy after each epoch, mean ±1 std.
    ``series``: list of dicts with label, color, linestyle, linewidth, marker (optional),
    epoch_mean/epoch_std
    (E,), iter_mean/iter_std (T,), acc_mean/acc_std (E+1,: index 0 = before training, not
    drawn)."""
    log = _use_log([s["epoch_mean"] for s in series] + [s["iter_mean"] for s in series],
                   log_scale)
    fig = new_figure((17, 5))
    axes = fig.subplots(1, 3)
    handles = []
    for i, s in enumerate(series):
        style = (s["color"], s["linestyle"], s["linewidth"])
        mark = dict(marker=s.get("marker"), where=(i, len(series)))
        e = np.arange(1, len(s["epoch_mean"]) + 1)
        handles.append(_band(axes[0], e, s["epoch_mean"], s["epoch_std"], *style, s["label"],
                             log, **mark))
        it = np.arange(1, len(s["iter_mean"]) + 1)
        _band(axes[1], it, s["iter_mean"], s["iter_std"], *style, s["label"], log, **mark)
        # from epoch 1: the ~10% of the untrained net would squash the differences that matter
        a = np.arange(1, len(s["acc_mean"]))
        _band(axes[2], a, 100 * np.asarray(s["acc_mean"][1:]),
              100 * np.asarray(s["acc_std"][1:]), *style, s["label"], False, **mark)
    scale = " (log scale)" if log else ""
    axes[0].set_title("%s per epoch, mean ±1 std" % loss_name)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel(loss_name + scale)
    _integer_epochs(axes[0])
    per = (", %d per epoch" % batches_per_epoch) if batches_per_epoch else ""
    axes[1].set_title("per mini-batch, moving average of %d" % smooth_window
                      if smooth_window > 1 else "per mini-batch (not smoothed)")
    axes[1].set_xlabel("iteration (mini-batch%s)" % per)
    axes[1].set_ylabel(loss_name + scale)
    axes[2].set_title("test accuracy per epoch, mean ±1 std")
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("test accuracy (%)")
    _integer_epochs(axes[2])
    for ax in axes[:2]:
        if log:
            log_axis(ax)
    for ax in axes:
        ax.grid(True, alpha=0.3, which="both" if log else "major")
    fig.suptitle(title, fontsize=12)
    fig.subplots_adjust(left=0.05, wspace=0.28, top=0.86, bottom=0.12)
    _legend_column(fig, handles, [s["label"] for s in series], legend_title, right=0.84)
    return save_figure(fig, path)


def curves_figure(series, title, path=None, log_scale=None, legend_title=None):
    """2x2 panels per epoch: training loss, test loss, training error, test error (epoch 0 =
    before training for the test curves).  Errors are 100 - accuracy in %, on a log axis: it
    resolves 2% vs 3% among the good runs while still showing the 90% of a failed one.
    ``series``: dicts with label, color, linestyle, linewidth, marker (optional) and
    loss/test_loss/accuracy/
    test_accuracy means (fractions; optional ``*_std`` bands); test curves have E+1 points,
    training curves E."""
    log = _use_log([s["loss"] for s in series] + [s["test_loss"] for s in series], log_scale)
    fig = new_figure((14, 9))
    axes = fig.subplots(2, 2)
    panels = [("loss", "training loss", 1, axes[0, 0], log),
              ("test_loss", "test loss", 0, axes[0, 1], log),
              ("accuracy", "training error (%) = 100 - accuracy", 1, axes[1, 0], True),
              ("test_accuracy", "test error (%) = 100 - accuracy", 0, axes[1, 1], True)]
    handles = []
    for i, s in enumerate(series):
        style = (s["color"], s["linestyle"], s["linewidth"])
        for key, _name, first, ax, lg in panels:
            mean = np.asarray(s[key], dtype=np.float64)
            std = np.asarray(s.get(key + "_std", np.zeros(mean.size)), dtype=np.float64)
            if "accuracy" in key:
                mean, std = 100.0 * (1.0 - mean), 100.0 * std
            h = _band(ax, np.arange(first, first + mean.size), mean, std, *style, s["label"], lg,
                      marker=s.get("marker"), where=(i, len(series)))
            if key == "loss":
                handles.append(h)
    for _key, name, first, ax, lg in panels:
        ax.set_title(name + (" (log scale)" if lg else ""))
        ax.set_xlabel("epoch" + (" (0 = before training)" if first == 0 else ""))
        ax.set_ylabel(name.split(" = ")[0])
        if lg:
            log_axis(ax)
        _integer_epochs(ax)
        ax.grid(True, alpha=0.3, which="both" if lg else "major")
    fig.suptitle(title, fontsize=12)
    fig.subplots_adjust(left=0.06, wspace=0.22, hspace=0.3, top=0.92, bottom=0.07)
    _legend_column(fig, handles, [s["label"] for s in series], legend_title, right=0.83)
    return save_figure(fig, path)


def weight_histogram_figure(weights, title, path=None):
    """One column per Dense kernel; top row its weights before training, bottom row after
    (histograms from the run record, shared bins per layer, mean/std in the titles)."""
    n = len(weights)
    fig = new_figure((4.6 * n, 6.2))
    axes = fig.subplots(2, n, squeeze=False)
    for j, w in enumerate(weights):
        edges = np.asarray(w["edges"])
        for i, (when, color) in enumerate((("start", "tab:blue"), ("end", "tab:orange"))):
            ax = axes[i, j]
            counts = np.asarray(w[when + "_counts"], dtype=np.float64)
            ax.stairs(counts, edges, fill=True, color=color, alpha=0.75)
            mean, std = w[when + "_mean"], w[when + "_std"]
            ax.set_title("%s %s, %s training\nmean %s, std %s" % (
                w["layer"], "x".join(map(str, w["shape"])),
                "before" if when == "start" else "after",
                "n/a" if mean is None else "%.4g" % mean, "n/a" if std is None else "%.3g" % std),
                fontsize=9)
            ax.set_xlabel("weight value")
            ax.set_ylabel("count")
            ax.set_xlim(edges[0], edges[-1])
            ax.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=12)
    fig.subplots_adjust(left=0.07, right=0.98, wspace=0.3, hspace=0.55, top=0.86, bottom=0.09)
    return save_figure(fig, path)


def activation_stats_figure(rows, schemes, activations, labels, path=None, baseline=None):
    """Per activation (rows of panels): std of the pre-activations z = x W + b, std of the
    layer outputs, and std of dL/dW, per weighted layer (x axis), one line per scheme (log y).
    ``rows``: the activation-statistics table rows (see ``init.activation_statistics``);
    ``baseline``: the scheme drawn black and dashed (the naive one), or None."""
    style = series_style(schemes, baseline=baseline)
    cols = [("z_std", "std of pre-activations z = hW + b"),
            ("a_std", "std of layer outputs act(z)"),
            ("grad_w_std", "std of dL/dW (one batch)")]
    height = 4.3 * len(activations) + 0.6
    fig = new_figure((16, height))
    axes = fig.subplots(len(activations), 3, squeeze=False)
    handles = {}
    for i, act in enumerate(activations):
        for j, (key, name) in enumerate(cols):
            ax = axes[i, j]
            for sch in schemes:
                pts = [r for r in rows if r["activation"] == act and r["scheme"] == sch]
                x = [r["layer_index"] for r in pts]
                y = [r[key] for r in pts]
                c, ls, lw, mk = style[sch]
                (h,) = ax.plot(x, y, color=c, linestyle=ls, linewidth=lw, marker=mk or "o",
                               markerfacecolor="none", label=labels[sch])
                handles[sch] = h
            log_axis(ax)
            ax.set_xticks(sorted({r["layer_index"] for r in rows}))
            ax.set_xticklabels(["%d\n%s" % (r["layer_index"], r["shape"]) for r in
                                sorted({r["layer_index"]: r for r in rows}.values(),
                                       key=lambda r: r["layer_index"])], fontsize=8)
            ax.set_xlabel("layer (kernel shape)")
            ax.set_ylabel(name + " (log)")
            ax.set_title("%s: %s" % (act, name), fontsize=10)
            ax.grid(True, alpha=0.3, which="both")
    fig.suptitle("Activation and gradient scale at initialization, per layer (one batch of "
                 "training images; output layer is linear)", fontsize=12)
    fig.subplots_adjust(left=0.06, wspace=0.3, hspace=0.45, top=1 - 0.85 / height,
                        bottom=0.8 / height)
    _legend_column(fig, [handles[s] for s in schemes], [labels[s] for s in schemes],
                   "initialization", right=0.84)
    return save_figure(fig, path)


def activation_hist_figure(samples, schemes, activations, labels, path=None):
    """Histograms of the hidden layers' outputs at initialization: one panel per
    (activation, scheme), hidden layers overlaid (translucent), one legend for all panels.
    ``samples[(act, scheme)]`` is a list of (layer name, values) pairs.  ReLU's exact zeros
    are counted in the panel title, not drawn (they would dwarf the rest).  Each layer's
    histogram is a density (area 1), so a layer with few outputs (a Dense layer after conv
    layers) is as visible as one with many."""
    height = 3.9 * len(activations) + 0.7
    fig = new_figure((4.6 * len(schemes) + 2.2, height))
    axes = fig.subplots(len(activations), len(schemes), squeeze=False)
    colors = series_colors(16)
    handles = {}
    for i, act in enumerate(activations):
        for j, sch in enumerate(schemes):
            ax = axes[i, j]
            zeros = []
            for k, (name, v) in enumerate(samples[(act, sch)]):
                v = np.asarray(v, dtype=np.float64).ravel()
                if act == "relu":
                    zeros.append("%.0f%%" % (100 * float(np.mean(v == 0)) if v.size else 0))
                    v = v[v > 0]
                if v.size:
                    _, _, patches = ax.hist(v, bins=60, color=colors[k], alpha=0.55,
                                            density=True)
                    handles.setdefault(name, patches[0])
            title = "%s, %s" % (act, labels[sch])
            if zeros:
                title += "\nexact zeros (not drawn): %s" % " / ".join(zeros)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("output value")
            ax.set_ylabel("density")
            ax.grid(True, alpha=0.3)
            if act == "sigmoid":
                ax.set_xlim(-0.02, 1.02)
    fig.suptitle("Hidden-layer outputs at initialization, one batch (sigmoid saturates at 0 "
                 "and 1 when the pre-activations are large)", fontsize=12)
    fig.subplots_adjust(left=0.06, wspace=0.3, hspace=0.5, top=1 - 1.0 / height,
                        bottom=0.7 / height)
    right = 1 - 2.0 / (4.6 * len(schemes) + 2.2)
    _legend_column(fig, list(handles.values()), list(handles), "hidden layer", right=right)
    return save_figure(fig, path)
