"""Contracts of the optimizer update kernels: what each accepts and the scalars it prepares.

Both implementations call the contract first: the NumPy twins (``fastnn.reference.optim``) and the
compiled kernels (``fastnn.kernels._optim``), so they accept and reject exactly the same inputs
with the same messages.  A contract returns the rule's scalars as a named tuple whose fields are
the fields of the rule's C struct (``src_c/fnn_optim.h``): the checked hyper-parameters and the
step-dependent scalars (bias corrections, step sizes), computed here in Python floats as
torch.optim computes them.  A multi-tensor contract returns one named tuple per tensor (the step
may differ between tensors).

Each algorithm's hyper-parameters are declared once, in a constraints table (name -> constraint,
as scikit-learn's ``_parameter_constraints``).  The tables check the kernels' arguments here
(fastnn's wording: ``lr must be >= 0.0, got -1.0``) and the optimizer classes' parameter groups in
``fastnn.optim`` (torch's wording: ``Invalid learning rate: -1``).  A constraint is a short text
(``"real >= 0"``, ``"real in [0, 1)"``, ``"bool"``, ``"pair of real in [0, 1)"`` for torch's
``betas``, which the kernels take as ``beta1`` and ``beta2``), defined in
``fastnn.contracts.constraints``.

Example::

    >>> from fastnn.contracts import optim as contract
    >>> contract.ADAM["eps"]
    'real >= 0'
    >>> s = contract.adam_update(p, g, m, v, None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False,
    ...                          False)
    >>> s.step_size                         # lr / (1 - beta1 ** step)
    0.010000000000000002
"""
# Size: over ~500 lines, kept whole: one constraint table and one contract per update rule
# (nine rules, single- and multi-tensor); each rule reads as one block beside its twin.
import collections
import operator

import numpy as np

from .._validate import FLOAT_DTYPES
from .constraints import check_argument, checker

__all__ = [
    "SGD", "ADAGRAD", "ADADELTA", "RMSPROP", "ADAM", "ADAMAX", "NADAM", "STEP_ARGUMENTS",
    "SGDScalars", "AdagradScalars", "AdadeltaScalars", "RMSpropScalars", "AdamScalars",
    "AdamaxScalars", "NAdamScalars",
    "sgd_update", "adagrad_update", "adadelta_update", "rmsprop_update", "adam_update",
    "adamax_update", "nadam_update",
    "sgd_update_multi", "adagrad_update_multi", "adadelta_update_multi", "rmsprop_update_multi",
    "adam_update_multi", "adamax_update_multi", "nadam_update_multi",
    "STATE_SLOTS", "UpdateTableArgs", "update_table", "update_scalars",
]

# ------------------------------------------------------------------------------------------------
# Hyper-parameters: one table per algorithm, in torch's constructor order
# ------------------------------------------------------------------------------------------------

SGD = {
    "lr": "real >= 0",
    "momentum": "real >= 0",
    "dampening": "real",
    "weight_decay": "real >= 0",
    "nesterov": "bool",
    "maximize": "bool",
}
ADAGRAD = {
    "lr": "real >= 0",
    "lr_decay": "real >= 0",
    "eps": "real >= 0",
    "weight_decay": "real >= 0",
    "initial_accumulator_value": "real >= 0",
    "maximize": "bool",
}
ADADELTA = {
    "lr": "real >= 0",
    "rho": "real in [0, 1]",
    "eps": "real >= 0",
    "weight_decay": "real >= 0",
    "maximize": "bool",
}
RMSPROP = {
    "lr": "real >= 0",
    "momentum": "real >= 0",
    "alpha": "real >= 0",
    "eps": "real >= 0",
    "centered": "bool",
    "weight_decay": "real >= 0",
    "maximize": "bool",
}
ADAM = {
    "lr": "real >= 0",
    "betas": "pair of real in [0, 1)",
    "eps": "real >= 0",
    "weight_decay": "real >= 0",
    "amsgrad": "bool",
    "maximize": "bool",
    "decoupled_weight_decay": "bool",
}
ADAMAX = {
    "lr": "real >= 0",
    "betas": "pair of real in [0, 1)",
    "eps": "real >= 0",
    "weight_decay": "real >= 0",
    "maximize": "bool",
}
NADAM = {
    "lr": "real >= 0",
    "betas": "pair of real in [0, 1)",
    "eps": "real >= 0",
    "weight_decay": "real >= 0",
    "momentum_decay": "real >= 0",
    "decoupled_weight_decay": "bool",
    "maximize": "bool",
}
#: the kernels' arguments that are not hyper-parameters but per-tensor step state
STEP_ARGUMENTS = {
    "step": "int >= 1",
    "first_step": "bool",
    "mu_product": "real in [0, 1]",
}


