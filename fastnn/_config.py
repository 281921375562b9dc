"""How many threads the compiled kernels use.

Every kernel wrapper reads ``get_num_threads()`` once per call and passes it to its ``prange``
(or to the C GEMM); each kernel may run fewer when its work is small.  Results never depend on
the count: threads split outputs, never a sum.

Explicit or default.  ``set_num_threads(n)``, ``threads(n)``, FASTNN_NUM_THREADS or
OMP_NUM_THREADS fix the count: the kernels use exactly that many.  Otherwise the count is the
CPUs this process may run on, adapted to the load (``LoadAdapter``): when another process
competes for those CPUs, a parallel region's join waits for a worker the scheduler has not run,
every call; the default then drops to fewer threads and probes the full count again with
growing pauses.  FASTNN_ADAPTIVE_THREADS=0 turns that off.  The mechanism and its measurements:
docs/threads.md.

    fastnn.get_num_threads()         # the count the next kernel call uses
    fastnn.set_num_threads(1)        # exactly one
    fastnn.set_num_threads(None)     # back to the default (adaptive)
    fastnn.thread_info()             # configured, explicit, adaptive, in use, last contention
"""
import os
import threading
import time
import warnings



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
    """Number of threads the compiled kernels use now: the explicit count if one was set, else
    the default adapted to the machine's load (see the module docstring)."""
    if _explicit is not None:
        return _explicit
    if not _adaptive:
        return _default_count()
    a = _adapter
    if _monotonic() < a.deadline:      # the common case, inlined: this runs on every call
        return a.answer
    return a.threads(_default_count())


def set_num_threads(n):
    """Set the number of threads every compiled kernel uses: 1 <= n <= ``max_threads()``
    (ValueError outside; each kernel also runs fewer threads when its work is small).  ``None``
    returns to the default: the available CPUs, adapted to the load."""
    global _explicit
    if n is None:
        _explicit = None
        return
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError("num_threads must be an int or None, got %s" % type(n).__name__)
    n = int(n.__index__())
    if n < 1:
        raise ValueError("num_threads must be >= 1, got %d" % n)
    cap = max_threads()
    if n > cap:
        raise ValueError("num_threads must be <= %d (4 per available CPU, at least 64), got %d"
                         % (cap, n))
    _explicit = n


class threads:
    """Context manager: ``with fastnn.threads(1): ...`` runs the block with n kernel threads
    (``None``: the default), then restores the setting before it, explicit or default."""

    def __init__(self, n):
        self.n = n
        self._saved = None

    def __enter__(self):
        self._saved = _explicit
        set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        set_num_threads(self._saved)
        return False


def set_adaptive_threads(enabled):
    """Whether the default thread count adapts to the machine's load (initially on unless
    FASTNN_ADAPTIVE_THREADS=0).  Has no effect on an explicit count.  Returns the previous
    setting."""
    global _adaptive
    if not isinstance(enabled, bool):
        raise TypeError("enabled must be a bool, got %s" % type(enabled).__name__)
    previous, _adaptive = _adaptive, enabled
    if enabled and not previous:
        _adapter.reset()
    return previous


def thread_info():
    """The thread setting as a dict: ``configured`` (the default count, or the explicit one),
    ``explicit`` (bool), ``adaptive`` (the default adapts to load), ``in_use`` (what the next
    kernel call gets), ``contention`` (the calling thread's share of the last window spent
    waiting for a CPU, or None) and ``probe_pause_s`` (the pause before the full count is tried
    again)."""
    in_use = get_num_threads()
    return {"configured": _explicit if _explicit is not None else _default_count(),
            "explicit": _explicit is not None, "adaptive": _adaptive and _explicit is None,
            "in_use": in_use, "contention": _adapter.last_contention,
            "probe_pause_s": _adapter.hold, "load_signal": _adapter.available()}


# --------------------------------------------------------------------------- load adaptation
def read_run_delay():
    """``(ns, threads)``: the nanoseconds all of this process's threads have spent runnable but
    not running (the second field of Linux's per-thread schedstat, summed), and how many threads
    there are; None where the kernel does not report it."""
    total = count = 0
    try:
        for tid in os.listdir("/proc/self/task"):
            try:
                with open("/proc/self/task/%s/schedstat" % tid, "rb") as fh:
                    total += int(fh.read().split()[1])
                count += 1
            except FileNotFoundError:   # the thread ended between the listing and the read
                pass
    except (OSError, ValueError, IndexError):
        return None
    return (total, count) if count else None


