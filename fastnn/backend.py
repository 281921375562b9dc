"""Which kernel set the layers call: the compiled ``fastnn.kernels`` (default) or the NumPy twins
``fastnn.reference``.  Both have the same names and signatures, so a whole model can run on the
readable twins (for teaching, for tests, and as the NumPy baseline in ``bench/``).

    with fastnn.backend.use("reference"):
        model.fit(...)
    backend.K().matmul(a, b)          # the active kernel set's matmul
"""
import contextlib

from . import kernels, reference

_BACKENDS = ("compiled", "reference")
_current = "compiled"


def get_backend():
    """Name of the active backend: 'compiled' or 'reference'."""
    return _current


def set_backend(name):
    global _current
    if name not in _BACKENDS:
        raise ValueError("backend must be one of %s, got %r" % (_BACKENDS, name))
    _current = name


@contextlib.contextmanager
def use(name):
    """Run a block on one backend, restoring the previous one afterwards."""
    saved = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(saved)


def K():
    """The active kernel module (``fastnn.kernels`` or ``fastnn.reference``)."""
    return kernels if _current == "compiled" else reference
