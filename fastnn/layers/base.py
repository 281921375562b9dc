"""The Layer base class and WeightedLayer, what Dense and Conv2D share."""

import numpy as np

from .. import _validate as _v
from .. import initializers as _init
from .. import regularizers as _reg
from ..parameter import Parameter
from ._common import (activation_backward, as_input, check_float_dtype, check_input_shape_arg,
                      check_name, check_seed, json_seed)

_NDARRAY = np.ndarray


class Layer:
    """Base class.  Subclasses set ``_prefix`` (the default-name stem) and implement
    ``forward``, ``backward``, ``output_shape`` and ``get_config``.

        class Square(Layer):
            def forward(self, x, training=False):
                self._cache = x
                return x * x
            def backward(self, dy, need_dx=True):
                x = self._kept()
                return 2 * x * dy if need_dx else None
    """

    _prefix = "layer"
    #: True while ``Sequential.fit``'s training step runs (``fastnn.layers.reuse``): forward and
    #: backward then write into this layer's arrays from the previous batch of the same shape
    _reuse = False
    #: (shape, dtype) of the last input that passed every check of ``forward`` (None: none yet)
    _input_sig = None
    #: the kept arrays, by (name, shape, dtype); None until the first reuse
    _buffers = None

    def __init__(self, name=None):
        self.name = check_name(name, self._prefix)
        self._cache = None                 # what forward keeps for backward

    # -- the contract
    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy, need_dx=True):
        """dL/dx from dL/dy (the module docstring); None when ``need_dx`` is False."""
        raise NotImplementedError

    def __call__(self, x, training=False):
        return self.forward(x, training=training)

    def parameters(self):
        """Trainable parameters, kernel before bias; [] for layers without weights."""
        return []

    def output_shape(self, input_shape):
        """Output shape (without batch) for an input of ``input_shape`` (without batch)."""
        return check_input_shape_arg(input_shape)

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def regularization_loss(self):
        """Sum of the regularizers' penalties on this layer's weights (0.0 without any)."""
        return 0.0

    def count_params(self):
        return int(sum(p.size for p in self.parameters()))

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def astype(self, dtype):
        """Cast parameters (value and grad) to ``dtype`` in place; the ``Parameter`` objects stay
        the same, so optimizers holding them remain valid.  Drops what forward kept."""
        self._cache = None
        self._drop_buffers()
        return self

    # -- helpers for subclasses
    def _input_seen(self, x):
        """Whether ``x`` is an exact ndarray of the (shape, dtype) that last passed every check
        of ``forward``: the checks depend on nothing else, so they need not run again."""
        sig = self._input_sig
        return (sig is not None and type(x) is _NDARRAY and x.dtype is sig[1]
                and x.shape == sig[0])

    def _remember_input(self, given, checked):
        """After a full check: remember the input's signature when the checks took it as it
        was (an exact ndarray, not converted); a converted input is checked every time."""
        self._input_sig = ((checked.shape, checked.dtype)
                           if checked is given and type(given) is _NDARRAY else None)

    def _buffer(self, name, shape, dtype):
        """This layer's array ``name`` of ``shape`` and ``dtype`` for a kernel's ``out=``, kept
        from the previous batch of that shape, while fit's training step runs (``_reuse``);
        None otherwise, so the kernel returns a fresh array nobody else writes.  Keyed by
        shape: a last, smaller batch gets its own arrays and the full-size ones stay."""
        if not self._reuse:
            return None
        pool = self._buffers
        if pool is None:
            pool = self._buffers = {}
        key = (name, shape, dtype)
        buf = pool.get(key)
        if buf is None:
            buf = pool[key] = np.empty(shape, dtype)
        return buf

    def _drop_buffers(self):
        """Forget the kept arrays and the input signature (after a change of dtype)."""
        self._buffers = None
        self._input_sig = None

    def _kept(self):
        if self._cache is None:
            raise RuntimeError("%s.backward called before forward (layer %r): backward uses "
                               "what the last forward pass kept" % (type(self).__name__, self.name))
        return self._cache

    def _dy_if_needed(self, dy, need_dx, y_shape, dtype):
        """``dy`` checked against the last forward output; None when ``need_dx`` is False (the
        backward of a layer without parameters then has nothing to compute)."""
        dy = self._check_dy(dy, y_shape, dtype)
        return dy if _v.check_bool(need_dx, "need_dx") else None

    @staticmethod
    def _check_dy(dy, y_shape, dtype):
        """``dy`` as an array of ``dtype`` and of the last forward output's shape: the array
        itself when it already is one (the cheap test a training step meets), else converted
        and checked."""
        if type(dy) is _NDARRAY and dy.dtype is dtype and dy.shape == y_shape:
            return dy
        dy = as_input(dy, "dy", dtype)
        if dy.shape != tuple(y_shape):
            raise ValueError("dy must have the shape of the last forward output %s, got %s"
                             % (tuple(y_shape), dy.shape))
        return dy

    def __repr__(self):
        try:
            cfg = self.get_config()
        except ValueError:
            # a custom initializer or regularizer has no config; repr must still work
            cfg = {}
        cfg.pop("name", None)
        return "%s(%s, name=%r)" % (type(self).__name__,
                                    ", ".join("%s=%r" % kv for kv in cfg.items()), self.name)


