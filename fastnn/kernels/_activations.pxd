# The C side of _activations.pyx, declared once: the float32 loops with an exp/expm1, in
# src_c/fnn_activations.h (the exp/expm1 themselves: src_c/fnn_vecmath.h).  Each takes the SIMD
# level to run at as its first argument (0 generic, 1 avx2, 2 avx512; the best variant at or
# below it runs) and may work in place (x == y).
from libc.stddef cimport ptrdiff_t


cdef extern from "fnn_activations.h" nogil:
    void fnn_sigmoid_f32(int simd, const float *x, float *y, ptrdiff_t n)
    void fnn_tanh_f32(int simd, const float *x, float *y, ptrdiff_t n)
    void fnn_elu_f32(int simd, const float *x, float *y, ptrdiff_t n, float a)
    void fnn_elu_bwd_f32(int simd, const float *dy, const float *x, float *dx, ptrdiff_t n,
                         float a)
    void fnn_exp_shift_f32(int simd, const float *x, float *e, ptrdiff_t n, float m)
    const char *fnn_act_variant(int simd)
