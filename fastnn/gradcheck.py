"""Numerical gradient checks: float64 centred differences against the analytic backward.

``gradcheck(layer_or_model, x)`` checks a layer or a ``Sequential``; ``gradcheck_loss(loss,
pred, target)`` checks a loss.  Both return a ``GradcheckResult`` (``.ok``, the largest relative
error per tensor, a readable table as repr).

    res = gradcheck(Dense(4, 3, activation="tanh", seed=0), np.random.rand(5, 4))
    res.ok                 # True: backward agrees with the centred differences
    res                    # a table: tensor, shape, checked, max abs/rel error, ok
    gradcheck_loss(losses.MSE(), pred, target).ok

What is compared.  For a layer or model f and an upstream gradient dy (random from ``seed`` when
not given) the scalar objective is

    L(x, params) = sum(f(x) * dy) + regularization_loss()

so that dL/dx is exactly what ``backward(dy)`` returns and dL/dparam is what it writes into each
``Parameter.grad`` (the layers add their regularizer's gradient there, hence the penalty in L).
Each entry of x and of every parameter is moved by +-eps in turn and

    numeric = (L(v + eps) - L(v - eps)) / (2 eps)

is compared with the analytic value a, entry by entry:

    rel_error = |a - numeric| / max(|a|, |numeric|, atol / rtol)
    ok        = rel_error <= rtol      i.e.  |a - numeric| <= max(atol, rtol * max(|a|, |numeric|))

Entries smaller than atol/rtol are measured against atol/rtol, so the rounding noise of the
centred difference (about 1e-16 * |L| / eps) around a zero gradient does not read as a 100 %
error.  A non-finite analytic or numeric value is an error of inf (fails).

Precision.  Everything runs in float64 on a deep copy: a float32 layer or model is copied and
cast with ``astype(np.float64)``; the caller's object is never touched (its weights, grads and
what its forward kept stay as they were).  Before the analytic backward every grad of the copy is
filled with NaN, so a parameter that ``backward`` forgets to overwrite shows up as a failure.

Kinks.  relu, max pooling and MAE are not differentiable everywhere: an entry closer than eps to
a kink (an input at 0, two tied maxima in a pooling window) gives a wrong numeric value.  Use
inputs away from kinks (continuous random values hit one with probability ~1e-6 per entry).

Dropout.  ``training=False`` (the default) evaluates Dropout as the identity, which is what
should be checked almost always.  With ``training=True`` each Dropout layer of the copy draws
one keep-mask from ``seed`` at the first forward and reuses it for every later evaluation (through
``Dropout.forward(..., mask=)``), so the objective is a fixed function of x.

Cost: 2 * (x.size + number of parameter entries) forward passes; ``max_elements`` checks a
seeded random sample of that many entries per tensor instead of all of them.
"""
import copy
import math
import numbers

import numpy as np

from . import _validate as _v
from .layers import Dropout, Layer
from .losses import Loss

__all__ = ["gradcheck", "gradcheck_loss", "GradcheckResult", "TensorCheck"]


class TensorCheck:
    """The check of one tensor: ``name``, ``shape``, ``checked`` (entries compared),
    ``max_abs_error``, ``max_rel_error`` (see the module docstring), ``worst_index`` (index into
    the tensor), ``analytic`` / ``numeric`` (the two values there) and ``ok``."""

    __slots__ = ("name", "shape", "checked", "max_abs_error", "max_rel_error", "worst_index",
                 "analytic", "numeric", "ok")

    def __init__(self, name, shape, checked, max_abs_error, max_rel_error, worst_index,
                 analytic, numeric, ok):
        self.name = name
        self.shape = shape
        self.checked = checked
        self.max_abs_error = max_abs_error
        self.max_rel_error = max_rel_error
        self.worst_index = worst_index
        self.analytic = analytic
        self.numeric = numeric
        self.ok = ok

    def __repr__(self):
        return ("TensorCheck(name=%r, shape=%s, checked=%d, max_abs_error=%.3g, "
                "max_rel_error=%.3g, worst_index=%s, analytic=%.6g, numeric=%.6g, ok=%s)"
                % (self.name, self.shape, self.checked, self.max_abs_error, self.max_rel_error,
                   self.worst_index, self.analytic, self.numeric, self.ok))