# ------------------------------------------------------------------------------------------------
# Checks against the tables
# ------------------------------------------------------------------------------------------------

def _check_hyperparameters(table, **values):
    """Check kernel arguments against an algorithm's table (``beta1``/``beta2`` against each
    value of its ``betas``); returns them checked, as a dict (shared: read it, do not change it).

    A training loop passes the same objects at every step (a group's entries change only when
    something assigns them), so the last checked values of each table and argument list are
    kept, and values that are those very objects -- Python floats, ints and bools, which
    cannot change -- are not checked again.  Identity, not equality: ``-0.0 == 0.0`` and
    ``True == 1``, but they are not the same argument."""
    key = (id(table), tuple(values))
    given = tuple(values.values())
    last = _LAST_CHECKED.get(key)
    if last is not None and all(map(operator.is_, last[0], given)):
        return last[1]
    checked = {name: checker(table[_TABLE_KEY.get(name, name)])(value, name)
               for name, value in values.items()}
    if all(type(v) in _IMMUTABLE_SCALARS for v in given):
        _LAST_CHECKED[key] = (given, checked)
    return checked


# (id of a table, argument names) -> (the last values checked, their checked dict); the tables
# are module constants, so the ids stay valid and the entries stay few
_LAST_CHECKED = {}
_IMMUTABLE_SCALARS = (float, int, bool)


# kernel argument -> the table entry that constrains it; the checker of a "pair of ..." entry
# checks one value, as the kernels take the pair as two arguments
_TABLE_KEY = {"beta1": "betas", "beta2": "betas"}


# ------------------------------------------------------------------------------------------------
# Arrays.  Every contract checks a list of tensors; a single-tensor kernel's is a list of one, and
# its errors name the arrays as its arguments ("exp_avg"), a multi-tensor kernel's as list entries
# ("exp_avgs[3]").
# ------------------------------------------------------------------------------------------------

def _label(plural, j, single):
    """How an error names entry j of the list ``plural``."""
    return plural[:-1] if single else "%s[%d]" % (plural, j)


def _check_tensor(named):
    """Check one tensor's arrays, ``named`` = [(name, array)] starting with its param and grad.

    All must be ndarrays of the same float dtype and shape, C-contiguous (the kernel walks them as
    flat buffers); all but the grad must be writeable, because they are updated in place -- a
    silent copy would lose the update, so a bad one is an error, never copied.
    """
    (pname, param), (gname, _) = named[0], named[1]
    for name, a in named:
        if not isinstance(a, np.ndarray):
            raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(a).__name__))
    if param.dtype not in FLOAT_DTYPES:
        raise TypeError("%s must have dtype float32 or float64, got %s" % (pname, param.dtype))
    for name, a in named[1:]:
        if a.dtype != param.dtype:
            raise TypeError("%s must have the same dtype as %s (%s), got %s" % (
                name, pname, param.dtype, a.dtype))
        if a.shape != param.shape:
            raise ValueError("%s must have the same shape as %s %s, got %s" % (
                name, pname, param.shape, a.shape))
    for name, a in named:
        if not a.flags.c_contiguous:
            raise ValueError("%s must be C-contiguous (it is walked as one flat buffer; "
                             "pass np.ascontiguousarray(%s))" % (name, name))
        if name != gname and not a.flags.writeable:
            raise ValueError("%s must be writeable: it is updated in place" % name)


