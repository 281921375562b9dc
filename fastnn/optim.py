"""Optimizers and learning-rate schedulers, constructed and behaving as ``torch.optim``.

Each ``step()`` walks the parameter groups and calls one fused update kernel per parameter
through ``fastnn.backend.K()``, so the same optimizer runs on the compiled kernels
(``fastnn.kernels``) or on their NumPy twins (``fastnn.reference``)::

    opt = fastnn.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in batches:
        opt.zero_grad(); loss = ...; model.backward(...); opt.step()

The update rules, defaults, argument checks and ``state_dict`` layout follow torch 2.x
(single-tensor path, ``foreach=False``); numbers agree with torch to float32 rounding (torch's
vectorised CPU kernels use fused multiply-add in ``lerp`` and ``add(alpha=)``; ours round every
operation, like the NumPy twin, so the compiled and NumPy paths agree bit for bit).
"""
import math
import numbers

import numpy as np

from . import backend
from .parameter import Parameter

__all__ = [
    "Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam",
    "get", "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR",
]


def _real(v, what):
    # torch compares with `0.0 <= v`, which is False for NaN, so NaN is "invalid" there too.
    # Messages print the value as given ("Invalid learning rate: -1"), like torch's f-strings.
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise ValueError("Invalid %s: %s" % (what, v))
    return float(v)


def _nonneg(v, what):
    x = _real(v, what)
    if not 0.0 <= x:
        raise ValueError("Invalid %s: %s" % (what, v))
    return x


def _betas(betas):
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError("Invalid betas: expected a pair (beta1, beta2), got %r" % (betas,))
    out = []
    for i, b in enumerate(betas):
        what = "beta parameter at index %d" % i
        x = _real(b, what)
        if not 0.0 <= x < 1.0:
            raise ValueError("Invalid %s: %s" % (what, b))
        out.append(x)
    return tuple(out)