class WeightedLayer(Layer):
    """What Dense and Conv2D share: kernel + bias, initializers, regularizers, dtype, and one
    pass in both directions, with bias and activation treated alike:

        forward:   y = act(affine(x; W, b))        keeps (x, y), not z = affine(x)
        backward:  dz = activation_backward(dy, y)   (every activation's derivative from y)
                   dx, dW, db = the affine map's backward at dz   (dx skipped if not need_dx)
                   _write_grads(dW, db)             (overwrite, plus the regularizers)

    A subclass gives ``_check_x(x)`` (shape checks), ``_affine_activation(x) -> y`` and
    ``_affine_backward(dz, x, need_dx) -> (dx or None, dW, db)``.
    """

    def forward(self, x, training=False):
        if not self._input_seen(x):
            given = x
            x = as_input(x, "x", self.dtype)
            self._check_x(x)
            self._remember_input(given, x)
        y = self._affine_activation(x)
        self._cache = (x, y)
        return y

    def backward(self, dy, need_dx=True):
        """dx, and kernel.grad / bias.grad.  need_dx=False skips dx and returns None: a
        network's first layer never needs it (``Sequential.fit``)."""
        x, y = self._kept()
        dy = self._check_dy(dy, y.shape, self.dtype)
        need_dx = _v.check_bool(need_dx, "need_dx")
        dz = activation_backward(dy, y, self.activation,
                                 out=None if self.activation is None
                                 else self._buffer("dz", y.shape, y.dtype))
        dx, dw, db = self._affine_backward(dz, x, need_dx)
        self._write_grads(dw, db)
        return dx

    def _init_weights(self, kernel_shape, bias_shape, kernel_initializer, bias_initializer,
                      kernel_regularizer, bias_regularizer, seed, dtype):
        self.dtype = check_float_dtype(dtype)
        self.seed = check_seed(seed)
        self._kernel_init_id = kernel_initializer
        self._bias_init_id = bias_initializer
        kinit = self._resolve(_init.get, kernel_initializer, "kernel_initializer")
        binit = self._resolve(_init.get, bias_initializer, "bias_initializer")
        self.kernel_regularizer = self._resolve(_reg.get, kernel_regularizer,
                                               "kernel_regularizer")
        self.bias_regularizer = self._resolve(_reg.get, bias_regularizer,
                                             "bias_regularizer")
        # One Generator for both draws: with an int seed the layer reproduces, and a random
        # bias initializer does not repeat the kernel's numbers.
        rng = np.random.default_rng(self.seed) if not isinstance(self.seed, np.random.Generator) \
            else self.seed
        kernel = np.asarray(kinit(kernel_shape, seed=rng, dtype=self.dtype), dtype=self.dtype)
        bias = np.asarray(binit(bias_shape, seed=rng, dtype=self.dtype), dtype=self.dtype)
        for arr, name, shape in ((kernel, "kernel_initializer", kernel_shape),
                                 (bias, "bias_initializer", bias_shape)):
            if arr.shape != tuple(shape):
                raise ValueError("%s returned shape %s, expected %s" % (name, arr.shape, shape))
        self.kernel = Parameter(kernel, name=self.name + "/kernel")
        self.bias = Parameter(bias, name=self.name + "/bias")

    @staticmethod
    def _resolve(lookup, identifier, argname):
        """``lookup(identifier)`` (initializers.get or regularizers.get), its error naming the
        argument."""
        try:
            return lookup(identifier)
        except (ValueError, TypeError) as e:
            raise type(e)("%s: %s" % (argname, e)) from None

    def parameters(self):
        return [self.kernel, self.bias]

    def regularization_loss(self):
        total = 0.0
        if self.kernel_regularizer is not None:
            total += float(self.kernel_regularizer(self.kernel.value))
        if self.bias_regularizer is not None:
            total += float(self.bias_regularizer(self.bias.value))
        return total

    @staticmethod
    def _grad_out(p):
        """``p.grad`` when a kernel can write the gradient straight into it (``out=``: an exact
        C-contiguous, writeable ndarray of the value's shape and dtype), else None."""
        g = p.grad
        if (type(g) is _NDARRAY and g.dtype is p.value.dtype and g.shape == p.value.shape
                and g.flags.c_contiguous and g.flags.writeable):
            return g
        return None

    def _write_grads(self, dw, db):
        """Overwrite the grads (in place: the grad arrays keep their identity; a subclass's
        backward may have written them there already) and add the regularizers' gradients."""
        if dw is not self.kernel.grad:
            self.kernel.grad[...] = dw
        if db is not self.bias.grad:
            self.bias.grad[...] = db
        if self.kernel_regularizer is not None:
            self.kernel.grad += self.kernel_regularizer.gradient(self.kernel.value)
        if self.bias_regularizer is not None:
            self.bias.grad += self.bias_regularizer.gradient(self.bias.value)

    def astype(self, dtype):
        dtype = check_float_dtype(dtype)
        for p in self.parameters():
            p.value = np.ascontiguousarray(p.value.astype(dtype))
            p.grad = np.zeros_like(p.value)
        self.dtype = dtype
        self._cache = None
        self._drop_buffers()
        return self

    def _weights_config(self):
        return {
            "kernel_initializer": _init.serialize(self._kernel_init_id),
            "bias_initializer": _init.serialize(self._bias_init_id),
            "kernel_regularizer": _reg.serialize(self.kernel_regularizer),
            "bias_regularizer": _reg.serialize(self.bias_regularizer),
            "seed": json_seed(self.seed),
            "dtype": self.dtype.name,
        }