class LoadAdapter:
    """The default thread count under load.

    Signal: how many of this process's threads were, on average, runnable but waiting for a CPU
    (their summed run delay over the wall time of a window), read from the kernel's scheduler
    statistics once per window.  With a CPU for each running thread it is near 0; beside a busy
    process, a quarter to a whole thread.  A read costs ~20 us per thread of the process, so a
    window lasts ``WINDOW_S`` or 2 ms per thread, whichever is longer (under 1% overhead).

    Control: above ``CONTENDED`` in ``CONFIRM`` windows in a row the count halves (at least 1),
    and again at each further contended window.  One mildly contended window alone changes
    nothing: a burst that short is over before a smaller count could help, and on a quiet
    machine such bursts (another process waking for a few milliseconds) are what used to cost
    the default its second thread for a whole pause (docs/threads.md).  A window above
    ``CONTENDED_AT_ONCE`` (half a thread waiting: what a busy process beside fastnn's threads
    gives, never a quiet machine's bursts in the measurements) cuts at once.  Below
    ``CONTENDED``, after a pause, the count grows by one to probe; a probe that meets contention
    backs off at once and doubles the pause (from ``HOLD_MIN_S`` up to ``HOLD_MAX_S``), so under
    steady load the full count costs one window in every few seconds; a probe that does not
    resets it.  Why fewer threads and not only a shorter spin: a region's join needs every
    worker, so a worker that is not running costs a scheduler delay at every call however short
    the spin (docs/threads.md).
    """
    WINDOW_S = 0.03
    WINDOW_PER_THREAD_S = 0.002
    CONTENDED = 0.10
    CONFIRM = 2
    CONTENDED_AT_ONCE = 0.5
    HOLD_MIN_S = 0.1
    HOLD_MAX_S = 3.2

    def __init__(self, read_delay=read_run_delay, clock=time.monotonic):
        self._read_delay = read_delay
        self._clock = clock
        self.lock = threading.Lock()
        self._signal = None   # unknown until the first read
        self.reset()

    def reset(self):
        self.current = None        # the count in use; None: the full default
        self.hold = self.HOLD_MIN_S
        self.hold_until = 0.0
        self.probing = False
        self.strikes = 0           # contended windows in a row
        self.last_contention = None
        self._window = None        # (t0, run delay at t0, window length)
        self.deadline = -1.0       # until then (clock time), a call gets ``answer``
        self.answer = None
        self._n = None             # the default count ``answer`` was computed for

    @property
    def window_s(self):
        """The length of the current measurement window (None before the first)."""
        return self._window[2] if self._window is not None else None

    def after_fork(self):
        """In a forked child: a fresh lock and a fresh start (the parent's threads are gone)."""
        self.lock = threading.Lock()
        self.reset()

    def available(self):
        """Whether the run-delay signal exists here (checked on first use)."""
        if self._signal is None:
            self._signal = self._read_delay() is not None
        return self._signal

    def threads(self, n):
        """The count for a kernel call now, the default being ``n``.  Within a window: one clock
        read (this is on every kernel call's path)."""
        if n == self._n and self._clock() < self.deadline:
            return self.answer
        with self.lock:
            current = self.current
            if current is None or current > n:
                current = n
            answer = self._end_window(n, current)
            window = self._window
            self._n, self.answer = n, answer
            self.deadline = window[0] + window[2] if window is not None else -1.0
            return answer

    def _end_window(self, n, current):
        if not self.available():
            self._window = (self._clock(), 0, float("inf"))    # no signal: never read again
            return n
        now = self._clock()
        read = self._read_delay()
        if read is None:
            self._window = None
            return current
        delay, nthreads = read
        window = self._window
        self._window = (now, delay, max(self.WINDOW_S, self.WINDOW_PER_THREAD_S * nthreads))
        if window is None or now <= window[0]:
            return current      # the first window starts
        # threads that ended take their delay with them: a negative difference reads as 0
        share = max(0.0, (delay - window[1]) * 1e-9 / (now - window[0]))
        self.last_contention = share
        if share > self.CONTENDED:
            self.strikes += 1
            if self.probing or self.strikes >= self.CONFIRM or share > self.CONTENDED_AT_ONCE:
                if current > 1:
                    if self.probing:
                        self.hold = min(self.HOLD_MAX_S, self.hold * 2)
                    current = max(1, current // 2)
                self.hold_until = now + self.hold
                self.probing = False
        else:
            self.strikes = 0
            if current < n and now >= self.hold_until:
                current += 1
                self.probing = True
            elif current >= n:
                self.probing = False
                self.hold = self.HOLD_MIN_S
        self.current = None if current >= n else current
        return current


def load_adapter():
    """The process's ``LoadAdapter`` (the one ``get_num_threads()`` consults)."""
    return _adapter


def _adaptive_from_env():
    raw = os.environ.get("FASTNN_ADAPTIVE_THREADS", "").strip().lower()
    if raw in ("", "1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError("FASTNN_ADAPTIVE_THREADS must be 0 or 1, got %r"
                     % os.environ["FASTNN_ADAPTIVE_THREADS"])


def _explicit_from_env():
    # Read once, at import.  A malformed value must not make ``import fastnn`` fail (OpenBLAS
    # and libgomp ignore one too): it is named in a warning and ignored.
    for var in ("FASTNN_NUM_THREADS", "OMP_NUM_THREADS"):
        try:
            value = _from_env(var)
        except ValueError as e:
            warnings.warn("%s; ignored" % e, RuntimeWarning, stacklevel=2)
            continue
        if value is not None:
            return value
    return None


_default = None
_monotonic = time.monotonic


def _default_count():
    global _default
    if _default is None:
        _default = available_cpus()
    return _default


_explicit = _explicit_from_env()
_adaptive = _adaptive_from_env()
_adapter = LoadAdapter()
if hasattr(os, "register_at_fork"):
    # A child forked while another thread held the lock would wait on it forever; its windows
    # would also difference the parent's threads' delays.
    os.register_at_fork(after_in_child=_adapter.after_fork)
