"""The table's optimizer entries: the in-place single-tensor updates sgd, adagrad, adadelta,
rmsprop, adam, adamw, adamax and nadam.  What the multi-tensor entries (``optim_multi.py``) share
with them: the kernels' states and settings, one tensor's arrays, and the hyper-parameter
hostiles."""
import numpy as np

from .inputs import dtype_hostiles, normal, replace, seeded_rng, scalar_hostiles
from .records import EXACT, F32, Hostile, KernelCase, bad, both, call


# kernel -> (state arrays in argument order, the optional ones, takes step, takes mu_product)
OPTIMIZERS = {
    "sgd_update": (("momentum_buffer",), ("momentum_buffer",), False, False),
    "adagrad_update": (("state_sum",), (), True, False),
    "adadelta_update": (("square_avg", "acc_delta"), (), False, False),
    "rmsprop_update": (("square_avg", "grad_avg", "momentum_buffer"),
                       ("grad_avg", "momentum_buffer"), False, False),
    "adam_update": (("exp_avg", "exp_avg_sq", "max_exp_avg_sq"), ("max_exp_avg_sq",), True,
                    False),
    "adamw_update": (("exp_avg", "exp_avg_sq", "max_exp_avg_sq"), ("max_exp_avg_sq",), True,
                     False),
    "adamax_update": (("exp_avg", "exp_inf"), (), True, False),
    "nadam_update": (("exp_avg", "exp_avg_sq"), (), True, True),
}
# States that are averages of squares or norms start non-negative; the rest are signed.
NONNEG = {"state_sum", "square_avg", "acc_delta", "exp_avg_sq", "max_exp_avg_sq", "exp_inf"}
# Hyper-parameter settings per kernel: every flag and both lerp branches (1 - beta >= 0.5).
OPTIM_SETTINGS = {
    "sgd_update": [dict(lr=0.1), dict(lr=0.1, momentum=0.9, first_step=True),
                   dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01),
                   dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)],
    "adagrad_update": [dict(), dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, eps=1e-6,
                                    maximize=True)],
    "adadelta_update": [dict(), dict(lr=0.5, rho=0.5, weight_decay=0.1, maximize=True)],
    "rmsprop_update": [dict(), dict(centered=True), dict(momentum=0.9),
                       dict(centered=True, momentum=0.9, weight_decay=0.01, maximize=True,
                            alpha=0.3)],
    "adam_update": [dict(), dict(amsgrad=True), dict(weight_decay=0.1),
                    dict(weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True,
                         maximize=True), dict(lr=0.01, beta1=0.3, beta2=0.5)],
    "adamw_update": [dict(), dict(amsgrad=True, weight_decay=0.5, lr=0.01)],
    "adamax_update": [dict(), dict(weight_decay=0.1, maximize=True, beta1=0.2)],
    "nadam_update": [dict(), dict(weight_decay=0.1),
                     dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True,
                          momentum_decay=0.01)],
}
_OPTIM_SHAPES = [(1,), (17,), (33,), (5, 7), (1000,), (3, 4, 5)]


def needs_state(state, kw):
    """Whether the optional ``state`` is used under hyper-parameters ``kw``."""
    if state == "momentum_buffer":
        return kw.get("momentum", 0.0) != 0
    if state == "grad_avg":
        return kw.get("centered", False)
    if state == "max_exp_avg_sq":
        return kw.get("amsgrad", False)
    return True


def tensor_arrays(name, rng, shape, dtype, kw):
    """One tensor's ``(param, grad, {state: array})`` for kernel ``name`` under hyper-parameters
    ``kw``; an optional state the flags leave unused is None."""
    states, optional, _, _ = OPTIMIZERS[name]
    param = normal(rng, shape, dtype)
    grad = normal(rng, shape, dtype)
    arrays = {}
    for s in states:
        if s in optional and not needs_state(s, kw):
            arrays[s] = None          # optional state unused: None is accepted
            continue
        v = rng.random(shape) if s in NONNEG else rng.standard_normal(shape)
        arrays[s] = v.astype(dtype)
    if arrays.get("grad_avg") is not None:
        # consistent centered-RMSprop state (v >= a^2, as the update keeps it): no NaN sqrt
        arrays["square_avg"] += arrays["grad_avg"] ** 2
    return param, grad, arrays


def _optim_call(name, rng, shape, dtype, kw, step, label):
    states, _, takes_step, takes_mu = OPTIMIZERS[name]
    param, grad, arrays = tensor_arrays(name, rng, shape, dtype, kw)
    args = [param, grad] + [arrays[s] for s in states]
    if takes_step:
        args.append(step)
    if takes_mu:
        args.append(0.9 ** (step - 1))
    if name == "sgd_update":
        args.append(kw.get("lr", 0.1))
        kw = {k: v for k, v in kw.items() if k != "lr"}
    return call(label, *args, **kw)


