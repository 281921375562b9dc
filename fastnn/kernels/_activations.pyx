# Design:
#
# Size: over ~500 lines on purpose: one compiled module for the whole activation family (one
# extension, one thread-planning and SIMD-dispatch setup shared by every kernel here).
#
# Activations (relu, sigmoid, tanh, elu) forward/backward, ELU's backward from its output,
# row-wise softmax forward/backward, the fused softmax cross-entropy (loss and dlogits in one
# pass) and inverted dropout.  Three files make this family: the contract
# (fastnn/contracts/activations.py: every argument check, the out= array, alpha and the dropout
# scale), the NumPy twin (fastnn/reference/activations.py: the formulas) and this module, which
# calls the same contract and then runs prange loops over raw pointers.  The float32 loops
# with an exp/expm1 are C, in src_c/fnn_activations.h (declared in _activations.pxd), over the
# vectorisable float32 exp/expm1 of src_c/fnn_vecmath.h.
#
# * Validate first.  The contract runs in Python before any nogil code (bounds checks are off
#   below; the cross-entropy indexes a row by its label).  Non-contiguous or Fortran inputs are
#   copied to C order once; elementwise functions then see one flat contiguous buffer whatever
#   the rank.  The fast path hands the drivers the pointers of the buffers it already holds: a
#   memoryview built per call cost more than the work on a small array
#   (docs/kernels/activations.md, "Per-call cost").
# * Indices from caller memory: the cross-entropy indexes only through the contract's private
#   int64 copy of the labels (fastnn._validate.check_labels copies, then checks the copy), so no
#   other thread can change an id between its check and its use.
# * One pass, no temporaries.  The twin runs several whole-array NumPy operations per function
#   (sigmoid: abs, negate, exp, add, two divides, where), each streaming memory and allocating a
#   temporary.  Here each element is loaded once, transformed in registers (inline `cdef
#   noexcept nogil` helpers, or the C loops for float32 exp/expm1/tanh) and stored once.  The
#   cross-entropy computes max, exp, sum, log, loss and dlogits of a row while the row sits in
#   L1.
# * Vectorised float32 transcendentals.  sigmoid, tanh, elu (forward and backward) and the exp of
#   softmax and the cross-entropy call the C loops, whose branch-free exp/expm1 the compiler
#   vectorises; a libm call per element would keep those loops scalar.  float64 keeps libm's
#   exp/expm1/tanh: it exists for gradient checks, not speed.
# * SIMD by the process-wide level.  Each call reads fastnn.kernels._runtime.simd_level() once
#   (FASTNN_SIMD, fastnn.set_simd) and passes it to the C loops, which run their best variant at
#   or below it (generic or AVX2).  Every variant does the same float32 operations in the same
#   order without FMA, so the level never changes a result (tested at every level the CPU has).
# * Same formulas as the twin, per element, in the dtype.  Every float32 operation is a float32
#   operation (constants typed `floating`, so no double literal promotes the math), float64 is
#   double.  Where the twin's formula has no transcendental and no reduction (relu, the backward
#   passes of relu/sigmoid/tanh, elu_backward_from_output, dropout) results are bit-identical;
#   exp/tanh/expm1 come from the C loops (float32) or libm (float64) here and from NumPy's SIMD
#   code in the twin, a few ulp apart.  Row sums (softmax, cross-entropy) accumulate in double,
#   serially, and are rounded to the dtype where the twin has a dtype sum, so they agree to
#   rounding, not bit for bit (NumPy sums pairwise).
# * Threads: elementwise work is cut into fixed chunks of _CHUNK elements and prange(schedule=
#   "static") hands each thread a contiguous run of chunks; softmax and cross-entropy split rows.
#   No element or row depends on which thread computes it (nor on whether it lands in a vector
#   body or a scalar remainder: both round the same operations the same way, no FMA), and the
#   cross-entropy's per-row losses (double) go to a buffer that is summed serially in row order
#   after the parallel loop, so every result, the loss included, is bit-identical at any thread
#   count.  Every kernel caps its threads to the work (_runtime's threads_for): each thread gets
#   at least one chunk (kernels with an exp) or four (memory-bound ones), else fewer threads run.
# * Stability: sigmoid exponentiates only -|x| (never overflows, exact at |x| = 1e4); softmax and
#   the cross-entropy subtract the row max and take the log of the shifted sum (no overflow for
#   any finite logits).  NaN propagates through relu, elu and the row max, as in the twin.
# * Dropout's mask (bool or uint8) is read as uint8: nonzero keeps the element.
# * The fast path.  A training step's elementwise calls are small, and their Python contract
#   cost as much as their loops, so the elementwise and dropout functions first try a fast path
#   (the GEMM's pattern, fastnn/kernels/_gemm.pyx) that checks on the buffers themselves a
#   subset of what the contract accepts, and otherwise hands the call to the contract.  It
#   holds the buffers it checked until the loop has run.
# * dropout_forward_rng draws its mask in the same pass as the scaling, from a counter-based
#   generator (SplitMix64 of (seed, counter + element index / 2), src_c/fnn_random.h): element i
#   depends only on (seed, counter, i), so chunks split across threads draw exactly the bits a
#   serial loop would, and no generator state is shared between threads.
from cython.parallel cimport prange
from cython cimport floating
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy
from libc.math cimport expf, exp, expm1f, expm1, tanhf, tanh, log, fabsf, fabs, isfinite

from fastnn.kernels._buffers cimport acquire_exact, float_code, ranges_meet
from cpython.buffer cimport PyBuffer_Release

from fastnn.kernels._runtime cimport simd_level, threads_for

import numpy as np

from fastnn.contracts import activations as _contract

