"""Dropout, with its counter-based mask generator."""

import numpy as np

from .. import _validate as _v
from ..backend import K
from ._common import as_batch_input
from .base import Layer


_UINT64_SPAN = 2 ** 64
_BOOL = np.dtype(np.bool_)


def _dropout_key(seed):
    """Dropout's generator key: the int seed itself, or 64 bits drawn from a Generator, or
    fresh OS entropy for None."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, _UINT64_SPAN, dtype=np.uint64))
    try:
        return _v.check_int(seed, "seed", min=0, max=_UINT64_SPAN - 1)
    except TypeError:
        raise TypeError("seed must be an int in [0, 2**64), a numpy.random.Generator or None, "
                        "got %r (%s)" % (seed, type(seed).__name__)) from None


class Dropout(Layer):
    """Inverted dropout: with ``training=True`` each element is zeroed with probability
    ``rate`` and the survivors are scaled by 1 / (1 - rate), so E[y] = x and evaluation
    (``training=False``) is the identity.

    Shapes: x, y, mask all equal.  Forward keeps the boolean keep-mask (True = kept), drawn by
    the kernel in the same pass as the scaling (``dropout_forward_rng``) from a counter-based
    generator: the layer's state is ``seed`` (the generator's 64-bit key: the int given, 64
    bits drawn from a given ``numpy.random.Generator``, or fresh entropy for None) and
    ``counter`` (the index of the next draw; a forward pass of n elements consumes
    (n + 1) // 2 draws).  The mask of element i depends only on (seed, counter, i): the same
    seed gives the same masks at any thread count, on either backend.  Both numbers are in
    ``get_config()``, so a checkpoint resumes the stream exactly.  Backward:
    dx = dy * mask / (1 - rate).  ``forward(x, training=True, mask=m)`` uses the given keep-mask
    instead of drawing one (gradient checks, tests) and leaves the counter alone.  rate = 0, or
    training=False, passes x through unchanged and draws nothing.

        layer = Dropout(0.2, seed=7)
        y = layer.forward(x, training=True)       # layer.counter advanced by (x.size + 1) // 2
    """

    _prefix = "dropout"

    def __init__(self, rate, seed=None, name=None):
        self.rate = _v.check_scalar(rate, "rate", min=0.0, max=1.0, max_inclusive=False)
        self.seed = _dropout_key(seed)
        self.counter = 0
        super().__init__(name)

    @property
    def rng(self):
        """None: the masks come from (seed, counter).  Setting a ``numpy.random.Generator``
        (what checkpoints written before the counter-based generator restore) re-keys the layer
        from it: seed = 64 bits drawn from it, counter = 0."""
        return None

    @rng.setter
    def rng(self, generator):
        if not isinstance(generator, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator, got %s"
                            % type(generator).__name__)
        self.seed = _dropout_key(generator)
        self.counter = 0

    def forward(self, x, training=False, mask=None):
        if not self._input_seen(x):
            given = x
            x = as_batch_input(x)
            self._remember_input(given, x)
        if not training or (self.rate == 0.0 and mask is None):
            self._cache = (None, x.shape, x.dtype)
            return x
        if mask is None:
            y, mask = K().dropout_forward_rng(x, self.rate, self.seed, self.counter,
                                              out=self._buffer("y", x.shape, x.dtype),
                                              mask_out=self._buffer("mask", x.shape, _BOOL))
            self.counter += (x.size + 1) // 2
        else:
            if not isinstance(mask, np.ndarray) or mask.dtype.kind not in "bu":
                raise TypeError("mask must be a bool or uint8 numpy.ndarray, got %r"
                                % (getattr(mask, "dtype", type(mask).__name__),))
            if mask.shape != x.shape:
                raise ValueError("mask must have x's shape %s, got %s" % (x.shape, mask.shape))
            y = K().dropout_forward(x, mask, self.rate, out=self._buffer("y", x.shape, x.dtype))
        self._cache = (mask, x.shape, x.dtype)
        return y

    def backward(self, dy, need_dx=True):
        mask, x_shape, dtype = self._kept()
        dy = self._dy_if_needed(dy, need_dx, x_shape, dtype)
        if dy is None:
            return None
        if mask is None:
            return dy
        return K().dropout_backward(dy, mask, self.rate,
                                    out=self._buffer("dx", x_shape, dtype))

    def get_config(self):
        return {"name": self.name, "rate": self.rate, "seed": self.seed, "counter": self.counter}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        counter = _v.check_int(config.pop("counter", 0), "counter", min=0,
                               max=_UINT64_SPAN - 1)
        layer = cls(**config)
        layer.counter = counter
        return layer
