# Design: the one place that knows what this CPU can run and which SIMD level the kernels use.
#
# Every kernel family's C code takes the level as an `int simd` argument and runs its best
# variant at or below it, so the choice is explicit at every call and testable (the tests run
# each family at every level the CPU has).  The level is process-wide state held here, read by
# the other extensions through `cimport` (simd_level() is a plain C call, no Python), set from
# FASTNN_SIMD at import and by fastnn.set_simd() at any time.  Results never depend on the
# thread count; whether they depend on the SIMD level is stated per family in docs/kernels.md.
# Also here, for the same reason (one definition, cimported): threads_for, how many of
# fastnn.get_num_threads() threads a kernel's work is worth.
cdef extern from "fnn_cpu.h" nogil:
    enum:
        FNN_SIMD_GENERIC
        FNN_SIMD_AVX2
        FNN_SIMD_AVX512
    int fnn_cpu_best_simd()

cdef extern from "fnn_openmp.h" nogil:
    int FNN_HAVE_OPENMP
    int FNN_HAVE_UNSTACK
    int fnn_omp_version()
    int fnn_current_cpu()
    int fnn_omp_unstack(int caller_cpu)

import os

from fastnn._config import get_num_threads

__all__ = ["SIMD_LEVELS", "cpu_simd_levels", "set_simd", "get_simd", "openmp_enabled",
           "openmp_version"]

#: every level name, slowest first; 'auto' means the best one this CPU has
SIMD_LEVELS = ("generic", "avx2", "avx512")

cdef int _best = fnn_cpu_best_simd()
cdef int _level = _best


cdef int simd_level() noexcept nogil:
    """The level the kernels run at: 0 generic, 1 avx2, 2 avx512."""
    return _level


cdef int threads_for(Py_ssize_t work, Py_ssize_t units, Py_ssize_t grain) except -1:
    """Threads for ``work`` (elements, bytes) split into at most ``units`` independent pieces
    (chunks, rows, column runs): fastnn.get_num_threads() capped so that every thread gets at
    least ``grain`` of the work and at least one piece; 1 below two grains or two pieces."""
    cdef Py_ssize_t most = work // grain
    cdef Py_ssize_t nt = get_num_threads()
    if most < 2 or units < 2:
        return 1
    if nt > most:
        nt = most
    if nt > units:
        nt = units
    return <int>nt


def cpu_simd_levels():
    """The levels this CPU (and its OS) can run, slowest first, e.g. ('generic', 'avx2')."""
    return SIMD_LEVELS[:_best + 1]


def get_simd():
    """The SIMD level the kernels use now: 'generic', 'avx2' or 'avx512'."""
    return SIMD_LEVELS[_level]


def set_simd(level):
    """Make every kernel run at ``level``: 'generic', 'avx2', 'avx512' or 'auto' (the best this
    CPU has).  A level the CPU cannot run is a ValueError (it would crash with an illegal
    instruction).  Returns the previous level's name."""
    global _level
    if not isinstance(level, str):
        raise TypeError("level must be a str ('auto', %s), got %r (%s)"
                        % (", ".join(repr(s) for s in SIMD_LEVELS), level, type(level).__name__))
    name = level.strip().lower()
    if name == "auto":
        code = _best
    elif name in SIMD_LEVELS:
        code = SIMD_LEVELS.index(name)
        if code > _best:
            raise ValueError("level %r is not supported by this CPU (it runs %s)"
                             % (level, ", ".join(cpu_simd_levels())))
    else:
        raise ValueError("level must be 'auto' or one of %s, got %r" % (SIMD_LEVELS, level))
    previous = SIMD_LEVELS[_level]
    _level = code
    return previous


def openmp_enabled():
    """True when the compiled kernels were built with OpenMP."""
    return bool(FNN_HAVE_OPENMP)


def openmp_version():
    """The _OPENMP date macro (e.g. 201511), 0 without OpenMP."""
    return fnn_omp_version()


def _from_env():
    raw = os.environ.get("FASTNN_SIMD", "").strip()
    if raw:
        try:
            set_simd(raw)
        except (TypeError, ValueError) as e:
            raise ValueError("FASTNN_SIMD: %s" % e) from None


_from_env()


def _unstack_from(cpu):
    """Test hook for the GEMM's worker placement (src_c/fnn_openmp.h, fnn_omp_unstack): move the
    calling thread off CPU ``cpu`` if it is running there.  Returns ``(result, cpu_after)``:
    result 1 moved, 0 not there or nowhere else to go, -1 a system call failed; ``cpu_after``
    the CPU it runs on afterwards (-1 where unknown).  ``None`` where the platform has no such
    mechanism (not Linux)."""
    if not FNN_HAVE_UNSTACK:
        return None
    if isinstance(cpu, bool) or not isinstance(cpu, int):
        raise TypeError("cpu must be an int, got %s" % type(cpu).__name__)
    if not -1 <= cpu < 1 << 20:
        raise ValueError("cpu must be in [-1, 2**20), got %d" % cpu)
    moved = fnn_omp_unstack(cpu)
    return moved, fnn_current_cpu()