def _optim_samples(name):
    def samples(dtype):
        rng = seeded_rng(name, dtype.name)
        out = []
        for i, kw in enumerate(OPTIM_SETTINGS[name]):
            for j in range(2):
                shape = _OPTIM_SHAPES[(2 * i + j) % len(_OPTIM_SHAPES)]
                step = (1, 3, 10)[(i + j) % 3]
                out.append(_optim_call(name, rng, shape, dtype, kw, step,
                                       "%s %s step %d" % (kw, shape, step)))
        # empty arrays: a valid no-op
        out.append(_optim_call(name, rng, (0, 3), dtype, max(OPTIM_SETTINGS[name], key=len), 2,
                               "empty (0, 3)"))
        return out
    return samples


def _optim_big(name):
    def big(dtype):
        kw = max(OPTIM_SETTINGS[name], key=len)
        return _optim_call(name, seeded_rng(name + " big", dtype.name), (100_003,), dtype, kw, 3,
                           "100003 %s" % kw)
    return big


def _optim_updates(name):
    return tuple(range(2 + len(OPTIMIZERS[name][0])))


def _optim_hostile(name):
    """Bad arrays (type, dtype, shape, contiguity, writeability, overlap), missing optional
    states, and bad hyper-parameters, for optimizer kernel ``name``."""
    states, optional, takes_step, takes_mu = OPTIMIZERS[name]

    def hostile():
        # the setting with the most options on, so every optional state is in use
        setting = max(OPTIM_SETTINGS[name], key=len)
        c = _optim_call(name, seeded_rng(name, "hostile"), (6,), F32, setting, 1, "")
        n_arrays = 2 + len(states)
        names = ("param", "grad") + states
        out = []
        present = [i for i in range(n_arrays) if c.args[i] is not None]
        for i in present:
            nm, a = names[i], c.args[i]
            out.append(Hostile("%s shape" % nm, *replace(c.args, c.kwargs, i, a[:-1]),
                               ValueError, (nm,), ()))
            if i < 2:
                out += dtype_hostiles(c, i, nm)
                out.append(Hostile("%s list" % nm, *replace(c.args, c.kwargs, i, a.tolist()),
                                   TypeError, (nm,), ()))
            else:
                out.append(Hostile("%s dtype mix" % nm, *replace(
                    c.args, c.kwargs, i, a.astype(np.float64)), TypeError, (nm,), ("float64",)))
                out.append(Hostile("%s list" % nm, *replace(c.args, c.kwargs, i, a.tolist()),
                                   TypeError, (nm,), ()))
            out.append(Hostile("%s non-contiguous" % nm, *replace(
                c.args, c.kwargs, i, np.repeat(a, 2)[::2]), ValueError, (nm,),
                ("C-contiguous",)))
            if nm != "grad":
                ro = a.copy()
                ro.flags.writeable = False
                out.append(Hostile("%s read-only" % nm, *replace(c.args, c.kwargs, i, ro),
                                   ValueError, (nm,), ("writeable",)))
        # overlap: two arguments that are views of one buffer
        for i, j in [(0, 1), (0, present[-1]), (1, present[-1])]:
            if i == j:
                continue
            buf = np.zeros(7, np.float32)
            args, kwargs = replace(c.args, c.kwargs, i, buf[1:])
            args, kwargs = replace(args, kwargs, j, buf[:-1])
            out.append(Hostile("%s overlaps %s" % (names[i], names[j]), args, kwargs,
                               ValueError, (names[i], names[j]), ("overlap",)))
        same = np.zeros(6, np.float32)
        args, kwargs = replace(c.args, c.kwargs, 0, same)
        args, kwargs = replace(args, kwargs, present[-1], same)
        out.append(Hostile("param is %s" % names[present[-1]], args, kwargs, ValueError,
                           ("param", names[present[-1]]), ("overlap",)))
        # an optional state left out although a flag needs it
        for s in optional:
            i = 2 + states.index(s)
            args, kwargs = replace(c.args, c.kwargs, i, None)
            out.append(Hostile("%s None" % s, args, kwargs, ValueError, (s,), ("None",)))
        # a required state left out
        for s in states:
            if s not in optional:
                i = 2 + states.index(s)
                args, kwargs = replace(c.args, c.kwargs, i, None)
                out.append(Hostile("%s None" % s, args, kwargs, TypeError, (s,), ()))
        out += hyperparameter_hostiles(name, c)
        if takes_step:
            i = n_arrays
            for label, v, exc in [("step 0", 0, ValueError), ("step -1", -1, ValueError),
                                  ("step float", 1.5, TypeError), ("step bool", True, TypeError),
                                  ("step None", None, TypeError), ("step str", "1", TypeError)]:
                args, kwargs = replace(c.args, c.kwargs, i, v)
                out.append(Hostile(label, args, kwargs, exc, ("step",), ()))
        if takes_mu:
            i = n_arrays + 1
            for label, v, exc in [("mu_product NaN", float("nan"), ValueError),
                                  ("mu_product 2", 2.0, ValueError),
                                  ("mu_product -0.5", -0.5, ValueError),
                                  ("mu_product bool", True, TypeError)]:
                args, kwargs = replace(c.args, c.kwargs, i, v)
                out.append(Hostile(label, args, kwargs, exc, ("mu_product",), ()))
        if name == "sgd_update":
            for label, v in [("int", 1), ("None", None), ("str", "yes")]:
                args, kwargs = replace(c.args, c.kwargs, "first_step", v)
                out.append(Hostile("first_step %s" % label, args, kwargs, TypeError,
                                   ("first_step",), ("bool",)))
        return out
    return hostile


