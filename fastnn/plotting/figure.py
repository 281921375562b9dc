"""The two steps every figure of fastnn goes through: :func:`new_figure` and :func:`save_figure`,
and :func:`mpl`, the one place matplotlib is imported.

Figures are ``matplotlib.figure.Figure`` objects on an Agg canvas, never pyplot: no display is
needed, the user's pyplot backend and state are left alone, and nothing is registered with
pyplot, so no figure leaks however many are made.

    fig = new_figure((6, 4))
    fig.subplots().plot([1, 2, 3])
    save_figure(fig, "out/line.png")      # creates out/, returns fig
"""
import math
import os
import types

__all__ = ["mpl", "new_figure", "save_figure", "series_colors", "log_axis"]


def mpl():
    """matplotlib's parts that fastnn draws with: ``Figure``, ``FigureCanvasAgg``, ``colormaps``
    and ``ticker``.  Imported on the first figure: a heavy import that ``import fastnn``, and a
    command that draws nothing, must not pay for.

        mpl().ticker.MaxNLocator(integer=True)
    """
    from matplotlib import colormaps, ticker
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    return types.SimpleNamespace(Figure=Figure, FigureCanvasAgg=FigureCanvasAgg,
                                 colormaps=colormaps, ticker=ticker)


def new_figure(figsize):
    """An empty ``matplotlib.figure.Figure`` of ``figsize`` inches on an Agg canvas.

        fig = new_figure((5, 3)); ax = fig.subplots()
    """
    parts = mpl()
    fig = parts.Figure(figsize=figsize)
    parts.FigureCanvasAgg(fig)  # attaches itself to fig; savefig then renders with Agg
    return fig


def save_figure(fig, path, dpi=100):
    """Write ``fig`` as a PNG to ``path`` (its directory is created) when ``path`` is not None;
    returns ``fig``.

        save_figure(fig, "runs/curves.png")
    """
    if path is not None:
        path = os.fspath(path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


# Sixteen colours that stay apart on white and from each other: tab10 without its grey (kept for
# nothing, so no series looks like a neutral reference line), then seven darker hues.
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#bcbd22", "#17becf", "#000080", "#808000", "#008080", "#800000", "#ff1493",
            "#4b0082", "#b8860b")


def series_colors(n):
    """``n`` distinct colours (hex strings), the same ones in the same order every time; beyond
    16 they repeat (callers then tell series apart by line style and marker).

        series_colors(3)        # ['#1f77b4', '#ff7f0e', '#2ca02c']
    """
    return [_PALETTE[i % len(_PALETTE)] for i in range(n)]


def _log_labels(span_decades):
    """The leading digits of the minor ticks that get a label on a log axis spanning
    ``span_decades`` decades: all of them on a short axis, fewer as it grows."""
    if span_decades <= 1.2:
        return (2, 3, 4, 5, 6, 7, 8, 9)
    if span_decades <= 2.5:
        return (2, 3, 5)
    if span_decades <= 4:
        return (2, 5)
    return ()


def log_axis(ax, axis="y"):
    """Put ``ax``'s ``axis`` ('x' or 'y') on a log scale labelled in plain numbers (0.2, 0.5, 1,
    2, not 2x10^-1), with enough minor ticks labelled that a value can be read off without
    counting grid lines: every minor tick when the axis spans about a decade, those at 2, 3 and
    5 up to 2.5 decades, at 2 and 5 up to 4 decades.  Call it after plotting (the labels follow
    the axis limits at drawing time).

        ax.plot(epochs, losses); log_axis(ax)
    """
    ticker = mpl().ticker
    getattr(ax, "set_%sscale" % axis)("log")
    target = getattr(ax, axis + "axis")

    def label(v, _pos, minor=False):
        if not v > 0:
            return ""
        lo, hi = sorted(getattr(ax, "get_%slim" % axis)())
        if minor:
            span = math.log10(hi / lo) if lo > 0 and hi > lo else 0.0
            lead = round(v / 10 ** math.floor(math.log10(v) + 1e-9))
            if lead not in _log_labels(span):
                return ""
        return "%g" % v
    target.set_major_locator(ticker.LogLocator(base=10))
    target.set_minor_locator(ticker.LogLocator(base=10, subs=tuple(range(2, 10))))
    target.set_major_formatter(ticker.FuncFormatter(label))
    target.set_minor_formatter(ticker.FuncFormatter(lambda v, p: label(v, p, minor=True)))
    ax.tick_params(axis=axis, which="minor", labelsize=7)