def _flag(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError("%s must be a bool, got %r (%s)" % (name, v, type(v).__name__))
    return bool(v)


class Optimizer:
    """Base class: parameter groups, state, ``zero_grad``, ``state_dict`` / ``load_state_dict``.

    ``params`` is an iterable of :class:`fastnn.Parameter` or of dicts ``{'params': [...],
    'lr': ...}`` (parameter groups; keys a group leaves out take the constructor's values).
    ``param_groups`` is the list of group dicts (a scheduler edits ``group['lr']``);
    ``state[param]`` is that parameter's dict of step count and NumPy state arrays.
    """

    #: names of the per-parameter state entries that are arrays (the rest are Python numbers)
    _array_state = ()

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        if isinstance(params, (Parameter, dict)):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Parameters or dicts, but got %s" % type(params).__name__)
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- hooks for subclasses ----------------------------------------------------------------
    def _check_group(self, group):
        """Validate and normalise one group's hyper-parameters in place (subclasses)."""

    def _required_state(self, group):
        """Names of the array state entries a parameter of ``group`` must have (subclasses)."""
        return ()

    # -- groups ------------------------------------------------------------------------------
    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError("param_group must be a dict, got %s" % type(param_group).__name__)
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Parameter):
            params = [params]
        elif params is None or isinstance(params, (set, dict)):
            raise TypeError("param_group['params'] must be a list of Parameters (sets have no "
                            "stable order), got %s" % type(params).__name__)
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError("optimizer can only optimize fastnn.Parameter objects, got %s at "
                                "params[%d]" % (type(p).__name__, i))
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError("unknown hyper-parameter(s) %s for %s; expected some of %s" % (
                sorted(unknown), type(self).__name__, sorted(self.defaults)))
        self._check_group(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Zero every parameter's gradient in place.  ``set_to_none`` is accepted for torch
        compatibility; a fastnn Parameter always owns its gradient array, so it is zeroed."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad[...] = 0

    def step(self, closure=None):
        """One update of every parameter; returns ``closure()`` when given (as torch)."""
        loss = closure() if closure is not None else None
        kernels = backend.K()
        for group in self.param_groups:
            for p in group["params"]:
                self._update(kernels, p, group, self.state.setdefault(p, {}))
        return loss

    def _update(self, kernels, p, group, state):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as torch.

        Parameters are numbered in group order; hyper-parameters are JSON-able Python values
        (betas become lists), state arrays are copies (continuing to train does not alter it).
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {}
            for k, v in group.items():
                if k == "params":
                    continue
                packed[k] = list(v) if isinstance(v, tuple) else v
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {
                        k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                        for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state saved by ``state_dict()`` (also after a JSON round
        trip: string keys and lists are accepted).  Every array must match its parameter's shape
        and dtype exactly; anything inconsistent raises ValueError naming the entry."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or \
                "param_groups" not in state_dict:
            raise ValueError("state_dict must be a dict with keys 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has %d parameter groups, the optimizer has %d" % (
                len(saved_groups), len(self.param_groups)))
        id_map = {}
        new_groups = []
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size of "
                    "optimizer's group: param_groups[%d] has %d parameters, saved %d" % (
                        gi, len(group["params"]), len(saved["params"])))
            for idx, p in zip(saved["params"], group["params"]):
                id_map[int(idx)] = p
            new = {k: v for k, v in saved.items() if k != "params"}
            if "betas" in new:
                new["betas"] = tuple(new["betas"])
            new["params"] = group["params"]
            missing = set(self.defaults) - set(new)
            if missing:
                raise ValueError("param_groups[%d] is missing hyper-parameter(s) %s" % (
                    gi, sorted(missing)))
            self._check_group(new)
            new_groups.append(new)
        new_state = {}
        groups_of = {id(p): g for g in new_groups for p in g["params"]}
        for key, entry in state_dict["state"].items():
            try:
                p = id_map[int(key)]
            except (KeyError, ValueError):
                raise ValueError("state entry %r names no parameter of this optimizer" % (key,))
            required = self._required_state(groups_of[id(p)])
            for name in required:
                if name not in entry:
                    raise ValueError("state[%s] is missing %r (needed by %s with these "
                                     "hyper-parameters)" % (key, name, type(self).__name__))
            restored = {}
            for name, value in entry.items():
                if name in self._array_state:
                    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
                    if arr.shape != p.value.shape:
                        raise ValueError("state[%s][%r] has shape %s, parameter %s has %s" % (
                            key, name, arr.shape, p.name or key, p.value.shape))
                    if arr.dtype != p.value.dtype:
                        raise ValueError("state[%s][%r] has dtype %s, parameter %s has %s" % (
                            key, name, arr.dtype, p.name or key, p.value.dtype))
                    restored[name] = np.array(arr, copy=True, order="C")
                elif name == "step":
                    if isinstance(value, bool) or not isinstance(value, numbers.Integral) and not (
                            isinstance(value, numbers.Real) and float(value).is_integer()):
                        raise ValueError("state[%s]['step'] must be an integer, got %r" % (key, value))
                    if value < 0:
                        raise ValueError("state[%s]['step'] must be >= 0, got %r" % (key, value))
                    restored[name] = int(value)
                elif name == "mu_product":
                    restored[name] = _real(value, "mu_product in state[%s]" % key)
                else:
                    raise ValueError("state[%s] has unknown entry %r for %s" % (
                        key, name, type(self).__name__))
            new_state[p] = restored
        # Commit only after everything was checked: a failed load leaves the optimizer as it was.
        for group, new in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new)
        self.state = new_state

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append("Parameter Group %d" % i)
            for k in sorted(group):
                if k != "params":
                    lines.append("    %s: %r" % (k, group[k]))
        return "\n".join(lines) + "\n)"

    # helper for subclasses
    @staticmethod
    def _zeros(p, state, name, fill=0.0):
        if name not in state:
            state[name] = np.full_like(p.value, fill)
        return state[name]


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (torch.optim.SGD).

    Algorithm (torch's), for each parameter :math:`\theta` with gradient :math:`g_t`::

        if maximize: g = -g
        if weight_decay != 0: g = g + weight_decay * theta
        if momentum != 0:
            if t == 1: b = g
            else:      b = momentum * b + (1 - dampening) * g
            g = g + momentum * b  if nesterov else  b
        theta = theta - lr * g

    Defaults as torch 2.x: ``lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
    maximize=False``.  Nesterov momentum: Sutskever et al., "On the importance of initialization
    and momentum in deep learning" (ICML 2013).  State per parameter: ``momentum_buffer`` (only
    when momentum != 0, created by the first step).
    """

    _array_state = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        self._check_group(dict(defaults))
        super().__init__(params, defaults)

    def _check_group(self, g):
        g["lr"] = _nonneg(g["lr"], "learning rate")
        g["momentum"] = _nonneg(g["momentum"], "momentum value")
        g["weight_decay"] = _nonneg(g["weight_decay"], "weight_decay value")
        g["dampening"] = _real(g["dampening"], "dampening value")
        g["nesterov"] = _flag(g["nesterov"], "nesterov")
        g["maximize"] = _flag(g["maximize"], "maximize")
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _required_state(self, group):
        return ()   # the buffer is created by the first step; a state without it starts afresh

    def _update(self, K, p, g, state):
        first = g["momentum"] != 0 and "momentum_buffer" not in state
        buf = self._zeros(p, state, "momentum_buffer") if g["momentum"] != 0 else None
        K.sgd_update(p.value, p.grad, buf, g["lr"], momentum=g["momentum"],
                     dampening=g["dampening"], weight_decay=g["weight_decay"],
                     nesterov=g["nesterov"], maximize=g["maximize"], first_step=first)


class Adagrad(Optimizer):
    r"""Adagrad (torch.optim.Adagrad).

    Algorithm::

        if maximize: g = -g
        if weight_decay != 0: g = g + weight_decay * theta
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g                         (sum starts at initial_accumulator_value)
        theta = theta - clr * g / (sqrt(sum) + eps)

    Defaults: ``lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
    maximize=False``.  Paper: Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online
    Learning and Stochastic Optimization" (JMLR 2011).  State: ``step``, ``sum`` (created at
    construction, as torch does).
    """

    _array_state = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        self._check_group(dict(defaults))
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group, self.state.setdefault(p, {}))

    def _check_group(self, g):
        g["lr"] = _nonneg(g["lr"], "learning rate")
        g["lr_decay"] = _nonneg(g["lr_decay"], "lr_decay value")
        g["weight_decay"] = _nonneg(g["weight_decay"], "weight_decay value")
        g["initial_accumulator_value"] = _nonneg(g["initial_accumulator_value"],
                                                 "initial_accumulator_value value")
        g["eps"] = _nonneg(g["eps"], "epsilon value")
        g["maximize"] = _flag(g["maximize"], "maximize")

    def _required_state(self, group):
        return ("step", "sum")

    def _init_state(self, p, g, state):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.value, g["initial_accumulator_value"])

    def _update(self, K, p, g, state):
        self._init_state(p, g, state)
        state["step"] += 1
        K.adagrad_update(p.value, p.grad, state["sum"], state["step"], lr=g["lr"],
                         lr_decay=g["lr_decay"], weight_decay=g["weight_decay"], eps=g["eps"],
                         maximize=g["maximize"])


class Adadelta(Optimizer):
    r"""Adadelta (torch.optim.Adadelta).

    Algorithm::

        if maximize: g = -g
        if weight_decay != 0: g = g + weight_decay * theta
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        theta = theta - lr * delta

    Defaults: ``lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False``.  Paper: Zeiler,
    "ADADELTA: An Adaptive Learning Rate Method" (2012).  State: ``step``, ``square_avg``,
    ``acc_delta``.
    """

    _array_state = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        self._check_group(dict(defaults))
        super().__init__(params, defaults)

    def _check_group(self, g):
        g["lr"] = _nonneg(g["lr"], "learning rate")
        rho = _real(g["rho"], "rho value")
        if not 0.0 <= rho <= 1.0:
            raise ValueError("Invalid rho value: %s" % g["rho"])
        g["rho"] = rho
        g["eps"] = _nonneg(g["eps"], "epsilon value")
        g["weight_decay"] = _nonneg(g["weight_decay"], "weight_decay value")
        g["maximize"] = _flag(g["maximize"], "maximize")

    def _required_state(self, group):
        return ("step", "square_avg", "acc_delta")

    def _update(self, K, p, g, state):
        if not state:
            state["step"] = 0
        state["step"] += 1
        K.adadelta_update(p.value, p.grad, self._zeros(p, state, "square_avg"),
                          self._zeros(p, state, "acc_delta"), lr=g["lr"], rho=g["rho"],
                          eps=g["eps"], weight_decay=g["weight_decay"], maximize=g["maximize"])


class RMSprop(Optimizer):
    r"""RMSprop (torch.optim.RMSprop).

    Algorithm::

        if maximize: g = -g
        if weight_decay != 0: g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g * g
        if centered: a = alpha * a + (1 - alpha) * g;  avg = sqrt(v - a * a) + eps
        else:        avg = sqrt(v) + eps
        if momentum > 0: b = momentum * b + g / avg;  theta = theta - lr * b
        else:            theta = theta - lr * g / avg

    Defaults: ``lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    maximize=False``.  Reference: Hinton, Lecture 6e of "Neural Networks for Machine Learning";
    centered version: Graves, "Generating Sequences With Recurrent Neural Networks" (2013).
    State: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).
    """

    _array_state = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        self._check_group(dict(defaults))
        super().__init__(params, defaults)

    def _check_group(self, g):
        g["lr"] = _nonneg(g["lr"], "learning rate")
        g["eps"] = _nonneg(g["eps"], "epsilon value")
        g["momentum"] = _nonneg(g["momentum"], "momentum value")
        g["weight_decay"] = _nonneg(g["weight_decay"], "weight_decay value")
        g["alpha"] = _nonneg(g["alpha"], "alpha value")
        g["centered"] = _flag(g["centered"], "centered")
        g["maximize"] = _flag(g["maximize"], "maximize")

    def _required_state(self, group):
        req = ["step", "square_avg"]
        if group["momentum"] > 0:
            req.append("momentum_buffer")
        if group["centered"]:
            req.append("grad_avg")
        return tuple(req)

    def _update(self, K, p, g, state):
        if not state:
            state["step"] = 0
        state["step"] += 1
        K.rmsprop_update(
            p.value, p.grad, self._zeros(p, state, "square_avg"),
            self._zeros(p, state, "grad_avg") if g["centered"] else None,
            self._zeros(p, state, "momentum_buffer") if g["momentum"] > 0 else None,
            lr=g["lr"], alpha=g["alpha"], eps=g["eps"], weight_decay=g["weight_decay"],
            momentum=g["momentum"], centered=g["centered"], maximize=g["maximize"])


class Adam(Optimizer):
    r"""Adam (torch.optim.Adam), optionally AMSGrad.

    Algorithm (torch's exact order)::

        if maximize: g = -g
        if weight_decay != 0:
            decoupled_weight_decay: theta = theta * (1 - lr * weight_decay)   (= AdamW)
            else:                   g = g + weight_decay * theta               (L2)
        m = beta1 * m + (1 - beta1) * g            (computed as lerp(m, g, 1 - beta1))
        v = beta2 * v + (1 - beta2) * g * g
        if amsgrad: vmax = max(vmax, v);  v = vmax
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        theta = theta - (lr / (1 - beta1**t)) * m / denom

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    maximize=False, decoupled_weight_decay=False``.  Papers: Kingma & Ba, "Adam: A Method for
    Stochastic Optimization" (ICLR 2015); Reddi et al., "On the Convergence of Adam and Beyond"
    (ICLR 2018).  State: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    """

    _array_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, maximize=False, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        self._check_group(dict(defaults))
        super().__init__(params, defaults)

    def _check_group(self, g):
        g["lr"] = _nonneg(g["lr"], "learning rate")
        g["eps"] = _nonneg(g["eps"], "epsilon value")
        g["betas"] = _betas(g["betas"])
        g["weight_decay"] = _nonneg(g["weight_decay"], "weight_decay value")
        g["amsgrad"] = _flag(g["amsgrad"], "amsgrad")
        g["maximize"] = _flag(g["maximize"], "maximize")
        g["decoupled_weight_decay"] = _flag(g["decoupled_weight_decay"], "decoupled_weight_decay")

    def _required_state(self, group):
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _update(self, K, p, g, state):
        if not state:
            state["step"] = 0
        state["step"] += 1
        beta1, beta2 = g["betas"]
        K.adam_update(p.value, p.grad, self._zeros(p, state, "exp_avg"),
                      self._zeros(p, state, "exp_avg_sq"),
                      self._zeros(p, state, "max_exp_avg_sq") if g["amsgrad"] else None,
                      state["step"], lr=g["lr"], beta1=beta1, beta2=beta2, eps=g["eps"],
                      weight_decay=g["weight_decay"], amsgrad=g["amsgrad"],
                      maximize=g["maximize"], decoupled_weight_decay=g["decoupled_weight_decay"])


class AdamW(Adam):
    r"""AdamW (torch.optim.AdamW): Adam with decoupled weight decay.

    Algorithm: as :class:`Adam` with ``decoupled_weight_decay=True``: first
    ``theta = theta * (1 - lr * weight_decay)``, then the Adam step on the raw gradient.

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    maximize=False``.  Paper: Loshchilov & Hutter, "Decoupled Weight Decay Regularization"
    (ICLR 2019).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)

    def _check_group(self, g):
        super()._check_group(g)
        if not g["decoupled_weight_decay"]:
            raise ValueError("AdamW requires decoupled_weight_decay=True; use Adam for L2")