def hyperparameter_hostiles(name, c):
    """Bad hyper-parameters and flags for optimizer kernel ``name`` (the single-tensor name), on
    the call ``c`` of that kernel or of its multi-tensor version: the two take them at the same
    places (sgd's ``lr`` positionally after the arrays, the rest by keyword)."""
    states = OPTIMIZERS[name][0]
    out = []
    hyper = {"lr": -1.0, "weight_decay": -0.5}
    if name in ("adagrad_update", "adadelta_update", "rmsprop_update", "adam_update",
                "adamw_update", "adamax_update", "nadam_update"):
        hyper["eps"] = -1e-8
    for h, below in hyper.items():
        key = 2 + len(states) if (name == "sgd_update" and h == "lr") else h
        out += scalar_hostiles(c, key, h, below=below)
    extra = {
        "sgd_update": [("momentum", -0.1), ("dampening", None)],
        "adagrad_update": [("lr_decay", -0.1)],
        "adadelta_update": [("rho", -0.1)],
        "rmsprop_update": [("alpha", -0.5), ("momentum", -0.1)],
        "adam_update": [("beta1", -0.1), ("beta2", -0.1)],
        "adamw_update": [("beta1", -0.1), ("beta2", -0.1)],
        "adamax_update": [("beta1", -0.1), ("beta2", -0.1)],
        "nadam_update": [("beta1", -0.1), ("beta2", -0.1), ("momentum_decay", -1.0)],
    }[name]
    for h, below in extra:
        out += scalar_hostiles(c, h, h, below=below)
    for h, v in {"adadelta_update": [("rho", 1.5)], "adam_update": [("beta1", 1.0),
                                                                    ("beta2", 1.5)],
                 "adamw_update": [("beta2", 1.0)], "adamax_update": [("beta1", 1.0)],
                 "nadam_update": [("beta2", 1.0)]}.get(name, []):
        args, kwargs = replace(c.args, c.kwargs, h, v)
        out.append(Hostile("%s %r" % (h, v), args, kwargs, ValueError, (h,), (repr(v),)))
    flags = {"sgd_update": ("nesterov", "maximize"),
             "adagrad_update": ("maximize",), "adadelta_update": ("maximize",),
             "rmsprop_update": ("centered", "maximize"),
             "adam_update": ("amsgrad", "maximize", "decoupled_weight_decay"),
             "adamw_update": ("amsgrad", "maximize"), "adamax_update": ("maximize",),
             "nadam_update": ("decoupled_weight_decay", "maximize")}[name]
    for f in flags:
        for label, v in [("int", 1), ("None", None), ("str", "yes")]:
            args, kwargs = replace(c.args, c.kwargs, f, v)
            out.append(Hostile("%s %s" % (f, label), args, kwargs, TypeError, (f,),
                               ("bool",)))
    if name == "sgd_update":
        out.append(bad("nesterov with dampening", ValueError, "nesterov", *c.args,
                       **dict(c.kwargs, dampening=0.1)))
        out.append(bad("nesterov without momentum", ValueError, "nesterov", *c.args,
                       **dict(c.kwargs, momentum=0.0)))
    return out


# Per element the twin's operations in torch's order: bit for bit.  C-contiguous arrays only
# (walked as flat buffers and updated in place, never copied), so no other layout.
CASES = [KernelCase(name, _optim_samples(name), _optim_hostile(name), both(EXACT),
                    _optim_big(name), any_layout=False, updates=_optim_updates(name))
         for name in OPTIMIZERS]
