"""Layers with explicit forward and backward passes (CS231n style, no autograd tape).

    layer = Dense(784, 10, activation="relu", seed=0)
    y = layer.forward(x, training=True)      # (N, 10); keeps x and y for backward
    dx = layer.backward(dy)                  # dL/dx; fills layer.kernel.grad, layer.bias.grad
    layer.backward(dy, need_dx=False)        # the grads only (None): a network's first layer

Every layer has

* ``forward(x, training=False) -> y`` which keeps what ``backward`` will need,
* ``backward(dy, need_dx=True) -> dx`` which applies the chain rule to the kept arrays: given
  dL/dy it returns dL/dx and *overwrites* each parameter's ``grad`` with dL/dparameter (plus the
  regularizer's gradient, when the layer has one).  ``need_dx=False`` says the caller does not
  want dx (the first layer of a network, ``Sequential.backward(..., need_dx=False)``): the
  parameters' grads are filled all the same, dx is not computed and None is returned,
* ``parameters()`` -> list of ``fastnn.Parameter`` in a fixed order (kernel, then bias),
* ``output_shape(input_shape)`` (shapes without the batch dimension), ``get_config()``
  (JSON-serialisable constructor arguments), ``regularization_loss()`` -> float,
  ``astype(dtype)`` (float32 <-> float64, in place) and ``count_params()``.

The arithmetic runs through ``fastnn.backend.K()``: the compiled kernels by default, their NumPy
twins inside ``with fastnn.backend.use("reference"):``.

Names.  Each layer gets a unique ``name`` Keras style (``dense``, ``dense_1``, ``conv2d``, ...)
unless one is given; its parameters are named ``"<layer name>/kernel"`` and
``"<layer name>/bias"``.

Dtypes.  Layers with parameters compute in their ``dtype`` (float32 by default; float64 for
gradient checks via ``dtype=np.float64`` or ``layer.astype(np.float64)``); an input of another
real dtype (float64, uint8 images, ...) is cast to the layer's dtype first, as Keras does.
Layers without parameters compute in the input's dtype when it is float32 or float64 and cast any
other real dtype to float32.  Boolean, complex or object inputs raise TypeError.

Arrays returned by ``forward`` are kept by reference for ``backward``: do not modify them in
place between the two calls.

Serialisation: ``serialize(layer)`` -> ``{"class_name": "Dense", "config": {...}}`` and
``deserialize(d)`` -> a new layer with freshly initialised parameters (weights travel separately,
in ``parameters()`` order).
"""
import collections
import numbers

import numpy as np

from . import initializers as _init
from . import regularizers as _reg
from . import _validate as _v
from .backend import K
from .parameter import Parameter

