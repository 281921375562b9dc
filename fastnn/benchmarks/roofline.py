"""The roofline of this machine with fastnn's kernels on it: ``fastnn bench roofline``.

A kernel that does F FLOPs and moves at least B bytes has arithmetic intensity I = F / B
(FLOP/byte).  It cannot run faster than min(peak, I * bandwidth): the roofs.  The probes
(``fastnn.benchmarks.probes``) measure the peak of every SIMD level and the memory bandwidth
on the same thread count the kernels run with; each kernel of ``ROOFLINE_CASES`` (cases of the
shared table, ``fastnn.benchmarks.cases``) and its NumPy twin are timed and placed at
(I, achieved GFLOP/s).  The result, a dict (roofline.json)::

    machine     cpu, logical_cpus, simd_levels, simd (in use), threads
    peaks       {level: GFLOP/s}        bandwidth_gbs: GB/s (in-place a = a + s*c)
    ridge       {level: FLOP/byte where the two roofs meet}
    kernels     one row per (case, impl): kernel, shape, impl, flops, bytes, intensity,
                seconds, gflops, gbs, bound ('compute' or 'memory': which roof is lower at
                this intensity), share (achieved / the lower roof at the SIMD level in use)

Counts.  ``flops`` and ``bytes`` come from the case table where it has them; the rest is
filled here: a GEMM's least traffic is its inputs read once and its output written once;
a memory-bound kernel's FLOPs are counted per element (``FLOPS_PER_ELEMENT``, operations the
kernel's formula does, a comparison or a max counted as one).

    >>> result = measure(quick=True)
    >>> sorted(result["peaks"]) == sorted(result["machine"]["simd_levels"])
    True
"""
import math

import numpy as np
from threadpoolctl import threadpool_limits

from .. import cpu_simd_levels, get_simd, threads
from ..ladder.gemm import all_threads
from ..plotting import new_figure, save_figure
from . import cases, probes, timing

__all__ = ["ROOFLINE_CASES", "QUICK_GROUPS", "FLOPS_PER_ELEMENT", "counts", "measure", "table",
           "draw"]

#: (kernel, shape) groups of the case table placed on the roofline: compute-bound GEMMs and
#: convolutions, memory-bound pooling, activations and optimizer steps
ROOFLINE_CASES = (
    "matmul square 512",
    "matmul fwd 128x784@784x256",
    "matmul_bias relu 128x784@784x256",
    "conv fwd conv1 128x1x28x28 -> 32 3x3 pad1",
    "conv fwd conv2 128x32x14x14 -> 64 3x3 pad1",
    "maxpool 2x2 fwd 128x32x28x28",
    "relu fwd+bwd 128x32x28x28",
    "sigmoid fwd 128x32x28x28",
    "Adam 10M float32",
    "SGD-momentum 10M float32",
)

#: quick mode: the optimizers on 1M parameters instead of 10M (building 10M-element inputs takes
#: longer than timing them; at 1M the state may fit in the last-level cache, above the roof)
QUICK_GROUPS = {"Adam 10M float32": "Adam 1M float32",
                "SGD-momentum 10M float32": "SGD-momentum 1M float32"}

#: FLOPs per element for the cases whose table entry has bytes only: (count, the array whose
#: size is the element count).  maxpool 2x2: 3 comparisons per output = 3/4 per input; relu
#: forward + backward: a max and a select; sigmoid: exp, add, divide, negate; Adam:
#: torch.optim.Adam's formula (two moment updates, bias corrections, sqrt, divide, step);
#: SGD with momentum: buffer update and step
FLOPS_PER_ELEMENT = {
    "maxpool 2x2 fwd": (0.75, "x"),
    "relu fwd+bwd": (2, "x"),
    "sigmoid fwd": (4, "x"),
    "Adam": (12, "p"),
    "SGD-momentum": (4, "p"),
}


def _case(group):
    for case in cases.CASES:
        if case.group == group:
            return case
    raise ValueError("no benchmark case %r" % group)


def counts(case):
    """``(flops, bytes)`` of one call of ``case`` (module docstring: where each comes from)."""
    inputs = case.inputs()
    flops, nbytes = case.flops, case.bytes
    if nbytes is None:            # GEMM / conv forward: inputs and the output, once each
        arrays = [v for v in inputs.values() if isinstance(v, np.ndarray)]
        nbytes = float(sum(a.nbytes for a in arrays))
        if "out" not in inputs and case.suite == "gemm":          # matmul_bias: + its output
            m, n = inputs["x"].shape[0], inputs["w"].shape[1]
            nbytes += m * n * inputs["x"].itemsize
    if flops is None:
        per, name = FLOPS_PER_ELEMENT[case.kernel]
        flops = per * float(inputs[name].size)
    return float(flops), float(nbytes)