class Adamax(Optimizer):
    r"""Adamax (torch.optim.Adamax): Adam with the infinity norm.

    Algorithm::

        if maximize: g = -g
        if weight_decay != 0: g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g            (lerp)
        u = max(beta2 * u, |g| + eps)
        theta = theta - (lr / (1 - beta1**t)) * m / u

    Defaults: ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False``.
    Paper: Kingma & Ba, "Adam" (ICLR 2015), section 7.1.  State: ``step``, ``exp_avg``,
    ``exp_inf``.
    """

    _array_state = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        self._check_group(dict(defaults))
        super().__init__(params, defaults)

    def _check_group(self, g):
        g["lr"] = _nonneg(g["lr"], "learning rate")
        g["eps"] = _nonneg(g["eps"], "epsilon value")
        g["betas"] = _betas(g["betas"])
        g["weight_decay"] = _nonneg(g["weight_decay"], "weight_decay value")
        g["maximize"] = _flag(g["maximize"], "maximize")

    def _required_state(self, group):
        return ("step", "exp_avg", "exp_inf")

    def _update(self, K, p, g, state):
        if not state:
            state["step"] = 0
        state["step"] += 1
        beta1, beta2 = g["betas"]
        K.adamax_update(p.value, p.grad, self._zeros(p, state, "exp_avg"),
                        self._zeros(p, state, "exp_inf"), state["step"], lr=g["lr"], beta1=beta1,
                        beta2=beta2, eps=g["eps"], weight_decay=g["weight_decay"],
                        maximize=g["maximize"])


