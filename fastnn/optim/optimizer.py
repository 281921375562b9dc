"""The optimizer base class: parameter groups, state, ``zero_grad``, ``step``, checkpoints, and
the public per-parameter hook ``update`` for optimizers you write yourself.

A subclass (one per algorithm, in this package) declares its hyper-parameters once, as a
constraints table from ``fastnn.contracts.optim`` (``_parameter_constraints``), and implements the
update twice, side by side, as torch.optim does: ``_update`` for one parameter (one single-tensor
kernel call) and ``_update_multi`` for all of a group's parameters of one dtype (one multi-tensor
kernel call, made through ``_multi_tensor_update``).  ``foreach`` chooses between them; the two
give the same bits.

The lean step.  ``_multi_tensor_update`` keeps the multi-tensor call's table of tensors
(``fastnn.kernels.UpdateTable``: the arrays checked once, their buffers held) and reuses it while
the parameters, gradients and state arrays are the same objects; an array replaced
(``load_state_dict``, ``Sequential.astype``, a first step creating the state) makes it build a
new one.  A step is then one compiled call per group and dtype that checks only its scalars.

Divergence.  ``checked_step()`` is ``step()`` that never leaves an inf or NaN behind: the update
copies what it writes to a snapshot in the same pass and reports non-finite gradients, weights
and state; if any, the step is undone (arrays from the snapshot, step counts and new state
entries as they were) and a description is returned.  ``Sequential.fit`` steps with it.

Your own algorithm overrides one method, :meth:`Optimizer.update`, on NumPy arrays; ``step``
then calls it for every parameter (momentum SGD in a few lines)::

    class MyMomentum(fastnn.optim.Optimizer):
        def __init__(self, params, lr=0.01, momentum=0.9):
            super().__init__(params, dict(lr=lr, momentum=momentum))

        def update(self, param, grad, state, group):
            v = state.setdefault("v", np.zeros_like(param))   # created at the first step
            v *= group["momentum"]
            v += grad
            param -= group["lr"] * v

Example::

    >>> import numpy as np, fastnn
    >>> p = fastnn.Parameter(np.ones(3, np.float32))
    >>> opt = fastnn.optim.SGD([p], lr=0.5)
    >>> p.grad[...] = 1.0
    >>> opt.step()
    >>> p.value
    array([0.5, 0.5, 0.5], dtype=float32)
"""
# Size: over ~500 lines, kept whole: the base class is one object (groups, state, the
# per-parameter hook, the reusable multi-tensor table and the checked step share its state).
import math
import numbers

import numpy as np

from .. import backend
from .._validate import check_bool
from ..contracts.constraints import pair_element, parse
from ..parameter import Parameter

__all__ = ["Optimizer", "check_hyperparameter", "through_update_table"]


class _Tensor:
    """A parameter's value and gradient arrays, as the ``_update`` of an algorithm reads them
    (``update`` hands out plain arrays, the fused kernels take the pair)."""

    __slots__ = ("value", "grad", "name")

    def __init__(self, value, grad):
        self.value = value
        self.grad = grad
        self.name = None

# torch's words for a hyper-parameter in "Invalid <words>: <value>"; others are "<name> value".
_TORCH_WORDS = {"lr": "learning rate", "eps": "epsilon value"}


def check_hyperparameter(value, name, constraint, words=None):
    """``value`` checked against ``constraint`` (an entry of a ``fastnn.contracts.optim`` table, see
    ``fastnn.contracts.constraints``),
    in torch's words: ``ValueError("Invalid learning rate: -1")`` (``words`` overrides the words
    for ``name``).  Flags must be bools (TypeError otherwise).  Returns the value as a Python
    float / int / bool, a pair as a tuple."""
    c = parse(constraint)
    if c.kind == "bool":
        return check_bool(value, name)
    if c.pair:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ValueError("Invalid %s: expected a pair, got %r" % (name, value))
        # torch's words for its only pair, betas
        return tuple(check_hyperparameter(v, name, pair_element(constraint),
                                          "beta parameter at index %d" % i)
                     for i, v in enumerate(value))
    words = words or _TORCH_WORDS.get(name, name + " value")
    # torch compares with `0.0 <= v`, which is False for NaN, so NaN is "invalid" there too.
    # Messages print the value as given ("Invalid learning rate: -1"), like torch's f-strings.
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(float(value)) or not c.admits(float(value)) \
            or (c.kind == "int" and not isinstance(value, numbers.Integral)):
        raise ValueError("Invalid %s: %s" % (words, value))
    return int(value) if c.kind == "int" else float(value)