def _check_disjoint(named):
    """No two of the (C-contiguous) arrays share memory: the fused pass and the twin's sequence
    of array operations would then disagree, and two threads could write the same element.

    A few arrays (one tensor) are compared pair by pair with np.may_share_memory; a list of
    tensors by sorting the arrays' address ranges (reading an address costs more than one
    comparison, but the pairs grow as the square of the count).
    """
    if len(named) <= 6:
        for i in range(len(named)):
            for j in range(i + 1, len(named)):
                if named[i][1].size and np.may_share_memory(named[i][1], named[j][1]):
                    raise ValueError("%s and %s must not overlap in memory" % (
                        named[i][0], named[j][0]))
        return
    spans = sorted((a.__array_interface__["data"][0], i) for i, (_, a) in enumerate(named)
                   if a.size)
    for (start, i), (next_start, j) in zip(spans, spans[1:]):
        if start + named[i][1].nbytes > next_start:
            first, second = sorted((i, j))
            raise ValueError("%s and %s must not overlap in memory" % (
                named[first][0], named[second][0]))


def _check_list(seq, plural, count):
    if not isinstance(seq, (list, tuple)):
        raise TypeError("%s must be a list or tuple, got %s" % (plural, type(seq).__name__))
    if len(seq) != count:
        raise ValueError("%s must have one entry per tensor (%d, as params), got %d" % (
            plural, count, len(seq)))
    return seq


def _count(params):
    if not isinstance(params, (list, tuple)):
        raise TypeError("params must be a list or tuple, got %s" % type(params).__name__)
    return len(params)


def _required(seq, plural, flag_text, single):
    """A state the flags use: None (its array, or a multi-tensor kernel's list) is refused with a
    clear message; returns ``seq``."""
    if single and seq[0] is None:
        raise ValueError("%s must be an array when %s, got None" % (plural[:-1], flag_text))
    if seq is None:
        raise ValueError("%s must be a list of arrays when %s, got None" % (plural, flag_text))
    return seq


def _check_tensors(params, grads, states, single):
    """The arrays of every tensor (``states`` = [(plural name, list)]: the states the flags use),
    each tensor as ``_check_tensor``; all of params[0]'s dtype; no array overlapping another."""
    count = len(params)
    columns = [("params", params), ("grads", _check_list(grads, "grads", count))]
    columns += [(name, _check_list(seq, name, count)) for name, seq in states]
    everything = []
    for j in range(count):
        named = [(_label(name, j, single), seq[j]) for name, seq in columns]
        _check_tensor(named)
        if j and named[0][1].dtype != params[0].dtype:
            raise TypeError("params[%d] must have the dtype of params[0] (%s), got %s" % (
                j, params[0].dtype, named[0][1].dtype))
        everything += named
    _check_disjoint(everything)


def _per_tensor(values, plural, count, single):
    """A per-tensor argument (steps, first_steps, mu_products): one checked value per tensor."""
    _check_list(values, plural, count)
    constraint = STEP_ARGUMENTS[plural[:-1]]
    admitted = _ADMITTED_AS_IS.get(constraint)
    if admitted is not None and all(map(admitted, values)):
        return list(values)         # what the checks below return for these values
    return [check_argument(v, _label(plural, j, single), constraint) for j, v in enumerate(values)]


# constraint -> a test of the values its check returns unchanged (the steps of a training loop)
_ADMITTED_AS_IS = {
    "int >= 1": lambda v: type(v) is int and v >= 1,
    "bool": lambda v: v is True or v is False,
}


# ------------------------------------------------------------------------------------------------
# The rules' scalars: one named tuple per rule, the fields of its C struct in fnn_optim.h
# ------------------------------------------------------------------------------------------------

SGDScalars = collections.namedtuple(
    "SGDScalars", "lr momentum dampening weight_decay nesterov maximize first_step")
AdagradScalars = collections.namedtuple("AdagradScalars", "clr weight_decay eps maximize")
AdadeltaScalars = collections.namedtuple("AdadeltaScalars", "lr rho eps weight_decay maximize")
RMSpropScalars = collections.namedtuple(
    "RMSpropScalars", "lr alpha eps weight_decay momentum centered maximize")
AdamScalars = collections.namedtuple(
    "AdamScalars", "lr beta1 beta2 eps weight_decay step_size bias_correction2_sqrt amsgrad "
                   "maximize decoupled_weight_decay")