class NAdam(Optimizer):
    r"""NAdam (torch.optim.NAdam): Adam with Nesterov momentum and a momentum schedule.

    Algorithm::

        if maximize: g = -g
        if weight_decay != 0:
            decoupled_weight_decay: theta = theta * (1 - lr * weight_decay)
            else:                   g = g + weight_decay * theta
        mu_t     = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_{t+1} = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = mu_product * mu_t               (kept in float32, as torch)
        m = beta1 * m + (1 - beta1) * g              (lerp)
        v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        theta = theta - lr * (1 - mu_t) / (1 - mu_product) * g / denom
        theta = theta - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom

    Defaults: ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, maximize=False``.  Paper: Dozat, "Incorporating Nesterov
    Momentum into Adam" (ICLR 2016 workshop).  State: ``step``, ``mu_product``, ``exp_avg``,
    ``exp_avg_sq``.
    """

    _array_state = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        self._check_group(dict(defaults))
        super().__init__(params, defaults)

    def _check_group(self, g):
        g["lr"] = _nonneg(g["lr"], "learning rate")
        g["eps"] = _nonneg(g["eps"], "epsilon value")
        g["betas"] = _betas(g["betas"])
        g["weight_decay"] = _nonneg(g["weight_decay"], "weight_decay value")
        g["momentum_decay"] = _nonneg(g["momentum_decay"], "momentum_decay value")
        g["decoupled_weight_decay"] = _flag(g["decoupled_weight_decay"], "decoupled_weight_decay")
        g["maximize"] = _flag(g["maximize"], "maximize")

    def _required_state(self, group):
        return ("step", "mu_product", "exp_avg", "exp_avg_sq")

    def _update(self, K, p, g, state):
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
        state["step"] += 1
        beta1, beta2 = g["betas"]
        state["mu_product"] = K.nadam_update(
            p.value, p.grad, self._zeros(p, state, "exp_avg"), self._zeros(p, state, "exp_avg_sq"),
            state["step"], state["mu_product"], lr=g["lr"], beta1=beta1, beta2=beta2,
            eps=g["eps"], weight_decay=g["weight_decay"], momentum_decay=g["momentum_decay"],
            decoupled_weight_decay=g["decoupled_weight_decay"], maximize=g["maximize"])


