"""Learning-rate schedulers (torch.optim.lr_scheduler): each ``step()`` sets the lr of every
parameter group for the next epoch.

Example::

    >>> opt = fastnn.optim.SGD(model.parameters(), lr=0.1)
    >>> sched = fastnn.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    >>> for epoch in range(30):
    ...     train_one_epoch(opt)
    ...     sched.step()
"""
import math
import numbers

from .optimizer import Optimizer, check_hyperparameter

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR"]


def _check_positive_int(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
        raise ValueError("%s must be a positive int, got %r" % (name, v))
    return int(v)


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


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs (torch.optim.lr_scheduler.StepLR).

    Closed form: ``lr = base_lr * gamma ** (epoch // step_size)``.

    Example::

        >>> sched = StepLR(opt, step_size=3, gamma=0.5)    # lr, lr, lr, lr/2, lr/2, lr/2, lr/4...
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = _check_positive_int(step_size, "step_size")
        self.gamma = check_hyperparameter(gamma, "gamma", "real", "gamma")
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _closed_form_lr(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch (torch.optim.lr_scheduler.ExponentialLR).

    Closed form: ``lr = base_lr * gamma ** epoch``.

    Example::

        >>> sched = ExponentialLR(opt, gamma=0.9)
    """

    def __init__(self, optimizer, gamma):
        self.gamma = check_hyperparameter(gamma, "gamma", "real", "gamma")
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
    oscillating past ``T_max``).

    Example::

        >>> sched = CosineAnnealingLR(opt, T_max=20, eta_min=1e-5)
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = _check_positive_int(T_max, "T_max")
        self.eta_min = check_hyperparameter(eta_min, "eta_min", "real", "eta_min")
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
