# Design: optimizer update kernels -- a contract call, one parallel driver, a C call per block.
#
# Size: just under ~600 lines, kept whole: one compiled module per kernel family (a split is a
# new extension); the single-tensor, multi-tensor and checked wrappers share the driver.
#
# * Three files per kernel: the contract (fastnn/contracts/optim.py) checks the arguments and
#   computes the scalars (bias corrections, step sizes) in Python floats; the NumPy twin
#   (fastnn/reference/optim.py) makes the same call first and then does the math; every line of
#   the compiled math is C in src_c/fnn_optim.h, written line for line like the twin (same names,
#   same operations in the same order, so the two are bit-identical).  This module only turns the
#   checked arrays into a table of tensors and splits the work across threads.
# * Why fused: an optimizer step is memory-bound (Adam reads p, g, m, v and writes p, m, v and does
#   ~12 flops per element); the C loop loads each element once, updates it in registers and stores
#   it once, so it moves the minimum number of bytes.  Measurements: docs/kernels/optim.md.
# * One parallel driver for every rule.  It takes a rule id, a table of tensors (for each its
#   element count, the pointers of its param, grad and state arrays, and its scalars) and cuts all
#   the elements of all the tensors into chunks of _CHUNK elements (a chunk never spans two
#   tensors, so every block starts at a multiple of 16 elements of its tensor: a 64-byte cache line
#   of float32).  Thread t takes one contiguous run of chunks and calls the rule's C function on
#   each piece of a tensor in its run.  The single-tensor kernels (adam_update, ...) call it with
#   one tensor; the multi-tensor kernels (adam_update_multi, ...) with a whole parameter group, so
#   one call updates every parameter with no Python per element and one thread team per step.
# * Elementwise only: element i's result depends neither on how the range is split nor on the
#   SIMD variant (no FMA, correctly rounded sqrt and division), so results are identical at any
#   thread count, at every SIMD level, and between the single-tensor and multi-tensor kernels.
# * Threads: fastnn.get_num_threads(), capped to the work (each thread gets at least
#   _MIN_PER_THREAD elements; below that, waking a team costs more than the pass).
# * SIMD: the process-wide level (fastnn.set_simd / FASTNN_SIMD, read from _runtime) is passed to
#   the C code, which runs its generic or AVX2 variant.
# * A reusable table (UpdateTable): the multi-tensor call's table of tensors built once, with the
#   arrays checked and their buffers held, so that a training step is one call that checks only
#   its scalars.  Its checked mode copies what the step writes to a snapshot inside the same pass
#   (block by block, while the block is in L1) and reports non-finite values, so a step that
#   diverges can be undone exactly (fastnn.optim.Optimizer.checked_step).
# * Safety: the contract checks everything before any nogil code.  Pointers are then taken here
#   through the buffer protocol, which also holds every array for the duration of the call, and
#   each buffer's length is re-checked against the element count the C loop will walk.
from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from fastnn.kernels._runtime cimport simd_level

import numpy as np

from fastnn._config import get_num_threads
from fastnn.contracts import optim as contract

__all__ = [
    "sgd_update", "adagrad_update", "adadelta_update", "rmsprop_update", "adam_update",
    "adamw_update", "adamax_update", "nadam_update",
    "sgd_update_multi", "adagrad_update_multi", "adadelta_update_multi", "rmsprop_update_multi",
    "adam_update_multi", "adamw_update_multi", "adamax_update_multi", "nadam_update_multi",
]

# Elements per chunk, the unit of work splitting: 16 float32 = one 64-byte cache line.
cdef Py_ssize_t _CHUNK = 16
# Fewest elements worth a thread of their own (docs/kernels/optim.md).
cdef Py_ssize_t _MIN_PER_THREAD = 16384


# ------------------------------------------------------------------------------------------------
# The parallel driver
# ------------------------------------------------------------------------------------------------