_NAMES = {
    "sgd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, {}),
    "adadelta": (Adadelta, {}),
    "rmsprop": (RMSprop, {}),
    "adam": (Adam, {}),
    "amsgrad": (Adam, {"amsgrad": True}),
    "adamw": (AdamW, {}),
    "adamax": (Adamax, {}),
    "nadam": (NAdam, {}),
}


def get(name, params, **kwargs):
    """Build an optimizer from a name (for the CLI and ``fit``)::

        get('adam', model.parameters(), lr=1e-3)

    Names (case-insensitive): 'sgd', 'momentum' (SGD, momentum=0.9), 'nesterov' (SGD,
    momentum=0.9, nesterov=True), 'adagrad', 'adadelta', 'rmsprop', 'adam', 'amsgrad' (Adam,
    amsgrad=True), 'adamw', 'adamax', 'nadam'.  ``kwargs`` override the preset's values.
    An Optimizer instance is returned unchanged.
    """
    if isinstance(name, Optimizer):
        return name
    if not isinstance(name, str):
        raise TypeError("optimizer name must be a str, got %s" % type(name).__name__)
    key = name.strip().lower()
    if key not in _NAMES:
        raise ValueError("unknown optimizer %r; expected one of %s" % (name, sorted(_NAMES)))
    cls, preset = _NAMES[key]
    return cls(params, **dict(preset, **kwargs))