__all__ = ["relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
           "tanh_forward", "tanh_backward", "elu_forward", "elu_backward",
           "elu_backward_from_output", "softmax_forward", "softmax_backward",
           "softmax_cross_entropy", "dropout_forward", "dropout_backward", "dropout_forward_rng",
           "splitmix64"]

# Elements per unit of parallel work (32 KiB of float32).  Chunk boundaries do not depend on the
# thread count.
cdef Py_ssize_t _CHUNK = 8192
# Fewest elements worth a thread of their own.  Kernels with an exp (sigmoid, tanh, elu, softmax,
# cross-entropy) do a few ns of work per element: one chunk each.  The memory-bound ones (relu,
# the backward passes without an exp, dropout) do a fraction of a ns per element, and below
# about 4 chunks a thread costs more to wake than it saves (the measurement:
# docs/kernels/activations.md); torch's elementwise grain is the same 32768.
cdef Py_ssize_t _GRAIN_EXP = 8192
cdef Py_ssize_t _GRAIN_CHEAP = 4 * 8192

# Operation codes for the elementwise drivers.
cdef enum:
    OP_RELU
    OP_SIGMOID
    OP_TANH
    OP_ELU
    OP_RELU_BWD
    OP_SIGMOID_BWD
    OP_TANH_BWD
    OP_ELU_BWD
    OP_ELU_BWD_FROM_Y


def _threads_planned(Py_ssize_t work, Py_ssize_t units, bint cheap):
    """Tests: the thread count a kernel uses for `work` elements in `units` pieces (chunks or
    rows), at the current ``fastnn.get_num_threads()``; ``cheap`` for the memory-bound ones."""
    return threads_for(work, units, _GRAIN_CHEAP if cheap else _GRAIN_EXP)


_CHUNK_ELEMENTS = _CHUNK                    # for tests: chunk boundaries are multiples of this


def _loop_variant():
    """Tests and docs: which variant of the float32 C loops runs at the current SIMD level
    (``fastnn.get_simd()``): 'avx2' or 'generic'."""
    return fnn_act_variant(simd_level()).decode("ascii")


# --------------------------------------------------------------------------- per-element math
cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating _expm1(floating x) noexcept nogil:
    if floating is float:
        return expm1f(x)
    else:
        return expm1(x)


cdef inline floating _tanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating _abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating _relu(floating x) noexcept nogil:
    # `x <= 0` is false for NaN, so NaN passes through (the twin: where(x > 0, x, isnan ? x : 0))
    return 0 if x <= 0 else x


cdef inline floating _sigmoid(floating x) noexcept nogil:
    # e = e^-|x| is in (0, 1]: no overflow for any x.  1/(1+e) for x >= 0, e/(1+e) otherwise,
    # as the twin; selecting the numerator keeps the loop free of branches.
    cdef floating one = 1
    cdef floating e = _exp(-_abs(x))
    cdef floating num = one if x >= 0 else e
    return num / (one + e)


cdef inline floating _elu(floating x, floating a) noexcept nogil:
    # NaN fails x > 0 and expm1(NaN) is NaN: propagates
    if x > 0:
        return x
    return a * _expm1(x)


cdef inline floating _relu_bwd(floating dy, floating x) noexcept nogil:
    return dy if x > 0 else 0


cdef inline floating _sigmoid_bwd(floating dy, floating y) noexcept nogil:
    cdef floating one = 1
    return dy * (y * (one - y))


cdef inline floating _tanh_bwd(floating dy, floating y) noexcept nogil:
    cdef floating one = 1
    return dy * (one - y * y)


cdef inline floating _elu_bwd(floating dy, floating x, floating a) noexcept nogil:
    if x > 0:
        return dy
    return dy * (a * _exp(x))


cdef inline floating _elu_bwd_from_y(floating dy, floating y, floating a) noexcept nogil:
    # where x <= 0, y = a (e^x - 1), so d/dx = a e^x = y + a: the twin's dy * (y + a), in the
    # dtype (NaN y fails y > 0 and gives NaN, as there)
    if y > 0:
        return dy
    return dy * (y + a)


# --------------------------------------------------------------------------- elementwise chunks
# One operation per loop (the switch is outside it), plain pointer loops the compiler can
# vectorise where there is no libm call (relu, the backward passes, dropout).
cdef void _unary_chunk(int op, const floating *x, floating *y, Py_ssize_t n,
                       floating a, int simd) noexcept nogil:
    cdef Py_ssize_t i
    if floating is float:
        if op == OP_SIGMOID:
            fnn_sigmoid_f32(simd, x, y, n)
            return
        if op == OP_TANH:
            fnn_tanh_f32(simd, x, y, n)
            return
        if op == OP_ELU:
            fnn_elu_f32(simd, x, y, n, a)
            return
    if op == OP_RELU:
        for i in range(n):
            y[i] = _relu(x[i])
    elif op == OP_SIGMOID:
        for i in range(n):
            y[i] = _sigmoid(x[i])
    elif op == OP_TANH:
        for i in range(n):
            y[i] = _tanh(x[i])
    else:
        for i in range(n):
            y[i] = _elu(x[i], a)


cdef void _binary_chunk(int op, const floating *dy, const floating *v, floating *dx,
                        Py_ssize_t n, floating a, int simd) noexcept nogil:
    cdef Py_ssize_t i
    if floating is float:
        if op == OP_ELU_BWD:
            fnn_elu_bwd_f32(simd, dy, v, dx, n, a)
            return
    if op == OP_RELU_BWD:
        for i in range(n):
            dx[i] = _relu_bwd(dy[i], v[i])
    elif op == OP_SIGMOID_BWD:
        for i in range(n):
            dx[i] = _sigmoid_bwd(dy[i], v[i])
    elif op == OP_TANH_BWD:
        for i in range(n):
            dx[i] = _tanh_bwd(dy[i], v[i])
    elif op == OP_ELU_BWD_FROM_Y:
        for i in range(n):
            dx[i] = _elu_bwd_from_y(dy[i], v[i], a)
    else:
        for i in range(n):
            dx[i] = _elu_bwd(dy[i], v[i], a)


