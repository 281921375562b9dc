# Max pooling's C loops (src_c/fnn_pool.h), declared once.
from libc.stdint cimport int64_t

cdef extern from "fnn_pool.h" nogil:
    void fnn_maxpool_row_s(const float *row, float *yr, int64_t *ar, Py_ssize_t OW,
                           Py_ssize_t sw, int64_t off)
    void fnn_maxpool_row_d(const double *row, double *yr, int64_t *ar, Py_ssize_t OW,
                           Py_ssize_t sw, int64_t off)
    void fnn_maxpool2x2_plane_s(int simd, const float *x, float *y, int64_t *am, Py_ssize_t W,
                                Py_ssize_t OH, Py_ssize_t OW)
    Py_ssize_t fnn_unpool2x2_plane_s(int simd, const float *dy, const int64_t *am, float *dx,
                                     Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW)
