"""The kernel table: every public kernel of ``fastnn.kernels`` and its twin in ``fastnn.reference``,
described once (torch's OpInfo idea).  ``tests/test_kernels.py`` derives its tests from it:
twin parity at every SIMD level, memory layouts, out=, 1/2/3-thread determinism, error naming
and the child-process crash check.

One entry (:class:`KernelCase`) per kernel, or per variant of a kernel, lists

* ``samples(dtype)``: argument sets over random but seeded shapes (batch 1, odd sizes,
  non-square kernels, stride > 1, padding > 0, pooling ties, out= and in place);
* ``hostile()``: argument sets that must raise, each with the exception type and the argument
  names its message must contain (:class:`Hostile`); a known finding is marked ``xfail``;
* ``compare``: per dtype, :data:`EXACT` (the twin must match bit for bit) or a :class:`Close`
  tolerance; in-place kernels (``updates``) compare every array they update;
* ``any_layout``: whether the kernel takes inputs in any memory layout (C, F, sliced,
  reversed, read-only);
* ``big(dtype)``: one argument set large enough that the kernel splits its work over 3 threads;
* ``equivalent`` (optional): the same call made another way with the module's other kernels (a
  multi-tensor optimizer kernel: the single-tensor one on each tensor), which must give the same
  bits.

``updates`` may name arguments that are lists of arrays (the multi-tensor kernels): each entry is
compared.

The entries live by family, beside the inputs they need: ``gemm.py``, ``conv.py``, ``pool.py``,
``activations.py``, ``optim.py``, ``optim_multi.py``, ``rows.py`` (shared builders in
``inputs.py``, the record types in ``records.py``).  Adding a kernel is one entry in its family's
``CASES``.  An entry with ``requires`` names parameters that may not exist yet: its tests are
skipped until both implementations have the kernel with those parameters (see :func:`missing`).

The package builds data only (no pytest), so a child process can import it to run every hostile
input through the compiled kernels (see ``test_kernels.test_hostile_inputs_never_crash``).
"""
import inspect

from fastnn import kernels, reference

from . import activations, conv, gemm, optim, optim_multi, pool, rows
# the record types, for the test module
from .records import (DTYPES, EXACT, F32, F64, Args, Close, Exact, Hostile,  # noqa: F401
                      KernelCase)

CASES = (gemm.CASES + conv.CASES + pool.CASES + activations.CASES + optim.CASES
         + optim_multi.CASES + rows.CASES)


def missing(case):
    """Why ``case`` cannot run yet (its kernel, or a parameter it ``requires``, is absent from
    fastnn.kernels or fastnn.reference), or None when it can."""
    for mod in (kernels, reference):
        f = getattr(mod, case.name, None)
        if f is None:
            return "%s.%s does not exist yet" % (mod.__name__, case.name)
        params = inspect.signature(f).parameters
        for p in case.requires:
            if p not in params:
                return "%s.%s has no parameter %r yet" % (mod.__name__, case.name, p)
    return None


def hostile_calls(module):
    """Every hostile input of every entry that can run, as ``(label, fn, exc, xfail)`` with
    ``fn()`` the call into ``module`` (fastnn.kernels or fastnn.reference)."""
    out = []
    for case in CASES:
        if missing(case):
            continue
        f = getattr(module, case.name)
        for h in case.hostile():
            out.append(("%s: %s" % (case.id, h.label),
                        lambda f=f, h=h: f(*h.args, **h.kwargs), h.exc, h.xfail))
    return out