cdef void _dropout_chunk(const floating *x, const uint8_t *m, floating *y, Py_ssize_t n,
                         floating scale) noexcept nogil:
    # y = x * scale where kept, else +0: branch-free in C (src_c/fnn_random.h), vectorised
    if floating is float:
        fnn_dropout_apply_f32(x, m, y, n, scale)
    else:
        fnn_dropout_apply_f64(x, m, y, n, scale)


# --------------------------------------------------------------------------- elementwise drivers
# On raw pointers: the fast path passes the buffers it holds (no memoryview to build per call),
# the contract path the data of the arrays it checked.  n >= 1.
# Each driver runs the same chunks, in a prange when several threads are worth it and in a plain
# loop on one: an OpenMP region of one thread still ends on a barrier whose last arrival wakes a
# futex, a system call on every kernel call (docs/threads.md, "One thread: no region").
cdef inline void _unary_at(int op, const floating *x, floating *y, Py_ssize_t n, Py_ssize_t c,
                           floating a, int simd) noexcept nogil:
    cdef Py_ssize_t lo = c * _CHUNK
    _unary_chunk(op, x + lo, y + lo, min(n - lo, _CHUNK), a, simd)


cdef void _unary(int op, const floating *x, floating *y, Py_ssize_t n, floating a, int nt,
                 int simd) noexcept nogil:
    cdef Py_ssize_t nchunks = (n + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t c
    if nt > 1:
        for c in prange(nchunks, schedule="static", num_threads=nt):
            _unary_at(op, x, y, n, c, a, simd)
    else:
        for c in range(nchunks):
            _unary_at(op, x, y, n, c, a, simd)


cdef inline void _binary_at(int op, const floating *dy, const floating *v, floating *dx,
                            Py_ssize_t n, Py_ssize_t c, floating a, int simd) noexcept nogil:
    cdef Py_ssize_t lo = c * _CHUNK
    _binary_chunk(op, dy + lo, v + lo, dx + lo, min(n - lo, _CHUNK), a, simd)


cdef void _binary(int op, const floating *dy, const floating *v, floating *dx, Py_ssize_t n,
                  floating a, int nt, int simd) noexcept nogil:
    cdef Py_ssize_t nchunks = (n + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t c
    if nt > 1:
        for c in prange(nchunks, schedule="static", num_threads=nt):
            _binary_at(op, dy, v, dx, n, c, a, simd)
    else:
        for c in range(nchunks):
            _binary_at(op, dy, v, dx, n, c, a, simd)


cdef inline void _dropout_at(const floating *x, const uint8_t *m, floating *y, Py_ssize_t n,
                             Py_ssize_t c, floating scale) noexcept nogil:
    cdef Py_ssize_t lo = c * _CHUNK
    _dropout_chunk(x + lo, m + lo, y + lo, min(n - lo, _CHUNK), scale)


cdef void _dropout_run(const floating *x, const uint8_t *m, floating *y, Py_ssize_t n,
                       floating scale, int nt) noexcept nogil:
    cdef Py_ssize_t nchunks = (n + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t c
    if nt > 1:
        for c in prange(nchunks, schedule="static", num_threads=nt):
            _dropout_at(x, m, y, n, c, scale)
    else:
        for c in range(nchunks):
            _dropout_at(x, m, y, n, c, scale)


cdef int _unary_go(int op, char code, void *x, void *y, Py_ssize_t n, double alpha) except -1:
    """Run op on n >= 0 elements of dtype `code` (b'f' / b'd')."""
    cdef int nt, simd
    if n <= 0:
        return 0
    nt = threads_for(n, n, _GRAIN_CHEAP if op == OP_RELU else _GRAIN_EXP)
    simd = simd_level()
    with nogil:
        if code == b'f':
            _unary[float](op, <const float *>x, <float *>y, n, <float>alpha, nt, simd)
        else:
            _unary[double](op, <const double *>x, <double *>y, n, alpha, nt, simd)
    return 0


cdef int _binary_go(int op, char code, void *dy, void *v, void *dx, Py_ssize_t n,
                    double alpha) except -1:
    cdef int nt, simd
    if n <= 0:
        return 0
    nt = threads_for(n, n, _GRAIN_EXP if op == OP_ELU_BWD else _GRAIN_CHEAP)
    simd = simd_level()
    with nogil:
        if code == b'f':
            _binary[float](op, <const float *>dy, <const float *>v, <float *>dx, n,
                           <float>alpha, nt, simd)
        else:
            _binary[double](op, <const double *>dy, <const double *>v, <double *>dx, n, alpha,
                            nt, simd)
    return 0


cdef int _dropout_go(char code, void *x, const uint8_t *m, void *y, Py_ssize_t n,
                     double scale) except -1:
    cdef int nt
    if n <= 0:
        return 0
    nt = threads_for(n, n, _GRAIN_CHEAP)
    with nogil:
        if code == b'f':
            _dropout_run[float](<const float *>x, m, <float *>y, n, <float>scale, nt)
        else:
            _dropout_run[double](<const double *>x, m, <double *>y, n, scale, nt)
    return 0


cdef char _code_of(a):
    return b'f' if a.dtype == np.float32 else b'd'


cdef void *_data(a):
    """The data pointer of a C-contiguous ndarray the caller keeps alive."""
    return <void *><size_t>a.ctypes.data


def _unary_call(int op, x, out, double alpha):
    x = np.ascontiguousarray(x)
    _unary_go(op, _code_of(x), _data(x), _data(out), x.size, alpha)
    return out


def _binary_call(int op, dy, v, out, double alpha):
    dy = np.ascontiguousarray(dy)
    v = np.ascontiguousarray(v)
    _binary_go(op, _code_of(dy), _data(dy), _data(v), _data(out), dy.size, alpha)
    return out


# --------------------------------------------------------------------------- the fast path
# What it accepts, each checked in C before any nogil code: exact ndarrays (no subclasses, no
# lists), native float32/float64 that are C-contiguous, aligned and not empty; operands of one
# shape and dtype; a dropout mask of bool or uint8, C-contiguous, of that shape; scalars of their
# exact Python type within the contract's bounds (rate a float in [0, 1), alpha a finite float,
# seed and counter ints in [0, 2**64) with room for the call's draws); an ``out`` (``mask_out``)
# that is C-contiguous, writeable, of the result's shape and dtype (bool/uint8), and either
# exactly an input where the contract allows in place, or clear of every input's bytes.
# Anything else returns None and goes to the contract, which accepts or rejects it with its own
# messages: the fast path never raises and never accepts what the contract refuses
# (tests/test_activation_fast_path.py feeds both paths hostile input).
_NDARRAY = np.ndarray
_BOOL = np.dtype(np.bool_)
cdef object _U64_END = 2 ** 64


cdef inline char _fcode(Py_buffer *v) noexcept:
    """b'f' / b'd' for a non-empty float32 / float64 buffer C can address, else 0."""
    return 0 if v.len == 0 else float_code(v)


cdef inline bint _is_mask(Py_buffer *v) noexcept:
    """A bool or uint8 buffer (one byte per element)."""
    return (v.format != NULL and v.format[1] == 0 and v.itemsize == 1
            and (v.format[0] == b'?' or v.format[0] == b'B'))


cdef inline bint _same_shape(Py_buffer *a, Py_buffer *b) noexcept:
    cdef int i
    if a.ndim != b.ndim:
        return False
    for i in range(a.ndim):
        if a.shape[i] != b.shape[i]:
            return False
    return True


cdef inline bint _same_or_apart(Py_buffer *out, Py_buffer *x) noexcept:
    """``out`` is exactly ``x`` (same start, length, format; shapes were compared) or clear of it:
    the in-place rule of the contract (a partial overlap goes to the contract, which refuses)."""
    return not ranges_meet(out, x) or (out.buf == x.buf and out.len == x.len
                                       and out.format[0] == x.format[0])


cdef object _unary_fast(int op, object x, object out, object alpha):
    """relu/sigmoid/tanh/elu forward on the fast path: the result, or None (use the contract)."""
    cdef Py_buffer vx, vo
    cdef char code
    if type(alpha) is not float or not isfinite(<double>alpha):
        return None                 # a finite float here (0.0 when unused)
    if not acquire_exact(x, _NDARRAY, &vx, False):
        return None
    try:
        code = _fcode(&vx)
        if code == 0:
            return None
        if out is None:
            out = np.empty(x.shape, x.dtype)
        if not acquire_exact(out, _NDARRAY, &vo, True):
            return None
        try:
            if (_fcode(&vo) != code or not _same_shape(&vo, &vx)
                    or not _same_or_apart(&vo, &vx)):
                return None
            _unary_go(op, code, vx.buf, vo.buf, vx.len // vx.itemsize, alpha)
            return out
        finally:
            PyBuffer_Release(&vo)
    finally:
        PyBuffer_Release(&vx)


cdef object _binary_fast(int op, object dy, object v, object out, object alpha):
    """A backward pass on the fast path: the result, or None (use the contract)."""
    cdef Py_buffer vd, vv, vo
    cdef char code
    if type(alpha) is not float or not isfinite(<double>alpha):
        return None
    if not acquire_exact(dy, _NDARRAY, &vd, False):
        return None
    try:
        if not acquire_exact(v, _NDARRAY, &vv, False):
            return None
        try:
            code = _fcode(&vd)
            if code == 0 or _fcode(&vv) != code or not _same_shape(&vd, &vv):
                return None
            if out is None:
                out = np.empty(dy.shape, dy.dtype)
            if not acquire_exact(out, _NDARRAY, &vo, True):
                return None
            try:
                if (_fcode(&vo) != code or not _same_shape(&vo, &vd)
                        or not _same_or_apart(&vo, &vd) or not _same_or_apart(&vo, &vv)):
                    return None
                _binary_go(op, code, vd.buf, vv.buf, vo.buf, vd.len // vd.itemsize, alpha)
                return out
            finally:
                PyBuffer_Release(&vo)
        finally:
            PyBuffer_Release(&vv)
    finally:
        PyBuffer_Release(&vd)


cdef inline bint _rate_ok(object rate) noexcept:
    """A float in [0, 1) (NaN fails both comparisons)."""
    return type(rate) is float and 0.0 <= <double>rate < 1.0


cdef object _dropout_fast(object x, object mask, object rate, object out):
    """dropout_forward / dropout_backward on the fast path: the result, or None."""
    cdef Py_buffer vx, vm, vo
    cdef char code
    if not _rate_ok(rate):
        return None
    if not acquire_exact(x, _NDARRAY, &vx, False):
        return None
    try:
        if not acquire_exact(mask, _NDARRAY, &vm, False):
            return None
        try:
            code = _fcode(&vx)
            if code == 0 or not _is_mask(&vm) or not _same_shape(&vm, &vx):
                return None
            # the contract's scale: 1 / (1 - rate) in double, rounded once to the dtype (the
            # float32 loop rounds this double once, as it rounds the contract's float32)
            if out is None:
                out = np.empty(x.shape, x.dtype)
            if not acquire_exact(out, _NDARRAY, &vo, True):
                return None
            try:
                if (_fcode(&vo) != code or not _same_shape(&vo, &vx)
                        or not _same_or_apart(&vo, &vx) or ranges_meet(&vo, &vm)):
                    return None
                _dropout_go(code, vx.buf, <const uint8_t *>vm.buf, vo.buf,
                            vx.len // vx.itemsize, 1.0 / (1.0 - <double>rate))
                return out
            finally:
                PyBuffer_Release(&vo)
        finally:
            PyBuffer_Release(&vm)
    finally:
        PyBuffer_Release(&vx)


cdef inline bint _u64_ok(object v) noexcept:
    return type(v) is int and 0 <= v < _U64_END


cdef object _dropout_rng_fast(object x, object rate, object seed, object counter, object out,
                              object mask_out):
    """dropout_forward_rng on the fast path: (y, mask), or None."""
    cdef Py_buffer vx, vo, vm
    cdef bint got_o = False, got_m = False
    cdef char code
    if not _rate_ok(rate) or not _u64_ok(seed) or not _u64_ok(counter):
        return None
    if not acquire_exact(x, _NDARRAY, &vx, False):
        return None
    try:
        code = _fcode(&vx)
        if code == 0 or counter + (vx.len // vx.itemsize + 1) // 2 > _U64_END:
            return None
        if out is None:
            out = np.empty(x.shape, x.dtype)
            got_o = acquire_exact(out, _NDARRAY, &vo, True)
            if not got_o:
                return None
        else:
            got_o = acquire_exact(out, _NDARRAY, &vo, True)
            if (not got_o or _fcode(&vo) != code or not _same_shape(&vo, &vx)
                    or not _same_or_apart(&vo, &vx)):
                return None
        if mask_out is None:
            mask_out = np.empty(x.shape, _BOOL)
            got_m = acquire_exact(mask_out, _NDARRAY, &vm, True)
            if not got_m:
                return None
        else:
            got_m = acquire_exact(mask_out, _NDARRAY, &vm, True)
            if (not got_m or not _is_mask(&vm) or not _same_shape(&vm, &vx)
                    or ranges_meet(&vm, &vx) or ranges_meet(&vm, &vo)):
                return None
        _dropout_rng_go(code, vx.buf, vo.buf, <uint8_t *>vm.buf, vx.len // vx.itemsize, seed,
                        counter, _contract.keep_threshold(rate), 1.0 / (1.0 - <double>rate))
        return out, mask_out
    finally:
        if got_m:
            PyBuffer_Release(&vm)
        if got_o:
            PyBuffer_Release(&vo)
        PyBuffer_Release(&vx)


# --------------------------------------------------------------------------- public: elementwise
# Each public function is spelled out rather than generated from a table: its signature and
# docstring are its own (tests/test_build.py compares every signature with the twin's), and the
# functions differ only in the contract call and the operation code.
def relu_forward(x, out=None):
    """y = max(x, 0); x any shape, float32/float64; y has x's shape and dtype.  NaN propagates
    (as torch).  ``out``: optional C-contiguous array of x's shape and dtype (may be x)."""
    res = _unary_fast(OP_RELU, x, out, 0.0)
    if res is not None:
        return res
    x, _, out = _contract.unary(x, out)
    return _unary_call(OP_RELU, x, out, 0.0)


def relu_backward(dy, x, out=None):
    """dx = dy * [x > 0] (0 at x == 0, as torch); dy and x the same shape and dtype."""
    res = _binary_fast(OP_RELU_BWD, dy, x, out, 0.0)
    if res is not None:
        return res
    dy, x, _, out = _contract.binary(dy, x, "x", out)
    return _binary_call(OP_RELU_BWD, dy, x, out, 0.0)


def sigmoid_forward(x, out=None):
    """y = 1 / (1 + e^-x), computed from e^-|x| so no exponent overflows; x any shape."""
    res = _unary_fast(OP_SIGMOID, x, out, 0.0)
    if res is not None:
        return res
    x, _, out = _contract.unary(x, out)
    return _unary_call(OP_SIGMOID, x, out, 0.0)


def sigmoid_backward(dy, y, out=None):
    """dx = dy * y * (1 - y), from the forward OUTPUT y (dy's shape and dtype)."""
    res = _binary_fast(OP_SIGMOID_BWD, dy, y, out, 0.0)
    if res is not None:
        return res
    dy, y, _, out = _contract.binary(dy, y, "y", out)
    return _binary_call(OP_SIGMOID_BWD, dy, y, out, 0.0)


def tanh_forward(x, out=None):
    """y = tanh(x); x any shape."""
    res = _unary_fast(OP_TANH, x, out, 0.0)
    if res is not None:
        return res
    x, _, out = _contract.unary(x, out)
    return _unary_call(OP_TANH, x, out, 0.0)


def tanh_backward(dy, y, out=None):
    """dx = dy * (1 - y^2), from the forward OUTPUT y (dy's shape and dtype)."""
    res = _binary_fast(OP_TANH_BWD, dy, y, out, 0.0)
    if res is not None:
        return res
    dy, y, _, out = _contract.binary(dy, y, "y", out)
    return _binary_call(OP_TANH_BWD, dy, y, out, 0.0)


def elu_forward(x, alpha=1.0, out=None):
    """y = x for x > 0, alpha * (e^x - 1) otherwise (expm1 for precision near 0); x any shape,
    alpha a finite real number."""
    res = _unary_fast(OP_ELU, x, out, alpha)
    if res is not None:
        return res
    x, alpha, out = _contract.unary_alpha(x, alpha, out)
    return _unary_call(OP_ELU, x, out, alpha)


def elu_backward(dy, x, alpha=1.0, out=None):
    """dx = dy for x > 0, dy * alpha * e^x otherwise (from the forward INPUT x)."""
    res = _binary_fast(OP_ELU_BWD, dy, x, out, alpha)
    if res is not None:
        return res
    dy, x, alpha, out = _contract.binary_alpha(dy, x, "x", alpha, out)
    return _binary_call(OP_ELU_BWD, dy, x, out, alpha)


def elu_backward_from_output(dy, y, alpha=1.0, out=None):
    """dx = dy for y > 0, dy * (y + alpha) otherwise, from the forward OUTPUT y (what Dense and
    Conv2D keep); bit-identical to the twin's ``np.where(y > 0, dy, dy * (y + alpha))``."""
    res = _binary_fast(OP_ELU_BWD_FROM_Y, dy, y, out, alpha)
    if res is not None:
        return res
    dy, y, alpha, out = _contract.binary_alpha(dy, y, "y", alpha, out)
    return _binary_call(OP_ELU_BWD_FROM_Y, dy, y, out, alpha)


# --------------------------------------------------------------------------- public: dropout
def _dropout_call(x, mask, double scale, out):
    x = np.ascontiguousarray(x)
    mask = np.ascontiguousarray(mask)      # bool or uint8: one byte, 0 or nonzero
    _dropout_go(_code_of(x), _data(x), <const uint8_t *>_data(mask), _data(out), x.size, scale)
    return out


def dropout_forward(x, mask, rate, out=None):
    """y = x * mask / (1 - rate); x any shape, mask the keep-mask (bool or uint8, x's shape,
    nonzero = keep), rate in [0, 1)."""
    res = _dropout_fast(x, mask, rate, out)
    if res is not None:
        return res
    x, mask, scale, out = _contract.dropout(x, mask, rate, out)
    # the contract rounded the scale to the dtype once, exactly as the twin uses it
    return _dropout_call(x, mask, float(scale), out)


def dropout_backward(dy, mask, rate, out=None):
    """dx = dy * mask / (1 - rate); mask and rate as in dropout_forward."""
    res = _dropout_fast(dy, mask, rate, out)
    if res is not None:
        return res
    dy, mask, scale, out = _contract.dropout(dy, mask, rate, out, "dy")
    return _dropout_call(dy, mask, float(scale), out)


def _dropout_rng_variant():
    """Tests and docs: which variant of the dropout generator runs at the current SIMD level:
    'avx512' (needs AVX-512DQ), 'avx2' or 'generic'."""
    return fnn_dropout_rng_variant(simd_level()).decode("ascii")


cdef inline void _dropout_rng_at(const floating *x, floating *y, uint8_t *keep, Py_ssize_t n,
                                 Py_ssize_t c, uint64_t key, uint64_t counter, uint32_t threshold,
                                 floating scale, int variant) noexcept nogil:
    cdef Py_ssize_t lo = c * _CHUNK, m = min(n - lo, _CHUNK)
    if floating is float:
        fnn_dropout_rng_f32(variant, x + lo, y + lo, keep + lo, m, lo, key, counter, threshold,
                            scale)
    else:
        fnn_dropout_rng_f64(variant, x + lo, y + lo, keep + lo, m, lo, key, counter, threshold,
                            scale)


cdef void _dropout_rng_run(const floating *x, floating *y, uint8_t *keep, Py_ssize_t n,
                           uint64_t key, uint64_t counter, uint32_t threshold, floating scale,
                           int variant, int nt) noexcept nogil:
    # Chunks start at even elements (_CHUNK is even), where a draw starts: chunk c begins at
    # draw counter + c * _CHUNK / 2, whichever thread runs it.
    cdef Py_ssize_t nchunks = (n + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t c
    if nt > 1:
        for c in prange(nchunks, schedule="static", num_threads=nt):
            _dropout_rng_at(x, y, keep, n, c, key, counter, threshold, scale, variant)
    else:
        for c in range(nchunks):
            _dropout_rng_at(x, y, keep, n, c, key, counter, threshold, scale, variant)


cdef int _dropout_rng_go(char code, void *x, void *y, uint8_t *keep, Py_ssize_t n,
                         uint64_t key, uint64_t counter, uint32_t threshold,
                         double scale) except -1:
    cdef int nt, variant
    if n <= 0:
        return 0
    nt = threads_for(n, n, _GRAIN_EXP)
    variant = fnn_dropout_rng_level(simd_level())
    with nogil:
        if code == b'f':
            _dropout_rng_run[float](<const float *>x, <float *>y, keep, n, key, counter,
                                    threshold, <float>scale, variant, nt)
        else:
            _dropout_rng_run[double](<const double *>x, <double *>y, keep, n, key, counter,
                                     threshold, scale, variant, nt)
    return 0


def dropout_forward_rng(x, rate, seed, counter, out=None, mask_out=None):
    """Dropout with the keep-mask drawn in the same pass: returns (y, mask), y = x * mask /
    (1 - rate), mask the keep-mask (bool, or ``mask_out``).  Element i (C order) is kept when
    32 bits of draw ``counter + i // 2`` of the SplitMix64 stream keyed by ``seed`` are >=
    round(rate * 2**32); a call consumes (x.size + 1) // 2 draws.  seed, counter: ints in
    [0, 2**64).  The same mask at any thread count and SIMD level; the formulas and the twin:
    fastnn/reference/activations.py."""
    res = _dropout_rng_fast(x, rate, seed, counter, out, mask_out)
    if res is not None:
        return res
    c = _contract.dropout_rng(x, rate, seed, counter, out, mask_out)
    return _dropout_rng_call(c.x, c.threshold, c.scale, c.seed, c.counter, c.out, c.mask)


def _dropout_rng_call(x, threshold, double scale, seed, counter, out, mask):
    # scale: the contract's, already in the dtype (float32: the float32 loop gets it exactly);
    # the fast path's double 1 / (1 - rate), which the float32 loop rounds once, to the same
    x = np.ascontiguousarray(x)
    # mask: bool or uint8, one byte per element; the kernel writes 0 or 1
    _dropout_rng_go(_code_of(x), _data(x), _data(out), <uint8_t *>_data(mask), x.size, seed,
                    counter, threshold, scale)
    return out, mask


def splitmix64(seed, first, count):
    """Draws ``first .. first + count - 1`` of dropout's generator keyed by ``seed`` (a uint64
    array): draw j is the (j+1)-th output of SplitMix64 seeded with ``seed``
    (src_c/fnn_random.h).  seed, first: ints in [0, 2**64); count >= 0."""
    seed, first, count = _contract.splitmix64_args(seed, first, count)
    out = np.empty(count, dtype=np.uint64)
    cdef uint64_t[::1] o = out
    cdef uint64_t key = seed, j0 = first
    cdef Py_ssize_t j
    for j in range(count):
        o[j] = fnn_splitmix64_draw(key, j0 + <uint64_t>j)
    return out


# --------------------------------------------------------------------------- softmax rows
cdef inline floating _row_max(const floating *x, Py_ssize_t K) noexcept nogil:
    # NaN wins and then sticks (nothing compares greater than NaN), as np.max
    cdef floating m = x[0], v
    cdef Py_ssize_t j
    for j in range(1, K):
        v = x[j]
        if (v > m) | (v != v):
            m = v
    return m


cdef inline floating _exp_shifted_row(const floating *x, floating *e, Py_ssize_t K,
                                      floating m, int simd) noexcept nogil:
    """e[j] = exp(x[j] - m); returns the sum, accumulated in double in index order and rounded
    to the dtype (the twin's sum is in the dtype).  e may be x (element j is read before it is
    written, and nothing else reads it)."""
    cdef double s = 0
    cdef Py_ssize_t j
    if floating is float:
        fnn_exp_shift_f32(simd, x, e, K, m)     # vectorised; the sum stays serial, in order
    else:
        for j in range(K):
            e[j] = _exp(x[j] - m)
    for j in range(K):
        s += e[j]
    return <floating>s


cdef inline void _softmax_row(const floating *x, floating *y, Py_ssize_t K,
                              int simd) noexcept nogil:
    cdef floating m = _row_max(x, K)
    cdef floating s = _exp_shifted_row(x, y, K, m, simd)
    cdef Py_ssize_t j
    for j in range(K):
        y[j] = y[j] / s


cdef inline void _softmax_bwd_row(const floating *dy, const floating *y, floating *dx,
                                  Py_ssize_t K) noexcept nogil:
    cdef double acc = 0
    cdef floating dot
    cdef Py_ssize_t j
    for j in range(K):
        acc += dy[j] * y[j]                  # product in the dtype, as the twin's dy * y
    dot = <floating>acc
    for j in range(K):
        dx[j] = y[j] * (dy[j] - dot)


cdef void _softmax_rows(const floating[:, ::1] x, floating[:, ::1] y, int nt, int simd):
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1], r
    if nt > 1:
        for r in prange(N, schedule="static", nogil=True, num_threads=nt):
            _softmax_row(&x[r, 0], &y[r, 0], K, simd)
    else:
        with nogil:
            for r in range(N):
                _softmax_row(&x[r, 0], &y[r, 0], K, simd)


cdef void _softmax_bwd_rows(const floating[:, ::1] dy, const floating[:, ::1] y,
                            floating[:, ::1] dx, int nt):
    cdef Py_ssize_t N = dy.shape[0], K = dy.shape[1], r
    if nt > 1:
        for r in prange(N, schedule="static", nogil=True, num_threads=nt):
            _softmax_bwd_row(&dy[r, 0], &y[r, 0], &dx[r, 0], K)
    else:
        with nogil:
            for r in range(N):
                _softmax_bwd_row(&dy[r, 0], &y[r, 0], &dx[r, 0], K)


def softmax_forward(x, out=None):
    """Row-wise softmax of x (N, K): y = e^(x - max) / sum e^(x - max); y (N, K) in x's dtype.
    ``out``: optional C-contiguous (N, K) array of x's dtype (may be x)."""
    x, _, out = _contract.rows(x, out)
    xc = np.ascontiguousarray(x)
    cdef int nt = threads_for(xc.size, xc.shape[0], _GRAIN_EXP)
    cdef int simd = simd_level()
    if xc.dtype == np.float32:
        _softmax_rows[float](xc, out, nt, simd)
    else:
        _softmax_rows[double](xc, out, nt, simd)
    return out


def softmax_backward(dy, y, out=None):
    """dx = y * (dy - sum_k dy[:, k] y[:, k]) row-wise; dy and y (N, K) of one dtype, y the
    forward output; dx (N, K)."""
    dy, y, _, out = _contract.rows_binary(dy, y, out)
    dyc = np.ascontiguousarray(dy)
    yc = np.ascontiguousarray(y)
    cdef int nt = threads_for(yc.size, yc.shape[0], _GRAIN_CHEAP)
    if yc.dtype == np.float32:
        _softmax_bwd_rows[float](dyc, yc, out, nt)
    else:
        _softmax_bwd_rows[double](dyc, yc, out, nt)
    return out


# --------------------------------------------------------------------------- cross-entropy
cdef inline double _sce_label_row(const floating *z, int64_t c, floating *d, Py_ssize_t K,
                                  floating nf, int simd) noexcept nogil:
    """One row against class id c (in [0, K): read from the contract's private, checked copy):
    d = (p - onehot(c)) / N, returns the row loss lse - z[c] in double."""
    cdef floating one = 1
    cdef floating m = _row_max(z, K)
    cdef floating s = _exp_shifted_row(z, d, K, m, simd)
    cdef floating ec = d[c]
    cdef Py_ssize_t j
    for j in range(K):
        d[j] = (d[j] / s) / nf
    d[c] = (ec / s - one) / nf
    # log of the dtype-rounded sum, in double (the twin: np.log(s.astype(float64)))
    return log(<double>s) - (<double>z[c] - <double>m)


cdef inline double _sce_soft_row(const floating *z, const floating *t, floating *d,
                                 Py_ssize_t K, floating nf, int simd) noexcept nogil:
    """One row against float targets t: d = (sum(t) p - t) / N, returns the row loss
    sum(t) * lse - t . z in double (the max subtracted inside, as the twin)."""
    cdef floating m = _row_max(z, K)
    cdef floating s = _exp_shifted_row(z, d, K, m, simd)
    cdef double ts = 0, dot = 0, tj
    cdef floating tsf
    cdef Py_ssize_t j
    for j in range(K):
        tj = t[j]
        ts += tj
        if tj != 0:     # a -inf logit with target 0 adds nothing (0 * -inf would be NaN)
            dot += tj * (<double>z[j] - <double>m)
    tsf = <floating>ts
    for j in range(K):
        d[j] = (tsf * (d[j] / s) - t[j]) / nf
    return ts * log(<double>s) - dot


cdef double _sce_labels(const floating[:, ::1] z, const int64_t[::1] labels,
                        floating[:, ::1] d, double[::1] rows, int nt, int simd):
    cdef Py_ssize_t N = z.shape[0], K = z.shape[1], r
    cdef floating nf = <floating>N
    cdef double total = 0
    if nt > 1:
        for r in prange(N, schedule="static", nogil=True, num_threads=nt):
            rows[r] = _sce_label_row(&z[r, 0], labels[r], &d[r, 0], K, nf, simd)
    else:
        with nogil:
            for r in range(N):
                rows[r] = _sce_label_row(&z[r, 0], labels[r], &d[r, 0], K, nf, simd)
    for r in range(N):                     # serial, in row order: same bits at any thread count
        total = total + rows[r]
    return total


cdef double _sce_soft(const floating[:, ::1] z, const floating[:, ::1] t, floating[:, ::1] d,
                      double[::1] rows, int nt, int simd):
    cdef Py_ssize_t N = z.shape[0], K = z.shape[1], r
    cdef floating nf = <floating>N
    cdef double total = 0
    if nt > 1:
        for r in prange(N, schedule="static", nogil=True, num_threads=nt):
            rows[r] = _sce_soft_row(&z[r, 0], &t[r, 0], &d[r, 0], K, nf, simd)
    else:
        with nogil:
            for r in range(N):
                rows[r] = _sce_soft_row(&z[r, 0], &t[r, 0], &d[r, 0], K, nf, simd)
    for r in range(N):
        total = total + rows[r]
    return total


def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy of logits (N, K) against integer class ids (N,) in [0, K) or
    float targets (N, K) of the logits' dtype, finite and non-negative -> (loss as a Python
    float, dlogits (N, K) in the logits' dtype).  One pass per row computes the loss and its
    gradient together; stable for logits of any finite size.  Formulas:
    fastnn/reference/activations.py."""
    res = _sce_fast(logits, labels)
    if res is not None:
        return res
    z, kind, t = _contract.cross_entropy(logits, labels)
    return _sce_call(z, kind, t)


cdef object _sce_fast(object logits, object labels):
    """softmax_cross_entropy on the fast path (the result, or None): logits an exact,
    C-contiguous, aligned native float32/float64 (N, K) ndarray, N, K >= 1; labels an exact,
    C-contiguous, aligned native int64 (N,) ndarray whose ids, copied once into a private array,
    are all in [0, K) there (the ids read in nogil code are the ids checked).  The logits stay
    exported (so unresizable) until the loops have run."""
    cdef Py_buffer vz, vl
    cdef int64_t[::1] t
    cdef Py_ssize_t n, k, i
    if not acquire_exact(logits, _NDARRAY, &vz, False):
        return None
    try:
        if _fcode(&vz) == 0 or vz.ndim != 2:
            return None
        n, k = vz.shape[0], vz.shape[1]
        if not acquire_exact(labels, _NDARRAY, &vl, False):
            return None
        try:
            if (vl.ndim != 1 or vl.shape[0] != n or vl.itemsize != 8 or vl.format == NULL
                    or vl.format[1] != 0 or (vl.format[0] != b'l' and vl.format[0] != b'q')
                    or (<size_t>vl.buf) % 8):
                return None
            ids = np.empty(n, dtype=np.int64)
            t = ids
            memcpy(&t[0], vl.buf, n * 8)
        finally:
            PyBuffer_Release(&vl)
        for i in range(n):
            if t[i] < 0 or t[i] >= k:
                return None            # the contract names the bad id
        return _sce_call(logits, "labels", ids)
    finally:
        PyBuffer_Release(&vz)


def _sce_call(z, kind, t):
    z = np.ascontiguousarray(z)
    cdef Py_ssize_t n = z.shape[0]
    d = np.empty(z.shape, dtype=z.dtype)
    rows = np.empty(n, dtype=np.float64)
    cdef int nt = threads_for(z.size, n, _GRAIN_EXP)
    cdef int simd = simd_level()
    cdef double total
    # t is the contract's private copy (C-contiguous): class ids int64, each checked in [0, K)
    # after the copy was made, so the ids read below are the ids checked, whatever another
    # thread does to the caller's labels meanwhile; float targets of z's dtype
    if kind == "labels":
        if z.dtype == np.float32:
            total = _sce_labels[float](z, t, d, rows, nt, simd)
        else:
            total = _sce_labels[double](z, t, d, rows, nt, simd)
    else:
        if z.dtype == np.float32:
            total = _sce_soft[float](z, t, d, rows, nt, simd)
        else:
            total = _sce_soft[double](z, t, d, rows, nt, simd)
    return total / n, d
