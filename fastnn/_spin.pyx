# Design: one measurement, taken before the OpenMP runtime is loaded.
#
# The OpenMP runtime (libgomp) reads how long its idle threads busy-wait (GOMP_SPINCOUNT, in
# spin steps) from the environment once, when the first extension that links it is loaded.  A
# step costs 3-60 ns depending on the CPU's pause instruction, so fastnn measures it here and
# converts its time budget (FASTNN_SPIN_US) into steps (fastnn._config, docs/threads.md).  This
# extension is built without OpenMP (setup.py) so that importing it does not load the runtime.
cdef extern from "fnn_openmp.h" nogil:
    int FNN_HAVE_SPIN_CLOCK
    double fnn_spin_step_ns(long steps, int reps)


def spin_step_ns(long steps=1000, int reps=5):
    """Nanoseconds one spin-wait step of the OpenMP runtime takes on this CPU (the fastest of
    ``reps`` timings of ``steps`` steps), or None where it cannot be measured.  About
    ``reps * steps * 60 ns`` at most (0.3 ms with the defaults).

        >>> 1 < spin_step_ns() < 1000     # doctest: +SKIP
        True
    """
    if steps < 1 or reps < 1:
        raise ValueError("steps and reps must be >= 1, got steps=%d, reps=%d" % (steps, reps))
    if not FNN_HAVE_SPIN_CLOCK:
        return None
    cdef double ns
    with nogil:
        ns = fnn_spin_step_ns(steps, reps)
    return ns if ns > 0 else None
