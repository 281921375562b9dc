"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW)."""
from ..contracts import optim as contract
from .optimizer import Optimizer, through_update_table

__all__ = ["Adam", "AdamW"]


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

    Example::

        >>> opt = fastnn.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
        >>> opt.zero_grad(); model.backward(loss_fn.backward()); opt.step()
    """

    _parameter_constraints = contract.ADAM
    _array_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, maximize=False, decoupled_weight_decay=False, *, foreach=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      foreach=foreach))

    def _required_state(self, group):
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    @staticmethod
    def _hyper(group):
        beta1, beta2 = group["betas"]
        return dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                    weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
                    maximize=group["maximize"],
                    decoupled_weight_decay=group["decoupled_weight_decay"])

    def _prepare(self, p, group, state):
        """(exp_avg, exp_avg_sq, max_exp_avg_sq or None, step), after counting this step."""
        step = self._count_step(state)
        return (self._zeros(p, state, "exp_avg"), self._zeros(p, state, "exp_avg_sq"),
                self._zeros(p, state, "max_exp_avg_sq") if group["amsgrad"] else None, step)

    def _update(self, kernels, p, group, state):
        kernels.adam_update(p.value, p.grad, *self._prepare(p, group, state), **self._hyper(group))

    @through_update_table
    def _update_multi(self, kernels, params, group, states):
        steps = self._count_steps(states)
        self._multi_tensor_update(
            kernels, "adam", params,
            [self._state_list(params, states, "exp_avg"),
             self._state_list(params, states, "exp_avg_sq"),
             self._state_list(params, states, "max_exp_avg_sq") if group["amsgrad"] else None],
            steps=steps, **self._hyper(group))


class AdamW(Adam):
    r"""AdamW (torch.optim.AdamW): Adam with decoupled weight decay.

    Algorithm: as :class:`Adam` with ``decoupled_weight_decay=True``: first
    ``theta = theta * (1 - lr * weight_decay)``, then the Adam step on the raw gradient.

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    maximize=False``.  Paper: Loshchilov & Hutter, "Decoupled Weight Decay Regularization"
    (ICLR 2019).

    Example::

        >>> opt = fastnn.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False, *, foreach=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True,
                         foreach=foreach)

    def _check_rules(self, group):
        if not group["decoupled_weight_decay"]:
            raise ValueError("AdamW requires decoupled_weight_decay=True; use Adam for L2")
