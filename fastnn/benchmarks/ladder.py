"""Time the ladders (``fastnn.ladder``) on this machine: ``fastnn bench ladder gemm|conv``.

Each rung runs at its own size (``Rung.size`` / ``Rung.x_shape``: the Python loops get a small
problem, the compiled rungs a large one), so every rung takes about a second, not minutes; the
rate (GFLOP/s, 2 FLOPs per multiply-add) is what compares rungs of different sizes.  A row per
rung, a plain dict (the ``--json`` output)::

    rung, name, idea, gflops, seconds (median per call), shape, flops, threads,
    simd (the level asked for; None for NumPy rungs), gemm (gemm only: the compiled GEMM's
    gemm_config() at that level, None when unknown), mc/kc/nc/mr/nr (gemm only: block sizes,
    None when unknown), skipped (None, or why the rung did not run), speedup (over the previous
    rung that ran)

    >>> rows = gemm_rows(quick=True, rungs=(2, 6))
    >>> [r["rung"] for r in rows], all(r["gflops"] > 0 for r in rows)
    ([2, 6], True)
"""
import numpy as np

from threadpoolctl import threadpool_limits

from .. import get_simd
from ..ladder import conv as conv_ladder
from ..ladder import gemm as gemm_ladder
from ..plotting import new_figure, save_figure
from . import timing

__all__ = ["gemm_rows", "conv_rows", "table", "draw"]

#: quick mode (tests, a first look): sizes divided by this, at least QUICK_MIN
QUICK_DIVISOR, QUICK_MIN = 8, 12
QUICK_X, QUICK_W = (1, 4, 8, 8), (8, 4, 3, 3)


def _timed(step, repeats):
    # NumPy's BLAS on one thread, as the rungs it serves (conv rung 2) are single-threaded
    with threadpool_limits(1, "blas"):
        return timing.time_call(step, repeats, min_seconds=0.02)


def _bind(fn, *args):
    return lambda: fn(*args)


def _with_speedups(rows):
    previous = None
    for row in rows:
        row["speedup"] = None
        if row["gflops"] is not None:
            if previous is not None:
                row["speedup"] = row["gflops"] / previous
            previous = row["gflops"]
    return rows


def _gemm_blocks(rung):
    """The block sizes a rung runs with: the NumPy rungs' keyword defaults, the compiled GEMM's
    gemm_config() when this build has it, else unknown (None)."""
    if not rung.compiled:            # rungs 1-2 have no blocks, 3 no register tile
        blocks = {}
        if rung.number >= 3:
            blocks.update(mc=gemm_ladder.MC, kc=gemm_ladder.KC, nc=gemm_ladder.NC)
        if rung.number >= 4:
            blocks.update(mr=gemm_ladder.MR, nr=gemm_ladder.NR)
        return None, blocks
    config = gemm_ladder.compiled_blocking(None if rung.level == "auto" else rung.level)
    if config is None:
        return None, {}
    return config, {key: config.get(key) for key in ("mr", "nr", "mc", "kc", "nc")}


