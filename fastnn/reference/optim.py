"""NumPy twins of the optimizer update kernels in ``fastnn.kernels._optim``: the math.

Each ``*_update`` function updates ``param`` and its state arrays IN PLACE, exactly like the
compiled kernel of the same name, and follows torch.optim's single-tensor (``foreach=False``)
update rule operation by operation, in the array's dtype:

* the contract (``fastnn.contracts.optim``) checks the arguments and computes the scalars ``s``
  (bias corrections, step sizes) in Python floats, as torch does; they enter the array arithmetic
  as Python floats, which NumPy rounds to the array's dtype (NumPy 2 treats Python floats as
  "weak" scalars, so ``float32_array * 0.9`` stays float32);
* every array operation is written in torch's order (``addcdiv(p, m, d, value=-s)`` is
  ``p + (-s * m) / d``; ``lerp(m, g, w)`` uses torch's two-branch formula), so the compiled loop
  (``src_c/fnn_optim.h``), which does the same operations on one element at a time, gives
  bit-identical results.  Read the two side by side: they are the same lines.

Each ``*_update_multi`` function takes lists (one entry per tensor) and is the single-tensor twin
applied to each tensor in turn; the compiled version updates all of them in one parallel call.

``UpdateTable`` is the twin of the compiled reusable table: the arrays checked once, then each
``update`` is the multi-tensor twin on them; its checked mode keeps copies of what an update
writes and reports inf/NaN with ``np.isfinite``.
"""
import numpy as np

from ..contracts import optim as contract

__all__ = [
    "sgd_update", "adagrad_update", "adadelta_update", "rmsprop_update", "adam_update",
    "adamw_update", "adamax_update", "nadam_update",
    "sgd_update_multi", "adagrad_update_multi", "adadelta_update_multi", "rmsprop_update_multi",
    "adam_update_multi", "adamw_update_multi", "adamax_update_multi", "nadam_update_multi",
]


def lerp_(start, end, weight):
    """``start = torch.lerp(start, end, weight)`` in place, as torch's CPU kernel computes it: the
    weight rounded to the array's dtype, then ``start + w * (end - start)`` when ``|w| < 0.5``,
    else ``end - (end - start) * (1 - w)`` (exact at both ends)."""
    w = start.dtype.type(weight)
    if abs(w) < 0.5:
        start += w * (end - start)
    else:
        start[...] = end - (end - start) * (1 - w)


def _entry(arrays, j):
    """Entry j of an optional per-tensor list (None: the flags leave that state unused)."""
    return None if arrays is None else arrays[j]


# --------------------------------------------------------------------------------------------
# The update rules
# --------------------------------------------------------------------------------------------

def sgd_update(param, grad, momentum_buffer, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
               nesterov=False, maximize=False, first_step=False):
    """SGD with momentum, in place (torch.optim.SGD)::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        if momentum != 0:
            b = g                                  (first_step: torch's buffer initialisation)
            b = momentum * b + (1 - dampening) * g (later steps)
            g = g + momentum * b if nesterov else b
        p = p - lr * g

    ``momentum_buffer`` may be None when ``momentum == 0``.
    """
    s = contract.sgd_update(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay,
                            nesterov, maximize, first_step)
    g = -grad if s.maximize else grad
    if s.weight_decay != 0:
        g = g + s.weight_decay * param
    if s.momentum != 0:
        b = momentum_buffer
        if s.first_step:
            b[...] = g
        else:
            b *= s.momentum
            b += (1 - s.dampening) * g
        g = g + s.momentum * b if s.nesterov else b
    param += -s.lr * g


def adagrad_update(param, grad, state_sum, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                   eps=1e-10, maximize=False):
    """Adagrad, in place (torch.optim.Adagrad); ``step`` counts from 1::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        clr = lr / (1 + (step - 1) * lr_decay)
        sum = sum + g * g
        p = p - clr * g / (sqrt(sum) + eps)
    """
    s = contract.adagrad_update(param, grad, state_sum, step, lr, lr_decay, weight_decay, eps,
                                maximize)
    g = -grad if s.maximize else grad
    if s.weight_decay != 0:
        g = g + s.weight_decay * param
    state_sum += g * g
    param += (-s.clr * g) / (np.sqrt(state_sum) + s.eps)


