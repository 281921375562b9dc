"""The record types of the kernel table: one :class:`KernelCase` per kernel (or variant), its
sample calls (:class:`Args`), its hostile calls (:class:`Hostile`) and how its results compare
with the twin's (:data:`EXACT` or :class:`Close`)."""
import dataclasses
from typing import Callable, Optional

import numpy as np

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
DTYPES = (F32, F64)


@dataclasses.dataclass(frozen=True)
class Exact:
    """The compiled kernel and its twin give the same bits (the same operations in the same
    order; NaN where the twin has NaN)."""

    def __str__(self):
        return "bit for bit"


EXACT = Exact()


@dataclasses.dataclass(frozen=True)
class Close:
    """Within ``eps * (rel * |want| + norm * scale)`` elementwise, eps of the dtype.

    ``rel`` covers a transcendental computed two ways (libm or a vector polynomial against
    NumPy's: a few ulp); ``norm`` covers sums in another order (GEMM blocking, row sums), whose
    error scales with a magnitude of the whole problem rather than with each element:
    ``scale(args)`` (the call's positional arguments), by default the largest ``|want|`` of
    that output.  NaN and infinities must sit where the twin has them."""
    rel: float = 0.0
    norm: float = 0.0
    scale: Optional[Callable] = None
    scale_text: str = "max|want|"

    def __str__(self):
        return "within eps*(%g*|want| + %g*%s)" % (self.rel, self.norm, self.scale_text)


@dataclasses.dataclass
class Args:
    """One call: positional and keyword arguments, and a label for messages."""
    label: str
    args: tuple
    kwargs: dict


def call(label, *args, **kwargs):
    """``call("label", x, w, out=o)``: the :class:`Args` of that call."""
    return Args(label, args, kwargs)


@dataclasses.dataclass
class Hostile:
    """A call that must raise ``exc`` with a message naming each of ``names`` (as a whole word)
    and containing each of ``words``.  ``xfail``: a known finding (the reason), expected to fail
    until the kernel is fixed."""
    label: str
    args: tuple
    kwargs: dict
    exc: type
    names: tuple
    words: tuple = ()
    xfail: Optional[str] = None


def bad(label, exc, names, *args, words=(), xfail=None, **kwargs):
    """``bad("label", ValueError, "x", x, w)``: the :class:`Hostile` call ``f(x, w)``, whose
    message must name ``x`` (a name or a tuple of names)."""
    names = (names,) if isinstance(names, str) else tuple(names)
    return Hostile(label, args, kwargs, exc, names, tuple(words), xfail)


@dataclasses.dataclass(frozen=True)
class KernelCase:
    """One row of the table: a kernel (or a variant of one) and everything the generic tests
    need to check it against its twin."""
    name: str                                  # the kernel's name in both modules
    samples: Callable                          # dtype -> [Args]
    hostile: Callable                          # () -> [Hostile]
    compare: dict                              # dtype -> EXACT or Close(...)
    big: Callable                              # dtype -> Args, large enough for 3 threads
    any_layout: bool = True
    updates: tuple = ()                        # positions of the arguments updated in place
    variant: str = ""                          # tells two entries of one kernel apart
    requires: tuple = ()                       # parameters the kernel must have (guarded)
    # (module, args, kwargs) -> result: the same call made another way with ``module``'s other
    # kernels (a multi-tensor kernel: the single-tensor one on each tensor); bit for bit
    equivalent: Optional[Callable] = None

    @property
    def id(self):
        return self.name + (":" + self.variant if self.variant else "")


def both(spec):
    """The same comparison for float32 and float64."""
    return {F32: spec, F64: spec}
