"""NAdam (torch.optim.NAdam)."""
from ..contracts import optim as contract
from .optimizer import Optimizer, through_update_table

__all__ = ["NAdam"]


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

    Example::

        >>> opt = fastnn.optim.NAdam(model.parameters(), lr=2e-3, momentum_decay=4e-3)
    """

    _parameter_constraints = contract.NADAM
    _array_state = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False, *,
                 foreach=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach))

    def _required_state(self, group):
        return ("step", "mu_product", "exp_avg", "exp_avg_sq")

    @staticmethod
    # Adam's _hyper shape with NAdam's own hyper-parameters: each optimizer lists its own.
    def _hyper(group):
        beta1, beta2 = group["betas"]
        return dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                    weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
                    decoupled_weight_decay=group["decoupled_weight_decay"],
                    maximize=group["maximize"])

    def _prepare(self, p, state):
        """(exp_avg, exp_avg_sq, step, mu_product), after counting this step."""
        step = self._count_step(state)
        state.setdefault("mu_product", 1.0)
        return (self._zeros(p, state, "exp_avg"), self._zeros(p, state, "exp_avg_sq"), step,
                state["mu_product"])

    def _update(self, kernels, p, group, state):
        state["mu_product"] = kernels.nadam_update(p.value, p.grad, *self._prepare(p, state),
                                                   **self._hyper(group))

    @through_update_table
    def _update_multi(self, kernels, params, group, states):
        exp_avgs, exp_avg_sqs, steps, mu_products = zip(
            *[self._prepare(p, s) for p, s in zip(params, states)])
        new = self._multi_tensor_update(kernels, "nadam", params,
                                        [list(exp_avgs), list(exp_avg_sqs)], steps=list(steps),
                                        mu_products=list(mu_products), **self._hyper(group))
        for state, mu_product in zip(states, new):
            state["mu_product"] = mu_product
