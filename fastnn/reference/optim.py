"""NumPy twins of the optimizer update kernels in ``fastnn.kernels._optim``.

Each ``*_update`` function updates ``param`` and its state arrays IN PLACE, exactly like the
compiled kernel of the same name, and follows torch.optim's single-tensor (``foreach=False``)
update rule operation by operation, in the array's dtype:

* hyper-parameter arithmetic (bias corrections, step sizes) is done in Python floats (double),
  as torch does, and then enters the array arithmetic as a scalar of the array's dtype
  (NumPy 2 treats Python floats as "weak" scalars, so ``float32_array * 0.9`` stays float32);
* every array operation is written in torch's order (``addcdiv(p, m, d, value=-s)`` is
  ``p + (-s * m) / d``; ``lerp(m, g, w)`` uses torch's two-branch formula), so the compiled loop,
  which does the same operations on one element at a time, gives bit-identical results.

The argument checks and the scalar preparation live here and are imported by the compiled module,
so both implementations accept and reject exactly the same inputs.
"""

import numpy as np

from .. import _validate as _v
from .._validate import FLOAT_DTYPES, check_int, check_scalar

__all__ = [
    "sgd_update", "adagrad_update", "adadelta_update", "rmsprop_update", "adam_update",
    "adamw_update", "adamax_update", "nadam_update",
]


# --------------------------------------------------------------------------------------------
# Shared checks (also used by fastnn.kernels._optim before its nogil loops)
# --------------------------------------------------------------------------------------------

_check_flag = _v.check_bool


def _check_arrays(param, grad, states):
    """Check ``param``, ``grad`` and the state arrays ``states`` (a list of (name, array)).

    All must be ndarrays of the same float dtype and shape, C-contiguous (so the kernel can walk
    them as flat buffers); ``param`` and the states must be writeable because they are updated in
    place -- a silent copy would lose the update, so a bad one is an error, never copied.  No two
    arrays may overlap: the single fused pass and the multi-pass twin would then disagree.
    """
    named = [("param", param), ("grad", grad)] + list(states)
    for name, a in named:
        if not isinstance(a, np.ndarray):
            raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(a).__name__))
    if param.dtype not in FLOAT_DTYPES:
        raise TypeError("param must have dtype float32 or float64, got %s" % param.dtype)
    for name, a in named[1:]:
        if a.dtype != param.dtype:
            raise TypeError("%s must have the same dtype as param (%s), got %s" % (
                name, param.dtype, a.dtype))
        if a.shape != param.shape:
            raise ValueError("%s must have the same shape as param %s, got %s" % (
                name, param.shape, a.shape))
    for name, a in named:
        if not a.flags.c_contiguous:
            raise ValueError("%s must be C-contiguous (it is walked as one flat buffer; "
                             "pass np.ascontiguousarray(%s))" % (name, name))
        if name != "grad" and not a.flags.writeable:
            raise ValueError("%s must be writeable: it is updated in place" % name)
    for i in range(len(named)):
        for j in range(i + 1, len(named)):
            if named[i][1].size and np.may_share_memory(named[i][1], named[j][1]):
                raise ValueError("%s and %s must not overlap in memory" % (named[i][0], named[j][0]))


def _require(arr, name, flag_text):
    """State array needed only under some flag: None is refused there with a clear message."""
    if arr is None:
        raise ValueError("%s must be an array when %s, got None" % (name, flag_text))
    return arr


def _lr(lr):
    return check_scalar(lr, "lr", min=0.0)


def _wd(weight_decay):
    return check_scalar(weight_decay, "weight_decay", min=0.0)


def _eps(eps):
    return check_scalar(eps, "eps", min=0.0)


def _beta(b, name):
    return check_scalar(b, name, min=0.0, max=1.0, max_inclusive=False)


def _step(step):
    return check_int(step, "step", min=1)


def _lerp_coeffs(weight, dtype):
    """torch's ``lerp(a, b, w)`` as (w, 1 - w, small) exactly as its CPU kernel sees them.

    torch casts the weight to the tensor's compute type and then evaluates
    ``a + w * (b - a)`` when ``|w| < 0.5`` and ``b - (b - a) * (1 - w)`` otherwise, with
    ``1 - w`` computed in that type.  Both values are returned as Python floats that are exact
    in ``dtype``.
    """
    t = np.dtype(dtype).type
    w = t(weight)
    return float(w), float(t(1) - w), bool(abs(w) < 0.5)


def _lerp_(a, b, w, one_minus_w, small):
    """In place ``a = lerp(a, b, w)`` with torch's formula (see ``_lerp_coeffs``)."""
    if small:
        a += w * (b - a)
    else:
        a[...] = b - (b - a) * one_minus_w


def _adam_scalars(step, lr, beta1, beta2):
    # As torch's _single_tensor_adam: Python floats, bias_correction2 ** 0.5 (not math.sqrt).
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2 ** 0.5
    return step_size, bias_correction2_sqrt