def adadelta_update(param, grad, square_avg, acc_delta, lr=1.0, rho=0.9, eps=1e-6,
                    weight_decay=0.0, maximize=False):
    """Adadelta, in place (torch.optim.Adadelta)::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta
    """
    s = contract.adadelta_update(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay,
                                 maximize)
    g = -grad if s.maximize else grad
    if s.weight_decay != 0:
        g = g + s.weight_decay * param
    square_avg *= s.rho
    square_avg += ((1 - s.rho) * g) * g
    delta = np.sqrt(acc_delta + s.eps) / np.sqrt(square_avg + s.eps) * g
    acc_delta *= s.rho
    acc_delta += ((1 - s.rho) * delta) * delta
    param += -s.lr * delta


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr=1e-2, alpha=0.99,
                   eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False):
    """RMSprop, in place (torch.optim.RMSprop)::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        if centered: a = lerp(a, g, 1 - alpha);  avg = sqrt(v - a * a) + eps
        else:        avg = sqrt(v) + eps
        if momentum > 0: b = momentum * b + g / avg;  p = p - lr * b
        else:            p = p - lr * g / avg

    ``grad_avg`` may be None unless ``centered``; ``momentum_buffer`` may be None unless
    ``momentum > 0``.
    """
    s = contract.rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps,
                                weight_decay, momentum, centered, maximize)
    g = -grad if s.maximize else grad
    if s.weight_decay != 0:
        g = g + s.weight_decay * param
    square_avg *= s.alpha
    square_avg += ((1 - s.alpha) * g) * g
    if s.centered:
        lerp_(grad_avg, g, 1 - s.alpha)
        avg = np.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg += s.eps
    if s.momentum > 0:
        momentum_buffer *= s.momentum
        momentum_buffer += g / avg
        param += -s.lr * momentum_buffer
    else:
        param += (-s.lr * g) / avg


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr=1e-3, beta1=0.9,
                beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                decoupled_weight_decay=False):
    """Adam / AdamW, in place (torch.optim.Adam, torch.optim.AdamW); ``step`` counts from 1::

        g = -grad if maximize else grad
        if decoupled_weight_decay: p = p * (1 - lr * weight_decay)      (AdamW)
        else:                      g = g + weight_decay * p             (L2, Adam)
        m = lerp(m, g, 1 - beta1)                       (= beta1 * m + (1 - beta1) * g)
        v = beta2 * v + (1 - beta2) * g * g
        if amsgrad: vmax = max(vmax, v);  v_used = vmax  else v_used = v
        denom = sqrt(v_used) / sqrt(1 - beta2**step) + eps
        p = p - (lr / (1 - beta1**step)) * m / denom

    ``max_exp_avg_sq`` may be None unless ``amsgrad``.
    """
    s = contract.adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                             beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)
    g = -grad if s.maximize else grad
    if s.weight_decay != 0:
        if s.decoupled_weight_decay:
            param *= 1 - s.lr * s.weight_decay
        else:
            g = g + s.weight_decay * param
    lerp_(exp_avg, g, 1 - s.beta1)
    exp_avg_sq *= s.beta2
    exp_avg_sq += ((1 - s.beta2) * g) * g
    v = exp_avg_sq
    if s.amsgrad:
        np.maximum(max_exp_avg_sq, v, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    denom = np.sqrt(v) / s.bias_correction2_sqrt + s.eps
    param += (-s.step_size * exp_avg) / denom


def adamw_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr=1e-3, beta1=0.9,
                 beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False):
    """AdamW (torch.optim.AdamW): ``adam_update`` with ``decoupled_weight_decay=True`` and
    torch's AdamW default ``weight_decay=1e-2``."""
    adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, amsgrad, maximize, True)


def adamax_update(param, grad, exp_avg, exp_inf, step, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                  weight_decay=0.0, maximize=False):
    """Adamax, in place (torch.optim.Adamax); ``step`` counts from 1::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        m = lerp(m, g, 1 - beta1)
        u = max(beta2 * u, |g| + eps)
        p = p - (lr / (1 - beta1**step)) * m / u
    """
    s = contract.adamax_update(param, grad, exp_avg, exp_inf, step, lr, beta1, beta2, eps,
                               weight_decay, maximize)
    g = -grad if s.maximize else grad
    if s.weight_decay != 0:
        g = g + s.weight_decay * param
    lerp_(exp_avg, g, 1 - s.beta1)
    np.maximum(exp_inf * s.beta2, np.abs(g) + s.eps, out=exp_inf)
    param += (-s.clr * exp_avg) / exp_inf


