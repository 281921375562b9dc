"""Checks of parsed command-line values that argparse's ``type=`` cannot express (ranges that
depend on defaults chosen later or on the machine).  Each raises
:class:`fastnn.errors.UsageError` naming the flag: one line on stderr, exit status 2."""
import math

from .._config import max_threads
from ..errors import UsageError

__all__ = ["positive_int", "fraction", "positive_number", "thread_count", "learning_rate",
           "int_list", "MAX_LEARNING_RATE"]

# Above this a learning rate is a typo (1e300 for 1e-3): the first step of any optimizer moves
# the weights by lr-sized amounts and the loss overflows.  The largest the lab uses is 1.0
# (Adadelta).
MAX_LEARNING_RATE = 1e3


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


def learning_rate(v, flag="--lr"):
    """A positive, finite learning rate of at most MAX_LEARNING_RATE."""
    positive_number(v, flag)
    if v > MAX_LEARNING_RATE:
        raise UsageError("%s must be at most %g, got %r: with a learning rate that large the "
                         "first step already diverges" % (flag, MAX_LEARNING_RATE, v))
    return v


def thread_count(v, flag="--threads"):
    """1 <= v <= fastnn's thread cap, checked before anything (torch included) is given v."""
    cap = max_threads()
    if v is None or v < 1 or v > cap:
        raise UsageError("%s must be between 1 and %d (4 per available CPU, at least 64), got %r"
                         % (flag, cap, v))
    return v


def int_list(text, flag):
    """'256,128' -> (256, 128): comma-separated positive integers, at least one, no empty item."""
    items = text.split(",")
    try:
        values = tuple(int(item) for item in items)
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise UsageError("%s must be comma-separated positive integers such as 256,128, got %r"
                         % (flag, text))
    return values