AdamaxScalars = collections.namedtuple(
    "AdamaxScalars", "beta1 beta2 eps weight_decay clr maximize")
NAdamScalars = collections.namedtuple(
    "NAdamScalars", "lr beta1 beta2 eps weight_decay bias_correction2 grad_coef exp_avg_coef "
                    "decoupled_weight_decay maximize mu_product")
NAdamScalars.__doc__ = """NAdam's scalars; ``mu_product`` is the new product of the mus, which
the kernel returns (the C struct has no such field)."""


def _adagrad_scalars_at(h, step):
    return AdagradScalars(clr=h["lr"] / (1 + (step - 1) * h["lr_decay"]),
                          weight_decay=h["weight_decay"], eps=h["eps"], maximize=h["maximize"])


def _adam_scalars_at(h, step):
    # As torch's _single_tensor_adam: Python floats, bias_correction2 ** 0.5 (not math.sqrt).
    bias_correction1 = 1 - h["beta1"] ** step
    bias_correction2 = 1 - h["beta2"] ** step
    return AdamScalars(step_size=h["lr"] / bias_correction1,
                       bias_correction2_sqrt=bias_correction2 ** 0.5, **h)


def _adamax_scalars_at(h, step):
    return AdamaxScalars(beta1=h["beta1"], beta2=h["beta2"], eps=h["eps"],
                         weight_decay=h["weight_decay"], maximize=h["maximize"],
                         clr=h["lr"] / (1 - h["beta1"] ** step))


def _nadam_scalars_at(h, step, mu_product):
    """torch keeps ``mu_product`` as a float32 0-d tensor (its default scalar dtype), so
    ``mu_product *= mu`` rounds to float32 and ``.item()`` reads that float32 back; we do the same
    so trajectories agree with torch."""
    lr, beta1, momentum_decay = h["lr"], h["beta1"], h["momentum_decay"]
    bias_correction2 = 1 - h["beta2"] ** step
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    mu_product = float(np.float32(mu_product) * np.float32(mu))
    mu_product_next = mu_product * mu_next
    return NAdamScalars(
        lr=lr, beta1=beta1, beta2=h["beta2"], eps=h["eps"], weight_decay=h["weight_decay"],
        bias_correction2=bias_correction2,
        grad_coef=-lr * (1.0 - mu) / (1.0 - mu_product),
        exp_avg_coef=(-lr * mu_next) / (1.0 - mu_product_next),
        decoupled_weight_decay=h["decoupled_weight_decay"], maximize=h["maximize"],
        mu_product=mu_product)


# ------------------------------------------------------------------------------------------------
# One contract per rule, for a list of tensors (``single``: the list of one that a single-tensor
# kernel passes); returns one named tuple per tensor.  The public functions below take exactly
# the kernels' arguments.
# ------------------------------------------------------------------------------------------------

def _memo(make, values):
    """``[make(v) for v in values]``, computing each distinct value once (a group's tensors
    usually share their step, so one scalars tuple serves them all)."""
    if values and values.count(values[0]) == len(values):
        return [make(values[0])] * len(values)
    done = {}
    out = []
    for v in values:
        if v not in done:
            done[v] = make(v)
        out.append(done[v])
    return out


# Each ``_<rule>_scalars`` checks the hyper-parameters and per-tensor arguments of ``count``
# tensors and returns (one named tuple per tensor, the state slots the flags use): the part of a
# contract that does not look at arrays, which ``UpdateTable.update`` runs at every step.  Each
# ``_<rule>`` adds the array checks: the whole contract of the kernels.

def _sgd_scalars(count, lr, momentum, dampening, weight_decay, nesterov, maximize, first_steps,
                 single):
    h = _check_hyperparameters(SGD, lr=lr, momentum=momentum, dampening=dampening,
                               weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
    if h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0):
        raise ValueError("nesterov=True requires momentum > 0 and dampening == 0, got momentum=%r, "
                         "dampening=%r" % (h["momentum"], h["dampening"]))
    if first_steps is None:
        first_steps = [False] * count
    first_steps = _per_tensor(first_steps, "first_steps", count, single)
    return (_memo(lambda first: SGDScalars(first_step=first, **h), first_steps),
            (0,) if h["momentum"] != 0 else ())


