# Over ~500 lines on purpose: one table of Keras initializers, each a small class with its
# docstring, its function form and the name lookup that must list them all.
"""Weight initializers, by Keras name and with Keras 3's formulas and defaults.

Every initializer is available two ways:

* a function ``name(shape, seed=None, dtype=np.float32, **hyper)``, e.g.
  ``glorot_uniform((784, 256), seed=0)`` or ``random_normal((3, 3), stddev=1.0)``;
* a class holding the hyper-parameters, e.g. ``GlorotUniform(seed=0)`` or
  ``RandomNormal(mean=0.0, stddev=1.0)``, called as ``init(shape, seed=None, dtype=None)``
  (a ``seed`` given to the call overrides the constructor's).

``seed`` is an int (the same int gives the same array, every call, as Keras' integer seeds), a
``numpy.random.Generator`` (draws advance it, so successive calls differ but the whole sequence
reproduces) or None (fresh OS entropy).  Values are drawn in float64 and then cast to ``dtype``
(float32 by default), so one seed gives the same numbers, up to rounding, in either dtype.

Fan rules (``compute_fans``), with fastnn's layouts (Dense kernels ``(in, out)``, Conv2D kernels
``(out_channels, in_channels, kh, kw)`` as torch):

    1-D (n,):                 fan_in = fan_out = n
    2-D (in, out):            fan_in = in,  fan_out = out
    4-D (out, in, kh, kw):    fan_in = in*kh*kw,  fan_out = out*kh*kw
    (any k >= 3: receptive field = prod(shape[2:]), fan_in = shape[1]*rf, fan_out = shape[0]*rf)

These are the numbers Keras computes for the same layer in its own layout (``(kh, kw, in, out)``),
so a conv layer initialised here has the same distribution as in Keras (and as torch's
``xavier_*``/``kaiming_*`` with the matching mode).

Variance scaling (``VarianceScaling(scale, mode, distribution)``), n = max(1, fan) for mode
fan_in / fan_out, or max(1, (fan_in + fan_out) / 2) for fan_avg:

    truncated_normal:   N(0, stddev) re-drawn outside +-2 stddev,
                        stddev = sqrt(scale / n) / 0.87962566103423978
                        (0.8796... is the std of a unit normal truncated at +-2, so the
                        truncated values have standard deviation sqrt(scale / n))
    untruncated_normal: N(0, sqrt(scale / n))
    uniform:            U(-limit, limit), limit = sqrt(3 * scale / n)

    glorot_uniform = VarianceScaling(1, fan_avg, uniform)     limit = sqrt(6 / (fan_in + fan_out))
    glorot_normal  = VarianceScaling(1, fan_avg, truncated_normal)
    he_uniform     = VarianceScaling(2, fan_in,  uniform)     limit = sqrt(6 / fan_in)
    he_normal      = VarianceScaling(2, fan_in,  truncated_normal)
    lecun_uniform  = VarianceScaling(1, fan_in,  uniform)     limit = sqrt(3 / fan_in)
    lecun_normal   = VarianceScaling(1, fan_in,  truncated_normal)

Plain distributions: ``random_normal(mean=0, stddev=0.05)``, ``random_uniform(minval=-0.05,
maxval=0.05)`` (``[minval, maxval)``), ``truncated_normal(mean=0, stddev=0.05)`` (re-drawn
outside mean +- 2 stddev; note that *this* stddev is the pre-truncation one, as Keras).
Constants: ``zeros``, ``ones``, ``constant(value=0)``, ``identity(gain=1)`` (2-D only,
``gain * eye(rows, cols)``), ``orthogonal(gain=1)`` (QR of a normal matrix with the signs of
R's diagonal folded in, as Keras; see ``Orthogonal`` for the conv layout).
"""
import math
import numbers
import re

import numpy as np

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotNormal", "GlorotUniform", "HeNormal",
    "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal", "Identity",
    "zeros", "ones", "constant", "random_normal", "random_uniform", "truncated_normal",
    "variance_scaling", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
    "lecun_normal", "lecun_uniform", "orthogonal", "identity",
    "compute_fans", "get", "serialize", "deserialize",
]

# std of a standard normal truncated to [-2, 2]: Keras divides by it so that the *truncated*
# samples have the target standard deviation.
_TRUNC_STD_CORRECTION = 0.87962566103423978


