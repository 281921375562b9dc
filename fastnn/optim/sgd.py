"""SGD, optionally with momentum (torch.optim.SGD)."""
from ..contracts import optim as contract
from .optimizer import Optimizer

__all__ = ["SGD"]


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

    Example::

        >>> opt = fastnn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        >>> opt.zero_grad(); model.backward(loss_fn.backward()); opt.step()
    """

    _parameter_constraints = contract.SGD
    _array_state = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 maximize=False, *, foreach=None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach))

    def _check_rules(self, group):
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    # The buffer is created by the first step, so a state without one starts afresh: no
    # _required_state.

    @staticmethod
    def _hyper(group):
        return dict(lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
                    weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                    maximize=group["maximize"])

    def _momentum_buffer(self, p, group, state):
        """(buffer or None, whether this is its first step)."""
        if group["momentum"] == 0:
            return None, False
        first = "momentum_buffer" not in state
        return self._zeros(p, state, "momentum_buffer"), first

    def _update(self, kernels, p, group, state):
        buf, first = self._momentum_buffer(p, group, state)
        kernels.sgd_update(p.value, p.grad, buf, first_step=first, **self._hyper(group))

    def _update_multi(self, kernels, params, group, states):
        bufs, firsts = zip(*[self._momentum_buffer(p, group, s) for p, s in zip(params, states)])
        kernels.sgd_update_multi([p.value for p in params], [p.grad for p in params],
                                 list(bufs) if group["momentum"] != 0 else None,
                                 first_steps=list(firsts), **self._hyper(group))
