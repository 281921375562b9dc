# Design:
#
# Machine probes for the roofline (fastnn/benchmarks/probes.py times them): the peak float32
# FLOP rate of each SIMD level and the memory bandwidth, measured with fastnn's own loops
# (src_c/fnn_probe.h), so `fastnn bench roofline` works from an installed wheel.
#
# * Validate first.  The level must be one this CPU runs (fastnn.cpu_simd_levels(): an AVX-512
#   loop on a CPU without it is an illegal instruction), counts positive, the triad's arrays
#   float32, C-contiguous, of one length; `a` is b itself (in place) or does not overlap b or c.
# * These functions only count and run; the caller times them (time.perf_counter) and keeps the
#   best of several runs.  Not kernels: no NumPy twin, nothing here is used by training.
import numpy as np

from libc.stdint cimport int64_t

from fastnn.kernels._runtime import SIMD_LEVELS, cpu_simd_levels

cdef extern from "fnn_probe.h" nogil:
    int64_t fnn_probe_fma(int simd, int64_t iters, int threads, float *sink)
    int64_t fnn_probe_triad(float *a, const float *b, const float *c, int64_t n, float s,
                            int threads)
    int64_t fnn_probe_flops_per_iter(int simd)

__all__ = ["fma_peak", "flops_per_iter", "triad"]


def _level_code(level):
    if not isinstance(level, str) or level not in SIMD_LEVELS:
        raise ValueError("level must be one of %s, got %r" % (SIMD_LEVELS, level))
    if level not in cpu_simd_levels():
        raise ValueError("level %r is not supported by this CPU (it runs %s)"
                         % (level, ", ".join(cpu_simd_levels())))
    return SIMD_LEVELS.index(level)


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError("%s must be a positive int, got %r" % (name, value))
    return int(value)


def flops_per_iter(level):
    """FLOPs one thread does per iteration of the peak loop at ``level``."""
    return fnn_probe_flops_per_iter(_level_code(level))


def fma_peak(level, iters, threads=1):
    """Run the independent-FMA loop at SIMD ``level`` for ``iters`` iterations on ``threads``
    threads at once; returns the FLOPs done (2 per multiply-add).  Time it from outside.

        >>> fma_peak("generic", 10) == 10 * flops_per_iter("generic")
        True
    """
    cdef int code = _level_code(level)
    cdef int64_t n = _positive(iters, "iters")
    cdef int nt = _positive(threads, "threads")
    cdef float[::1] sink = np.zeros(nt, np.float32)
    cdef int64_t done
    with nogil:
        done = fnn_probe_fma(code, n, nt, &sink[0])
    return done


def triad(a, b, c, scalar=3.0, threads=1):
    """One pass ``a[:] = b + scalar * c`` over float32 1-D arrays on ``threads`` threads (``a``
    may be ``b``: in place); returns the bytes counted, 12 per element (src_c/fnn_probe.h: why
    in place counts them exactly).  Time it from outside.

        >>> x = np.ones(4, np.float32)
        >>> triad(np.empty(4, np.float32), x, x, 2.0)
        48
    """
    for name, arr in (("a", a), ("b", b), ("c", c)):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.float32 or arr.ndim != 1 \
                or not arr.flags.c_contiguous:
            raise TypeError("%s must be a C-contiguous 1-D float32 array, got %r"
                            % (name, getattr(arr, "dtype", type(arr))))
    if not (len(a) == len(b) == len(c)) or len(a) == 0:
        raise ValueError("a, b and c must have one non-zero length, got %d, %d, %d"
                         % (len(a), len(b), len(c)))
    if (a is not b and np.shares_memory(a, b)) or np.shares_memory(a, c):
        raise ValueError("a must be b itself or not overlap b, and must not overlap c")
    if not a.flags.writeable:
        raise ValueError("a must be writeable")
    cdef float[::1] av = a
    cdef const float[::1] bv = b
    cdef const float[::1] cv = c
    cdef float s = float(scalar)
    cdef int nt = _positive(threads, "threads")
    cdef int64_t n = len(a)
    cdef int64_t done
    with nogil:
        done = fnn_probe_triad(&av[0], &bv[0], &cv[0], n, s, nt)
    return done