# ------------------------------------------------------------------------------------------
# Learning-rate schedulers (torch.optim.lr_scheduler semantics)
# ------------------------------------------------------------------------------------------

class LRScheduler:
    """Base: records ``initial_lr`` in each group, sets ``last_epoch = 0`` and the initial lr on
    construction (torch's initial step), then each ``step()`` advances one epoch and writes the
    new lr into every ``optimizer.param_groups[i]['lr']``.  Values are computed with torch's
    recursive (chainable) formulas, so they equal torch's to the last bit; the closed forms are
    given in each class's docstring and ``_closed_form_lr()``."""

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError("%s is not an Optimizer" % type(optimizer).__name__)
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self):
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The learning rates set by the last ``step()`` (one per parameter group)."""
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer (JSON-able), as torch."""
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        unknown = set(state_dict) - set(self.__dict__)
        if unknown:
            raise ValueError("unknown scheduler state entries %s" % sorted(unknown))
        self.__dict__.update(state_dict)

    def _group_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]


def _check_positive_int(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
        raise ValueError("%s must be a positive int, got %r" % (name, v))
    return int(v)


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs (torch.optim.lr_scheduler.StepLR).

    Closed form: ``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = _check_positive_int(step_size, "step_size")
        self.gamma = _real(gamma, "gamma")
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _closed_form_lr(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch (torch.optim.lr_scheduler.ExponentialLR).

    Closed form: ``lr = base_lr * gamma ** epoch``."""

    def __init__(self, optimizer, gamma):
        self.gamma = _real(gamma, "gamma")
        super().__init__(optimizer)

    def get_lr(self):
        if self._is_initial:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _closed_form_lr(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from base_lr to ``eta_min`` over ``T_max`` epochs
    (torch.optim.lr_scheduler.CosineAnnealingLR; SGDR without restarts, Loshchilov & Hutter,
    ICLR 2017).

    Closed form: ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``;
    like torch, the value is computed recursively from the previous lr (and so it keeps
    oscillating past ``T_max``)."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = _check_positive_int(T_max, "T_max")
        self.eta_min = _real(eta_min, "eta_min")
        super().__init__(optimizer)

    def get_lr(self):
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_lrs()
        if (e - 1 - T) % (2 * T) == 0:
            return [lr + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                    for b, lr in zip(self.base_lrs, self._group_lrs())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
                * (lr - lo) + lo for lr in self._group_lrs()]

    def _closed_form_lr(self):
        return [self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch /
                                                                  self.T_max)) / 2
                for b in self.base_lrs]