def _sgd(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov,
         maximize, first_steps, single):
    ss, used = _sgd_scalars(_count(params), lr, momentum, dampening, weight_decay, nesterov,
                            maximize, first_steps, single)
    states = []
    if used:
        states.append(("momentum_buffers", _required(momentum_buffers, "momentum_buffers",
                                                     "momentum != 0", single)))
    _check_tensors(params, grads, states, single)
    return ss


def _adagrad_scalars(count, steps, lr, lr_decay, weight_decay, eps, maximize, single):
    h = _check_hyperparameters(ADAGRAD, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                               eps=eps, maximize=maximize)
    steps = _per_tensor(steps, "steps", count, single)
    return _memo(lambda step: _adagrad_scalars_at(h, step), steps), (0,)


def _adagrad(params, grads, state_sums, steps, lr, lr_decay, weight_decay, eps, maximize, single):
    ss, _ = _adagrad_scalars(_count(params), steps, lr, lr_decay, weight_decay, eps, maximize,
                             single)
    _check_tensors(params, grads, [("state_sums", state_sums)], single)
    return ss


def _adadelta_scalars(count, lr, rho, eps, weight_decay, maximize, single):
    s = AdadeltaScalars(**_check_hyperparameters(
        ADADELTA, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))
    return [s] * count, (0, 1)


def _adadelta(params, grads, square_avgs, acc_deltas, lr, rho, eps, weight_decay, maximize,
              single):
    ss, _ = _adadelta_scalars(_count(params), lr, rho, eps, weight_decay, maximize, single)
    _check_tensors(params, grads, [("square_avgs", square_avgs), ("acc_deltas", acc_deltas)],
                   single)
    return ss


def _rmsprop_scalars(count, lr, alpha, eps, weight_decay, momentum, centered, maximize, single):
    s = RMSpropScalars(**_check_hyperparameters(
        RMSPROP, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
        centered=centered, maximize=maximize))
    return [s] * count, (0,) + ((1,) if s.centered else ()) + ((2,) if s.momentum > 0 else ())


def _rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, lr, alpha, eps,
             weight_decay, momentum, centered, maximize, single):
    ss, used = _rmsprop_scalars(_count(params), lr, alpha, eps, weight_decay, momentum, centered,
                                maximize, single)
    states = [("square_avgs", square_avgs)]
    if 1 in used:
        states.append(("grad_avgs", _required(grad_avgs, "grad_avgs", "centered=True", single)))
    if 2 in used:
        states.append(("momentum_buffers", _required(momentum_buffers, "momentum_buffers",
                                                     "momentum > 0", single)))
    _check_tensors(params, grads, states, single)
    return ss


def _adam_scalars(count, steps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                  decoupled_weight_decay, single):
    h = _check_hyperparameters(ADAM, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                               weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                               decoupled_weight_decay=decoupled_weight_decay)
    steps = _per_tensor(steps, "steps", count, single)
    return (_memo(lambda step: _adam_scalars_at(h, step), steps),
            (0, 1, 2) if h["amsgrad"] else (0, 1))


def _adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps,
          weight_decay, amsgrad, maximize, decoupled_weight_decay, single):
    ss, used = _adam_scalars(_count(params), steps, lr, beta1, beta2, eps, weight_decay, amsgrad,
                             maximize, decoupled_weight_decay, single)
    states = [("exp_avgs", exp_avgs), ("exp_avg_sqs", exp_avg_sqs)]
    if 2 in used:
        states.append(("max_exp_avg_sqs", _required(max_exp_avg_sqs, "max_exp_avg_sqs",
                                                    "amsgrad=True", single)))
    _check_tensors(params, grads, states, single)
    return ss


def _adamax_scalars(count, steps, lr, beta1, beta2, eps, weight_decay, maximize, single):
    h = _check_hyperparameters(ADAMAX, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                               weight_decay=weight_decay, maximize=maximize)
    steps = _per_tensor(steps, "steps", count, single)
    return _memo(lambda step: _adamax_scalars_at(h, step), steps), (0, 1)