def _nadam_scalars(step, mu_product, lr, beta1, beta2, momentum_decay):
    """(bias_correction2, grad coefficient, exp_avg coefficient, new mu_product).

    torch keeps ``mu_product`` as a float32 0-d tensor (its default scalar dtype), so
    ``mu_product *= mu`` rounds to float32 and ``.item()`` reads that float32 back; we do the same
    so trajectories agree with torch.
    """
    bias_correction2 = 1 - beta2 ** step
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    mu_product = float(np.float32(mu_product) * np.float32(mu))
    mu_product_next = mu_product * mu_next
    grad_coef = -lr * (1.0 - mu) / (1.0 - mu_product)
    exp_avg_coef = (-lr * mu_next) / (1.0 - mu_product_next)
    return bias_correction2, grad_coef, exp_avg_coef, mu_product


def _prep_sgd(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov,
              maximize, first_step):
    lr, momentum, weight_decay = _lr(lr), check_scalar(momentum, "momentum", min=0.0), _wd(weight_decay)
    dampening = check_scalar(dampening, "dampening")
    nesterov, maximize = _check_flag(nesterov, "nesterov"), _check_flag(maximize, "maximize")
    first_step = _check_flag(first_step, "first_step")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov=True requires momentum > 0 and dampening == 0, got momentum=%r, "
                         "dampening=%r" % (momentum, dampening))
    states = []
    if momentum != 0:
        states.append(("momentum_buffer", _require(momentum_buffer, "momentum_buffer", "momentum != 0")))
    _check_arrays(param, grad, states)
    return lr, momentum, dampening, weight_decay, nesterov, maximize, first_step


def _prep_adagrad(param, grad, state_sum, step, lr, lr_decay, weight_decay, eps, maximize):
    step, lr, weight_decay, eps = _step(step), _lr(lr), _wd(weight_decay), _eps(eps)
    lr_decay = check_scalar(lr_decay, "lr_decay", min=0.0)
    maximize = _check_flag(maximize, "maximize")
    _check_arrays(param, grad, [("state_sum", state_sum)])
    clr = lr / (1 + (step - 1) * lr_decay)
    return clr, weight_decay, eps, maximize


def _prep_adadelta(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize):
    lr, eps, weight_decay = _lr(lr), _eps(eps), _wd(weight_decay)
    rho = check_scalar(rho, "rho", min=0.0, max=1.0)
    maximize = _check_flag(maximize, "maximize")
    _check_arrays(param, grad, [("square_avg", square_avg), ("acc_delta", acc_delta)])
    return lr, rho, eps, weight_decay, maximize


def _prep_rmsprop(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps, weight_decay,
                  momentum, centered, maximize):
    lr, eps, weight_decay = _lr(lr), _eps(eps), _wd(weight_decay)
    alpha = check_scalar(alpha, "alpha", min=0.0)
    momentum = check_scalar(momentum, "momentum", min=0.0)
    centered, maximize = _check_flag(centered, "centered"), _check_flag(maximize, "maximize")
    states = [("square_avg", square_avg)]
    if centered:
        states.append(("grad_avg", _require(grad_avg, "grad_avg", "centered=True")))
    if momentum > 0:
        states.append(("momentum_buffer", _require(momentum_buffer, "momentum_buffer", "momentum > 0")))
    _check_arrays(param, grad, states)
    return lr, alpha, eps, weight_decay, momentum, centered, maximize


