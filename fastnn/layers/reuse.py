"""Buffer reuse in ``Sequential.fit``'s training step: when a layer may write into the arrays of
the previous batch, and when it may not.

The rule.  A layer's ``forward`` and ``backward`` return fresh arrays, which no later call
overwrites: a user keeps them.  Only inside fit's training step (forward, loss, backward and the
optimizer's step of one mini-batch, with no callback in between) does ``fit`` switch the model's
layers to reuse: each then writes its forward output, dropout mask and backward gradients into
arrays it kept from the previous batch of the same shape (a last, smaller batch gets arrays of
its own, kept too).  What the step produces is consumed within the step (the next layer's input,
what a layer keeps for its backward, the loss, the accuracy count), so nothing a caller holds is
overwritten.  Outside the step -- ``forward``, ``predict``, ``evaluate``, validation, and any
callback, including those that run a forward pass during fit (``LayerStatistics``) -- the layers
allocate as before.  The gradients of the parameters are written in place either way (their
arrays keep their identity: optimizers hold them).

    with BufferReuse(model.layers):            # what fit does around each batch's step
        out = model.forward(xb, training=True)
        ...
"""
from .base import Layer

__all__ = ["BufferReuse"]


class BufferReuse:
    """Context manager: the ``fastnn.layers.Layer`` objects among ``layers`` reuse their arrays
    inside the block (other objects are left alone).  ``enabled=False`` does nothing (fit's
    private switch for tests: the same step without reuse must give the same bits)."""

    __slots__ = ("_layers",)

    def __init__(self, layers, enabled=True):
        self._layers = [layer for layer in layers if isinstance(layer, Layer)] if enabled else []

    def __enter__(self):
        for layer in self._layers:
            layer._reuse = True
        return self

    def __exit__(self, *exc):
        for layer in self._layers:
            layer._reuse = False
        return False