# --------------------------------------------------------------------------- helpers
def _check_shape(shape):
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError("shape must be a tuple of ints, got %r (%s)"
                        % (shape, type(shape).__name__))
    out = []
    for i, s in enumerate(shape):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError("shape[%d] must be an int, got %r" % (i, s))
        if s < 0:
            raise ValueError("shape[%d] must be >= 0, got %d (shape=%r)" % (i, s, tuple(shape)))
        out.append(int(s))
    return tuple(out)


def _check_dtype(dtype):
    if dtype is None:
        return np.dtype(np.float32)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError("dtype must be a floating dtype such as numpy.float32, got %r"
                        % (dtype,)) from None
    if dt.kind != "f":
        raise TypeError("dtype must be a floating dtype (float32 or float64), got %s" % dt)
    return dt


def _check_seed(seed, name="seed"):
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError("%s must be an int, a numpy.random.Generator or None, got %r (%s)"
                        % (name, seed, type(seed).__name__))
    if seed < 0:
        raise ValueError("%s must be >= 0, got %d" % (name, seed))
    return int(seed)


def _rng(seed):
    """A Generator from an int / Generator / None seed.  A Generator is used as is (advanced)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _real(v, name, *, positive=False, nonneg=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError("%s must be a real number, got %r (%s)" % (name, v, type(v).__name__))
    v = float(v)
    if not math.isfinite(v):
        raise ValueError("%s must be finite, got %r" % (name, v))
    if positive and v <= 0:
        raise ValueError("%s must be > 0, got %r" % (name, v))
    if nonneg and v < 0:
        raise ValueError("%s must be >= 0, got %r" % (name, v))
    return v


def compute_fans(shape):
    """(fan_in, fan_out) for a weight shape in fastnn's layouts (see the module docstring)."""
    shape = _check_shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(np.prod(shape[2:]))
    # torch layout (out, in, *kernel): in is axis 1, out axis 0
    return shape[1] * receptive_field, shape[0] * receptive_field


