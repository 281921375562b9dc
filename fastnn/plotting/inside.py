"""Figures that look inside a network: learned conv filters, the feature maps of one input, and
the activation functions with their derivatives.

    fig = plot_filters(model.layers[0])                  # first conv layer: 32 filters 3x3
    fig = plot_feature_maps(model, x_test[0])            # every conv/pool output for one image
    fig = plot_activation_functions()                    # relu, sigmoid, tanh, elu and f'

Each function returns the Figure and writes a PNG when ``path`` is given.
"""
import math

import numpy as np

from .. import backend
from .figure import new_figure, save_figure

__all__ = ["plot_filters", "plot_feature_maps", "plot_activation_functions"]


def _kernel_of(conv_layer):
    """(name, (O, I, kh, kw) float64 array) from a Conv2D layer, a Parameter or an array."""
    kernel = getattr(conv_layer, "kernel", conv_layer)
    name = getattr(conv_layer, "name", None)
    value = getattr(kernel, "value", kernel)
    w = np.asarray(value)
    if w.ndim != 4 or w.dtype.kind != "f" or 0 in w.shape:
        raise ValueError("conv_layer must be a Conv2D layer or a non-empty (out_channels, "
                         "in_channels, kh, kw) float array, got %s"
                         % (("shape %s" % (w.shape,)) if w.ndim else type(conv_layer).__name__))
    return name, w.astype(np.float64)


