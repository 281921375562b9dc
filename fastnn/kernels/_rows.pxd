# The rows family's C loops (src_c/fnn_rows.h), declared once.
from libc.stdint cimport int64_t

cdef extern from "fnn_rows.h" nogil:
    void fnn_sum_rows_s(int simd, const float *a, float *s, Py_ssize_t N, Py_ssize_t M,
                        Py_ssize_t j0, Py_ssize_t j1)
    void fnn_sum_rows_d(int simd, const double *a, double *s, Py_ssize_t N, Py_ssize_t M,
                        Py_ssize_t j0, Py_ssize_t j1)
    Py_ssize_t fnn_take_rows(const char *src, char *dst, const int64_t *idx,
                             Py_ssize_t i0, Py_ssize_t i1, size_t row_bytes, int64_t n)