def _adamax(params, grads, exp_avgs, exp_infs, steps, lr, beta1, beta2, eps, weight_decay,
            maximize, single):
    ss, _ = _adamax_scalars(_count(params), steps, lr, beta1, beta2, eps, weight_decay, maximize,
                            single)
    _check_tensors(params, grads, [("exp_avgs", exp_avgs), ("exp_infs", exp_infs)], single)
    return ss


def _nadam_scalars(count, steps, mu_products, lr, beta1, beta2, eps, weight_decay,
                   momentum_decay, decoupled_weight_decay, maximize, single):
    h = _check_hyperparameters(NADAM, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                               weight_decay=weight_decay, momentum_decay=momentum_decay,
                               decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    steps = _per_tensor(steps, "steps", count, single)
    mu_products = _per_tensor(mu_products, "mu_products", count, single)
    return (_memo(lambda step_mu: _nadam_scalars_at(h, *step_mu), list(zip(steps, mu_products))),
            (0, 1))


def _nadam(params, grads, exp_avgs, exp_avg_sqs, steps, mu_products, lr, beta1, beta2, eps,
           weight_decay, momentum_decay, decoupled_weight_decay, maximize, single):
    ss, _ = _nadam_scalars(_count(params), steps, mu_products, lr, beta1, beta2, eps,
                           weight_decay, momentum_decay, decoupled_weight_decay, maximize, single)
    _check_tensors(params, grads, [("exp_avgs", exp_avgs), ("exp_avg_sqs", exp_avg_sqs)], single)
    return ss


# ------------------------------------------------------------------------------------------------
# The contract of a reusable table of tensors (``fastnn.kernels.UpdateTable`` and its twin): the
# arrays are checked once, when the table is built; each update checks only its scalars.
# ------------------------------------------------------------------------------------------------

#: rule -> the names of its state slots, in the kernels' argument order
STATE_SLOTS = {
    "sgd": ("momentum_buffers",),
    "adagrad": ("state_sums",),
    "adadelta": ("square_avgs", "acc_deltas"),
    "rmsprop": ("square_avgs", "grad_avgs", "momentum_buffers"),
    "adam": ("exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"),
    "adamax": ("exp_avgs", "exp_infs"),
    "nadam": ("exp_avgs", "exp_avg_sqs"),
}
_SCALARS = {"sgd": _sgd_scalars, "adagrad": _adagrad_scalars, "adadelta": _adadelta_scalars,
            "rmsprop": _rmsprop_scalars, "adam": _adam_scalars, "adamax": _adamax_scalars,
            "nadam": _nadam_scalars}

UpdateTableArgs = collections.namedtuple("UpdateTableArgs", "rule params grads states")
UpdateTableArgs.__doc__ = """A checked table: ``rule`` (a key of STATE_SLOTS), ``params`` and
``grads`` (lists), ``states`` (one entry per slot of the rule: a list of arrays, or None for a
slot the table does not hold)."""


def update_table(rule, params, grads, states):
    """The arrays of an update table for ``rule``: ``params`` and ``grads`` lists of tensors,
    ``states`` one entry per state slot of the rule (STATE_SLOTS), each a list with one array per
    tensor or None.  Every tensor is checked as the multi-tensor kernels check theirs (dtype,
    shape, C-contiguous, writeable, no array overlapping another)."""
    if rule not in STATE_SLOTS:
        raise ValueError("rule must be one of %s, got %r" % (sorted(STATE_SLOTS), rule))
    count = _count(params)
    names = STATE_SLOTS[rule]
    if not isinstance(states, (list, tuple)) or len(states) != len(names):
        raise ValueError("states must be a list of %d entries for %s (%s), got %r" % (
            len(names), rule, ", ".join(names), type(states).__name__
            if not isinstance(states, (list, tuple)) else len(states)))
    held = [(name, _check_list(seq, name, count)) for name, seq in zip(names, states)
            if seq is not None]
    _check_tensors(params, grads, held, False)
    return UpdateTableArgs(rule, list(params), list(grads),
                           [None if seq is None else list(seq) for seq in states])


def update_scalars(rule, count, held, **arguments):
    """One update of a table of ``count`` tensors: ``arguments`` are all the multi-tensor
    kernel's arguments after its arrays, by name (``steps=[...], lr=..., beta1=...``: no
    defaults), checked as that kernel checks them.  ``held``: the slots the table holds
    (indices into STATE_SLOTS[rule]); the flags must use exactly those.  Returns one named tuple
    per tensor."""
    ss, used = _SCALARS[rule](count, single=False, **arguments)
    if tuple(used) != tuple(held):
        names = STATE_SLOTS[rule]
        raise ValueError("these hyper-parameters use the states %s, the table holds %s: build a "
                         "new table for them" % ([names[i] for i in used],
                                                 [names[i] for i in held]))
    return ss


def sgd_update(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov,
               maximize, first_step):
    return _sgd([param], [grad], [momentum_buffer], lr, momentum, dampening, weight_decay,
                nesterov, maximize, [first_step], True)[0]


def sgd_update_multi(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay,
                     nesterov, maximize, first_steps):
    return _sgd(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov,
                maximize, first_steps, False)


# Each rule has a single-tensor and a multi-tensor entry point (the kernels' two signatures);
# both forward to the one checker, so the pairs below are thin by design.
def adagrad_update(param, grad, state_sum, step, lr, lr_decay, weight_decay, eps, maximize):
    return _adagrad([param], [grad], [state_sum], [step], lr, lr_decay, weight_decay, eps,
                    maximize, True)[0]


def adagrad_update_multi(params, grads, state_sums, steps, lr, lr_decay, weight_decay, eps,
                         maximize):
    return _adagrad(params, grads, state_sums, steps, lr, lr_decay, weight_decay, eps, maximize,
                    False)


def adadelta_update(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize):
    return _adadelta([param], [grad], [square_avg], [acc_delta], lr, rho, eps, weight_decay,
                     maximize, True)[0]


def adadelta_update_multi(params, grads, square_avgs, acc_deltas, lr, rho, eps, weight_decay,
                          maximize):
    return _adadelta(params, grads, square_avgs, acc_deltas, lr, rho, eps, weight_decay, maximize,
                     False)


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps,
                   weight_decay, momentum, centered, maximize):
    return _rmsprop([param], [grad], [square_avg], [grad_avg], [momentum_buffer], lr, alpha, eps,
                    weight_decay, momentum, centered, maximize, True)[0]


def rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, lr, alpha, eps,
                         weight_decay, momentum, centered, maximize):
    return _rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, lr, alpha, eps,
                    weight_decay, momentum, centered, maximize, False)


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, amsgrad, maximize, decoupled_weight_decay):
    return _adam([param], [grad], [exp_avg], [exp_avg_sq], [max_exp_avg_sq], [step], lr, beta1,
                 beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay, True)[0]


def adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1,
                      beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay):
    return _adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2,
                 eps, weight_decay, amsgrad, maximize, decoupled_weight_decay, False)


def adamax_update(param, grad, exp_avg, exp_inf, step, lr, beta1, beta2, eps, weight_decay,
                  maximize):
    return _adamax([param], [grad], [exp_avg], [exp_inf], [step], lr, beta1, beta2, eps,
                   weight_decay, maximize, True)[0]


def adamax_update_multi(params, grads, exp_avgs, exp_infs, steps, lr, beta1, beta2, eps,
                        weight_decay, maximize):
    return _adamax(params, grads, exp_avgs, exp_infs, steps, lr, beta1, beta2, eps, weight_decay,
                   maximize, False)


def nadam_update(param, grad, exp_avg, exp_avg_sq, step, mu_product, lr, beta1, beta2, eps,
                 weight_decay, momentum_decay, decoupled_weight_decay, maximize):
    return _nadam([param], [grad], [exp_avg], [exp_avg_sq], [step], [mu_product], lr, beta1,
                  beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize,
                  True)[0]


def nadam_update_multi(params, grads, exp_avgs, exp_avg_sqs, steps, mu_products, lr, beta1, beta2,
                       eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize):
    return _nadam(params, grads, exp_avgs, exp_avg_sqs, steps, mu_products, lr, beta1, beta2, eps,
                  weight_decay, momentum_decay, decoupled_weight_decay, maximize, False)
