"""Inputs shared by the families' tables: seeded random arrays, and the hostile calls every
family needs (wrong dtypes, non-finite or non-real hyper-parameters, the out= rule, convolution
and pooling geometry, x_shape)."""
import zlib

import numpy as np

from .records import F32, F64, Hostile


def seeded_rng(*key):
    """A generator seeded by the entry it serves, so each entry's inputs never change."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def normal(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def with_zeros(rng, shape, dtype):
    """~N(0, 3^2) with exact zeros sprinkled in (the relu/elu kink)."""
    x = 3.0 * rng.standard_normal(shape)
    x[rng.random(shape) < 0.1] = 0.0
    return x.astype(dtype)


def nan_filled(shape, dtype):
    return np.full(shape, np.nan, dtype)


def replace(args, kwargs, key, v):
    """(args, kwargs) with positional index or keyword ``key`` replaced by ``v``."""
    if isinstance(key, int):
        args = list(args)
        args[key] = v
        return tuple(args), dict(kwargs)
    kwargs = dict(kwargs)
    kwargs[key] = v
    return tuple(args), kwargs


def dtype_hostiles(base, key, name):
    """Wrong dtypes and types for the float array argument ``name``, at positional index or
    keyword ``key`` of the call ``base``: a TypeError naming it (and the dtype it got)."""
    good = base.args[key] if isinstance(key, int) else base.kwargs[key]
    out = []
    for label, v, word in [
            ("int32", good.astype(np.int32), "int32"),
            ("int64", good.astype(np.int64), "int64"),
            ("float16", good.astype(np.float16), "float16"),
            ("complex", good.astype(np.complex128), "complex128"),
            ("object", good.astype(object), "object"),
            ("bool", good > 0, "bool"),
            ("big-endian", good.astype(good.dtype.newbyteorder(">")), ">f"),
            ("str", "abc", None),
            ("dict", {}, None),
    ]:
        args, kwargs = replace(base.args, base.kwargs, key, v)
        out.append(Hostile("%s %s" % (name, label), args, kwargs, TypeError, (name,),
                           (word,) if word else ()))
    return out


def scalar_hostiles(base, key, name, *, below=None):
    """Non-finite, non-real and bool values for the real hyper-parameter ``name``; ``below``:
    a finite value under its minimum, when it has one."""
    out = []
    for label, v, exc, word in [("NaN", float("nan"), ValueError, "nan"),
                                ("inf", float("inf"), ValueError, "inf"),
                                ("-inf", -float("inf"), ValueError, "inf"),
                                ("bool", True, TypeError, "bool"),
                                ("str", "0.5", TypeError, "str"),
                                ("None", None, TypeError, "None")]:
        args, kwargs = replace(base.args, base.kwargs, key, v)
        out.append(Hostile("%s %s" % (name, label), args, kwargs, exc, (name,), (word,)))
    if below is not None:
        args, kwargs = replace(base.args, base.kwargs, key, below)
        out.append(Hostile("%s %r" % (name, below), args, kwargs, ValueError, (name,),
                           (repr(float(below)),)))
    return out


def out_hostiles(base, shape, dtype, inputs):
    """The out= rule: wrong type/shape/dtype/contiguity/writeability, and partial overlap with
    each input named in ``inputs`` (name -> positional index; the overlap is built by passing
    an input and out as two offset views of one buffer)."""
    other = F64 if dtype == F32 else F32
    size = int(np.prod(shape))
    ro = np.zeros(shape, dtype)
    ro.flags.writeable = False
    cases = [
        ("out list", [0.0] * size, TypeError, ()),
        ("out shape", np.zeros((size + 1,), dtype), ValueError, ()),
        ("out dtype", np.zeros(shape, other), TypeError, (str(other),)),
        ("out F-order", np.zeros(shape[::-1], dtype).T, ValueError, ("contiguous",)),
        ("out strided", np.zeros(shape + (2,), dtype)[..., 0], ValueError, ("contiguous",)),
        ("out read-only", ro, ValueError, ("writeable",)),
    ]
    out = [Hostile(label, base.args, dict(base.kwargs, out=v), exc, ("out",), words)
           for label, v, exc, words in cases]
    for in_name, idx in inputs.items():
        buf = np.zeros(size + 1, dtype)
        args = list(base.args)
        args[idx] = buf[1:].reshape(shape)
        args[idx][...] = base.args[idx]
        out.append(Hostile("out overlaps %s" % in_name, tuple(args),
                           dict(base.kwargs, out=buf[:-1].reshape(shape)), ValueError,
                           ("out", in_name), ("overlap",)))
    return out


def geometry_hostiles(base, stride_key, padding_key):
    """stride and padding: zero, negative, float, bool, wrong-length pairs, and absurd sizes."""
    out = []
    for label, key, name, v, exc, words in [
            ("stride 0", stride_key, "stride", 0, ValueError, ("0",)),
            ("stride -1", stride_key, "stride", -1, ValueError, ("-1",)),
            ("stride pair 0", stride_key, "stride[1]", (1, 0), ValueError, ()),
            ("stride float", stride_key, "stride", 1.5, TypeError, ("1.5",)),
            ("stride bool", stride_key, "stride", True, TypeError, ("bool",)),
            ("stride triple", stride_key, "stride", (1, 1, 1), ValueError, ()),
            ("stride str", stride_key, "stride", "1", TypeError, ()),
            ("stride 2**40", stride_key, "stride", 2 ** 40, ValueError, (str(2 ** 40),)),
            ("stride 2**63", stride_key, "stride[1]", (1, 2 ** 63), ValueError, ()),
            ("padding -1", padding_key, "padding", -1, ValueError, ("-1",)),
            ("padding bool", padding_key, "padding", True, TypeError, ("bool",)),
            ("padding float", padding_key, "padding", 0.5, TypeError, ()),
            ("padding 2**40", padding_key, "padding", 2 ** 40, ValueError, (str(2 ** 40),)),
            ("padding 10**19", padding_key, "padding", 10 ** 19, ValueError, ()),
    ]:
        args, kwargs = replace(base.args, base.kwargs, key, v)
        out.append(Hostile(label, args, kwargs, exc, (name,), words))
    return out


def x_shape_hostiles(base, key):
    """x_shape (N, C, H, W) at ``key`` of ``base``: not a tuple, the wrong length, sizes that
    are not positive ints."""
    out = []
    for label, v, exc in [("x_shape int", 36, TypeError),
                          ("x_shape 3 entries", (2, 3, 5), ValueError),
                          ("x_shape negative", (2, 3, -5, 5), ValueError),
                          ("x_shape zero", (2, 0, 5, 5), ValueError),
                          ("x_shape float", (2, 3, 5.0, 5), TypeError),
                          ("x_shape bool", (2, 3, True, 5), TypeError),
                          ("x_shape None", None, TypeError)]:
        args, kwargs = replace(base.args, base.kwargs, key, v)
        out.append(Hostile(label, args, kwargs, exc, ("x_shape",)))
    return out
