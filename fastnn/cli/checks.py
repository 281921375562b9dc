"""Checks of parsed command-line values that argparse's ``type=`` cannot express (ranges that
depend on defaults chosen later).  Each raises :class:`fastnn.errors.UsageError` naming the flag:
one line on stderr, exit status 2."""
import math

from ..errors import UsageError

__all__ = ["positive_int", "fraction", "positive_number"]


def positive_int(v, flag):
    if v is None or v < 1:
        raise UsageError("%s must be a positive integer, got %r" % (flag, v))
    return v


def fraction(v, flag):
    """A number in [0, 1)."""
    if not math.isfinite(v) or v < 0 or v >= 1:
        raise UsageError("%s must be in [0, 1), got %r" % (flag, v))
    return v


def positive_number(v, flag):
    if not math.isfinite(v) or v <= 0:
        raise UsageError("%s must be a positive number, got %r" % (flag, v))
    return v
