"""Figures of results: sample grids with predictions, training curves, confusion matrices.

Each function returns the Figure (it shows inline in Jupyter) and writes a PNG when ``path`` is
given; see :mod:`fastnn.plotting.figure` for how figures are made (Agg, never pyplot).

    plot_history(model.history, "curves.png", test={"loss": 0.08, "accuracy": 0.976})
"""
import numpy as np

from .figure import mpl, new_figure, save_figure

__all__ = ["plot_sample_grid", "plot_history", "plot_confusion_matrix"]


def _images_2d(images):
    """(N, h, w), (N, 1, h, w) or (N, h*w) with a square h*w -> (N, h, w)."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    elif images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError("images of shape %s: rows of %d pixels are not square images"
                             % (images.shape, images.shape[1]))
        images = images.reshape(images.shape[0], side, side)
    if images.ndim != 3:
        raise ValueError("images must be (N, h, w), (N, 1, h, w) or (N, h*w), got shape %s"
                         % (images.shape,))
    if images.shape[0] == 0:
        raise ValueError("images must not be empty")
    return images


def _class_ids(a, name, n):
    if a is None:
        return None
    a = np.asarray(a)
    if a.ndim == 2:  # scores / probabilities
        a = np.argmax(a, axis=1)
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError("%s must have one entry per image (%d), got shape %s" % (name, n, a.shape))
    return a


def plot_sample_grid(images, labels=None, predictions=None, path=None, n=5, seed=None,
                     class_names=None):
    """An ``n x n`` grid of images with their label and prediction in the titles.

    ``predictions`` may be class ids or ``(N, K)`` scores; a wrong prediction is titled in red
    and framed.  ``seed=None`` shows the first ``n*n`` images, an int (or Generator) a random
    sample of them, reproducibly.  Returns the Figure; writes a PNG to ``path`` when given.
    """
    images = _images_2d(images)
    total = images.shape[0]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError("n must be an int >= 1, got %r" % (n,))
    labels = _class_ids(labels, "labels", total)
    predictions = _class_ids(predictions, "predictions", total)
    k = min(n * n, total)
    if seed is None:
        chosen = np.arange(k)
    else:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        chosen = np.sort(rng.choice(total, size=k, replace=False))

    def name(c):
        return str(class_names[int(c)]) if class_names is not None else str(int(c))

    # a grid of images as in plotting/inside.py, but each panel shows one chosen sample with its
    # own title: the blank-axes loop is the shape both grids share
    fig = new_figure((1.6 * n, 1.75 * n))
    axes = fig.subplots(n, n, squeeze=False)
    for slot, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if slot >= k:
            ax.axis("off")
            continue
        i = chosen[slot]
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        parts, wrong = [], False
        if labels is not None:
            parts.append("label " + name(labels[i]))
        if predictions is not None:
            parts.append("pred " + name(predictions[i]))
            wrong = labels is not None and labels[i] != predictions[i]
        ax.set_title("\n".join(parts), fontsize=8, color="red" if wrong else "black")
        if wrong:
            for spine in ax.spines.values():
                spine.set_edgecolor("red")
                spine.set_linewidth(2.5)
    if labels is not None and predictions is not None:
        n_wrong = int(np.count_nonzero(labels[chosen] != predictions[chosen]))
        fig.suptitle("%d of %d shown misclassified (red)" % (n_wrong, k), fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


# (key prefix, legend label, line style, marker, colour) of the three curves of a metric
_CURVES = (("", "train", "-", "o", "#1f77b4"),
           ("val_", "validation", "--", "s", "#ff7f0e"),
           ("test_", "test", ":", "^", "#2ca02c"))


def _test_values(test, metric):
    """The test values of ``metric`` from ``plot_history``'s ``test`` argument: None, a float
    (one value after training) or a per-epoch list."""
    if test is None:
        return None
    if not isinstance(test, dict):
        raise TypeError("test must be a dict such as {'loss': 0.08, 'accuracy': 0.97} or None, "
                        "got %s" % type(test).__name__)
    v = test.get(metric)
    if v is None:
        return None
    arr = np.asarray(v, dtype=float)
    if arr.ndim > 1:
        raise ValueError("test[%r] must be a number or a per-epoch list, got shape %s"
                         % (metric, arr.shape))
    return arr


def plot_history(history, path=None, test=None):
    """Loss and accuracy per epoch: training, validation and test curves.

    ``history``: a History (``model.fit``'s) or its ``.history`` dict; the keys ``loss``,
    ``accuracy``, ``val_loss``, ``val_accuracy``, ``test_loss``, ``test_accuracy`` are drawn when
    present (one panel for loss, one for accuracy).  ``test``: optional test results, a dict
    ``{'loss': ..., 'accuracy': ...}`` of per-epoch lists (drawn as curves) or of single numbers
    (drawn as one marker after the last epoch, e.g. ``model.evaluate(x_test, y_test)``).

    What the curves are, as the caption under the panels says: the training curve is the mean
    of each epoch's mini-batch losses, measured while the weights change and with dropout on,
    so it can lie above the validation curve; validation and test are measured after the epoch
    in inference mode (dropout off).  Returns the Figure; writes a PNG to ``path`` when given.

        hist = model.fit(x, y, epochs=5, validation_data=(xv, yv), verbose=0)
        plot_history(hist, "curves.png", test=model.evaluate(x_test, y_test))
    """
    hist = getattr(history, "history", history)
    if not isinstance(hist, dict):
        raise TypeError("history must be a dict or have a .history dict, got %s"
                        % type(history).__name__)
    panels = []
    for metric in ("loss", "accuracy"):
        curves = []
        for prefix, label, ls, marker, color in _CURVES:
            values = hist.get(prefix + metric)
            if prefix == "test_" and values is None:
                values = _test_values(test, metric)
            if values is None or not np.size(values):
                continue
            curves.append((label, np.asarray(values, dtype=float), ls, marker, color))
        if curves:
            panels.append((metric, curves))
    if not panels:
        raise ValueError("history has none of 'loss', 'val_loss', 'accuracy', 'val_accuracy'; "
                         "got keys %s" % sorted(hist))
    n_epochs = max((c[1].size for _, curves in panels for c in curves if c[1].ndim == 1),
                   default=1)
    fig = new_figure((5.5 * len(panels), 4.4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (metric, curves) in zip(axes, panels):
        for label, values, ls, marker, color in curves:
            if values.ndim == 0:     # one number after training: a marker after the last epoch
                ax.plot([n_epochs], [float(values)], linestyle="none", marker="*",
                        markersize=13, color=color, label="%s (after training)" % label)
                continue
            epochs = np.arange(1, values.shape[0] + 1)
            ax.plot(epochs, values, linestyle=ls, marker=marker, markersize=4, color=color,
                    label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(mpl().ticker.MaxNLocator(integer=True))  # no "epoch 1.5" ticks
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        ax.legend()
    shown = {label for _, curves in panels for label, *_ in curves}
    caption = ("train: mean over each epoch's mini-batches, measured during the epoch with "
               "dropout on")
    others = [name for name in ("validation", "test") if name in shown]
    if others:
        caption += ";  %s: after the epoch, dropout off" % " and ".join(others)
    fig.text(0.5, 0.015, caption, ha="center", va="bottom", fontsize=8, color="#444444")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save_figure(fig, path)


def plot_confusion_matrix(cm, path=None, class_names=None, normalize=False):
    """Heat map of a confusion matrix (rows true, columns predicted), counts written in cells.

    ``normalize=True`` shows each row as fractions of its true class.  Returns the Figure;
    writes a PNG to ``path`` when given.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError("cm must be a square (K, K) matrix, got shape %s" % (cm.shape,))
    k = cm.shape[0]
    shown = cm.astype(float)
    if normalize:
        rows = shown.sum(axis=1, keepdims=True)
        shown = np.divide(shown, rows, out=np.zeros_like(shown), where=rows > 0)
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise ValueError("class_names must have %d entries, got %d" % (k, len(names)))
    size = max(4.0, 0.55 * k + 2)
    fig = new_figure((size + 1, size))
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="Blues", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right"
                       if max(map(len, names)) > 2 else "center")
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("confusion matrix" + (" (row-normalised)" if normalize else ""))
    if k <= 20:  # beyond that the numbers are unreadable anyway
        top = shown.max() if shown.size else 0
        for i in range(k):
            for j in range(k):
                text = ("%.2f" % shown[i, j]) if normalize else str(int(cm[i, j]))
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if top and shown[i, j] > 0.5 * top else "black")
    fig.tight_layout()
    return save_figure(fig, path)