class GradcheckResult:
    """Outcome of a gradient check.

    ``ok`` is True when every checked entry of every tensor passed; ``bool(result)`` is ``ok``.
    ``checks`` lists one ``TensorCheck`` per tensor ("x" or "pred" first, then the parameters by
    name); ``result["dense/kernel"]`` picks one; ``errors`` maps names to ``max_rel_error`` and
    ``max_rel_error`` is the largest of them.  ``repr`` prints a table.
    """

    def __init__(self, checks, eps, atol, rtol):
        self.checks = list(checks)
        self.eps, self.atol, self.rtol = eps, atol, rtol

    @property
    def ok(self):
        return all(c.ok for c in self.checks)

    def __bool__(self):
        return self.ok

    @property
    def errors(self):
        return {c.name: c.max_rel_error for c in self.checks}

    @property
    def max_rel_error(self):
        return max((c.max_rel_error for c in self.checks), default=0.0)

    def __getitem__(self, name):
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError("no tensor named %r; checked: %s" % (name, [c.name for c in self.checks]))

    def __repr__(self):
        head = "GradcheckResult(ok=%s, eps=%g, atol=%g, rtol=%g)" % (self.ok, self.eps, self.atol,
                                                                    self.rtol)
        rows = [("tensor", "shape", "checked", "max abs err", "max rel err", "ok", "worst")]
        for c in self.checks:
            worst = "" if c.ok else "%s: analytic %.6g, numeric %.6g" % (
                c.worst_index, c.analytic, c.numeric)
            rows.append((c.name, str(c.shape), str(c.checked), "%.2e" % c.max_abs_error,
                         "%.2e" % c.max_rel_error, "yes" if c.ok else "NO", worst))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [head] + ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
                          for r in rows]
        return "\n".join(lines)


# --------------------------------------------------------------------------- argument checks
def _check_tolerances(eps, atol, rtol):
    return (_v.check_scalar(eps, "eps", min=0.0, min_inclusive=False),
            _v.check_scalar(atol, "atol", min=0.0), _v.check_scalar(rtol, "rtol", min=0.0))


def _check_rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_v.check_int(seed, "seed", min=0))


def _check_max_elements(v):
    return None if v is None else _v.check_int(v, "max_elements", min=1)


# Not fastnn.layers' input coercion: a gradient check wants a float64 C-contiguous COPY (it
# perturbs entries in place) and refuses empty arrays, which layers accept.
def _as_float64(a, name):
    """A float64 C-contiguous copy of a real array (ints and float32 are cast)."""
    if not isinstance(a, np.ndarray):
        if isinstance(a, (list, tuple)) or np.isscalar(a):
            a = np.asarray(a)
        else:
            raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(a).__name__))
    if a.dtype.kind not in "fiu":
        raise TypeError("%s must hold real numbers, got dtype %s" % (name, a.dtype))
    if a.size == 0:
        raise ValueError("%s must not be empty, got shape %s" % (name, a.shape))
    a = np.array(a, dtype=np.float64, order="C", copy=True)
    if not np.isfinite(a).all():
        raise ValueError("%s must be finite (a centred difference at inf or NaN means nothing)"
                         % name)
    return a


# --------------------------------------------------------------------------- comparison
def _compare(name, analytic, numeric, idx, atol, rtol):
    """TensorCheck of the analytic values at flat indices idx against numeric (same order)."""
    a = np.asarray(analytic, dtype=np.float64).reshape(-1)[idx]
    n = numeric
    shape = tuple(np.shape(analytic))
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - n)
        mag = np.maximum(np.abs(a), np.abs(n))
        floor = atol / rtol if rtol > 0 else np.finfo(np.float64).tiny
        rel = diff / np.maximum(mag, floor)
        bad = ~np.isfinite(diff)
        rel[bad] = np.inf
        diff[bad] = np.inf
        passed = (diff <= np.maximum(atol, rtol * mag)) & ~bad
    worst = int(np.argmax(rel)) if rel.size else 0
    where = np.unravel_index(int(idx[worst]), shape) if shape else ()
    return TensorCheck(name, shape, int(len(idx)), float(diff.max(initial=0.0)),
                       float(rel.max(initial=0.0)), tuple(int(i) for i in where),
                       float(a[worst]) if a.size else 0.0, float(n[worst]) if n.size else 0.0,
                       bool(passed.all()))


def _indices(size, max_elements, rng):
    if max_elements is None or max_elements >= size:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_elements, replace=False))


