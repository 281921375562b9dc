"""Thread-count configuration shared by every compiled kernel.

The default comes from FASTNN_NUM_THREADS, then OMP_NUM_THREADS, then the CPUs this process may
run on.  Every kernel wrapper reads ``get_num_threads()`` and passes it to its ``prange`` (or to
the C GEMM), so ``set_num_threads`` takes effect on the next call.  Results never depend on it.
"""
import os
import warnings

_num_threads = None


def available_cpus():
    """CPUs this process may run on (the affinity mask when the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def max_threads():
    """The most threads a kernel may be given: 4 per available CPU, at least 64.  More is never
    faster, and each OpenMP thread reserves a stack (8 MiB by default): an absurd count would
    exhaust the address space and make libgomp abort the whole process."""
    return max(64, 4 * available_cpus())


def _from_env(var):
    raw = os.environ.get(var)
    if raw is None or raw.strip() == "":
        return None
    try:
        # OMP_NUM_THREADS may be a list ("4,2") for nested levels: the first one is ours.
        value = int(raw.split(",")[0])
    except ValueError:
        raise ValueError("%s must be a positive integer, got %r" % (var, raw)) from None
    if value < 1:
        raise ValueError("%s must be a positive integer, got %r" % (var, raw))
    cap = max_threads()
    if value > cap:
        warnings.warn("%s=%d is more than fastnn will use; using %d threads" % (var, value, cap),
                      RuntimeWarning, stacklevel=2)
        value = cap
    return value


def default_num_threads():
    for var in ("FASTNN_NUM_THREADS", "OMP_NUM_THREADS"):
        value = _from_env(var)
        if value is not None:
            return value
    return available_cpus()


def get_num_threads():
    """Number of threads the compiled kernels use."""
    global _num_threads
    if _num_threads is None:
        _num_threads = default_num_threads()
    return _num_threads


def set_num_threads(n):
    """Set the number of threads every compiled kernel uses: 1 <= n <= ``max_threads()``
    (ValueError outside; each kernel also runs fewer threads when its work is small)."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError("num_threads must be an int, got %s" % type(n).__name__)
    n = int(n.__index__())
    if n < 1:
        raise ValueError("num_threads must be >= 1, got %d" % n)
    cap = max_threads()
    if n > cap:
        raise ValueError("num_threads must be <= %d (4 per available CPU, at least 64), got %d"
                         % (cap, n))
    _num_threads = n


class threads:
    """Context manager: ``with fastnn.threads(1): ...`` runs the block with n kernel threads."""

    def __init__(self, n):
        self.n = n
        self._saved = None

    def __enter__(self):
        self._saved = get_num_threads()
        set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        set_num_threads(self._saved)
        return False