def through_update_table(method):
    """Marks an algorithm's ``_update_multi`` that makes its one multi-tensor call through
    ``Optimizer._multi_tensor_update``: ``checked_step`` then lets that call's table take the
    snapshot and report non-finite values, instead of copying and scanning the arrays itself.

        class Adam(Optimizer):
            @through_update_table
            def _update_multi(self, kernels, params, group, states): ...
    """
    method.through_update_table = True
    return method


def _check_foreach(value):
    if value is not None and not isinstance(value, (bool, np.bool_)):
        raise TypeError("foreach must be None or a bool, got %r (%s)" % (value,
                                                                      type(value).__name__))
    return None if value is None else bool(value)


class Optimizer:
    """Base class: parameter groups, state, ``zero_grad``, ``step``, ``state_dict`` /
    ``load_state_dict``.

    ``params`` is an iterable of :class:`fastnn.Parameter` or of dicts ``{'params': [...],
    'lr': ...}`` (parameter groups; keys a group leaves out take the constructor's values).
    ``param_groups`` is the list of group dicts (a scheduler edits ``group['lr']``);
    ``state[param]`` is that parameter's dict of step count and NumPy state arrays.

    ``foreach`` (a group entry, as torch): None (default) updates a group with one multi-tensor
    kernel call when the compiled backend is active and one call per parameter on the NumPy
    twins; True / False force the multi-tensor / per-parameter path.  Both give the same bits.
    """

    #: hyper-parameter name -> constraint (a table of fastnn.contracts.optim), in subclasses
    _parameter_constraints = {}
    #: names of the per-parameter state entries that are arrays (the rest are Python numbers)
    _array_state = ()

    def __init__(self, params, defaults):
        self._tables = {}          # multi-tensor update tables, by (backend, rule, params, mode)
        self._checking = False     # whether the step in progress is a checked_step
        self._step_tables = []     # the tables the step in progress ran
        self._check_group(dict(defaults))
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        if isinstance(params, (Parameter, dict)):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Parameters or dicts, but got %s" % type(params).__name__)
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- hooks for subclasses ----------------------------------------------------------------
    def _check_rules(self, group):
        """Rules that tie hyper-parameters together (subclasses; each one is checked alone by
        the constraints table)."""

    def _required_state(self, group):
        """Names of the state entries a parameter of ``group`` must have (subclasses)."""
        return ()

    def _update(self, kernels, p, group, state):
        """Update one parameter ``p`` with the single-tensor kernel of ``kernels``."""
        raise NotImplementedError(
            "%s does not define its algorithm: override update(param, grad, state, group) "
            "(see fastnn.optim.Optimizer.update)" % type(self).__name__)

    # -- the public per-parameter hook --------------------------------------------------------
    def update(self, param, grad, state, group):
        """Update one parameter in place: the algorithm, written for one tensor.

        ``param``: the parameter's values, a NumPy array to change in place
        (``param -= group['lr'] * grad``; never rebind it); ``grad``: its gradient (read it,
        do not change it); ``state``: this parameter's dict, kept from step to step and saved
        by ``state_dict()`` (empty at the first step: create your buffers there, e.g.
        ``state.setdefault('v', np.zeros_like(param))``); ``group``: the parameter group
        it belongs to, with its hyper-parameters (``group['lr']`` and the ``defaults`` you
        gave ``Optimizer.__init__``; a scheduler changes ``group['lr']`` between epochs).

        Override it to write an optimizer: ``step()`` then calls ``update`` once per parameter,
        group by group, in order.  The built-in optimizers do not override it: their ``step``
        runs the fused update kernels (one multi-tensor call per group on the compiled
        backend), and this default is the same fused kernel applied to one parameter, so
        ``opt.update(p.value, p.grad, opt.state.setdefault(p, {}), opt.param_groups[0])``
        changes ``p`` exactly as ``step`` would.

            class PlainSGD(fastnn.optim.Optimizer):
                def __init__(self, params, lr=0.1):
                    super().__init__(params, dict(lr=lr))

                def update(self, param, grad, state, group):
                    param -= group["lr"] * grad
        """
        self._update(backend.K(), _Tensor(param, grad), group, state)

    def _overrides_update(self):
        return type(self).update is not Optimizer.update

    def _update_multi(self, kernels, params, group, states):
        """Update ``params`` (all of a group's parameters of one dtype) and their ``states``;
        the algorithms make one multi-tensor call (``_multi_tensor_update``), this default calls
        ``_update`` for each parameter."""
        for p, state in zip(params, states):
            self._update(kernels, p, group, state)

    def _multi_tensor_update(self, kernels, rule, params, states, **arguments):
        """The multi-tensor kernel of ``rule`` (``<rule>_update_multi`` of ``kernels``) on the
        values and grads of ``params`` and on ``states`` (one entry per state slot of the rule,
        ``fastnn.contracts.optim.STATE_SLOTS``: a list of arrays, or None), with ``arguments``
        (all the kernel's other arguments, by name).  Made through a cached
        ``kernels.UpdateTable``, rebuilt only when an array is no longer the one it holds.
        Returns the kernel's result (NAdam: the new mu_products)."""
        values = [p.value for p in params]
        grads = [p.grad for p in params]
        key = (kernels.__name__, rule, self._checking, tuple(map(id, params)))
        table = self._tables.get(key)
        if table is None or not table.holds(values, grads, states):
            table = self._tables[key] = kernels.UpdateTable(rule, values, grads, states,
                                                            checked=self._checking)
        result = table.update(**arguments)
        self._step_tables.append(table)
        return result

    # -- groups ------------------------------------------------------------------------------
    def _check_group(self, group):
        """Validate and normalise one group's hyper-parameters in place, from the table."""
        for name, constraint in self._parameter_constraints.items():
            group[name] = check_hyperparameter(group[name], name, constraint)
        group["foreach"] = _check_foreach(group.get("foreach"))
        self._check_rules(group)

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError("param_group must be a dict, got %s" % type(param_group).__name__)
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Parameter):
            params = [params]
        elif params is None or isinstance(params, (set, dict)):
            raise TypeError("param_group['params'] must be a list of Parameters (sets have no "
                            "stable order), got %s" % type(params).__name__)
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError("optimizer can only optimize fastnn.Parameter objects, got %s at "
                                "params[%d]" % (type(p).__name__, i))
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError("unknown hyper-parameter(s) %s for %s; expected some of %s" % (
                sorted(unknown), type(self).__name__, sorted(self.defaults)))
        self._check_group(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Zero every parameter's gradient in place.  ``set_to_none`` is accepted for torch
        compatibility; a fastnn Parameter always owns its gradient array, so it is zeroed."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad[...] = 0

    # -- the step ----------------------------------------------------------------------------
    def step(self, closure=None):
        """One update of every parameter; returns ``closure()`` when given (as torch)."""
        loss = closure() if closure is not None else None
        self._step(checked=False)
        return loss

    def checked_step(self):
        """``step()`` that never leaves an inf or NaN in a weight or in the state.

        Returns None when every gradient it read and every weight and state value it wrote is
        finite.  Otherwise the step is undone -- weights and state arrays exactly as before it,
        step counts and state entries as they were -- and a description of the first problem
        found is returned (a non-finite gradient first, then weights, then state), e.g.
        ``"the gradient of dense_1/kernel"``.  On the compiled multi-tensor path the snapshot is
        taken by the update kernel in the same pass and the check is a flag it sets; elsewhere
        the arrays are copied and scanned with NumPy.

            >>> bad = opt.checked_step()
            >>> if bad: raise RuntimeError("diverged: %s is not finite" % bad)
        """
        return self._step(checked=True)

    def _step(self, checked):
        kernels = backend.K()
        custom = self._overrides_update()    # an algorithm written with the public hook
        self._checking = checked
        self._step_tables = []
        saved_states = []          # (state dict, its shallow copy from before the step)
        saved_arrays = []          # (array, its copy) where no table keeps a snapshot
        scanned = []               # parameters whose arrays NumPy must scan afterwards
        stepped = []               # every parameter this step updated
        try:
            for params, group, foreach in self._buckets(custom):
                states = [self.state.setdefault(p, {}) for p in params]
                tables = foreach and getattr(type(self)._update_multi, "through_update_table",
                                             False)
                if checked:
                    saved_states += [(st, dict(st)) for st in states]
                    if not tables:
                        saved_arrays += [(a, a.copy()) for p, st in zip(params, states)
                                         for a in [p.value] + _arrays_of(st)]
                        scanned += params
                stepped += params
                if custom:
                    self.update(params[0].value, params[0].grad, states[0], group)
                elif foreach:
                    self._update_multi(kernels, params, group, states)
                else:
                    self._update(kernels, params[0], group, states[0])
                if checked and tables and self._step_tables[-1].flags:
                    break                  # diverged: nothing more to update
        finally:
            self._checking = False
        if not checked or (all(t.flags == 0 for t in self._step_tables) and all(
                np.isfinite(a).all() for a in _checked_arrays(scanned, self.state))):
            return None
        problem = self._describe_nonfinite(stepped)
        for table in self._step_tables:
            table.restore()
        for array, copy in saved_arrays:
            array[...] = copy
        for state, copy in saved_states:
            state.clear()
            state.update(copy)
        return problem

    def _buckets(self, custom=False):
        """(params, group, foreach) for each call of a step: on the multi-tensor path (foreach)
        one per group and dtype, else (and for an algorithm of the public ``update`` hook,
        ``custom``) one per parameter."""
        for group in self.param_groups:
            foreach = group["foreach"]
            if foreach is None:
                foreach = backend.get_backend() == "compiled"
            foreach = foreach and not custom
            if foreach:
                for params in _by_dtype(group["params"]):
                    yield params, group, True
            else:
                for p in group["params"]:
                    yield [p], group, False

    def _describe_nonfinite(self, params):
        """The first non-finite thing among ``params``' grads, then values, then state."""
        def name(p):
            return p.name or "parameter %d" % next(
                i for i, q in enumerate(q for g in self.param_groups for q in g["params"])
                if q is p)
        for p in params:
            if not np.isfinite(p.grad).all():
                return "the gradient of %s" % name(p)
        for p in params:
            if not np.isfinite(p.value).all():
                return "the weights %s (after the update)" % name(p)
        for p in params:
            for key, value in self.state.get(p, {}).items():
                if isinstance(value, np.ndarray) and not np.isfinite(value).all():
                    return "%s's state %r of %s (after the update)" % (
                        type(self).__name__, key, name(p))
        return "a value the update wrote"

    def __getstate__(self):
        # the tables are caches of compiled objects: a copy rebuilds its own
        state = dict(self.__dict__)
        state["_tables"], state["_step_tables"], state["_checking"] = {}, [], False
        return state

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as torch.

        Parameters are numbered in group order; hyper-parameters are JSON-able Python values
        (betas become lists), state arrays are copies (continuing to train does not alter it).
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: (list(v) if isinstance(v, tuple) else v)
                      for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {
                        k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                        for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state saved by ``state_dict()`` (also after a JSON round
        trip: string keys and lists are accepted).  Every array must match its parameter's shape
        and dtype exactly; anything inconsistent raises ValueError naming the entry.  A saved
        group without ``foreach`` (older checkpoints) keeps the optimizer's."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or \
                "param_groups" not in state_dict:
            raise ValueError("state_dict must be a dict with keys 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has %d parameter groups, the optimizer has %d" % (
                len(saved_groups), len(self.param_groups)))
        id_map = {}
        new_groups = []
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size of "
                    "optimizer's group: param_groups[%d] has %d parameters, saved %d" % (
                        gi, len(group["params"]), len(saved["params"])))
            for idx, p in zip(saved["params"], group["params"]):
                id_map[int(idx)] = p
            new = {k: v for k, v in saved.items() if k != "params"}
            new.setdefault("foreach", group["foreach"])
            new["params"] = group["params"]
            missing = set(self.defaults) - set(new)
            if missing:
                raise ValueError("param_groups[%d] is missing hyper-parameter(s) %s" % (
                    gi, sorted(missing)))
            self._check_group(new)
            new_groups.append(new)
        groups_of = {id(p): g for g in new_groups for p in g["params"]}
        new_state = {}
        for key, entry in state_dict["state"].items():
            try:
                p = id_map[int(key)]
            except (KeyError, ValueError):
                raise ValueError("state entry %r names no parameter of this optimizer"
                                 % (key,)) from None
            for name in self._required_state(groups_of[id(p)]):
                if name not in entry:
                    raise ValueError("state[%s] is missing %r (needed by %s with these "
                                     "hyper-parameters)" % (key, name, type(self).__name__))
            new_state[p] = {name: self._restore(key, name, value, p)
                            for name, value in entry.items()}
        # Commit only after everything was checked: a failed load leaves the optimizer as it was.
        for group, new in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new)
        self.state = new_state
        self._tables = {}

    def _restore(self, key, name, value, p):
        """One saved state entry, checked against parameter ``p``."""
        if name in self._array_state:
            arr = value if isinstance(value, np.ndarray) else np.asarray(value)
            if arr.shape != p.value.shape:
                raise ValueError("state[%s][%r] has shape %s, parameter %s has %s" % (
                    key, name, arr.shape, p.name or key, p.value.shape))
            if arr.dtype != p.value.dtype:
                raise ValueError("state[%s][%r] has dtype %s, parameter %s has %s" % (
                    key, name, arr.dtype, p.name or key, p.value.dtype))
            return np.array(arr, copy=True, order="C")
        if name == "step":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) and not (
                    isinstance(value, numbers.Real) and float(value).is_integer()):
                raise ValueError("state[%s]['step'] must be an integer, got %r" % (key, value))
            if value < 0:
                raise ValueError("state[%s]['step'] must be >= 0, got %r" % (key, value))
            return int(value)
        if name == "mu_product":
            return check_hyperparameter(value, name, "real", "mu_product in state[%s]" % key)
        if self._overrides_update():
            # an algorithm of your own keeps whatever it likes: arrays of the parameter's
            # shape, or numbers
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                return value
            arr = np.asarray(value)
            if arr.shape == p.value.shape and arr.dtype.kind == "f":
                return np.array(arr, dtype=p.value.dtype, copy=True, order="C")
            raise ValueError("state[%s][%r] must be a number or an array of the parameter's "
                             "shape %s, got %r" % (key, name, p.value.shape, value))
        raise ValueError("state[%s] has unknown entry %r for %s" % (key, name, type(self).__name__))

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append("Parameter Group %d" % i)
            for k in sorted(group):
                if k != "params":
                    lines.append("    %s: %r" % (k, group[k]))
        return "\n".join(lines) + "\n)"

    # -- helpers for subclasses ----------------------------------------------------------------
    @staticmethod
    def _count_step(state):
        """One more step in ``state['step']`` (0 on a fresh state); returns the new count."""
        state["step"] = state.get("step", 0) + 1
        return state["step"]

    @staticmethod
    def _zeros(p, state, name, fill=0.0):
        """``state[name]``, created as an array like ``p.value`` filled with ``fill`` if absent."""
        if name not in state:
            state[name] = np.full_like(p.value, fill)
        return state[name]

    @classmethod
    def _count_steps(cls, states):
        """``_count_step`` on each of ``states``; returns the new counts (a multi-tensor step's
        ``steps``)."""
        return [cls._count_step(state) for state in states]

    @classmethod
    def _state_list(cls, params, states, name, fill=0.0):
        """``[_zeros(p, state, name, fill) for each parameter]``: one state slot of a
        multi-tensor call, its arrays created where absent (the first step)."""
        try:
            return [state[name] for state in states]
        except KeyError:
            return [cls._zeros(p, state, name, fill) for p, state in zip(params, states)]


def _arrays_of(state):
    return [v for v in state.values() if isinstance(v, np.ndarray)]


def _checked_arrays(params, state):
    """Everything a step reads or writes for ``params``: grads, values and state arrays."""
    for p in params:
        yield p.grad
        yield p.value
        yield from _arrays_of(state.get(p, {}))


def _by_dtype(params):
    """``params`` split by dtype, in order (a multi-tensor kernel call takes one dtype)."""
    if params:
        dtype = params[0].value.dtype
        if all(p.value.dtype is dtype for p in params):    # the usual case: one dtype
            return [params]
    buckets = {}
    for p in params:
        buckets.setdefault(p.value.dtype, []).append(p)
    return list(buckets.values())
