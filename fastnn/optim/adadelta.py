"""Adadelta (torch.optim.Adadelta)."""
from ..contracts import optim as contract
from .optimizer import Optimizer, through_update_table

__all__ = ["Adadelta"]


# Every optimizer module has this shape (torch.optim's: the algorithm written once in the class
# docstring, the constructor mirroring torch's signature); what it computes is its own.
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

    Example::

        >>> opt = fastnn.optim.Adadelta(model.parameters(), rho=0.95)
    """

    _parameter_constraints = contract.ADADELTA
    _array_state = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False, *,
                 foreach=None):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach))

    def _required_state(self, group):
        return ("step", "square_avg", "acc_delta")

    @staticmethod
    def _hyper(group):
        return dict(lr=group["lr"], rho=group["rho"], eps=group["eps"],
                    weight_decay=group["weight_decay"], maximize=group["maximize"])

    def _prepare(self, p, state):
        self._count_step(state)
        return self._zeros(p, state, "square_avg"), self._zeros(p, state, "acc_delta")

    def _update(self, kernels, p, group, state):
        square_avg, acc_delta = self._prepare(p, state)
        kernels.adadelta_update(p.value, p.grad, square_avg, acc_delta, **self._hyper(group))

    @through_update_table
    def _update_multi(self, kernels, params, group, states):
        self._count_steps(states)
        self._multi_tensor_update(kernels, "adadelta", params,
                                  [self._state_list(params, states, "square_avg"),
                                   self._state_list(params, states, "acc_delta")],
                                  **self._hyper(group))
