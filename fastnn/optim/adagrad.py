"""Adagrad (torch.optim.Adagrad)."""
from ..contracts import optim as contract
from .optimizer import Optimizer

__all__ = ["Adagrad"]


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

    Example::

        >>> opt = fastnn.optim.Adagrad(model.parameters(), lr=0.1, initial_accumulator_value=0.1)
    """

    _parameter_constraints = contract.ADAGRAD
    _array_state = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, maximize=False, *, foreach=None):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize, foreach=foreach))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group, self.state.setdefault(p, {}))

    def _required_state(self, group):
        return ("step", "sum")

    def _init_state(self, p, group, state):
        if not state:
            state["step"] = 0
            self._zeros(p, state, "sum", group["initial_accumulator_value"])

    @staticmethod
    def _hyper(group):
        return dict(lr=group["lr"], lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                    eps=group["eps"], maximize=group["maximize"])

    def _next_step(self, p, group, state):
        self._init_state(p, group, state)
        state["step"] += 1
        return state["step"]

    def _update(self, kernels, p, group, state):
        step = self._next_step(p, group, state)
        kernels.adagrad_update(p.value, p.grad, state["sum"], step, **self._hyper(group))

    def _update_multi(self, kernels, params, group, states):
        steps = [self._next_step(p, group, s) for p, s in zip(params, states)]
        kernels.adagrad_update_multi([p.value for p in params], [p.grad for p in params],
                                     [s["sum"] for s in states], steps, **self._hyper(group))
