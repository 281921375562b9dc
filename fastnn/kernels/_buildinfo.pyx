# Design: reports what the compiled extensions were built with, read from the C preprocessor
# (so it reflects the real compile, not what setup.py intended).
cdef extern from "fnn_openmp.h":
    int FNN_HAVE_OPENMP
    int fnn_omp_max_threads() nogil
    int fnn_omp_version() nogil


def openmp_enabled():
    """True when this extension was compiled with OpenMP."""
    return bool(FNN_HAVE_OPENMP)


def openmp_version():
    """The _OPENMP date macro (e.g. 201511), 0 without OpenMP."""
    return fnn_omp_version()


def omp_max_threads():
    return fnn_omp_max_threads()