def gemm_rows(quick=False, repeats=3, rungs=None):
    """Time every GEMM rung (or the numbers in ``rungs``): one row per rung, skipped rungs
    included with their reason."""
    rng = np.random.default_rng(0)
    rows = []
    for rung in gemm_ladder.RUNGS:
        if rungs is not None and rung.number not in rungs:
            continue
        size = max(QUICK_MIN, rung.size // QUICK_DIVISOR) if quick else rung.size
        nthreads = rung.threads or gemm_ladder.all_threads()
        row = {"rung": rung.number, "name": rung.name, "idea": rung.idea, "shape": [size] * 3,
               "flops": 2.0 * size ** 3, "threads": nthreads, "simd": rung.level,
               "gemm": None, "seconds": None, "gflops": None, "skipped": rung.skip_reason()}
        row.update(dict.fromkeys(("mr", "nr", "mc", "kc", "nc")))
        if row["skipped"] is None:
            if rung.level == "auto":
                row["simd"] = get_simd()
            config, blocks = _gemm_blocks(rung)
            row["gemm"] = config
            row.update(blocks)
            a = rng.standard_normal((size, size), dtype=np.float32)
            b = rng.standard_normal((size, size), dtype=np.float32)
            out = np.empty((size, size), np.float32)
            seconds = _timed(_bind(rung.fn, a, b, False, False, out), repeats)
            row["seconds"] = seconds
            row["gflops"] = row["flops"] / seconds / 1e9
        rows.append(row)
    return _with_speedups(rows)


def conv_rows(quick=False, repeats=3, rungs=None):
    """Time every convolution rung (or the numbers in ``rungs``): 3x3, stride 1, padding 1."""
    rng = np.random.default_rng(0)
    rows = []
    for rung in conv_ladder.RUNGS:
        if rungs is not None and rung.number not in rungs:
            continue
        x_shape, w_shape = (QUICK_X, QUICK_W) if quick else (rung.x_shape, rung.w_shape)
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = (rng.standard_normal(w_shape, dtype=np.float32) * 0.1).astype(np.float32)
        b = rng.standard_normal(w_shape[0], dtype=np.float32)
        flops = conv_ladder.flops(x_shape, w_shape, 1, 1)
        seconds = _timed(_bind(rung.fn, x, w, b, 1, 1), repeats)
        nthreads = gemm_ladder.all_threads() if rung.name == "threads" else 1
        rows.append({"rung": rung.number, "name": rung.name, "idea": rung.idea,
                     "shape": {"x": list(x_shape), "w": list(w_shape)}, "flops": flops,
                     "threads": nthreads, "simd": get_simd() if rung.number >= 3 else None,
                     "seconds": seconds, "gflops": flops / seconds / 1e9, "skipped": None})
    return _with_speedups(rows)


def _shape_text(row):
    shape = row["shape"]
    if isinstance(shape, dict):
        return "x %s, w %s" % ("x".join(map(str, shape["x"])), "x".join(map(str, shape["w"])))
    return "%d^3" % shape[0]


def _blocks_text(row):
    if "mc" not in row:
        return None
    values = [row.get(k) for k in ("mc", "kc", "nc", "mr", "nr")]
    if row["skipped"] is not None or row["simd"] is None and all(v is None for v in values):
        return "-"
    if row["simd"] is not None and row["gemm"] is None:
        return "unknown (no gemm_config)"
    return "/".join("-" if v is None else str(v) for v in values)


def table(rows):
    """The rows as a markdown table (lines)."""
    gemm = "mc" in rows[0] if rows else False
    head = "| rung | name | shape | threads | SIMD |%s GFLOP/s | x previous | idea |" % (
        " MC/KC/NC/MR/NR |" if gemm else "")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        rate = ("skipped: %s" % r["skipped"] if r["gflops"] is None
                else "%.3g" % r["gflops"])
        cells = [str(r["rung"]), r["name"], _shape_text(r), str(r["threads"]), r["simd"] or "-"]
        if gemm:
            cells.append(_blocks_text(r))
        cells += [rate, "-" if r["speedup"] is None else "%.1fx" % r["speedup"], r["idea"]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def draw(rows, title, path=None):
    """A bar per rung (GFLOP/s, log scale) with its speed-up over the previous rung; skipped
    rungs are labelled.  Written to ``path`` (PNG) when given; returns the Figure."""
    fig = new_figure((9, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    labels = ["%d %s" % (r["rung"], r["name"]) for r in rows]
    rates = [r["gflops"] or 0.0 for r in rows]
    positive = [v for v in rates if v > 0] or [1.0]
    floor = min(positive) / 3
    ax.bar(range(len(rows)), [v if v > 0 else floor for v in rates],
           color=["#4c72b0" if r["simd"] is None else "#dd8452" if r["gflops"] else "#cccccc"
                  for r in rows])
    for i, r in enumerate(rows):
        if r["gflops"] is None:
            text = "skipped"
        else:
            text = "%.3g" % r["gflops"] + ("" if r["speedup"] is None
                                           else "\n%.1fx" % r["speedup"])
        ax.text(i, max(rates[i], floor) * 1.15, text, ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(floor, max(positive) * 8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("GFLOP/s (log scale)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