__all__ = ["Layer", "Dense", "Conv2D", "MaxPool2D", "Flatten", "Dropout", "ReLU", "Sigmoid",
           "Tanh", "ELU", "Softmax", "serialize", "deserialize", "get"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_name_counts = collections.defaultdict(int)


# --------------------------------------------------------------------------- helpers
def _unique_name(prefix):
    """Keras-style: the first layer of a kind is 'dense', then 'dense_1', 'dense_2', ..."""
    n = _name_counts[prefix]
    _name_counts[prefix] += 1
    return prefix if n == 0 else "%s_%d" % (prefix, n)


def _check_name(name, prefix):
    if name is None:
        return _unique_name(prefix)
    if not isinstance(name, str) or not name:
        raise TypeError("name must be a non-empty string or None, got %r" % (name,))
    return name


def _check_float_dtype(dtype, name="dtype"):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError("%s must be float32 or float64, got %r" % (name, dtype)) from None
    if dt not in _FLOATS:
        raise TypeError("%s must be float32 or float64, got %s" % (name, dt))
    return dt


def _check_activation(activation):
    if activation == "linear":
        return None
    try:
        return _v.check_activation(activation)
    except ValueError as e:
        raise ValueError("%s (or 'linear'; for a softmax output, keep the logits and use "
                         "SoftmaxCrossEntropy, or add a Softmax() layer)" % e) from None


def _check_seed(seed):
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    try:
        return _v.check_int(seed, "seed", min=0)
    except TypeError:
        raise TypeError("seed must be a non-negative int, a numpy.random.Generator or None, "
                        "got %r (%s)" % (seed, type(seed).__name__)) from None


def _json_seed(seed):
    # A Generator has no JSON form: the config records None (a reloaded layer gets its
    # weights from the checkpoint, so only the initial draw would differ).
    return seed if isinstance(seed, int) else None


def _as_input(x, name="x", dtype=None):
    """x as an ndarray of ``dtype`` (or of its own float dtype, ints -> float32 when None)."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)) or np.isscalar(x):
            x = np.asarray(x)
        else:
            raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(x).__name__))
    if x.dtype.kind not in "fiu":
        raise TypeError("%s must hold real numbers (float or int), got dtype %s" % (name, x.dtype))
    if dtype is None:
        dtype = x.dtype if x.dtype in _FLOATS else np.dtype(np.float32)
    if x.dtype != dtype:
        x = x.astype(dtype)
    return x


def _shape_str(shape):
    parts = ["N" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _check_input_shape(x, expected, name="x"):
    """expected: tuple with None for 'any' (including the batch).  Batch must be >= 1."""
    ok = x.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, x.shape))
    if not ok:
        raise ValueError("%s must have shape %s, got %s" % (name, _shape_str(expected), x.shape))
    if x.shape[0] == 0:
        raise ValueError("%s must have a non-empty batch, got shape %s" % (name, x.shape))


def _check_input_shape_arg(input_shape):
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError("input_shape must be a tuple of ints (without the batch dimension), "
                        "got %r" % (input_shape,))
    return tuple(input_shape)


def _activation_backward(dy, y, activation, alpha=1.0):
    """dL/dz from dL/dy and the activation's OUTPUT y = act(z) (z itself is not kept):

        relu:    dz = dy * [y > 0]              (y > 0 exactly where z > 0)
        sigmoid: dz = dy * y * (1 - y)
        tanh:    dz = dy * (1 - y^2)
        elu:     dz = dy                 where y > 0
                 dz = dy * (y + alpha)   elsewhere (d/dz alpha*(e^z - 1) = alpha*e^z = y + alpha)
    """
    if activation is None:
        return dy
    k = K()
    if activation == "relu":
        # relu_backward masks on its second argument > 0; y > 0 iff z > 0, so y can stand in
        return k.relu_backward(dy, y)
    if activation == "sigmoid":
        return k.sigmoid_backward(dy, y)
    if activation == "tanh":
        return k.tanh_backward(dy, y)
    # elu: from y (elu_backward would want z)
    return k.elu_backward_from_output(dy, y, alpha)


# --------------------------------------------------------------------------- base class
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

    def __init__(self, name=None):
        self.name = _check_name(name, self._prefix)
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
        return _check_input_shape_arg(input_shape)

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
        return self

    # -- helpers for subclasses
    def _kept(self):
        if self._cache is None:
            raise RuntimeError("%s.backward called before forward (layer %r): backward uses "
                               "what the last forward pass kept" % (type(self).__name__, self.name))
        return self._cache

    @staticmethod
    def _check_dy(dy, y_shape, dtype):
        dy = _as_input(dy, "dy", dtype)
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


class _WeightedLayer(Layer):
    """What Dense and Conv2D share: kernel + bias, initializers, regularizers, dtype, and one
    pass in both directions, with bias and activation treated alike:

        forward:   y = act(affine(x; W, b))        keeps (x, y), not z = affine(x)
        backward:  dz = _activation_backward(dy, y)   (every activation's derivative from y)
                   dx, dW, db = the affine map's backward at dz   (dx skipped if not need_dx)
                   _write_grads(dW, db)             (overwrite, plus the regularizers)

    A subclass gives ``_check_x(x)`` (shape checks), ``_affine_activation(x) -> y`` and
    ``_affine_backward(dz, x, need_dx) -> (dx or None, dW, db)``.
    """

    def forward(self, x, training=False):
        x = _as_input(x, "x", self.dtype)
        self._check_x(x)
        y = self._affine_activation(x)
        self._cache = (x, y)
        return y

    def backward(self, dy, need_dx=True):
        """dx, and kernel.grad / bias.grad.  need_dx=False skips dx and returns None: a
        network's first layer never needs it (``Sequential.fit``)."""
        x, y = self._kept()
        dy = self._check_dy(dy, y.shape, self.dtype)
        need_dx = _v.check_bool(need_dx, "need_dx")
        dz = _activation_backward(dy, y, self.activation)
        dx, dw, db = self._affine_backward(dz, x, need_dx)
        self._write_grads(dw, db)
        return dx

    def _init_weights(self, kernel_shape, bias_shape, kernel_initializer, bias_initializer,
                      kernel_regularizer, bias_regularizer, seed, dtype):
        self.dtype = _check_float_dtype(dtype)
        self.seed = _check_seed(seed)
        self._kernel_init_id = kernel_initializer
        self._bias_init_id = bias_initializer
        kinit = self._resolve_init(kernel_initializer, "kernel_initializer")
        binit = self._resolve_init(bias_initializer, "bias_initializer")
        self.kernel_regularizer = self._resolve_reg(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = self._resolve_reg(bias_regularizer, "bias_regularizer")
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
    def _resolve_init(identifier, argname):
        try:
            return _init.get(identifier)
        except (ValueError, TypeError) as e:
            raise type(e)("%s: %s" % (argname, e)) from None

    @staticmethod
    def _resolve_reg(identifier, argname):
        try:
            return _reg.get(identifier)
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

    def _write_grads(self, dw, db):
        """Overwrite the grads (in place: the grad arrays keep their identity) and add the
        regularizers' gradients."""
        self.kernel.grad[...] = dw
        self.bias.grad[...] = db
        if self.kernel_regularizer is not None:
            self.kernel.grad += self.kernel_regularizer.gradient(self.kernel.value)
        if self.bias_regularizer is not None:
            self.bias.grad += self.bias_regularizer.gradient(self.bias.value)

    def astype(self, dtype):
        dtype = _check_float_dtype(dtype)
        for p in self.parameters():
            p.value = np.ascontiguousarray(p.value.astype(dtype))
            p.grad = np.zeros_like(p.value)
        self.dtype = dtype
        self._cache = None
        return self

    def _weights_config(self):
        return {
            "kernel_initializer": _init.serialize(self._kernel_init_id),
            "bias_initializer": _init.serialize(self._bias_init_id),
            "kernel_regularizer": _reg.serialize(self.kernel_regularizer),
            "bias_regularizer": _reg.serialize(self.bias_regularizer),
            "seed": _json_seed(self.seed),
            "dtype": self.dtype.name,
        }


# --------------------------------------------------------------------------- Dense
class Dense(_WeightedLayer):
    """Fully connected layer: ``y = act(x @ W + b)``.

    Shapes: x (N, in_features); W = ``kernel`` (in_features, out_features); b = ``bias``
    (out_features,); y (N, out_features).

    Forward is one fused kernel call, ``matmul_bias(x, W, b, activation)``.  It keeps x and y
    (not z = x @ W + b: every supported activation's derivative can be written from y, see
    ``_activation_backward``).

    Backward, with dz = dL/dz (N, out) computed from dy and y:

        dW = x^T @ dz       (in, out)   matmul(x, dz, trans_a=True)
        db = sum_n dz[n]    (out,)
        dx = dz @ W^T       (N, in)     matmul(dz, W, trans_b=True)

    activation: None (or 'linear'), 'relu', 'sigmoid', 'tanh', 'elu' (alpha = 1).
    """

    _prefix = "dense"

    def __init__(self, in_features, out_features, activation=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, seed=None, dtype=np.float32,
                 name=None):
        self.in_features = _v.check_int(in_features, "in_features", min=1)
        self.out_features = _v.check_int(out_features, "out_features", min=1)
        self.activation = _check_activation(activation)
        super().__init__(name)
        self._init_weights((self.in_features, self.out_features), (self.out_features,),
                           kernel_initializer, bias_initializer, kernel_regularizer,
                           bias_regularizer, seed, dtype)

    def _check_x(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            hint = ""
            if x.ndim > 2 and int(np.prod(x.shape[1:])) == self.in_features:
                hint = ("; flatten each sample first: a Flatten() layer before this one, "
                        "x.reshape(len(x), -1) or preprocess_images(images, flatten=True)")
            raise ValueError("x must have shape (N, %d) (in_features=%d of %s), got %s%s"
                             % (self.in_features, self.in_features, self.name, x.shape, hint))
        _check_input_shape(x, (None, self.in_features))

    def _affine_activation(self, x):
        return K().matmul_bias(x, self.kernel.value, self.bias.value, activation=self.activation)

    def _affine_backward(self, dz, x, need_dx):
        k = K()
        dw = k.matmul(x, dz, trans_a=True)
        db = dz.sum(axis=0)
        dx = k.matmul(dz, self.kernel.value, trans_b=True) if need_dx else None
        return dx, dw, db

    def output_shape(self, input_shape):
        input_shape = _check_input_shape_arg(input_shape)
        if input_shape != (self.in_features,):
            raise ValueError("input_shape must be (%d,) for %s (in_features=%d), got %s"
                             % (self.in_features, self.name, self.in_features, input_shape))
        return (self.out_features,)

    def get_config(self):
        return {"name": self.name, "in_features": self.in_features,
                "out_features": self.out_features, "activation": self.activation,
                **self._weights_config()}


# --------------------------------------------------------------------------- Conv2D
class Conv2D(_WeightedLayer):
    """2-D convolution (cross-correlation, as torch.nn.Conv2d), then an optional activation.

    Shapes: x (N, in_channels, H, W); W = ``kernel`` (out_channels, in_channels, kh, kw) (torch
    layout); b = ``bias`` (out_channels,); y (N, out_channels, OH, OW) with
    OH = (H + 2*ph - kh) // sh + 1 and likewise OW.

    Forward: y = act(conv2d(x, W) + b), one conv2d_forward call with the bias and activation
    fused into its GEMM (as Dense's matmul_bias).  It keeps x and y.
    Backward: dz from dy and y (as Dense), then ``conv2d_backward(dz, x, W, stride, padding)``
    -> (dx, dW, db) (im2col / GEMM / col2im; see fastnn/reference/conv.py).

    kernel_size, stride, padding: int or (h, w) pair.  Fans for the initializers:
    fan_in = in_channels*kh*kw, fan_out = out_channels*kh*kw.
    """

    _prefix = "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 activation=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, seed=None, dtype=np.float32,
                 name=None):
        self.in_channels = _v.check_int(in_channels, "in_channels", min=1)
        self.out_channels = _v.check_int(out_channels, "out_channels", min=1)
        self.kernel_size = _v.check_pair(kernel_size, "kernel_size", min=1)
        self.stride = _v.check_pair(stride, "stride", min=1)
        self.padding = _v.check_pair(padding, "padding", min=0)
        self.activation = _check_activation(activation)
        super().__init__(name)
        self._init_weights((self.out_channels, self.in_channels) + self.kernel_size,
                           (self.out_channels,), kernel_initializer, bias_initializer,
                           kernel_regularizer, bias_regularizer, seed, dtype)

    def _out_hw(self, h, w, name):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise ValueError("%s's spatial size (H, W) = (%d, %d) plus padding %s is smaller than "
                             "kernel_size %s" % (name, h, w, self.padding, self.kernel_size))
        return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def _check_x(self, x):
        c = self.in_channels
        if x.ndim != 4:
            hint = ""
            if x.ndim == 3 and c == 1:
                hint = ("; images of shape (N, H, W) need a channel axis: x[:, None] (or "
                        "fastnn.data.preprocess_images(images), which gives (N, 1, H, W))")
            elif x.ndim == 3 and x.shape[0] == c:
                hint = "; one image of shape (C, H, W) needs a batch axis: x[None]"
            elif x.ndim == 3:
                hint = ("; images of shape (N, H, W) need a channel axis: x[:, None] gives "
                        "(N, 1, H, W), for a layer with in_channels=1")
            raise ValueError("x must be 4-D (N, C, H, W) with C = in_channels = %d (%s), got "
                             "shape %s%s" % (c, self.name, x.shape, hint))
        if x.shape[1] != c:
            hint = ""
            if x.shape[3] == c:
                hint = "; fastnn is channels-first (NCHW): x.transpose(0, 3, 1, 2)"
            raise ValueError("x must have in_channels = %d channel%s on axis 1 of (N, C, H, W) "
                             "(%s), got %d channel%s: shape %s%s"
                             % (c, "" if c == 1 else "s", self.name, x.shape[1],
                                "" if x.shape[1] == 1 else "s", x.shape, hint))
        _check_input_shape(x, (None, c, None, None))
        self._out_hw(x.shape[2], x.shape[3], "x")

    def _affine_activation(self, x):
        # bias and activation fused into the convolution's GEMM epilogue, as Dense does
        return K().conv2d_forward(x, self.kernel.value, self.bias.value, self.stride,
                                  self.padding, activation=self.activation)

    def _affine_backward(self, dz, x, need_dx):
        # need_dx=False skips a GEMM and a col2im
        return K().conv2d_backward(dz, x, self.kernel.value, self.stride, self.padding,
                                   need_dx=need_dx)

    def output_shape(self, input_shape):
        input_shape = _check_input_shape_arg(input_shape)
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise ValueError("input_shape must be (%d, H, W) for %s (in_channels=%d), got %s"
                             % (self.in_channels, self.name, self.in_channels, input_shape))
        oh, ow = self._out_hw(input_shape[1], input_shape[2], "input_shape")
        return (self.out_channels, oh, ow)

    def get_config(self):
        return {"name": self.name, "in_channels": self.in_channels,
                "out_channels": self.out_channels, "kernel_size": list(self.kernel_size),
                "stride": list(self.stride), "padding": list(self.padding),
                "activation": self.activation, **self._weights_config()}


# --------------------------------------------------------------------------- MaxPool2D
class MaxPool2D(Layer):
    """Max pooling without padding, as torch.nn.MaxPool2d (floor mode).

    Shapes: x (N, C, H, W) -> y (N, C, OH, OW), OH = (H - ph) // sh + 1 (likewise OW).
    stride defaults to pool_size.  Forward keeps argmax (N, C, OH, OW), the flat index h*W + w
    of each window's maximum, and x's shape; backward sends each dy value to that position
    (summing where windows overlap) and gives 0 elsewhere.  Among tied maxima the first in
    row-major order takes the whole gradient.
    """

    _prefix = "max_pooling2d"

    def __init__(self, pool_size=2, stride=None, name=None):
        self.pool_size = _v.check_pair(pool_size, "pool_size", min=1)
        self.stride = self.pool_size if stride is None else _v.check_pair(stride, "stride", min=1)
        self._stride_arg = None if stride is None else self.stride
        super().__init__(name)

    def forward(self, x, training=False):
        x = _as_input(x, "x")
        _check_input_shape(x, (None, None, None, None))
        ph, pw = self.pool_size
        if x.shape[2] < ph or x.shape[3] < pw:
            raise ValueError("x's spatial size (H, W) = %s must be at least pool_size %s"
                             % (x.shape[2:], self.pool_size))
        y, argmax = K().maxpool2d_forward(x, self.pool_size, self.stride)
        self._cache = (argmax, x.shape, y.shape, x.dtype)
        return y

    def backward(self, dy, need_dx=True):
        argmax, x_shape, y_shape, dtype = self._kept()
        dy = self._check_dy(dy, y_shape, dtype)
        if not _v.check_bool(need_dx, "need_dx"):
            return None
        return K().maxpool2d_backward(dy, argmax, x_shape)

    def output_shape(self, input_shape):
        input_shape = _check_input_shape_arg(input_shape)
        (ph, pw), (sh, sw) = self.pool_size, self.stride
        if len(input_shape) != 3 or input_shape[1] < ph or input_shape[2] < pw:
            raise ValueError("input_shape must be (C, H, W) with H >= %d and W >= %d, got %s"
                             % (ph, pw, input_shape))
        c, h, w = input_shape
        return (c, (h - ph) // sh + 1, (w - pw) // sw + 1)

    def get_config(self):
        return {"name": self.name, "pool_size": list(self.pool_size),
                "stride": None if self._stride_arg is None else list(self._stride_arg)}


# --------------------------------------------------------------------------- Flatten
class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), row-major (so NCHW flattens channel-major, as torch).
    Keeps x's shape; backward reshapes dy back to it.  A (N,) input becomes (N, 1)."""

    _prefix = "flatten"

    def __init__(self, name=None):
        super().__init__(name)

    def forward(self, x, training=False):
        x = _as_input(x, "x")
        if x.ndim < 1 or x.shape[0] == 0:
            raise ValueError("x must have a non-empty batch dimension, got shape %s" % (x.shape,))
        y = x.reshape(x.shape[0], -1)
        self._cache = (x.shape, y.shape, x.dtype)
        return y

    def backward(self, dy, need_dx=True):
        x_shape, y_shape, dtype = self._kept()
        dy = self._check_dy(dy, y_shape, dtype)
        if not _v.check_bool(need_dx, "need_dx"):
            return None
        return dy.reshape(x_shape)

    def output_shape(self, input_shape):
        return (int(np.prod(_check_input_shape_arg(input_shape))),)


# --------------------------------------------------------------------------- Dropout
class Dropout(Layer):
    """Inverted dropout: with ``training=True`` each element is zeroed with probability
    ``rate`` and the survivors are scaled by 1 / (1 - rate), so E[y] = x and evaluation
    (``training=False``) is the identity.

    Shapes: x, y, mask all equal.  Forward keeps the boolean keep-mask (True = kept), drawn as
    ``rng.random(x.shape) >= rate`` from ``rng``, a ``numpy.random.Generator`` seeded by
    ``seed`` (an int or a Generator), so a seeded run reproduces (checkpoints save and restore
    its state).  Backward: dx = dy * mask / (1 - rate).
    ``forward(x, training=True, mask=m)`` uses the given keep-mask instead of drawing one
    (gradient checks, tests).  rate = 0, or training=False, passes x through unchanged and
    draws nothing.
    """

    _prefix = "dropout"

    def __init__(self, rate, seed=None, name=None):
        self.rate = _v.check_scalar(rate, "rate", min=0.0, max=1.0, max_inclusive=False)
        self.seed = _check_seed(seed)
        self.rng = self.seed if isinstance(self.seed, np.random.Generator) \
            else np.random.default_rng(self.seed)
        super().__init__(name)

    def forward(self, x, training=False, mask=None):
        x = _as_input(x, "x")
        if x.ndim < 1 or x.shape[0] == 0:
            raise ValueError("x must have a non-empty batch dimension, got shape %s" % (x.shape,))
        if not training or (self.rate == 0.0 and mask is None):
            self._cache = (None, x.shape, x.dtype)
            return x
        if mask is None:
            mask = self.rng.random(x.shape) >= self.rate
        else:
            if not isinstance(mask, np.ndarray) or mask.dtype.kind not in "bu":
                raise TypeError("mask must be a bool or uint8 numpy.ndarray, got %r"
                                % (getattr(mask, "dtype", type(mask).__name__),))
            if mask.shape != x.shape:
                raise ValueError("mask must have x's shape %s, got %s" % (x.shape, mask.shape))
        y = K().dropout_forward(x, mask, self.rate)
        self._cache = (mask, x.shape, x.dtype)
        return y

    def backward(self, dy, need_dx=True):
        mask, x_shape, dtype = self._kept()
        dy = self._check_dy(dy, x_shape, dtype)
        if not _v.check_bool(need_dx, "need_dx"):
            return None
        if mask is None:
            return dy
        return K().dropout_backward(dy, mask, self.rate)

    def get_config(self):
        return {"name": self.name, "rate": self.rate, "seed": _json_seed(self.seed)}


# --------------------------------------------------------------------------- activations
class _Activation(Layer):
    """Elementwise activation on any shape.  A subclass's forward keeps x or y (whichever its
    derivative is written in) and ``_backward(dy, kept)`` applies that derivative."""

    def __init__(self, name=None):
        super().__init__(name)

    def _checked(self, x):
        x = _as_input(x, "x")
        if x.ndim < 1 or x.shape[0] == 0:
            raise ValueError("x must have a non-empty batch dimension, got shape %s" % (x.shape,))
        return x

    def backward(self, dy, need_dx=True):
        kept = self._kept()
        dy = self._check_dy(dy, kept.shape, kept.dtype)
        if not _v.check_bool(need_dx, "need_dx"):
            return None
        return self._backward(dy, kept)


class ReLU(_Activation):
    """y = max(x, 0).  Keeps x; dx = dy * [x > 0] (the gradient at exactly 0 is 0, as torch)."""

    _prefix = "re_lu"

    def forward(self, x, training=False):
        x = self._checked(x)
        self._cache = x
        return K().relu_forward(x)

    def _backward(self, dy, x):
        return K().relu_backward(dy, x)


class Sigmoid(_Activation):
    """y = 1 / (1 + e^-x).  Keeps y; dx = dy * y * (1 - y)."""

    _prefix = "sigmoid"

    def forward(self, x, training=False):
        y = K().sigmoid_forward(self._checked(x))
        self._cache = y
        return y

    def _backward(self, dy, y):
        return K().sigmoid_backward(dy, y)


class Tanh(_Activation):
    """y = tanh(x).  Keeps y; dx = dy * (1 - y^2)."""

    _prefix = "tanh"

    def forward(self, x, training=False):
        y = K().tanh_forward(self._checked(x))
        self._cache = y
        return y

    def _backward(self, dy, y):
        return K().tanh_backward(dy, y)


class ELU(_Activation):
    """y = x for x > 0, alpha * (e^x - 1) otherwise.  Keeps x; dx = dy where x > 0, else
    dy * alpha * e^x."""

    _prefix = "elu"

    def __init__(self, alpha=1.0, name=None):
        self.alpha = _v.check_scalar(alpha, "alpha")
        super().__init__(name)

    def forward(self, x, training=False):
        x = self._checked(x)
        self._cache = x
        return K().elu_forward(x, self.alpha)

    def _backward(self, dy, x):
        return K().elu_backward(dy, x, self.alpha)

    def get_config(self):
        return {"name": self.name, "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over the last axis: y[n, i] = e^x[n, i] / sum_j e^x[n, j] (max-shifted).

    x: (N, K) or (N, ..., K) (flattened to rows of K and back).  Keeps y; backward is
    dx = y * (dy - sum_i(dy * y)) row by row (``softmax_backward``).  For classification
    training prefer logits + ``SoftmaxCrossEntropy``, which is more stable.
    """

    _prefix = "softmax"

    def __init__(self, name=None):
        super().__init__(name)

    def forward(self, x, training=False):
        x = _as_input(x, "x")
        if x.ndim < 2 or x.shape[0] == 0 or x.shape[-1] == 0:
            raise ValueError("x must have shape (N, ..., K) with N, K >= 1, got %s" % (x.shape,))
        y = K().softmax_forward(np.ascontiguousarray(x).reshape(-1, x.shape[-1]))
        y = y.reshape(x.shape)
        self._cache = y
        return y

    def backward(self, dy, need_dx=True):
        y = self._kept()
        dy = self._check_dy(dy, y.shape, y.dtype)
        if not _v.check_bool(need_dx, "need_dx"):
            return None
        k = y.shape[-1]
        dx = K().softmax_backward(np.ascontiguousarray(dy).reshape(-1, k), y.reshape(-1, k))
        return dx.reshape(y.shape)


# --------------------------------------------------------------------------- (de)serialise
_LAYER_CLASSES = {c.__name__: c for c in (Dense, Conv2D, MaxPool2D, Flatten, Dropout, ReLU,
                                           Sigmoid, Tanh, ELU, Softmax)}


def serialize(layer):
    """``{"class_name": <class name>, "config": layer.get_config()}`` (JSON-serialisable)."""
    if not isinstance(layer, Layer):
        raise TypeError("layer must be a fastnn.layers.Layer, got %s" % type(layer).__name__)
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config):
    """A new layer from ``serialize``'s output (fresh parameters; load weights separately)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("layer config must be a dict with 'class_name' and 'config', got %r"
                         % (config,))
    cls = _LAYER_CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError("unknown layer class %r; known: %s"
                         % (config["class_name"], ", ".join(sorted(_LAYER_CLASSES))))
    return cls.from_config(dict(config.get("config") or {}))


def get(class_name):
    """The layer class for a name such as 'Dense'."""
    if class_name not in _LAYER_CLASSES:
        raise ValueError("unknown layer class %r; known: %s"
                         % (class_name, ", ".join(sorted(_LAYER_CLASSES))))
    return _LAYER_CLASSES[class_name]