def plot_filters(conv_layer, path=None, channel="mean", max_filters=64, cols=8):
    """The filters of a conv layer as small images, one per output channel.

    ``conv_layer``: a ``Conv2D`` (or its kernel, shape (out, in, kh, kw)).  A first layer on
    grey images has one input channel, so each filter is one kh x kw image.  A deeper layer has
    one kh x kw slice per input channel: ``channel="mean"`` (default) shows their average over
    the input channels, an int ``c`` shows input channel c only; the title says which.  Colours
    are diverging (blue negative, red positive) on one scale for all filters, symmetric about
    0, with a colour bar, so the sign and relative size of every weight can be read.  At most
    ``max_filters`` filters are shown, ``cols`` per row.

        model = zoo.cnn(seed=0); model.fit(x, y, epochs=1)
        plot_filters(model.layers[0], "filters.png")
    """
    name, w = _kernel_of(conv_layer)
    out_ch, in_ch = w.shape[:2]
    if isinstance(channel, str):
        if channel != "mean":
            raise ValueError("channel must be 'mean' or an input channel index, got %r"
                             % (channel,))
        shown = w.mean(axis=1)
        what = ("input channel 0 of 1" if in_ch == 1
                else "mean over the %d input channels" % in_ch)
    else:
        if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or \
                not 0 <= channel < in_ch:
            raise ValueError("channel must be 'mean' or an int in [0, %d), got %r"
                             % (in_ch, channel))
        shown = w[:, int(channel)]
        what = "input channel %d of %d" % (channel, in_ch)
    for arg, v in (("max_filters", max_filters), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError("%s must be an int >= 1, got %r" % (arg, v))
    n = min(out_ch, int(max_filters))
    cols = min(int(cols), n)
    rows = math.ceil(n / cols)
    lim = float(np.max(np.abs(shown[:n]))) or 1.0
    fig = new_figure((1.25 * cols + 1.4, 1.3 * rows + 1.1))
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.axis("off")
            continue
        image = ax.imshow(shown[k], cmap="RdBu_r", vmin=-lim, vmax=lim,
                          interpolation="nearest")
        ax.set_title("filter %d" % k, fontsize=8)
    fig.suptitle("%s: %s%d filters %dx%d, %s" % (
        name or "conv layer", "first %d of " % n if n < out_ch else "", out_ch, w.shape[2],
        w.shape[3], what), fontsize=10)
    fig.subplots_adjust(left=0.03, right=0.86, top=1 - 0.75 / (1.3 * rows + 1.1), bottom=0.04,
                        wspace=0.15, hspace=0.35)
    cax = fig.add_axes((0.89, 0.15, 0.025, 0.7))
    fig.colorbar(image, cax=cax).set_label("weight")
    return save_figure(fig, path)


def _single_input(x):
    """One input as a (1, C, H, W) float array: accepts (H, W), (C, H, W) or (1, C, H, W)."""
    if not isinstance(x, np.ndarray):
        raise TypeError("x must be a numpy.ndarray (one image), got %s" % type(x).__name__)
    if x.dtype.kind != "f":
        raise TypeError("x must hold floats scaled as the model was trained (e.g. "
                        "fastnn.data.preprocess_images), got dtype %s" % x.dtype)
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError("x must be one image: (H, W), (C, H, W) or (1, C, H, W), got shape %s"
                         % (x.shape,))
    return np.ascontiguousarray(x)


def plot_feature_maps(model, x, path=None, max_maps=16, cols=8):
    """The activations of each conv and pool layer for one input image.

    ``model``: a Sequential (or a list of layers) whose first layers take images; ``x``: one
    image, (H, W), (C, H, W) or (1, C, H, W), scaled as in training.  The layers run in
    inference mode (dropout off), one after the other; every layer whose output is an image
    batch (N, C, H, W) (Conv2D with its fused activation, MaxPool2D, an activation layer after
    a convolution) gets a block of its first ``max_maps`` channels, ``cols`` per row, on one
    colour scale per layer (the bar at the block's right; dark = low, yellow = high), so
    channels of a layer can be compared and a dead (all-zero) map shows as uniform dark.
    The input is shown first.  Layers after the first flat output (Flatten, Dense) are not run.

        plot_feature_maps(model, x_test[0], "maps.png")
    """
    layers = list(getattr(model, "layers", model))
    h = _single_input(x)
    blocks = [("input %s" % "x".join(map(str, h.shape[1:])), h[0])]
    for layer in layers:
        try:
            h = layer.forward(h, training=False)
        except (ValueError, TypeError) as e:
            if len(blocks) > 1:
                raise
            raise ValueError("no layer of the model gives an image output (N, C, H, W): "
                             "plot_feature_maps needs a model that starts with conv or pool "
                             "layers (its first layer said: %s)" % e) from None
        if not (isinstance(h, np.ndarray) and h.ndim == 4):
            break
        act = getattr(layer, "activation", None)
        blocks.append(("%s (%s%s) %s" % (getattr(layer, "name", "layer"), type(layer).__name__,
                                         ", " + act if isinstance(act, str) else "",
                                         "x".join(map(str, h.shape[1:]))), h[0]))
    if len(blocks) == 1:
        raise ValueError("no layer of the model gives an image output (N, C, H, W): "
                         "plot_feature_maps needs conv or pool layers")
    for arg, v in (("max_maps", max_maps), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError("%s must be an int >= 1, got %r" % (arg, v))
    cols = int(cols)
    heights = [math.ceil(min(b[1].shape[0], int(max_maps)) / cols) for b in blocks]
    rows = sum(heights)
    height_in = 1.6 * rows + 0.9
    fig = new_figure((1.35 * cols + 1.2, height_in))
    axes = fig.subplots(rows, cols, squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.9, top=1 - 0.75 / height_in,
                        bottom=0.3 / height_in, wspace=0.12, hspace=0.55)
    row = 0
    for (title, maps), height in zip(blocks, heights):
        n = min(maps.shape[0], int(max_maps))
        lo, hi = float(maps[:n].min()), float(maps[:n].max())
        image = None
        for k in range(height * cols):
            ax = axes[row + k // cols, k % cols]
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= n:
                ax.axis("off")
                continue
            image = ax.imshow(maps[k], cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1,
                              interpolation="nearest")
            ax.set_xlabel("ch %d" % k, fontsize=7, labelpad=1)
        first = axes[row, 0]
        first.set_title("%s: %s%d channel%s" % (
            title, "first %d of " % n if n < maps.shape[0] else "", maps.shape[0],
            "" if maps.shape[0] == 1 else "s"), loc="left", fontsize=9, fontweight="bold")
        fig.colorbar(image, ax=list(axes[row:row + height, :].flat), fraction=0.02, pad=0.01)
        row += height
    fig.suptitle("Feature maps of one input (inference mode); one colour scale per layer",
                 fontsize=11, y=1 - 0.2 / height_in)
    return save_figure(fig, path)


def plot_activation_functions(path=None, x_range=(-5.0, 5.0), alpha=1.0):
    """relu, sigmoid, tanh and elu (``alpha``) with their derivatives, one panel each.

    Every value is computed by fastnn's own kernels (``fastnn.backend.K()``: the compiled ones,
    or the NumPy twins on the reference backend): ``f`` by ``<name>_forward`` and ``f'`` by
    ``<name>_backward`` with an upstream gradient of 1, i.e. exactly what backpropagation
    multiplies by.  Read off the panels: sigmoid's slope is at most 0.25 and vanishes beyond
    |x| ~ 5 (saturation); tanh's is at most 1; relu's is 0 or 1 (0 at x = 0, as torch); elu's
    tends to 0 on the left.

        plot_activation_functions("activations.png")
    """
    lo, hi = (float(v) for v in x_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError("x_range must be two finite numbers lo < hi, got %r" % (x_range,))
    K = backend.K()
    x = np.linspace(lo, hi, 801)
    ones = np.ones_like(x)
    sig = K.sigmoid_forward(x)
    tanh = K.tanh_forward(x)
    curves = [
        ("relu", "max(x, 0)", K.relu_forward(x), K.relu_backward(ones, x)),
        ("sigmoid", "1 / (1 + exp(-x))", sig, K.sigmoid_backward(ones, sig)),
        ("tanh", "tanh(x)", tanh, K.tanh_backward(ones, tanh)),
        ("elu", "x if x > 0 else %g (exp(x) - 1)" % alpha, K.elu_forward(x, alpha),
         K.elu_backward(ones, x, alpha)),
    ]
    fig = new_figure((16, 4.2))
    axes = fig.subplots(1, 4)
    for ax, (name, formula, f, df) in zip(axes, curves):
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.plot(x, f, color="#1f77b4", linewidth=2.2, label="f(x)")
        ax.plot(x, df, color="#d62728", linewidth=2.0, linestyle="--", label="f'(x)")
        ax.set_title("%s: f(x) = %s" % (name, formula), fontsize=10)
        ax.set_xlabel("x")
        ax.set_xlim(lo, hi)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=9)
    fig.suptitle("Activation functions (solid) and their derivatives (dashed), computed by "
                 "fastnn's %s kernels" % backend.get_backend(), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, path)
