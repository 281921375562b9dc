# The buffer tests the compiled fast paths share (fastnn/kernels/_gemm.pyx, _activations.pyx,
# _rows.pyx), written once as inline functions here and cimported by each: what C can address,
# and whether two buffers' bytes meet (pure tests on a Py_buffer the caller holds), and the one
# acquisition the fast paths make (acquire_exact).
from cpython.buffer cimport (PyObject_GetBuffer, PyBUF_C_CONTIGUOUS, PyBUF_RECORDS,
                             PyBUF_RECORDS_RO)


cdef inline bint acquire_exact(object a, object exact_type, Py_buffer *v, bint writable) noexcept:
    """Export ``a`` C-contiguous into v (True: the caller releases it) when its type is exactly
    ``exact_type`` (the fast paths pass numpy.ndarray: subclasses go to the contracts); False,
    with nothing held, for anything else, including a read-only ``a`` when ``writable``."""
    if type(a) is not exact_type:
        return False
    try:
        PyObject_GetBuffer(a, v, (PyBUF_RECORDS if writable else PyBUF_RECORDS_RO)
                           | PyBUF_C_CONTIGUOUS)
    except Exception:          # not C-contiguous, or read-only: the contract says which
        return False
    return True


cdef inline char float_code(Py_buffer *v) noexcept:
    """b'f' or b'd' for a native float32 / float64 buffer whose strides are whole elements and
    whose data is aligned (what C can address), else 0."""
    cdef int i
    cdef char code
    if v.format == NULL or v.format[1] != 0:
        return 0
    code = v.format[0]
    if code != b'f' and code != b'd':
        return 0
    if (<size_t>v.buf) % v.itemsize:
        return 0
    for i in range(v.ndim):
        if v.strides[i] % v.itemsize:
            return 0
    return code


cdef inline void extent(Py_buffer *v, char **lo, char **hi) noexcept:
    """Byte range [lo, hi) spanned by a strided buffer (lo == hi when it is empty)."""
    cdef char *first = <char *>v.buf
    cdef char *last = <char *>v.buf
    cdef int i
    for i in range(v.ndim):
        if v.shape[i] == 0:
            lo[0] = hi[0] = first
            return
        if v.strides[i] < 0:
            first += v.strides[i] * (v.shape[i] - 1)
        else:
            last += v.strides[i] * (v.shape[i] - 1)
    lo[0] = first
    hi[0] = last + v.itemsize


cdef inline bint ranges_meet(Py_buffer *x, Py_buffer *y) noexcept:
    """Whether the byte ranges of two (non-empty) buffers overlap."""
    cdef char *xl
    cdef char *xh
    cdef char *yl
    cdef char *yh
    extent(x, &xl, &xh)
    extent(y, &yl, &yh)
    return xl < xh and yl < yh and xl < yh and yl < xh
