"""Adamax (torch.optim.Adamax)."""
from ..contracts import optim as contract
from .optimizer import Optimizer, through_update_table

__all__ = ["Adamax"]


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

    Example::

        >>> opt = fastnn.optim.Adamax(model.parameters(), lr=2e-3)
    """

    _parameter_constraints = contract.ADAMAX
    _array_state = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 maximize=False, *, foreach=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach))

    def _required_state(self, group):
        return ("step", "exp_avg", "exp_inf")

    @staticmethod
    def _hyper(group):
        beta1, beta2 = group["betas"]
        return dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                    weight_decay=group["weight_decay"], maximize=group["maximize"])

    def _prepare(self, p, state):
        """(exp_avg, exp_inf, step), after counting this step."""
        step = self._count_step(state)
        return self._zeros(p, state, "exp_avg"), self._zeros(p, state, "exp_inf"), step

    def _update(self, kernels, p, group, state):
        kernels.adamax_update(p.value, p.grad, *self._prepare(p, state), **self._hyper(group))

    @through_update_table
    def _update_multi(self, kernels, params, group, states):
        steps = self._count_steps(states)
        self._multi_tensor_update(kernels, "adamax", params,
                                  [self._state_list(params, states, "exp_avg"),
                                   self._state_list(params, states, "exp_inf")],
                                  steps=steps, **self._hyper(group))
