"""RMSprop (torch.optim.RMSprop)."""
from ..contracts import optim as contract
from .optimizer import Optimizer, through_update_table

__all__ = ["RMSprop"]


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

    Example::

        >>> opt = fastnn.optim.RMSprop(model.parameters(), lr=1e-3, centered=True)
    """

    _parameter_constraints = contract.RMSPROP
    _array_state = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, maximize=False, *, foreach=None):
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach))

    def _required_state(self, group):
        return (("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    @staticmethod
    def _hyper(group):
        return dict(lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                    weight_decay=group["weight_decay"], momentum=group["momentum"],
                    centered=group["centered"], maximize=group["maximize"])

    def _prepare(self, p, group, state):
        """(square_avg, grad_avg or None, momentum_buffer or None), created where missing."""
        self._count_step(state)
        return (self._zeros(p, state, "square_avg"),
                self._zeros(p, state, "grad_avg") if group["centered"] else None,
                self._zeros(p, state, "momentum_buffer") if group["momentum"] > 0 else None)

    def _update(self, kernels, p, group, state):
        kernels.rmsprop_update(p.value, p.grad, *self._prepare(p, group, state),
                               **self._hyper(group))

    @through_update_table
    def _update_multi(self, kernels, params, group, states):
        self._count_steps(states)
        self._multi_tensor_update(
            kernels, "rmsprop", params,
            [self._state_list(params, states, "square_avg"),
             self._state_list(params, states, "grad_avg") if group["centered"] else None,
             self._state_list(params, states, "momentum_buffer") if group["momentum"] > 0
             else None], **self._hyper(group))
