"""The table's multi-tensor optimizer entries: ``sgd_update_multi`` ... ``nadam_update_multi``,
one call updating a list of tensors (a parameter group) in place.

Each entry is checked against its twin, bit for bit, and against its ``equivalent``: the
single-tensor kernel of the same module called on each tensor in turn (the compiled driver cuts
the tensors' elements into blocks that may span tensors; that must not change a bit).  The
samples are lists of 1 to 4 tensors of mixed shapes (size 1, odd sizes, several dimensions, an
empty tensor among others), each tensor at its own step, under every setting of the
single-tensor entries, plus the empty list.
"""
import inspect

import numpy as np

from .inputs import replace, seeded_rng
from .optim import OPTIM_SETTINGS, OPTIMIZERS, hyperparameter_hostiles, needs_state, tensor_arrays
from .records import EXACT, F32, Hostile, KernelCase, both, call

# Shapes the samples draw their tensors from, in turn.
_SHAPES = [(1,), (17,), (5, 7), (33,), (3, 4, 5), (0,), (1000,), (2, 1)]
_STEPS = (1, 3, 10, 2)


def multi_call(name, rng, shapes, dtype, kw, steps, label, unused_as_list=False):
    """The call of the multi-tensor version of ``name`` on tensors of ``shapes``, tensor j at
    step ``steps[j]`` (sgd: ``first_steps[j]`` is ``steps[j] == 1`` when ``kw`` sets
    ``first_step``).  A state list the flags leave unused is None, or a list of None
    (``unused_as_list``): both are accepted."""
    states, optional, takes_step, takes_mu = OPTIMIZERS[name]
    kw = dict(kw)
    tensors = [tensor_arrays(name, rng, shape, dtype, kw) for shape in shapes]
    args = [[t[0] for t in tensors], [t[1] for t in tensors]]
    for s in states:
        unused = s in optional and not needs_state(s, kw)
        args.append(None if unused and not unused_as_list else [t[2][s] for t in tensors])
    if takes_step:
        args.append(list(steps))
    if takes_mu:
        args.append([0.9 ** (step - 1) for step in steps])
    if name == "sgd_update":
        args.append(kw.pop("lr", 0.1))
        if kw.pop("first_step", False):
            kw["first_steps"] = [step == 1 for step in steps]
    return call(label, *args, **kw)


def _samples(name):
    def samples(dtype):
        rng = seeded_rng(name + "_multi", dtype.name)
        out = []
        start = 0
        for i, kw in enumerate(OPTIM_SETTINGS[name]):
            for j in range(2):
                count = (2 * i + j) % 4 + 1
                shapes = [_SHAPES[(start + t) % len(_SHAPES)] for t in range(count)]
                start += count
                steps = [_STEPS[(i + j + t) % len(_STEPS)] for t in range(count)]
                out.append(multi_call(name, rng, shapes, dtype, kw, steps,
                                      "%s %s steps %s" % (kw, shapes, steps),
                                      unused_as_list=j == 1))
        # four tensors under the fullest setting, and the empty list: a valid no-op
        fullest = max(OPTIM_SETTINGS[name], key=len)
        out.append(multi_call(name, rng, [(7,), (1,), (0,), (2, 9)], dtype, fullest,
                              [4, 1, 2, 1], "%s 4 tensors with an empty one" % fullest))
        out.append(multi_call(name, rng, [], dtype, fullest, [], "the empty list"))
        return out
    return samples


def _big(name):
    def big(dtype):
        # 70 034 elements in three tensors: three threads get work and blocks cross tensors
        kw = max(OPTIM_SETTINGS[name], key=len)
        return multi_call(name, seeded_rng(name + "_multi big", dtype.name),
                          [(40_000,), (33,), (30_001,)], dtype, kw, [3, 1, 2],
                          "(40000,) (33,) (30001,) %s" % kw)
    return big


