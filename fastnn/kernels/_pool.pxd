# Max pooling's C inner loop (src_c/fnn_pool.h), declared once.
from libc.stdint cimport int64_t

cdef extern from "fnn_pool.h" nogil:
    void fnn_maxpool_row_s(const float *row, float *yr, int64_t *ar, Py_ssize_t OW,
                           Py_ssize_t sw, int64_t off)
    void fnn_maxpool_row_d(const double *row, double *yr, int64_t *ar, Py_ssize_t OW,
                           Py_ssize_t sw, int64_t off)
