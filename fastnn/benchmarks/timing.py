"""Timing: the median time of one call, and a fair comparison of two callables.

Both measure with ``time.perf_counter`` (wall clock) after an untimed warm-up call (workspaces,
caches, lazy imports).  A sample is a block of back-to-back calls long enough that the timer's
resolution and the loop's overhead do not matter (:func:`calls_per_sample`); the time of a call is
the block's time divided by its calls.  Medians, not means: a shared machine adds long outliers,
never short ones.
"""
import dataclasses
import statistics
import time

__all__ = ["calls_per_sample", "time_call", "Samples", "alternate", "format_seconds"]

#: a sample lasts at least this long (seconds)
MIN_SAMPLE = 5e-3
#: ... unless it already holds this many calls
MAX_CALLS = 1 << 16


def calls_per_sample(fn, min_seconds=MIN_SAMPLE, max_calls=MAX_CALLS):
    """``(number, seconds)``: the number of back-to-back calls of ``fn`` (1, 4, 16, ...) that
    first lasts at least ``min_seconds``, and how long that block took."""
    number = 1
    while True:
        seconds = _block(fn, number)
        if seconds >= min_seconds or number >= max_calls:
            return number, seconds
        number *= 4


def time_call(fn, repeats=7, min_seconds=MIN_SAMPLE):
    """Median seconds per call of ``fn()`` over ``repeats`` samples (the calibration block is
    the first sample)."""
    fn()
    number, seconds = calls_per_sample(fn, min_seconds)
    samples = [seconds / number] + [_block(fn, number) / number for _ in range(repeats - 1)]
    return statistics.median(samples)


@dataclasses.dataclass
class Samples:
    """Per-call times of one callable, one entry per block: ``wall`` (seconds) and ``cpu``
    (process CPU seconds, all threads)."""
    wall: list = dataclasses.field(default_factory=list)
    cpu: list = dataclasses.field(default_factory=list)

    @property
    def median(self):
        return statistics.median(self.wall)

    @property
    def cpu_median(self):
        return statistics.median(self.cpu)


def alternate(fn_a, fn_b, blocks=4, pause=0.5, min_seconds=MIN_SAMPLE):
    """Time two callables in alternating blocks a, b, a, b, ... with ``pause`` seconds of sleep
    before each block; returns ``(Samples of a, Samples of b)``.

    For comparing two libraries or two settings on a shared machine: the noise of the moment
    (other processes, clock frequency, temperature) falls on both alike, and the pause lets the
    machine settle after the other callable's block.
    """
    fns = (fn_a, fn_b)
    for fn in fns:
        fn()
    numbers = [calls_per_sample(fn, min_seconds)[0] for fn in fns]
    out = (Samples(), Samples())
    for _ in range(blocks):
        for fn, number, samples in zip(fns, numbers, out):
            time.sleep(pause)
            c0 = time.process_time()
            wall = _block(fn, number)
            samples.cpu.append((time.process_time() - c0) / number)
            samples.wall.append(wall / number)
    return out


def _block(fn, number):
    """Seconds that ``number`` back-to-back calls of ``fn`` take."""
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - t0


def format_seconds(seconds, digits=2):
    """'1.23 s', '4.56 ms' or '7.8 us' (``digits`` decimals for s and ms, one for us)."""
    if seconds >= 1:
        return "%.*f s" % (digits, seconds)
    if seconds >= 1e-3:
        return "%.*f ms" % (digits, seconds * 1e3)
    return "%.1f us" % (seconds * 1e6)