def _centred(objective, values, idx, eps):
    """Centred differences of objective() w.r.t. the entries idx of the array ``values``
    (modified in place and restored; the objective reads it)."""
    flat = values.reshape(-1)           # a view: values is C-contiguous
    out = np.empty(len(idx))
    for k, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + eps
        up = objective()
        flat[i] = old - eps
        down = objective()
        flat[i] = old
        out[k] = (up - down) / (2.0 * eps)
    return out


# --------------------------------------------------------------------------- layers and models
def _dropout_layers(model):
    found = [model] if isinstance(model, Dropout) else []
    for layer in getattr(model, "layers", None) or []:
        if isinstance(layer, Dropout):
            found.append(layer)
    return found


def _freeze_dropout(layer, rng):
    """Make ``layer.forward(x, training=True)`` reuse one keep-mask per input shape, drawn from
    rng on first use: the objective is then a fixed function of x."""
    original = layer.forward
    masks = {}

    def forward(x, training=False, mask=None):
        if training and mask is None:
            shape = np.shape(x)
            if shape not in masks:
                masks[shape] = rng.random(shape) >= layer.rate
            mask = masks[shape]
        return original(x, training=training, mask=mask)
    layer.forward = forward             # on the private copy only


def _named_parameters(model):
    params = list(model.parameters()) if callable(getattr(model, "parameters", None)) else []
    names, seen = [], {}
    for i, p in enumerate(params):
        name = getattr(p, "name", None) or "param%d" % i
        if name in seen or name == "x":
            name = "%s#%d" % (name, i)
        seen[name] = True
        names.append(name)
    return list(zip(names, params))


def gradcheck(layer_or_model, x, dy=None, *, eps=1e-6, atol=1e-6, rtol=1e-5, seed=0,
              params=True, training=False, max_elements=None):
    """Check a layer's or model's backward against float64 centred differences.

    layer_or_model: anything with ``forward(x, training=...)``, ``backward(dy)`` and
        (optionally) ``parameters()`` and ``astype(dtype)``: every ``fastnn.layers`` layer and
        ``fastnn.Sequential``.  It is deep-copied and cast to float64; the argument is left as
        it was.
    x: the input batch, e.g. (N, in_features) for Dense or (N, C, H, W) for Conv2D; any real
        dtype (cast to float64); must be finite.
    dy: the upstream gradient, of the output's shape; None draws it from N(0, 1) with ``seed``.
    eps: the step of the centred difference.  atol, rtol: the tolerance (module docstring).
    seed: int or numpy.random.Generator, for dy, the Dropout masks and the sampled entries.
    params: also check every parameter's grad (False: only dx).
    training: passed to forward; Dropout masks are then fixed (module docstring).
    max_elements: None (every entry) or how many seeded-random entries to check per tensor.

    Returns a ``GradcheckResult``: ``.ok``, ``.checks`` ("x", then each parameter by name),
    ``.errors``.  Raises TypeError/ValueError for bad arguments, and TypeError when the copy
    cannot run in float64 (a parameter or the output stays float32).
    """
    if isinstance(layer_or_model, Loss):
        raise TypeError("layer_or_model is a loss (%s): use fastnn.gradcheck.gradcheck_loss(loss, "
                        "pred, target)" % type(layer_or_model).__name__)
    for attr in ("forward", "backward"):
        if not callable(getattr(layer_or_model, attr, None)):
            raise TypeError("layer_or_model must have forward(x, training) and backward(dy) "
                            "methods (a fastnn layer or Sequential), got %s"
                            % type(layer_or_model).__name__)
    eps, atol, rtol = _check_tolerances(eps, atol, rtol)
    rng = _check_rng(seed)
    params = _v.check_bool(params, "params")
    training = _v.check_bool(training, "training")
    max_elements = _check_max_elements(max_elements)
    x = _as_float64(x, "x")

    model = copy.deepcopy(layer_or_model)
    if callable(getattr(model, "astype", None)):
        model.astype(np.float64)
    named = _named_parameters(model)
    for name, p in named:
        if p.value.dtype != np.float64:
            raise TypeError("parameter %s is %s after astype(float64): gradcheck needs float64 "
                            "throughout (%s has no working astype?)"
                            % (name, p.value.dtype, type(layer_or_model).__name__))
    if training:
        for layer in _dropout_layers(model):
            _freeze_dropout(layer, rng)
    regularization = getattr(model, "regularization_loss", None)
    if not callable(regularization):
        regularization = None

    y = model.forward(x.copy(), training=training)
    if not isinstance(y, np.ndarray) or y.dtype != np.float64:
        raise TypeError("forward returned %s for a float64 input: gradcheck needs float64 "
                        "throughout" % (getattr(y, "dtype", type(y).__name__),))
    if dy is None:
        dy = rng.standard_normal(y.shape)
    else:
        dy = _as_float64(dy, "dy")
        if dy.shape != y.shape:
            raise ValueError("dy must have the output's shape %s, got %s" % (y.shape, dy.shape))

    # analytic: NaN first, so a grad that backward does not overwrite fails the check
    for _, p in named:
        p.grad = np.full_like(p.value, np.nan)
    dx = model.backward(dy.copy())
    dx = np.asarray(dx)
    if dx.shape != x.shape:
        raise ValueError("backward returned dx of shape %s for x of shape %s" % (dx.shape, x.shape))
    grads = [np.array(p.grad, dtype=np.float64, copy=True) for _, p in named]

    xv = x.copy()

    def objective():
        out = model.forward(xv, training=training)
        value = float(np.dot(np.asarray(out, dtype=np.float64).reshape(-1), dy.reshape(-1)))
        return value + (float(regularization()) if regularization is not None else 0.0)

    checks = []
    idx = _indices(x.size, max_elements, rng)
    checks.append(_compare("x", dx, _centred(objective, xv, idx, eps), idx, atol, rtol))
    if params:
        for (name, p), g in zip(named, grads):
            if not p.value.flags.c_contiguous:
                p.value = np.ascontiguousarray(p.value)
            idx = _indices(p.value.size, max_elements, rng)
            checks.append(_compare(name, g, _centred(objective, p.value, idx, eps), idx, atol,
                                   rtol))
    return GradcheckResult(checks, eps, atol, rtol)


