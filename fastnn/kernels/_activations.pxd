# The C side of _activations.pyx, declared once: the float32 loops with an exp/expm1, in
# src_c/fnn_activations.h (the exp/expm1 themselves: src_c/fnn_vecmath.h).  Each takes the SIMD
# level to run at as its first argument (0 generic, 1 avx2, 2 avx512; the best variant at or
# below it runs) and may work in place (x == y).
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport uint8_t, uint32_t, uint64_t


cdef extern from "fnn_activations.h" nogil:
    void fnn_sigmoid_f32(int simd, const float *x, float *y, ptrdiff_t n)
    void fnn_tanh_f32(int simd, const float *x, float *y, ptrdiff_t n)
    void fnn_elu_f32(int simd, const float *x, float *y, ptrdiff_t n, float a)
    void fnn_elu_bwd_f32(int simd, const float *dy, const float *x, float *dx, ptrdiff_t n,
                         float a)
    void fnn_exp_shift_f32(int simd, const float *x, float *e, ptrdiff_t n, float m)
    const char *fnn_act_variant(int simd)


# The counter-based dropout pass (src_c/fnn_random.h): SplitMix64 draws of (key, counter), the
# keep-mask and the scaling in one pass.  `variant` comes from fnn_dropout_rng_level(simd), once
# per call (it asks CPUID for AVX-512DQ).
cdef extern from "fnn_random.h" nogil:
    uint64_t fnn_splitmix64_draw(uint64_t key, uint64_t j)
    int fnn_dropout_rng_level(int simd)
    const char *fnn_dropout_rng_variant(int simd)
    void fnn_dropout_rng_f32(int variant, const float *x, float *y, uint8_t *keep,
                             ptrdiff_t n, ptrdiff_t first, uint64_t key,
                             uint64_t counter, uint32_t threshold, float scale)
    void fnn_dropout_apply_f32(const float *x, const uint8_t *keep, float *y, ptrdiff_t n,
                               float scale)
    void fnn_dropout_apply_f64(const double *x, const uint8_t *keep, double *y, ptrdiff_t n,
                               double scale)
    void fnn_dropout_rng_f64(int variant, const double *x, double *y, uint8_t *keep,
                             ptrdiff_t n, ptrdiff_t first, uint64_t key,
                             uint64_t counter, uint32_t threshold, double scale)