def nadam_update(param, grad, exp_avg, exp_avg_sq, step, mu_product, lr=2e-3, beta1=0.9,
                 beta2=0.999, eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, maximize=False):
    """NAdam, in place (torch.optim.NAdam); ``step`` counts from 1, ``mu_product`` is the
    product of the previous steps' mu (1.0 before the first step).  Returns the new
    ``mu_product`` (rounded to float32 as torch stores it)::

        g = -grad if maximize else grad
        if decoupled_weight_decay: p = p * (1 - lr * weight_decay)  else g = g + weight_decay * p
        mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay));  mu_product = mu_product * mu_t
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_product) * g / denom
        p = p - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom
    """
    s = contract.nadam_update(param, grad, exp_avg, exp_avg_sq, step, mu_product, lr, beta1, beta2,
                              eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize)
    # The first lines are Adam's (weight decay, m, v): written out, as torch's _single_tensor_nadam
    # does, so that the rule reads whole here and in src_c/fnn_optim.h.
    g = -grad if s.maximize else grad
    if s.weight_decay != 0:
        if s.decoupled_weight_decay:
            param *= 1 - s.lr * s.weight_decay
        else:
            g = g + s.weight_decay * param
    lerp_(exp_avg, g, 1 - s.beta1)
    exp_avg_sq *= s.beta2
    exp_avg_sq += ((1 - s.beta2) * g) * g
    denom = np.sqrt(exp_avg_sq / s.bias_correction2) + s.eps
    param += (s.grad_coef * g) / denom
    param += (s.exp_avg_coef * exp_avg) / denom
    return s.mu_product


# --------------------------------------------------------------------------------------------
# Lists of tensors: the same contract (plus: one dtype, no overlap across tensors), then the
# single-tensor twin on each tensor.
# --------------------------------------------------------------------------------------------

def sgd_update_multi(params, grads, momentum_buffers, lr, momentum=0.0, dampening=0.0,
                     weight_decay=0.0, nesterov=False, maximize=False, first_steps=None):
    """``sgd_update`` on each tensor; ``first_steps`` is one bool per tensor (None: all False).
    ``momentum_buffers`` may be None when ``momentum == 0``."""
    contract.sgd_update_multi(params, grads, momentum_buffers, lr, momentum, dampening,
                              weight_decay, nesterov, maximize, first_steps)
    for j in range(len(params)):
        sgd_update(params[j], grads[j], _entry(momentum_buffers, j), lr, momentum, dampening,
                   weight_decay, nesterov, maximize,
                   False if first_steps is None else first_steps[j])


def adagrad_update_multi(params, grads, state_sums, steps, lr=1e-2, lr_decay=0.0,
                         weight_decay=0.0, eps=1e-10, maximize=False):
    """``adagrad_update`` on each tensor, tensor j at step ``steps[j]``."""
    contract.adagrad_update_multi(params, grads, state_sums, steps, lr, lr_decay, weight_decay,
                                  eps, maximize)
    for j in range(len(params)):
        adagrad_update(params[j], grads[j], state_sums[j], steps[j], lr, lr_decay, weight_decay,
                       eps, maximize)


def adadelta_update_multi(params, grads, square_avgs, acc_deltas, lr=1.0, rho=0.9, eps=1e-6,
                          weight_decay=0.0, maximize=False):
    """``adadelta_update`` on each tensor."""
    contract.adadelta_update_multi(params, grads, square_avgs, acc_deltas, lr, rho, eps,
                                   weight_decay, maximize)
    for j in range(len(params)):
        adadelta_update(params[j], grads[j], square_avgs[j], acc_deltas[j], lr, rho, eps,
                        weight_decay, maximize)


def rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, lr=1e-2,
                         alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                         maximize=False):
    """``rmsprop_update`` on each tensor; ``grad_avgs`` may be None unless ``centered``,
    ``momentum_buffers`` None unless ``momentum > 0``."""
    contract.rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, lr,
                                  alpha, eps, weight_decay, momentum, centered, maximize)
    for j in range(len(params)):
        rmsprop_update(params[j], grads[j], square_avgs[j], _entry(grad_avgs, j),
                       _entry(momentum_buffers, j), lr, alpha, eps, weight_decay, momentum,
                       centered, maximize)


def adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr=1e-3,
                      beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
                      maximize=False, decoupled_weight_decay=False):
    """``adam_update`` on each tensor, tensor j at step ``steps[j]``; ``max_exp_avg_sqs`` may be
    None unless ``amsgrad``."""
    contract.adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr,
                               beta1, beta2, eps, weight_decay, amsgrad, maximize,
                               decoupled_weight_decay)
    for j in range(len(params)):
        adam_update(params[j], grads[j], exp_avgs[j], exp_avg_sqs[j], _entry(max_exp_avg_sqs, j),
                    steps[j], lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                    decoupled_weight_decay)


# The multi-tensor twins mirror fastnn/kernels/_optim.pyx's signatures and docstrings by design:
# each NumPy twin has its compiled kernel's name, signature and results.
def adamw_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr=1e-3,
                       beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False,
                       maximize=False):
    """``adam_update_multi`` with ``decoupled_weight_decay=True`` and AdamW's default
    ``weight_decay=1e-2``."""
    adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1,
                      beta2, eps, weight_decay, amsgrad, maximize, True)