# --------------------------------------------------------------------------- losses
def gradcheck_loss(loss, pred, target, *, eps=1e-6, atol=1e-6, rtol=1e-5, seed=0,
                   max_elements=None):
    """Check ``loss.backward()`` (dL/dpred) against float64 centred differences of
    ``loss.forward(pred, target)``.

    loss: a ``fastnn.losses`` loss (``forward(pred, target) -> float``, ``backward() ->
        dpred``); deep-copied, the argument is left as it was.
    pred: the predictions, e.g. logits (N, K) for SoftmaxCrossEntropy, probabilities for
        CrossEntropy; cast to float64.
    target: integer class ids (kept as they are) or float targets (cast to float64).
    eps, atol, rtol, seed (used only for max_elements sampling), max_elements: as in
        ``gradcheck``.

    Returns a ``GradcheckResult`` with one check, "pred".
    """
    if isinstance(loss, Layer) or not all(callable(getattr(loss, a, None))
                                          for a in ("forward", "backward")):
        raise TypeError("loss must have forward(pred, target) -> float and backward() -> dpred "
                        "(a fastnn.losses loss), got %s" % type(loss).__name__)
    eps, atol, rtol = _check_tolerances(eps, atol, rtol)
    rng = _check_rng(seed)
    max_elements = _check_max_elements(max_elements)
    pred = _as_float64(pred, "pred")
    if isinstance(target, np.ndarray) and target.dtype.kind == "f":
        target = target.astype(np.float64)
    loss = copy.deepcopy(loss)

    value = loss.forward(pred.copy(), target)
    if not isinstance(value, (numbers.Real, np.floating)) or np.ndim(value) != 0:
        raise TypeError("loss.forward(pred, target) must return a float, got %s"
                        % type(value).__name__)
    if not math.isfinite(float(value)):
        raise ValueError("loss.forward(pred, target) is %r: the loss must be finite at pred"
                         % (value,))
    dpred = np.asarray(loss.backward())
    if dpred.shape != pred.shape:
        raise ValueError("loss.backward() returned shape %s for pred of shape %s"
                         % (dpred.shape, pred.shape))
    dpred = np.array(dpred, dtype=np.float64, copy=True)

    pv = pred.copy()

    def objective():
        return float(loss.forward(pv, target))

    idx = _indices(pred.size, max_elements, rng)
    check = _compare("pred", dpred, _centred(objective, pv, idx, eps), idx, atol, rtol)
    return GradcheckResult([check], eps, atol, rtol)