def measure(quick=False, num_threads=None, repeats=5, groups=ROOFLINE_CASES):
    """Probe the machine, time every case of ``groups`` (default ROOFLINE_CASES; fastnn and its
    twin) on ``num_threads`` threads (None: fastnn's configured count) and return the result
    dict.  ``quick``: shorter probes, one timed repeat, QUICK_GROUPS (tests, a first look)."""
    nthreads = num_threads or all_threads()
    seconds, probe_repeats = (0.02, 2) if quick else (0.2, 5)
    peaks = {level: probes.peak_gflops(level, nthreads, seconds, probe_repeats)
             for level in cpu_simd_levels()}
    bandwidth = probes.bandwidth_gbs(nthreads, probes.TRIAD_ELEMENTS // (16 if quick else 1),
                                     probe_repeats)
    level = get_simd()
    rows = []
    with threads(nthreads), threadpool_limits(nthreads, "blas"):
        for group in groups:
            case = _case(QUICK_GROUPS.get(group, group) if quick else group)
            flops, nbytes = counts(case)
            intensity = flops / nbytes
            roof = min(peaks[level], intensity * bandwidth)
            for impl in ("fastnn", "numpy-twin"):
                t = timing.time_call(case.step(impl), 1 if quick else repeats)
                gflops = flops / t / 1e9
                rows.append({"kernel": case.kernel, "shape": case.shape, "impl": impl,
                             "flops": flops, "bytes": nbytes, "intensity": intensity,
                             "seconds": t, "gflops": gflops, "gbs": nbytes / t / 1e9,
                             "bound": ("compute" if peaks[level] <= intensity * bandwidth
                                       else "memory"),
                             "share": gflops / roof})
    return {"machine": probes.machine(nthreads), "peaks": peaks, "bandwidth_gbs": bandwidth,
            "ridge": {lv: p / bandwidth for lv, p in peaks.items()}, "kernels": rows}


def table(result):
    """The result as markdown lines: the machine, the roofs, one row per kernel."""
    m = result["machine"]
    lines = ["%s, %d thread(s), SIMD in use %s; bandwidth %.1f GB/s; peak %s"
             % (m["cpu"], m["threads"], m["simd"], result["bandwidth_gbs"],
                ", ".join("%s %.1f GFLOP/s" % kv for kv in result["peaks"].items())), "",
             "| kernel | shape | impl | FLOP/byte | GFLOP/s | GB/s | bound | share of roof |",
             "|---|---|---|---:|---:|---:|---|---:|"]
    for r in result["kernels"]:
        lines.append("| %s | %s | %s | %.3g | %.3g | %.3g | %s | %.0f%% |"
                     % (r["kernel"], r["shape"], r["impl"], r["intensity"], r["gflops"],
                        r["gbs"], r["bound"], 100 * r["share"]))
    return lines


def draw(result, path=None):
    """The roofline (log-log): one roof per SIMD level, the bandwidth slope, every kernel
    (filled: fastnn, open: its NumPy twin) at its intensity and rate.  Returns the Figure."""
    fig = new_figure((11.5, 6))
    ax = fig.add_subplot(1, 1, 1)
    rows = result["kernels"]
    bw = result["bandwidth_gbs"]
    lo = min([r["intensity"] for r in rows] + [0.05]) / 2
    hi = max([r["intensity"] for r in rows] + list(result["ridge"].values())) * 4
    xs = np.logspace(math.log10(lo), math.log10(hi), 200)
    styles = {"generic": ":", "avx2": "--", "avx512": "-"}
    for level, peak in result["peaks"].items():
        ax.plot(xs, np.minimum(peak, xs * bw), styles.get(level, "-"), color="black", lw=1.2,
                label="roof: %s peak %.0f GFLOP/s, %.1f GB/s" % (level, peak, bw))
    colors = {}
    for r in rows:
        key = (r["kernel"], r["shape"])
        color = colors.setdefault(key, "C%d" % (len(colors) % 10))
        filled = r["impl"] == "fastnn"
        ax.plot(r["intensity"], r["gflops"], "o", ms=7, color=color,
                markerfacecolor=color if filled else "none",
                label="%s %s" % (r["kernel"], r["shape"]) if filled else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("GFLOP/s")
    m = result["machine"]
    ax.set_title("%s, %d thread(s): filled = fastnn, open = NumPy twin"
                 % (m["cpu"], m["threads"]), fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, which="both", alpha=0.2)
    fig.tight_layout()
    return save_figure(fig, path)