def _truncated_normal(rng, shape, mean, stddev):
    """N(mean, stddev) re-drawn until every value lies in [mean - 2 stddev, mean + 2 stddev]."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():                       # ~4.6% per round: a handful of rounds at most
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return mean + stddev * out


def _cast_within(values, dtype, lo, hi):
    """Cast float64 ``values`` to ``dtype`` keeping them inside [lo, hi] exactly: rounding to
    float32 can push a value that was inside the bound just past it."""
    out = values.astype(dtype)
    if out.dtype != np.float64 and out.size:
        wide = out.astype(np.float64)
        over, under = wide > hi, wide < lo
        if over.any():
            out[over] = np.nextafter(out[over], dtype.type(-np.inf))
        if under.any():
            out[under] = np.nextafter(out[under], dtype.type(np.inf))
    return out


# --------------------------------------------------------------------------- classes
class Initializer:
    """Base class: ``init(shape, seed=None, dtype=None) -> ndarray``.

    Subclasses implement ``_generate(shape, rng_or_none, dtype)`` and ``get_config()``.
    """
    name = "initializer"

    def __init__(self, seed=None):
        self.seed = _check_seed(seed)

    def __call__(self, shape, seed=None, dtype=None):
        shape = _check_shape(shape)
        dtype = _check_dtype(dtype)
        seed = self.seed if seed is None else _check_seed(seed)
        return self._generate(shape, seed, dtype)

    def _generate(self, shape, seed, dtype):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        # a Generator is not JSON-serialisable; the config then records no seed
        return {"seed": self.seed if isinstance(self.seed, int) else None}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join("%s=%r" % kv for kv in self.get_config().items())
        return "%s(%s)" % (type(self).__name__, args)


class _Fill(Initializer):
    """Every element equals the class keyword ``value``; nothing to configure.  ``name`` is
    the class name in lower case."""
    _VALUE = None

    def __init_subclass__(cls, value, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._VALUE = value
        cls.name = cls.__name__.lower()

    def __init__(self):
        super().__init__(None)

    def _generate(self, shape, seed, dtype):
        return np.full(shape, self._VALUE, dtype=dtype)

    def get_config(self):
        return {}


class Zeros(_Fill, value=0.0):
    """All zeros."""


class Ones(_Fill, value=1.0):
    """All ones."""


class Constant(Initializer):
    """Every element equals ``value`` (a scalar), as ``keras.initializers.Constant``."""
    name = "constant"

    def __init__(self, value=0.0):
        super().__init__(None)
        self.value = _real(value, "value")

    def _generate(self, shape, seed, dtype):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """N(mean, stddev), as ``keras.initializers.RandomNormal`` (defaults 0, 0.05)."""
    name = "random_normal"

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _real(mean, "mean")
        self.stddev = _real(stddev, "stddev", nonneg=True)

    def _generate(self, shape, seed, dtype):
        return (self.mean + self.stddev * _rng(seed).standard_normal(shape)).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(Initializer):
    """U[minval, maxval), as ``keras.initializers.RandomUniform`` (defaults -0.05, 0.05)."""
    name = "random_uniform"

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = _real(minval, "minval")
        self.maxval = _real(maxval, "maxval")
        if self.maxval < self.minval:
            raise ValueError("maxval must be >= minval, got minval=%r, maxval=%r"
                             % (self.minval, self.maxval))

    def _generate(self, shape, seed, dtype):
        v = _rng(seed).uniform(self.minval, self.maxval, shape)
        return _cast_within(v, dtype, self.minval, self.maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class TruncatedNormal(Initializer):
    """N(mean, stddev) with values beyond mean +- 2*stddev re-drawn, as
    ``keras.initializers.TruncatedNormal`` (defaults 0, 0.05).  ``stddev`` is the parameter of
    the normal before truncation (the samples' own std is about 0.88 * stddev)."""
    name = "truncated_normal"

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _real(mean, "mean")
        self.stddev = _real(stddev, "stddev", nonneg=True)

    def _generate(self, shape, seed, dtype):
        v = _truncated_normal(_rng(seed), shape, self.mean, self.stddev)
        return _cast_within(v, dtype, self.mean - 2 * self.stddev, self.mean + 2 * self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class VarianceScaling(Initializer):
    """Keras' ``VarianceScaling(scale=1.0, mode='fan_in', distribution='truncated_normal')``.

    mode: 'fan_in', 'fan_out' or 'fan_avg'; distribution: 'truncated_normal' ('normal' is an
    alias, as Keras), 'untruncated_normal' or 'uniform'.  Formulas in the module docstring.
    """
    name = "variance_scaling"
    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        self.scale = _real(scale, "scale", positive=True)
        if mode not in self._MODES:
            raise ValueError("mode must be one of %s, got %r" % (self._MODES, mode))
        if not isinstance(distribution, str):
            raise TypeError("distribution must be a string, got %r" % (distribution,))
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError("distribution must be one of %s, got %r"
                             % (self._DISTRIBUTIONS, distribution))
        self.mode = mode
        self.distribution = distribution

    def _n(self, shape):
        fan_in, fan_out = compute_fans(shape)
        if self.mode == "fan_in":
            return max(1.0, fan_in)
        if self.mode == "fan_out":
            return max(1.0, fan_out)
        return max(1.0, (fan_in + fan_out) / 2.0)

    def stddev(self, shape):
        """The normal's stddev parameter (truncated: before truncation) for ``shape``."""
        s = math.sqrt(self.scale / self._n(shape))
        return s / _TRUNC_STD_CORRECTION if self.distribution == "truncated_normal" else s

    def limit(self, shape):
        """The uniform's half-width for ``shape``."""
        return math.sqrt(3.0 * self.scale / self._n(shape))

    def _generate(self, shape, seed, dtype):
        rng = _rng(seed)
        if self.distribution == "uniform":
            lim = self.limit(shape)
            return _cast_within(rng.uniform(-lim, lim, shape), dtype, -lim, lim)
        std = self.stddev(shape)
        if self.distribution == "untruncated_normal":
            return (std * rng.standard_normal(shape)).astype(dtype)
        return _cast_within(_truncated_normal(rng, shape, 0.0, std), dtype, -2 * std, 2 * std)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling with fixed ``(scale, mode, distribution)``, given as the class keyword
    ``args``; only ``seed`` is configurable.  ``name`` is the Keras name, the class name in
    snake case (GlorotUniform -> glorot_uniform)."""
    _ARGS = None

    def __init_subclass__(cls, args, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._ARGS = args
        cls.name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()

    def __init__(self, seed=None):
        super().__init__(*self._ARGS, seed=seed)

    def get_config(self):
        return Initializer.get_config(self)


class GlorotUniform(_FixedVarianceScaling, args=(1.0, "fan_avg", "uniform")):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).  Also called Xavier uniform."""


class GlorotNormal(_FixedVarianceScaling, args=(1.0, "fan_avg", "truncated_normal")):
    """Truncated normal with std sqrt(2 / (fan_in + fan_out)) after truncation (Xavier normal)."""


class HeUniform(_FixedVarianceScaling, args=(2.0, "fan_in", "uniform")):
    """U(-limit, limit), limit = sqrt(6 / fan_in)."""


class HeNormal(_FixedVarianceScaling, args=(2.0, "fan_in", "truncated_normal")):
    """Truncated normal with std sqrt(2 / fan_in) after truncation."""


class LecunUniform(_FixedVarianceScaling, args=(1.0, "fan_in", "uniform")):
    """U(-limit, limit), limit = sqrt(3 / fan_in)."""


class LecunNormal(_FixedVarianceScaling, args=(1.0, "fan_in", "truncated_normal")):
    """Truncated normal with std sqrt(1 / fan_in) after truncation."""


class Orthogonal(Initializer):
    """``gain`` times a random orthogonal matrix, as ``keras.initializers.Orthogonal``.

    Keras: draw A ~ N(0, 1) of shape (max(r, c), min(r, c)), QR-factorise, multiply Q's columns
    by sign(diag(R)) (which makes Q Haar-distributed), transpose when r < c, reshape.  The
    result has orthonormal columns when r >= c, orthonormal rows otherwise.

    (r, c): for 2-D (in, out) kernels r = in, c = out, exactly as Keras.  For k >= 3 (torch
    conv layout (out, in, kh, kw)) Keras' flattening (all-but-last, last) would mix output
    channels; fastnn flattens to the matrix M of shape (in*kh*kw, out) with
    ``M[:, o] = w[o].ravel()``, i.e. Keras' matrix for the same layer (each filter is one
    column, so filters are mutually orthogonal when out <= in*kh*kw).
    """
    name = "orthogonal"

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = _real(gain, "gain")

    def _generate(self, shape, seed, dtype):
        if len(shape) < 2:
            raise ValueError("orthogonal needs a shape with at least 2 dimensions, got shape=%r"
                             % (shape,))
        if len(shape) == 2:
            rows, cols = shape
        else:
            rows, cols = int(np.prod(shape[1:])), shape[0]
        a = _rng(seed).standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        d = np.sign(np.diag(r))
        d[d == 0] = 1.0                    # a zero pivot (probability 0): keep that column as is
        q = q * d
        if rows < cols:
            q = q.T                        # (rows, cols) with orthonormal rows
        m = self.gain * q                  # (rows, cols)
        if len(shape) > 2:
            m = m.T                        # (out, in*kh*kw): row o is filter o
        return np.ascontiguousarray(m.reshape(shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


# Identity has Constant's shape (one hyper-parameter, no seed: __init__, _generate, get_config),
# the protocol every Initializer follows; what it computes is its own.
class Identity(Initializer):
    """``gain * eye(rows, cols)`` for a 2-D shape (rectangular allowed), as Keras."""
    name = "identity"

    def __init__(self, gain=1.0):
        super().__init__(None)
        self.gain = _real(gain, "gain")

    def _generate(self, shape, seed, dtype):
        if len(shape) != 2:
            raise ValueError("identity can only initialise 2-D matrices, got shape=%r (rank %d)"
                             % (shape, len(shape)))
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}


# --------------------------------------------------------------------------- functions
def zeros(shape, seed=None, dtype=np.float32):
    """``np.zeros(shape, dtype)`` (``seed`` is accepted and ignored, for a uniform signature)."""
    return Zeros()(shape, dtype=dtype)


def ones(shape, seed=None, dtype=np.float32):
    """``np.ones(shape, dtype)``."""
    return Ones()(shape, dtype=dtype)


def constant(shape, seed=None, dtype=np.float32, value=0.0):
    """Every element ``value``."""
    return Constant(value)(shape, dtype=dtype)


def random_normal(shape, seed=None, dtype=np.float32, mean=0.0, stddev=0.05):
    """N(mean, stddev)."""
    return RandomNormal(mean, stddev)(shape, seed=seed, dtype=dtype)


def random_uniform(shape, seed=None, dtype=np.float32, minval=-0.05, maxval=0.05):
    """U[minval, maxval)."""
    return RandomUniform(minval, maxval)(shape, seed=seed, dtype=dtype)


def truncated_normal(shape, seed=None, dtype=np.float32, mean=0.0, stddev=0.05):
    """N(mean, stddev) re-drawn outside mean +- 2 stddev."""
    return TruncatedNormal(mean, stddev)(shape, seed=seed, dtype=dtype)


def variance_scaling(shape, seed=None, dtype=np.float32, scale=1.0, mode="fan_in",
                     distribution="truncated_normal"):
    """See ``VarianceScaling``."""
    return VarianceScaling(scale, mode, distribution)(shape, seed=seed, dtype=dtype)


def _fixed_function(cls):
    """The function form ``name(shape, seed=None, dtype=np.float32)`` of a fixed variance
    scaling class, named and documented as the class."""
    def init(shape, seed=None, dtype=np.float32):
        return cls()(shape, seed=seed, dtype=dtype)
    init.__name__ = init.__qualname__ = cls.name
    init.__doc__ = cls.__doc__
    return init


glorot_uniform = _fixed_function(GlorotUniform)
glorot_normal = _fixed_function(GlorotNormal)
he_uniform = _fixed_function(HeUniform)
he_normal = _fixed_function(HeNormal)
lecun_uniform = _fixed_function(LecunUniform)
lecun_normal = _fixed_function(LecunNormal)


def orthogonal(shape, seed=None, dtype=np.float32, gain=1.0):
    """``gain`` times a random orthogonal matrix (see ``Orthogonal``)."""
    return Orthogonal(gain)(shape, seed=seed, dtype=dtype)


def identity(shape, seed=None, dtype=np.float32, gain=1.0):
    """``gain * eye(*shape)`` for 2-D shapes."""
    return Identity(gain)(shape, dtype=dtype)


# --------------------------------------------------------------------------- lookup
_FUNCTIONS = {f.__name__: f for f in (
    zeros, ones, constant, random_normal, random_uniform, truncated_normal, variance_scaling,
    glorot_normal, glorot_uniform, he_normal, he_uniform, lecun_normal, lecun_uniform,
    orthogonal, identity)}
_ALIASES = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
            "normal": "random_normal", "uniform": "random_uniform", "zero": "zeros",
            "one": "ones"}
_CLASSES = {c.__name__: c for c in (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal,
    Identity)}


def _valid_names():
    return sorted(_FUNCTIONS) + sorted(_ALIASES)


def get(identifier):
    """Resolve an initializer.

    A name (``'glorot_uniform'``, the aliases ``'xavier_uniform'``, ``'xavier_normal'``,
    ``'normal'``, ``'uniform'``, or a class name such as ``'GlorotUniform'``) gives the
    module-level function; a ``{"class_name": ..., "config": ...}`` dict (from ``serialize``)
    gives a configured instance; an ``Initializer`` subclass gives its default instance; a
    callable (an ``Initializer`` or any ``f(shape, seed=..., dtype=...)``) passes through.
    Anything else raises ValueError/TypeError listing the names.
    """
    if isinstance(identifier, str):
        key = _ALIASES.get(identifier, identifier)
        if key in _FUNCTIONS:
            return _FUNCTIONS[key]
        if key in _CLASSES:
            return _CLASSES[key]()
        raise ValueError("unknown initializer %r; valid names: %s"
                         % (identifier, ", ".join(_valid_names())))
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        # a class (GlorotUniform) means its default instance, as keras.initializers.get
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError("initializer must be a name, a config dict or a callable "
                    "f(shape, seed=None, dtype=None); got %r (%s); valid names: %s"
                    % (identifier, type(identifier).__name__, ", ".join(_valid_names())))


def serialize(initializer):
    """JSON-serialisable form: the name for a built-in function or name,
    ``{"class_name", "config"}`` for an ``Initializer`` instance.  Custom functions cannot be
    serialised (ValueError): wrap them in an ``Initializer`` subclass instead."""
    if isinstance(initializer, str):
        get(initializer)                   # validate the name
        return initializer
    if isinstance(initializer, Initializer) and type(initializer).__name__ in _CLASSES:
        return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
    for name, f in _FUNCTIONS.items():
        if initializer is f:
            return name
    raise ValueError("cannot serialise the custom initializer %r: only built-in initializer "
                     "names, functions and classes can be saved" % (initializer,))


def deserialize(config):
    """Inverse of ``serialize``."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("initializer config must be a name or a dict with 'class_name' and "
                         "'config', got %r" % (config,))
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError("unknown initializer class %r; valid classes: %s"
                         % (config["class_name"], ", ".join(sorted(_CLASSES))))
    return cls.from_config(dict(config.get("config") or {}))