def _equivalent(name):
    """``(module, args, kwargs) -> result``: the multi-tensor call made with ``module``'s
    single-tensor kernel on each tensor in turn (a per-tensor list ``xs`` passes its entry j as
    the single kernel's ``x``; a list left None passes None, or the default where there is
    one)."""
    multi_name = name + "_multi"

    def equivalent(module, args, kwargs):
        single = getattr(module, name)
        single_params = inspect.signature(single).parameters
        bound = inspect.signature(getattr(module, multi_name)).bind(*args, **kwargs).arguments
        per_tensor = {n for n in bound if n.endswith("s") and n[:-1] in single_params}
        results = []
        for j in range(len(bound["params"])):
            call_kw = {}
            for n, v in bound.items():
                if n not in per_tensor:
                    call_kw[n] = v
                elif v is not None:
                    call_kw[n[:-1]] = v[j]
                elif single_params[n[:-1]].default is inspect.Parameter.empty:
                    call_kw[n[:-1]] = None
            results.append(single(**call_kw))
        return results if OPTIMIZERS[name][3] else None
    return equivalent


def _hostile(name):
    """Bad lists (not a list, the wrong length), bad entries (shape, dtype, type, layout,
    writeability), overlap within and across tensors, state lists left out, bad per-tensor
    arguments (steps, mu_products, first_steps) and bad hyper-parameters."""
    states, optional, takes_step, takes_mu = OPTIMIZERS[name]
    plural = ("params", "grads") + tuple(s + "s" for s in states)
    n_arrays = len(plural)

    def hostile():
        setting = max(OPTIM_SETTINGS[name], key=len)
        # tensors 0 and 2 share a shape, so arrays of one can stand in for the other's
        c = multi_call(name, seeded_rng(name + "_multi", "hostile"), [(6,), (2, 3), (6,)], F32,
                       setting, [1, 2, 3], "")
        present = [i for i in range(n_arrays) if c.args[i] is not None]
        last = present[-1]
        out = []

        def entry(label, exc, names, words, *changes):
            """The call with ``changes`` = (argument index, entry j, value) applied."""
            args = list(c.args)
            for i, j, v in changes:
                args[i] = list(args[i])
                args[i][j] = v
            out.append(Hostile(label, tuple(args), dict(c.kwargs), exc, names, words))

        def whole(label, exc, names, words, key, v):
            out.append(Hostile(label, *replace(c.args, c.kwargs, key, v), exc, names, words))

        for i in present:
            nm, column = plural[i], c.args[i]
            one = "%s[1]" % nm
            # the list itself
            whole("%s an ndarray" % nm, TypeError, (nm,), ("list or tuple",), i, column[0])
            whole("%s a dict" % nm, TypeError, (nm,), ("list or tuple",), i, {})
            whole("%s one short" % nm, ValueError, (nm,) if i else ("params",),
                  ("one entry per tensor",), i, column[:-1])
            whole("%s one long" % nm, ValueError, (nm,) if i else ("params",),
                  ("one entry per tensor",), i, column + [column[0].copy()])
            # one entry: shape, type, layout, writeability
            entry("%s shape (3, 2)" % one, ValueError, (one,), ("shape",),
                  (i, 1, column[1].reshape(3, 2)))
            entry("%s[2] one element short" % nm, ValueError, ("%s[2]" % nm,), ("shape",),
                  (i, 2, column[2][:-1]))
            entry("%s list" % one, TypeError, (one,), ("ndarray",), (i, 1, column[1].tolist()))
            entry("%s None" % one, TypeError, (one,), ("NoneType",), (i, 1, None))
            entry("%s float64" % one, TypeError, (one,), ("float64",),
                  (i, 1, column[1].astype(np.float64)))
            strided = np.zeros((2, 6), np.float32)[:, ::2]
            strided[...] = column[1]
            entry("%s strided" % one, ValueError, (one,), ("C-contiguous",), (i, 1, strided))
            entry("%s F-order" % one, ValueError, (one,), ("C-contiguous",),
                  (i, 1, np.asfortranarray(column[1])))
            if nm != "grads":
                ro = column[1].copy()
                ro.flags.writeable = False
                entry("%s read-only" % one, ValueError, (one,), ("writeable",), (i, 1, ro))
        # entry dtypes of params and grads
        for i, nm in ((0, "params"), (1, "grads")):
            good = c.args[i][1]
            for label, v, word in [("int32", good.astype(np.int32), "int32"),
                                   ("float16", good.astype(np.float16), "float16"),
                                   ("complex", good.astype(np.complex128), "complex128"),
                                   ("object", good.astype(object), "object"),
                                   ("bool", good > 0, "bool"),
                                   ("big-endian", good.astype(">f4"), ">f4")]:
                entry("%s[1] %s" % (nm, label), TypeError, ("%s[1]" % nm,), (word,), (i, 1, v))
        # a whole tensor of another dtype than the first
        entry("tensor 1 all float64", TypeError, ("params[1]", "params[0]"), ("float64",),
              *[(i, 1, c.args[i][1].astype(np.float64)) for i in present])
        # overlap across tensors (the sorted-span check) and within one (pair by pair)
        entry("params[2] is params[0]", ValueError, ("params[0]", "params[2]"), ("overlap",),
              (0, 2, c.args[0][0]))
        entry("%s[0] is params[2]" % plural[last], ValueError,
              ("%s[0]" % plural[last], "params[2]"), ("overlap",), (last, 0, c.args[0][2]))
        entry("grads[2] is grads[0]", ValueError, ("grads[0]", "grads[2]"), ("overlap",),
              (1, 2, c.args[1][0]))
        buf = np.zeros(11, np.float32)
        entry("params[0] and %s[2] share one element" % plural[last], ValueError,
              ("params[0]", "%s[2]" % plural[last]), ("overlap",),
              (0, 0, buf[:6]), (last, 2, buf[5:]))
        # one tensor: few arrays, compared pair by pair
        buf = np.zeros(7, np.float32)
        one = [a if a is None or not isinstance(a, list) else a[:1] for a in c.args]
        one[0], one[1] = [buf[1:]], [buf[:-1]]
        out.append(Hostile("one tensor: params[0] and grads[0] overlap", tuple(one),
                           dict(c.kwargs), ValueError, ("params[0]", "grads[0]"), ("overlap",)))
        # state lists left out
        for s in states:
            i = 2 + states.index(s)
            if s in optional:        # a flag needs it
                whole("%s None" % plural[i], ValueError, (plural[i],), ("None",), i, None)
            else:
                whole("%s None" % plural[i], TypeError, (plural[i],), ("list or tuple",), i,
                      None)
        # per-tensor arguments
        per_tensor = []
        if takes_step:
            per_tensor.append(("steps", n_arrays, [
                ("0", 0, ValueError), ("-1", -1, ValueError), ("1.5", 1.5, TypeError),
                ("True", True, TypeError), ("None", None, TypeError), ("'1'", "1", TypeError)]))
        if takes_mu:
            per_tensor.append(("mu_products", n_arrays + 1, [
                ("NaN", float("nan"), ValueError), ("2.0", 2.0, ValueError),
                ("-0.5", -0.5, ValueError), ("True", True, TypeError)]))
        if name == "sgd_update":
            per_tensor.append(("first_steps", "first_steps", [
                ("1", 1, TypeError), ("None", None, TypeError), ("'yes'", "yes", TypeError)]))
        for nm, key, values in per_tensor:
            good = [1, 2, 3] if nm != "first_steps" else [True, False, False]
            if nm == "mu_products":
                good = [1.0, 0.9, 0.81]
            for label, v, exc in values:
                whole("%s[1] %s" % (nm, label), exc, ("%s[1]" % nm,), (), key,
                      [good[0], v, good[2]])
            whole("%s an int" % nm, TypeError, (nm,), ("list or tuple",), key, 1)
            whole("%s an ndarray" % nm, TypeError, (nm,), ("list or tuple",), key,
                  np.array(good))
            whole("%s one short" % nm, ValueError, (nm,), ("one entry per tensor",), key,
                  good[:-1])
            if nm != "first_steps":
                whole("%s None" % nm, TypeError, (nm,), ("list or tuple",), key, None)
        out += hyperparameter_hostiles(name, c)
        return out
    return hostile


# As the single-tensor entries: bit for bit, C-contiguous arrays only.  ``updates``: the lists of
# arrays (each entry compared).
CASES = [KernelCase(name + "_multi", _samples(name), _hostile(name), both(EXACT), _big(name),
                    any_layout=False, updates=tuple(range(2 + len(OPTIMIZERS[name][0]))),
                    equivalent=_equivalent(name))
         for name in OPTIMIZERS]