def _prep_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
               weight_decay, amsgrad, maximize, decoupled_weight_decay):
    step, lr, eps, weight_decay = _step(step), _lr(lr), _eps(eps), _wd(weight_decay)
    beta1, beta2 = _beta(beta1, "beta1"), _beta(beta2, "beta2")
    amsgrad, maximize = _check_flag(amsgrad, "amsgrad"), _check_flag(maximize, "maximize")
    decoupled_weight_decay = _check_flag(decoupled_weight_decay, "decoupled_weight_decay")
    states = [("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)]
    if amsgrad:
        states.append(("max_exp_avg_sq", _require(max_exp_avg_sq, "max_exp_avg_sq", "amsgrad=True")))
    _check_arrays(param, grad, states)
    step_size, bc2_sqrt = _adam_scalars(step, lr, beta1, beta2)
    return (lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay,
            step_size, bc2_sqrt)


def _prep_adamax(param, grad, exp_avg, exp_inf, step, lr, beta1, beta2, eps, weight_decay, maximize):
    step, lr, eps, weight_decay = _step(step), _lr(lr), _eps(eps), _wd(weight_decay)
    beta1, beta2 = _beta(beta1, "beta1"), _beta(beta2, "beta2")
    maximize = _check_flag(maximize, "maximize")
    _check_arrays(param, grad, [("exp_avg", exp_avg), ("exp_inf", exp_inf)])
    clr = lr / (1 - beta1 ** step)
    return beta1, beta2, eps, weight_decay, maximize, clr


def _prep_nadam(param, grad, exp_avg, exp_avg_sq, step, mu_product, lr, beta1, beta2, eps,
                weight_decay, momentum_decay, decoupled_weight_decay, maximize):
    step, lr, eps, weight_decay = _step(step), _lr(lr), _eps(eps), _wd(weight_decay)
    beta1, beta2 = _beta(beta1, "beta1"), _beta(beta2, "beta2")
    momentum_decay = check_scalar(momentum_decay, "momentum_decay", min=0.0)
    mu_product = check_scalar(mu_product, "mu_product", min=0.0, max=1.0)
    decoupled_weight_decay = _check_flag(decoupled_weight_decay, "decoupled_weight_decay")
    maximize = _check_flag(maximize, "maximize")
    _check_arrays(param, grad, [("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)])
    bc2, grad_coef, exp_avg_coef, mu_product = _nadam_scalars(
        step, mu_product, lr, beta1, beta2, momentum_decay)
    return (lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize, bc2, grad_coef,
            exp_avg_coef, mu_product)


def _effective_grad(param, grad, weight_decay, maximize):
    """``g = (-grad if maximize else grad) + weight_decay * param`` (coupled L2), a new array."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    return g


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
    lr, momentum, dampening, weight_decay, nesterov, maximize, first_step = _prep_sgd(
        param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, maximize,
        first_step)
    g = _effective_grad(param, grad, weight_decay, maximize)
    if momentum != 0:
        b = momentum_buffer
        if first_step:
            b[...] = g
        else:
            b *= momentum
            b += (1 - dampening) * g
        g = g + momentum * b if nesterov else b
    param += -lr * g


def adagrad_update(param, grad, state_sum, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                   eps=1e-10, maximize=False):
    """Adagrad, in place (torch.optim.Adagrad); ``step`` counts from 1::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        clr = lr / (1 + (step - 1) * lr_decay)
        sum = sum + g * g
        p = p - clr * g / (sqrt(sum) + eps)
    """
    clr, weight_decay, eps, maximize = _prep_adagrad(
        param, grad, state_sum, step, lr, lr_decay, weight_decay, eps, maximize)
    g = _effective_grad(param, grad, weight_decay, maximize)
    state_sum += g * g
    param += (-clr * g) / (np.sqrt(state_sum) + eps)


def adadelta_update(param, grad, square_avg, acc_delta, lr=1.0, rho=0.9, eps=1e-6,
                    weight_decay=0.0, maximize=False):
    """Adadelta, in place (torch.optim.Adadelta)::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta
    """
    lr, rho, eps, weight_decay, maximize = _prep_adadelta(
        param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize)
    g = _effective_grad(param, grad, weight_decay, maximize)
    square_avg *= rho
    square_avg += ((1 - rho) * g) * g
    delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
    acc_delta *= rho
    acc_delta += ((1 - rho) * delta) * delta
    param += -lr * delta


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
    lr, alpha, eps, weight_decay, momentum, centered, maximize = _prep_rmsprop(
        param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps, weight_decay, momentum,
        centered, maximize)
    g = _effective_grad(param, grad, weight_decay, maximize)
    square_avg *= alpha
    square_avg += ((1 - alpha) * g) * g
    if centered:
        _lerp_(grad_avg, g, *_lerp_coeffs(1 - alpha, param.dtype))
        avg = np.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg += eps
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += g / avg
        param += -lr * momentum_buffer
    else:
        param += (-lr * g) / avg


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
    (lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled, step_size,
     bc2_sqrt) = _prep_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                            beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    _lerp_(exp_avg, g, *_lerp_coeffs(1 - beta1, param.dtype))
    exp_avg_sq *= beta2
    exp_avg_sq += ((1 - beta2) * g) * g
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = np.sqrt(max_exp_avg_sq) / bc2_sqrt + eps
    else:
        denom = np.sqrt(exp_avg_sq) / bc2_sqrt + eps
    param += (-step_size * exp_avg) / denom


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
    beta1, beta2, eps, weight_decay, maximize, clr = _prep_adamax(
        param, grad, exp_avg, exp_inf, step, lr, beta1, beta2, eps, weight_decay, maximize)
    g = _effective_grad(param, grad, weight_decay, maximize)
    _lerp_(exp_avg, g, *_lerp_coeffs(1 - beta1, param.dtype))
    np.maximum(exp_inf * beta2, np.abs(g) + eps, out=exp_inf)
    param += (-clr * exp_avg) / exp_inf


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
    (lr, beta1, beta2, eps, weight_decay, decoupled, maximize, bc2, grad_coef, exp_avg_coef,
     mu_product) = _prep_nadam(param, grad, exp_avg, exp_avg_sq, step, mu_product, lr, beta1, beta2,
                               eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize)
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    _lerp_(exp_avg, g, *_lerp_coeffs(1 - beta1, param.dtype))
    exp_avg_sq *= beta2
    exp_avg_sq += ((1 - beta2) * g) * g
    denom = np.sqrt(exp_avg_sq / bc2) + eps
    param += (grad_coef * g) / denom
    param += (exp_avg_coef * exp_avg) / denom
    return mu_product