def adamax_update_multi(params, grads, exp_avgs, exp_infs, steps, lr=2e-3, beta1=0.9, beta2=0.999,
                        eps=1e-8, weight_decay=0.0, maximize=False):
    """``adamax_update`` on each tensor, tensor j at step ``steps[j]``."""
    contract.adamax_update_multi(params, grads, exp_avgs, exp_infs, steps, lr, beta1, beta2, eps,
                                 weight_decay, maximize)
    for j in range(len(params)):
        adamax_update(params[j], grads[j], exp_avgs[j], exp_infs[j], steps[j], lr, beta1, beta2,
                      eps, weight_decay, maximize)


def nadam_update_multi(params, grads, exp_avgs, exp_avg_sqs, steps, mu_products, lr=2e-3,
                       beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                       decoupled_weight_decay=False, maximize=False):
    """``nadam_update`` on each tensor, tensor j at step ``steps[j]`` with ``mu_products[j]``;
    returns the list of new mu_products."""
    contract.nadam_update_multi(params, grads, exp_avgs, exp_avg_sqs, steps, mu_products, lr,
                                beta1, beta2, eps, weight_decay, momentum_decay,
                                decoupled_weight_decay, maximize)
    return [nadam_update(params[j], grads[j], exp_avgs[j], exp_avg_sqs[j], steps[j],
                         mu_products[j], lr, beta1, beta2, eps, weight_decay, momentum_decay,
                         decoupled_weight_decay, maximize)
            for j in range(len(params))]


# --------------------------------------------------------------------------------------------
# A table of tensors, checked once (the twin of fastnn.kernels.UpdateTable)
# --------------------------------------------------------------------------------------------

_MULTI = {"sgd": sgd_update_multi, "adagrad": adagrad_update_multi,
          "adadelta": adadelta_update_multi, "rmsprop": rmsprop_update_multi,
          "adam": adam_update_multi, "adamax": adamax_update_multi, "nadam": nadam_update_multi}


class UpdateTable:
    """The multi-tensor update of ``rule`` on fixed arrays, reusable at every step (the compiled
    version's docstring has the whole contract)::

        table = UpdateTable("adam", params, grads, [exp_avgs, exp_avg_sqs, None], checked=True)
        table.update(steps=[1] * len(params), lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                     weight_decay=0.0, amsgrad=False, maximize=False,
                     decoupled_weight_decay=False)
        if table.flags:
            table.restore()

    ``update`` is ``<rule>_update_multi(params, grads, *states, **arguments)``; with
    ``checked=True`` it first copies each param and held state, then sets ``flags`` from
    ``np.isfinite`` of the grads, params and states."""

    #: flags bits: a non-finite value in a gradient / a parameter / a state array
    NONFINITE_GRAD, NONFINITE_PARAM, NONFINITE_STATE = 1, 2, 4

    def __init__(self, rule, params, grads, states, checked=False):
        a = contract.update_table(rule, params, grads, states)
        self.rule = a.rule
        self.checked = bool(checked)
        self.held = tuple(i for i, seq in enumerate(a.states) if seq is not None)
        self.arrays = tuple(a.params) + tuple(a.grads) + tuple(
            arr for seq in a.states if seq is not None for arr in seq)
        self.flags = 0
        self._params, self._grads, self._states = a.params, a.grads, a.states
        self._snapshot = None

    def holds(self, params, grads, states):
        """Whether these are still exactly the table's arrays (the same objects)."""
        if len(states) != len(contract.STATE_SLOTS[self.rule]) or any(
                (seq is not None) != (i in self.held) for i, seq in enumerate(states)):
            return False
        given = list(params) + list(grads) + [arr for seq in states if seq is not None
                                              for arr in seq]
        return len(given) == len(self.arrays) and all(
            a is b for a, b in zip(given, self.arrays))

    def _written(self):
        return list(self._params) + [arr for i in self.held for arr in self._states[i]]

    def update(self, **arguments):
        """One update of every tensor; returns what the multi-tensor twin returns."""
        contract.update_scalars(self.rule, len(self._params), self.held, **arguments)
        if self.checked:
            self._snapshot = [arr.copy() for arr in self._written()]
        result = _MULTI[self.rule](self._params, self._grads, *self._states, **arguments)
        self.flags = 0
        if self.checked:
            if not all(np.isfinite(g).all() for g in self._grads):
                self.flags |= self.NONFINITE_GRAD
            if not all(np.isfinite(p).all() for p in self._params):
                self.flags |= self.NONFINITE_PARAM
            if not all(np.isfinite(arr).all() for i in self.held for arr in self._states[i]):
                self.flags |= self.NONFINITE_STATE
        return result

    def restore(self):
        """Copy back what the last (checked) update overwrote."""
        if self._snapshot is None:
            raise RuntimeError("restore() needs a checked table (checked=True) that has run an "
                               "update")
        for arr, saved in zip(self._written(), self._snapshot):
            arr[...] = saved