cdef int _update_span(int rule, int dtype, int simd, const fnn_optim_tensor *tensors,
                      const fnn_optim_tensor *snaps, const Py_ssize_t *first_chunk,
                      Py_ssize_t ntensors, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    # Chunks [c0, c1), piece by piece of each tensor they cover; returns the checked pieces'
    # bits ORed (0 when snaps is NULL).
    cdef Py_ssize_t j = 0, lo, hi
    cdef int bits = 0
    while first_chunk[j + 1] <= c0:
        j = j + 1
    while j < ntensors and first_chunk[j] < c1:
        lo = (max(c0, first_chunk[j]) - first_chunk[j]) * _CHUNK
        hi = min(tensors[j].n, (min(c1, first_chunk[j + 1]) - first_chunk[j]) * _CHUNK)
        if snaps == NULL:
            fnn_optim_update(rule, dtype, simd, &tensors[j], lo, hi)
        else:
            bits = bits | fnn_optim_update_checked(rule, dtype, simd, &tensors[j], &snaps[j],
                                                   lo, hi)
        j = j + 1
    return bits


cdef int _update_blocks(int rule, int dtype, int simd, const fnn_optim_tensor *tensors,
                        const fnn_optim_tensor *snaps, const Py_ssize_t *first_chunk,
                        Py_ssize_t ntensors, int nt, int *flags) noexcept nogil:
    # Tensor j owns chunks [first_chunk[j], first_chunk[j + 1]); thread t updates chunks
    # [nchunks * t / nt, nchunks * (t + 1) / nt) (_update_span).  snaps NULL: plain updates,
    # returns 0.  Otherwise each piece goes through fnn_optim_update_checked with its snapshot
    # snaps[j]; thread t's bits go to flags[t] (nt entries), ORed in a fixed order after the loop
    # and returned.  One thread runs its span without an OpenMP region (a region of one thread
    # still costs a futex wake, docs/threads.md).
    cdef Py_ssize_t nchunks = first_chunk[ntensors]
    cdef int t, bits = 0
    if nt <= 1:
        return _update_span(rule, dtype, simd, tensors, snaps, first_chunk, ntensors, 0, nchunks)
    for t in prange(nt, schedule="static", num_threads=nt):
        if snaps == NULL:
            _update_span(rule, dtype, simd, tensors, NULL, first_chunk, ntensors,
                         nchunks * t // nt, nchunks * (t + 1) // nt)
        else:
            flags[t] = _update_span(rule, dtype, simd, tensors, snaps, first_chunk, ntensors,
                                    nchunks * t // nt, nchunks * (t + 1) // nt)
    if snaps != NULL:
        for t in range(nt):
            bits = bits | flags[t]
    return bits


cdef int _take(obj, Py_buffer *views, Py_ssize_t *nviews, Py_ssize_t nbytes, bint writable,
               void **pointer) except -1:
    # The array's memory, held in views[nviews] until PyBuffer_Release; its length re-checked
    # where it is used.
    cdef Py_buffer *view = &views[nviews[0]]
    PyObject_GetBuffer(obj, view, PyBUF_SIMPLE | (PyBUF_WRITABLE if writable else 0))
    if view.len != nbytes:
        PyBuffer_Release(view)
        raise ValueError("an array changed size after it was checked (%d bytes, expected %d)"
                         % (view.len, nbytes))
    nviews[0] += 1
    pointer[0] = view.buf
    return 0


cdef int _set_scalars(int rule, fnn_optim_scalars *out, s) except -1:
    # The contract's named tuple -> the rule's C struct, field by field by name (Cython converts a
    # mapping to a struct and refuses one that lacks a field).
    fields = s._asdict()
    if rule == FNN_OPTIM_SGD:
        out.sgd = fields
    elif rule == FNN_OPTIM_ADAGRAD:
        out.adagrad = fields
    elif rule == FNN_OPTIM_ADADELTA:
        out.adadelta = fields
    elif rule == FNN_OPTIM_RMSPROP:
        out.rmsprop = fields
    elif rule == FNN_OPTIM_ADAM:
        out.adam = fields
    elif rule == FNN_OPTIM_ADAMAX:
        out.adamax = fields
    else:
        out.nadam = fields
    return 0


cdef _run(int rule, params, grads, states, scalars):
    """Update tensor j = (params[j], grads[j], states) with ``scalars[j]`` (its contract tuple).

    ``states`` lists the rule's state arrays in the kernel's argument order, each a sequence with
    one array per tensor, or None where the flags leave that state unused.  Everything has been
    checked by the contract.
    """
    cdef Py_ssize_t k = len(params), nstates = len(states), nviews = 0, total = 0
    cdef Py_ssize_t j, i, n, nbytes, itemsize
    cdef fnn_optim_tensor *tensors = NULL
    cdef Py_ssize_t *first_chunk = NULL
    cdef Py_buffer *views = NULL
    cdef int dtype, nt, simd
    if k == 0:
        return
    dtype = FNN_OPTIM_FLOAT32 if params[0].dtype == np.float32 else FNN_OPTIM_FLOAT64
    itemsize = params[0].dtype.itemsize
    tensors = <fnn_optim_tensor *> malloc(k * sizeof(fnn_optim_tensor))
    first_chunk = <Py_ssize_t *> malloc((k + 1) * sizeof(Py_ssize_t))
    views = <Py_buffer *> malloc((2 + nstates) * k * sizeof(Py_buffer))
    try:
        if tensors == NULL or first_chunk == NULL or views == NULL:
            raise MemoryError()
        memset(tensors, 0, k * sizeof(fnn_optim_tensor))
        first_chunk[0] = 0
        for j in range(k):
            n = params[j].size
            nbytes = n * itemsize
            tensors[j].n = n
            _take(params[j], views, &nviews, nbytes, True, &tensors[j].param)
            _take(grads[j], views, &nviews, nbytes, False, <void **> &tensors[j].grad)
            for i in range(nstates):
                if states[i] is not None:
                    _take(states[i][j], views, &nviews, nbytes, True, &tensors[j].state[i])
            _set_scalars(rule, &tensors[j].s, scalars[j])
            first_chunk[j + 1] = first_chunk[j] + (n + _CHUNK - 1) // _CHUNK
            total += n
        if total == 0:
            return
        nt = <int> min(get_num_threads(), max(1, total // _MIN_PER_THREAD))
        simd = simd_level()
        with nogil:
            _update_blocks(rule, dtype, simd, tensors, NULL, first_chunk, k, nt, NULL)
    finally:
        for i in range(nviews):
            PyBuffer_Release(&views[i])
        free(views)
        free(first_chunk)
        free(tensors)


# ------------------------------------------------------------------------------------------------
# A reusable table of tensors, checked once
# ------------------------------------------------------------------------------------------------

_RULES = {"sgd": FNN_OPTIM_SGD, "adagrad": FNN_OPTIM_ADAGRAD, "adadelta": FNN_OPTIM_ADADELTA,
          "rmsprop": FNN_OPTIM_RMSPROP, "adam": FNN_OPTIM_ADAM, "adamax": FNN_OPTIM_ADAMAX,
          "nadam": FNN_OPTIM_NADAM}

cdef class _TensorTable:
    # UpdateTable's engine: the C table, the held buffers and the snapshot (UpdateTable is a
    # plain Python class around it so that it has an inspectable signature, as its twin).

    cdef int _rule, _dtype
    cdef Py_ssize_t _k, _nviews, _total
    cdef fnn_optim_tensor *_tensors
    cdef fnn_optim_tensor *_snaps
    cdef Py_ssize_t *_first_chunk
    cdef Py_buffer *_views
    cdef bint _has_snapshot
    cdef object _snapshot_arrays
    cdef readonly str rule
    cdef readonly bint checked
    cdef readonly tuple arrays
    cdef readonly tuple held
    cdef readonly int flags

    def __cinit__(self):
        self._tensors = NULL
        self._snaps = NULL
        self._first_chunk = NULL
        self._views = NULL
        self._nviews = 0

    def __init__(self, rule, params, grads, states, checked=False):
        a = contract.update_table(rule, params, grads, states)
        cdef Py_ssize_t k = len(a.params), j, i, n, nbytes, itemsize = 0
        self.rule = a.rule
        self._rule = _RULES[a.rule]
        self.checked = bool(checked)
        self.held = tuple(i for i, seq in enumerate(a.states) if seq is not None)
        self.arrays = tuple(a.params) + tuple(a.grads) + tuple(
            arr for seq in a.states if seq is not None for arr in seq)
        self.flags = 0
        self._k = k
        self._has_snapshot = False
        self._snapshot_arrays = []
        self._dtype = FNN_OPTIM_FLOAT32
        if k:
            itemsize = a.params[0].dtype.itemsize
            if a.params[0].dtype == np.float64:
                self._dtype = FNN_OPTIM_FLOAT64
        self._tensors = <fnn_optim_tensor *> malloc(max(k, 1) * sizeof(fnn_optim_tensor))
        self._snaps = <fnn_optim_tensor *> malloc(max(k, 1) * sizeof(fnn_optim_tensor))
        self._first_chunk = <Py_ssize_t *> malloc((k + 1) * sizeof(Py_ssize_t))
        self._views = <Py_buffer *> malloc(max(1, 2 * (2 + len(self.held)) * k)
                                           * sizeof(Py_buffer))
        if (self._tensors == NULL or self._snaps == NULL or self._first_chunk == NULL
                or self._views == NULL):
            raise MemoryError()
        memset(self._tensors, 0, max(k, 1) * sizeof(fnn_optim_tensor))
        memset(self._snaps, 0, max(k, 1) * sizeof(fnn_optim_tensor))
        self._first_chunk[0] = 0
        self._total = 0
        for j in range(k):
            n = a.params[j].size
            nbytes = n * itemsize
            self._tensors[j].n = n
            self._snaps[j].n = n
            _take(a.params[j], self._views, &self._nviews, nbytes, True,
                  &self._tensors[j].param)
            _take(a.grads[j], self._views, &self._nviews, nbytes, False,
                  <void **> &self._tensors[j].grad)
            for i in self.held:
                _take(a.states[i][j], self._views, &self._nviews, nbytes, True,
                      &self._tensors[j].state[i])
            if self.checked:
                # the snapshot: one private buffer per array the update writes
                for i in [-1] + list(self.held):
                    copy = np.empty(n, dtype=a.params[j].dtype)
                    self._snapshot_arrays.append(copy)
                    _take(copy, self._views, &self._nviews, nbytes, True,
                          &self._snaps[j].param if i < 0 else &self._snaps[j].state[i])
            self._first_chunk[j + 1] = self._first_chunk[j] + (n + _CHUNK - 1) // _CHUNK
            self._total += n

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self._views != NULL:
            for i in range(self._nviews):
                PyBuffer_Release(&self._views[i])
        free(self._views)
        free(self._first_chunk)
        free(self._snaps)
        free(self._tensors)

    def holds(self, params, grads, states):
        """Whether ``params``, ``grads`` and ``states`` (as given to the constructor) are still
        exactly the arrays of this table (the same objects, the same states held)."""
        cdef Py_ssize_t i = 0, n = len(self.arrays)
        if len(params) != self._k or len(grads) != self._k:
            return False
        for seq in (params, grads):
            for arr in seq:
                if arr is not self.arrays[i]:
                    return False
                i += 1
        if len(states) != len(contract.STATE_SLOTS[self.rule]):
            return False
        for slot, seq in enumerate(states):
            if (seq is not None) != (slot in self.held):
                return False
            if seq is None:
                continue
            if len(seq) != self._k:
                return False
            for arr in seq:
                if arr is not self.arrays[i]:
                    return False
                i += 1
        return i == n

    def update(self, **arguments):
        """One update of every tensor (see the class docstring); returns the kernel's result."""
        ss = contract.update_scalars(self.rule, self._k, self.held, **arguments)
        cdef Py_ssize_t j
        cdef int nt, simd, bits = 0
        cdef int *flags = NULL
        prev = None
        for j in range(self._k):
            if ss[j] is prev:
                self._tensors[j].s = self._tensors[j - 1].s
            else:
                _set_scalars(self._rule, &self._tensors[j].s, ss[j])
                prev = ss[j]
        self.flags = 0
        if self._total:
            nt = <int> min(get_num_threads(), max(1, self._total // _MIN_PER_THREAD))
            simd = simd_level()
            if self.checked:
                flags = <int *> malloc(nt * sizeof(int))
                if flags == NULL:
                    raise MemoryError()
                try:
                    with nogil:
                        bits = _update_blocks(self._rule, self._dtype, simd, self._tensors,
                                              self._snaps, self._first_chunk, self._k, nt,
                                              flags)
                finally:
                    free(flags)
                self.flags = bits
                self._has_snapshot = True
            else:
                with nogil:
                    _update_blocks(self._rule, self._dtype, simd, self._tensors, NULL,
                                   self._first_chunk, self._k, nt, NULL)
        if self._rule == FNN_OPTIM_NADAM:
            return [s.mu_product for s in ss]
        return None

    def restore(self):
        """Copy the snapshot of the last update back: every param and held state exactly as
        before it.  Only for a checked table that has updated (RuntimeError otherwise)."""
        cdef Py_ssize_t j, i, nbytes, itemsize
        if not self.checked or not self._has_snapshot:
            raise RuntimeError("restore() needs a checked table (checked=True) that has run an "
                               "update")
        itemsize = 8 if self._dtype == FNN_OPTIM_FLOAT64 else 4
        with nogil:
            for j in range(self._k):
                nbytes = self._tensors[j].n * itemsize
                memcpy(self._tensors[j].param, self._snaps[j].param, nbytes)
                for i in range(3):
                    if self._tensors[j].state[i] != NULL:
                        memcpy(self._tensors[j].state[i], self._snaps[j].state[i], nbytes)


class UpdateTable:
    """The table of tensors of a multi-tensor update, built once and reused at every step.

        table = UpdateTable("adam", params, grads, [exp_avgs, exp_avg_sqs, None], checked=True)
        table.update(steps=[t] * len(params), lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                     weight_decay=0.0, amsgrad=False, maximize=False,
                     decoupled_weight_decay=False)      # = adam_update_multi(params, ...)
        if table.flags:                  # a gradient, weight or state value is inf or NaN
            table.restore()              # every array exactly as before the update

    ``rule``: 'sgd', 'adagrad', 'adadelta', 'rmsprop', 'adam', 'adamax' or 'nadam' (AdamW is
    'adam' with decoupled_weight_decay=True).  ``params``, ``grads``: lists of arrays;
    ``states``: one entry per state slot of the rule, in its multi-tensor kernel's argument order
    (``fastnn.contracts.optim.STATE_SLOTS``), each a list of arrays or None where the flags leave
    that state unused.  The arrays are checked once, here, exactly as the multi-tensor kernel
    checks them, and held (their buffers) for the table's life; ``arrays`` lists them (params,
    grads, then each held state's), so a caller can see whether its arrays are still these
    (``holds``) before reusing the table.

    ``update(**arguments)`` is the multi-tensor kernel's call without its arrays: all its other
    arguments, by name; they are checked at every update (and must use exactly the states the
    table holds; a hyper-parameter that is the very Python number checked last time is not
    checked again, see ``fastnn.contracts.optim``).  Results are bit-identical to the kernel's.
    It returns what the kernel returns (NAdam: the new mu_products, else None).

    ``checked=True``: every update first copies what it writes (each param and held state, block
    by block in the same pass) to a snapshot the table owns, and sets ``flags`` to the
    NONFINITE_GRAD / NONFINITE_PARAM / NONFINITE_STATE bits of the arrays that held an inf or
    NaN (0: all finite; an OR over elements, so the same at any thread count); ``restore()``
    copies the snapshot back, undoing the last update exactly.  Unchecked, ``flags`` stays 0.
    """

    NONFINITE_GRAD = FNN_OPTIM_NONFINITE_GRAD
    NONFINITE_PARAM = FNN_OPTIM_NONFINITE_PARAM
    NONFINITE_STATE = FNN_OPTIM_NONFINITE_STATE

    def __init__(self, rule, params, grads, states, checked=False):
        table = _TensorTable(rule, params, grads, states, checked)
        self._table = table
        self.rule, self.checked = table.rule, table.checked
        self.held, self.arrays = table.held, table.arrays
        # the engine's methods themselves: no extra call per update
        self.update, self.holds, self.restore = table.update, table.holds, table.restore

    @property
    def flags(self):
        """The NONFINITE_* bits of the last checked update (0: all finite, or unchecked)."""
        return self._table.flags


# ------------------------------------------------------------------------------------------------
# Single-tensor kernels: the contract, then the driver with one tensor
# ------------------------------------------------------------------------------------------------

def sgd_update(param, grad, momentum_buffer, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
               nesterov=False, maximize=False, first_step=False):
    """SGD with momentum, in place, one fused pass (torch.optim.SGD).

    ``momentum_buffer`` may be None when ``momentum == 0``; ``first_step=True`` initialises it
    to the (decayed, sign-adjusted) gradient as torch does.  See fastnn.reference.sgd_update.
    """
    s = contract.sgd_update(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay,
                            nesterov, maximize, first_step)
    _run(FNN_OPTIM_SGD, [param], [grad], [[momentum_buffer] if s.momentum != 0 else None], [s])


def adagrad_update(param, grad, state_sum, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                   eps=1e-10, maximize=False):
    """Adagrad, in place, one fused pass (torch.optim.Adagrad); ``step`` counts from 1.
    See fastnn.reference.adagrad_update."""
    s = contract.adagrad_update(param, grad, state_sum, step, lr, lr_decay, weight_decay, eps,
                                maximize)
    _run(FNN_OPTIM_ADAGRAD, [param], [grad], [[state_sum]], [s])


def adadelta_update(param, grad, square_avg, acc_delta, lr=1.0, rho=0.9, eps=1e-6,
                    weight_decay=0.0, maximize=False):
    """Adadelta, in place, one fused pass (torch.optim.Adadelta).
    See fastnn.reference.adadelta_update."""
    s = contract.adadelta_update(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay,
                                 maximize)
    _run(FNN_OPTIM_ADADELTA, [param], [grad], [[square_avg], [acc_delta]], [s])


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr=1e-2, alpha=0.99,
                   eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False):
    """RMSprop, in place, one fused pass (torch.optim.RMSprop).  ``grad_avg`` may be None unless
    ``centered``; ``momentum_buffer`` may be None unless ``momentum > 0``.
    See fastnn.reference.rmsprop_update."""
    s = contract.rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps,
                                weight_decay, momentum, centered, maximize)
    _run(FNN_OPTIM_RMSPROP, [param], [grad],
         [[square_avg], [grad_avg] if s.centered else None,
          [momentum_buffer] if s.momentum > 0 else None], [s])


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr=1e-3, beta1=0.9,
                beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                decoupled_weight_decay=False):
    """Adam / AdamW, in place, one fused pass (torch.optim.Adam / AdamW); ``step`` counts from 1.
    ``max_exp_avg_sq`` may be None unless ``amsgrad``.  See fastnn.reference.adam_update."""
    s = contract.adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                             beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)
    _run(FNN_OPTIM_ADAM, [param], [grad],
         [[exp_avg], [exp_avg_sq], [max_exp_avg_sq] if s.amsgrad else None], [s])


def adamw_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr=1e-3, beta1=0.9,
                 beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False):
    """AdamW (torch.optim.AdamW): ``adam_update`` with ``decoupled_weight_decay=True`` and
    torch's AdamW default ``weight_decay=1e-2``."""
    adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, amsgrad, maximize, True)


def adamax_update(param, grad, exp_avg, exp_inf, step, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                  weight_decay=0.0, maximize=False):
    """Adamax, in place, one fused pass (torch.optim.Adamax); ``step`` counts from 1.
    See fastnn.reference.adamax_update."""
    s = contract.adamax_update(param, grad, exp_avg, exp_inf, step, lr, beta1, beta2, eps,
                               weight_decay, maximize)
    _run(FNN_OPTIM_ADAMAX, [param], [grad], [[exp_avg], [exp_inf]], [s])


def nadam_update(param, grad, exp_avg, exp_avg_sq, step, mu_product, lr=2e-3, beta1=0.9,
                 beta2=0.999, eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, maximize=False):
    """NAdam, in place, one fused pass (torch.optim.NAdam); ``step`` counts from 1 and
    ``mu_product`` is the product of the previous mus (1.0 at first).  Returns the new
    ``mu_product`` (float32-rounded as torch stores it).  See fastnn.reference.nadam_update."""
    s = contract.nadam_update(param, grad, exp_avg, exp_avg_sq, step, mu_product, lr, beta1, beta2,
                              eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize)
    _run(FNN_OPTIM_NADAM, [param], [grad], [[exp_avg], [exp_avg_sq]], [s])
    return s.mu_product


# ------------------------------------------------------------------------------------------------
# Multi-tensor kernels: the contract, then the driver with every tensor at once
# ------------------------------------------------------------------------------------------------

def sgd_update_multi(params, grads, momentum_buffers, lr, momentum=0.0, dampening=0.0,
                     weight_decay=0.0, nesterov=False, maximize=False, first_steps=None):
    """``sgd_update`` on every tensor of the lists in one parallel call; ``first_steps`` is one
    bool per tensor (None: all False).  See fastnn.reference.sgd_update_multi."""
    ss = contract.sgd_update_multi(params, grads, momentum_buffers, lr, momentum, dampening,
                                   weight_decay, nesterov, maximize, first_steps)
    _run(FNN_OPTIM_SGD, params, grads, [momentum_buffers if momentum != 0 else None], ss)


def adagrad_update_multi(params, grads, state_sums, steps, lr=1e-2, lr_decay=0.0,
                         weight_decay=0.0, eps=1e-10, maximize=False):
    """``adagrad_update`` on every tensor in one parallel call, tensor j at step ``steps[j]``.
    See fastnn.reference.adagrad_update_multi."""
    ss = contract.adagrad_update_multi(params, grads, state_sums, steps, lr, lr_decay,
                                       weight_decay, eps, maximize)
    _run(FNN_OPTIM_ADAGRAD, params, grads, [state_sums], ss)


def adadelta_update_multi(params, grads, square_avgs, acc_deltas, lr=1.0, rho=0.9, eps=1e-6,
                          weight_decay=0.0, maximize=False):
    """``adadelta_update`` on every tensor in one parallel call.
    See fastnn.reference.adadelta_update_multi."""
    ss = contract.adadelta_update_multi(params, grads, square_avgs, acc_deltas, lr, rho, eps,
                                        weight_decay, maximize)
    _run(FNN_OPTIM_ADADELTA, params, grads, [square_avgs, acc_deltas], ss)


def rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, lr=1e-2,
                         alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                         maximize=False):
    """``rmsprop_update`` on every tensor in one parallel call.
    See fastnn.reference.rmsprop_update_multi."""
    ss = contract.rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, lr,
                                       alpha, eps, weight_decay, momentum, centered, maximize)
    _run(FNN_OPTIM_RMSPROP, params, grads,
         [square_avgs, grad_avgs if centered else None,
          momentum_buffers if momentum > 0 else None], ss)


def adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr=1e-3,
                      beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
                      maximize=False, decoupled_weight_decay=False):
    """``adam_update`` on every tensor in one parallel call, tensor j at step ``steps[j]``;
    ``max_exp_avg_sqs`` may be None unless ``amsgrad``.  See fastnn.reference.adam_update_multi."""
    ss = contract.adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                                    lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                                    decoupled_weight_decay)
    _run(FNN_OPTIM_ADAM, params, grads,
         [exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else None], ss)


def adamw_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr=1e-3,
                       beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False,
                       maximize=False):
    """``adam_update_multi`` with ``decoupled_weight_decay=True`` and AdamW's default
    ``weight_decay=1e-2``."""
    adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1,
                      beta2, eps, weight_decay, amsgrad, maximize, True)


def adamax_update_multi(params, grads, exp_avgs, exp_infs, steps, lr=2e-3, beta1=0.9, beta2=0.999,
                        eps=1e-8, weight_decay=0.0, maximize=False):
    """``adamax_update`` on every tensor in one parallel call, tensor j at step ``steps[j]``.
    See fastnn.reference.adamax_update_multi."""
    ss = contract.adamax_update_multi(params, grads, exp_avgs, exp_infs, steps, lr, beta1, beta2,
                                      eps, weight_decay, maximize)
    _run(FNN_OPTIM_ADAMAX, params, grads, [exp_avgs, exp_infs], ss)


def nadam_update_multi(params, grads, exp_avgs, exp_avg_sqs, steps, mu_products, lr=2e-3,
                       beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                       decoupled_weight_decay=False, maximize=False):
    """``nadam_update`` on every tensor in one parallel call, tensor j at step ``steps[j]`` with
    ``mu_products[j]``; returns the list of new mu_products.
    See fastnn.reference.nadam_update_multi."""
    ss = contract.nadam_update_multi(params, grads, exp_avgs, exp_avg_sqs, steps, mu_products, lr,
                                     beta1, beta2, eps, weight_decay, momentum_decay,
                                     decoupled_weight_decay, maximize)
    _run(FNN_OPTIM_NADAM, params, grads, [exp_avgs, exp_avg_sqs], ss)
    return [s.mu_product for s in ss]
