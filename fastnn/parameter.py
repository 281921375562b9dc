"""``Parameter``: a trainable array and its gradient.

    w = Parameter(np.zeros((3, 2), np.float32), name="dense/kernel")   # grad: zeros
    w.grad[...] = 1.0                  # what a layer's backward writes
    w.value -= 0.1 * w.grad            # what an optimizer's step does, in place
"""
import numpy as np


class Parameter:
    """A trainable array ``value`` with its gradient ``grad``.

    ``grad`` has the same shape and dtype as ``value`` and stays zero until a backward pass
    fills it.  Layers write gradients into ``grad`` in place (``+=`` for shared weights is not
    used: each backward overwrites), optimizers update ``value`` in place, so references held
    elsewhere (an optimizer's list, a checkpoint) stay valid.
    """

    __slots__ = ("value", "grad", "name")

    def __init__(self, value, name=None):
        value = np.array(value, copy=True)
        if value.dtype not in (np.float32, np.float64):
            if np.issubdtype(value.dtype, np.number) and not np.iscomplexobj(value):
                value = value.astype(np.float32)
            else:
                raise TypeError("Parameter value must be real numbers, got dtype %s" % value.dtype)
        self.value = np.ascontiguousarray(value)
        self.grad = np.zeros_like(self.value)
        self.name = name

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def size(self):
        return self.value.size

    def zero_grad(self):
        self.grad[...] = 0

    def __repr__(self):
        return "Parameter(name=%r, shape=%s, dtype=%s)" % (self.name, self.value.shape,
                                                           self.value.dtype)
