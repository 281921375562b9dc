"""Optimizers and learning-rate schedulers, constructed and behaving as ``torch.optim``.

Laid out as torch.optim: the base class in ``optimizer.py`` (parameter groups, state, checkpoints,
hyper-parameter checks driven by each class's constraints table from ``fastnn.contracts.optim``),
one module per algorithm, and the schedulers in ``lr_scheduler.py``.  Each ``step()`` calls the
update kernels through ``fastnn.backend.K()``, so the same optimizer runs on the compiled kernels
(``fastnn.kernels``) or on their NumPy twins (``fastnn.reference``): by default one multi-tensor
call per parameter group on the compiled kernels, one call per parameter on the twins
(``foreach=`` chooses; the results are the same bits)::

    opt = fastnn.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in batches:
        opt.zero_grad(); loss = ...; model.backward(...); opt.step()

The update rules, defaults, argument checks and ``state_dict`` layout follow torch 2.x
(single-tensor path, ``foreach=False``); numbers agree with torch to float32 rounding (torch's
vectorised CPU kernels use fused multiply-add in ``lerp`` and ``add(alpha=)``; ours round every
operation, like the NumPy twin, so the compiled and NumPy paths agree bit for bit).
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .lr_scheduler import CosineAnnealingLR, ExponentialLR, LRScheduler, StepLR
from .nadam import NAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam",
    "get", "names", "lr_scheduler", "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR",
]

# name -> (class, preset keyword arguments), for get() and the command line
_PRESETS = {
    "sgd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, {}),
    "adadelta": (Adadelta, {}),
    "rmsprop": (RMSprop, {}),
    "adam": (Adam, {}),
    "amsgrad": (Adam, {"amsgrad": True}),
    "adamw": (AdamW, {}),
    "adamax": (Adamax, {}),
    "nadam": (NAdam, {}),
}


def names():
    """The optimizer names :func:`get` accepts, sorted: ``['adadelta', 'adagrad', 'adam', ...]``.

    Example::

        >>> 'amsgrad' in fastnn.optim.names()
        True
    """
    return sorted(_PRESETS)


def get(name, params, **kwargs):
    """Build an optimizer from a name (for the CLI and ``fit``)::

        get('adam', model.parameters(), lr=1e-3)

    Names (case-insensitive): 'sgd', 'momentum' (SGD, momentum=0.9), 'nesterov' (SGD,
    momentum=0.9, nesterov=True), 'adagrad', 'adadelta', 'rmsprop', 'adam', 'amsgrad' (Adam,
    amsgrad=True), 'adamw', 'adamax', 'nadam' (see :func:`names`).  ``kwargs`` override the
    preset's values.  An Optimizer instance is returned unchanged.
    """
    if isinstance(name, Optimizer):
        return name
    if not isinstance(name, str):
        raise TypeError("optimizer name must be a str, got %s" % type(name).__name__)
    key = name.strip().lower()
    if key not in _PRESETS:
        raise ValueError("unknown optimizer %r; expected one of %s" % (name, names()))
    cls, preset = _PRESETS[key]
    return cls(params, **dict(preset, **kwargs))
