"""Machine probes: this CPU's peak float32 FLOP/s per SIMD level and its memory bandwidth,
measured with fastnn's own loops (``src_c/fnn_probe.h``, compiled into
``fastnn.kernels._probe``), so the numbers need neither the source tree nor another tool.

One implementation, for ``fastnn bench roofline`` (``fastnn.benchmarks.roofline``) and for any
benchmark script that needs a peak or a bandwidth to compare against (import it, do not copy it):

    peak_gflops(level, threads)   independent-FMA loop; the best of ``repeats`` runs; elapsed
                                  time, or (clock="cpu") the threads' own CPU time
    bandwidth_gbs(threads)        a = a + s*c in place over arrays larger than the caches
    machine()                     CPU model, SIMD levels, the level in use, thread count

Each probe keeps the best of its runs: on a shared machine the slow runs are the ones another
process interfered with, and the roofline wants what the hardware can do.

    >>> peak_gflops("generic", threads=1, seconds=0.01) > 0
    True
"""
import os
import platform
import time

import numpy as np

from .. import cpu_simd_levels, get_num_threads, get_simd
from ..kernels import _probe

__all__ = ["cpu_model", "machine", "peak_gflops", "peaks", "bandwidth_gbs"]

#: bandwidth arrays: 2 x 64 MiB, far larger than any L3 a 2026 CPU has per core complex
TRIAD_ELEMENTS = 16 * 1024 * 1024


def cpu_model():
    """The CPU's model name (/proc/cpuinfo on Linux, platform.processor() elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads=None):
    """What a measurement ran on: a dict of cpu, logical_cpus, simd_levels, simd (in use),
    threads."""
    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(),
            "simd_levels": list(cpu_simd_levels()), "simd": get_simd(),
            "threads": threads if threads is not None else get_num_threads()}


def _clock(name):
    if name == "wall":
        return time.perf_counter
    if name == "cpu":
        return time.process_time
    raise ValueError("clock must be 'wall' or 'cpu', got %r" % (name,))


def peak_gflops(level, threads=1, seconds=0.1, repeats=3, clock="wall"):
    """Peak float32 GFLOP/s of SIMD ``level`` on ``threads`` threads: the independent-FMA loop
    sized to run about ``seconds``, best of ``repeats`` runs.

    ``clock="wall"``: the rate of all threads together in elapsed time (what a kernel gets).
    ``clock="cpu"``: FLOPs per second of the threads' own CPU time (process time / threads):
    what the cores do while they run, whatever else the machine runs; for a loaded machine."""
    now = _clock(clock)
    per_iter = _probe.flops_per_iter(level)
    iters = 1000
    while True:                                    # calibrate: grow until it lasts seconds / 4
        t0 = time.perf_counter()
        _probe.fma_peak(level, iters, threads)
        dt = time.perf_counter() - t0
        if dt >= seconds / 4 or iters >= 1 << 40:
            break
        iters *= 4
    iters = max(1000, int(iters * seconds / max(dt, 1e-9)))
    best = 0.0
    for _ in range(repeats):
        t0 = now()
        flops = _probe.fma_peak(level, iters, threads)
        dt = now() - t0
        if clock == "cpu":
            dt /= threads
        best = max(best, flops / max(dt, 1e-9) / 1e9)
    assert flops == per_iter * iters * threads
    return best


def peaks(threads=1, seconds=0.1, repeats=3):
    """{level: peak GFLOP/s} for every SIMD level this CPU runs."""
    return {level: peak_gflops(level, threads, seconds, repeats) for level in cpu_simd_levels()}


def bandwidth_gbs(threads=1, elements=TRIAD_ELEMENTS, repeats=5):
    """Memory bandwidth in GB/s (1e9 bytes): the best of ``repeats`` passes of ``a = a + s*c``
    (in place, as the optimizers update: 12 bytes per element really move, no write-allocate)
    over ``elements`` float32 per array, after one untimed pass that touches every page.  The
    scale is tiny and alternates in sign, so the values stay finite whatever the repeats."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(elements, dtype=np.float32)
    c = rng.standard_normal(elements, dtype=np.float32)
    _probe.triad(a, a, c, 1e-3, threads)
    best = 0.0
    for i in range(repeats):
        t0 = time.perf_counter()
        nbytes = _probe.triad(a, a, c, -1e-3 if i % 2 == 0 else 1e-3, threads)
        dt = time.perf_counter() - t0
        best = max(best, nbytes / dt / 1e9)
    return best
