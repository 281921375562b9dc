"""Constraints on scalar arguments, declared as short texts (as scikit-learn's
``_parameter_constraints``), parsed once and checked in fastnn's wording.

    "bool"                    a Python or NumPy bool
    "real"                    a finite real number
    "real >= 0"               ... with a lower bound ("real > 0" excludes it)
    "real in [0, 1)"          ... in an interval; brackets say which ends are included
    "int >= 1"                an integer (not a bool) with a lower bound
    "pair of real in [0, 1)"  a pair (tuple or list) of two such values

Example::

    >>> from fastnn.contracts.constraints import check_argument, parse
    >>> parse("real in [0, 1)").admits(1.0)
    False
    >>> check_argument(1.0, "beta1", "real in [0, 1)")
    Traceback (most recent call last):
    ValueError: beta1 must be < 1.0, got 1.0
"""
import collections
import functools
import re

from .._validate import check_bool, check_int, check_scalar

__all__ = ["Constraint", "parse", "pair_element", "check_argument", "checker"]


class Constraint(collections.namedtuple("Constraint", "kind low high low_closed high_closed pair")):
    """A parsed constraint: ``kind`` 'bool', 'real' or 'int'; bounds ``low``/``high`` (None:
    unbounded) and whether each is included; ``pair``: a pair of such values."""

    __slots__ = ()

    def admits(self, x):
        """Whether the number ``x`` (already of the right kind) is within the bounds."""
        if self.low is not None and (x < self.low or (x == self.low and not self.low_closed)):
            return False
        if self.high is not None and (x > self.high or (x == self.high and not self.high_closed)):
            return False
        return True


_GRAMMAR = re.compile(
    r"(?P<pair>pair of )?(?P<kind>bool|real|int)"
    r"(?: (?P<op>>=|>) (?P<min>[-0-9.e]+)"
    r"| in (?P<lb>[\[(])(?P<lo>[-0-9.e]+), (?P<hi>[-0-9.e]+)(?P<rb>[\])]))?")


@functools.lru_cache(maxsize=None)
def parse(text):
    """The :class:`Constraint` a text such as ``"real in [0, 1)"`` stands for."""
    m = _GRAMMAR.fullmatch(text)
    if m is None:
        raise ValueError("not a constraint: %r" % (text,))
    low = high = None
    low_closed = high_closed = True
    if m["op"]:
        low, low_closed = float(m["min"]), m["op"] == ">="
    elif m["lb"]:
        low, low_closed = float(m["lo"]), m["lb"] == "["
        high, high_closed = float(m["hi"]), m["rb"] == "]"
    return Constraint(m["kind"], low, high, low_closed, high_closed, bool(m["pair"]))


def pair_element(constraint):
    """The constraint on each value of a ``"pair of ..."`` constraint: ``"real in [0, 1)"``."""
    if not constraint.startswith("pair of "):
        raise ValueError("not a pair constraint: %r" % (constraint,))
    return constraint[len("pair of "):]


def check_argument(value, name, constraint):
    """``value`` checked against ``constraint``, in fastnn's wording (``fastnn._validate``:
    the error names the argument, the expected and the actual value); returns it as a Python
    bool, int or float.  A pair constraint checks one value of the pair."""
    return checker(constraint)(value, name)


@functools.lru_cache(maxsize=None)
def checker(constraint):
    """The function ``check(value, name)`` that ``check_argument`` calls for ``constraint``: one
    per constraint, its bounds bound once (kernels check their arguments on every call)."""
    c = parse(constraint)
    if c.kind == "bool":
        return check_bool
    if c.kind == "int":
        low = None if c.low is None else int(c.low)
        return lambda value, name: check_int(value, name, min=low)
    low, high, low_closed, high_closed = c.low, c.high, c.low_closed, c.high_closed
    return lambda value, name: check_scalar(value, name, min=low, max=high,
                                            min_inclusive=low_closed, max_inclusive=high_closed)
