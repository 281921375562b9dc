/* Private to fnn_gemm.c: the driver's own packing routines, one per (element type, panel width R),
 * for the MR-row panels of A and the NR-column panels of B alike (fnn_gemm_ukr.h, fnn_spack_t).
 *
 * Packing copies an n x kc block (element (x, k) at X[x*xs + k*ks]) into ceil(n/R) micro-panels:
 * panel p holds, for each k in turn, the R values x = p*R .. p*R+R-1; values past n are zeros,
 * so edge tiles run the same micro-kernel.  A is packed with (xs, ks) = (row stride, column
 * stride), B with (column stride, row stride).  R is a compile-time constant in each routine (so
 * the inner loops unroll and vectorize); the kernel descriptor says which routine serves its MR
 * and which its NR.  Packing is a copy: which routine or path runs never changes a value.
 */
#ifndef FNN_GEMM_PACK_H
#define FNN_GEMM_PACK_H
#include <stdint.h>
#include <string.h>
#include "fnn_cpu.h"

/* The interleave of a full panel whose x runs are contiguous in k (ks == 1): the common case of
 * a row-major A (and of B^T).  Blocks of W runs x W steps are transposed in SSE registers (SSE2 is
 * in every x86-64's baseline, so no run-time dispatch is needed); leftover runs and steps are
 * copied one by one.  FNN_PACK_BLOCK(x, xs, k, R, buf) moves the W x W block at runs t..t+W-1,
 * steps k..k+W-1. */
#if FNN_X86
#include <emmintrin.h>
#define FNN_PACK_W_float 4
#define FNN_PACK_W_double 2
static inline void fnn_pack_block_float(const float *x, int64_t xs, float *out, int R)
{
    __m128 r0 = _mm_loadu_ps(x), r1 = _mm_loadu_ps(x + xs);
    __m128 r2 = _mm_loadu_ps(x + 2 * xs), r3 = _mm_loadu_ps(x + 3 * xs);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(out, r0);
    _mm_storeu_ps(out + R, r1);
    _mm_storeu_ps(out + 2 * R, r2);
    _mm_storeu_ps(out + 3 * R, r3);
}
static inline void fnn_pack_block_double(const double *x, int64_t xs, double *out, int R)
{
    __m128d r0 = _mm_loadu_pd(x), r1 = _mm_loadu_pd(x + xs);
    _mm_storeu_pd(out, _mm_unpacklo_pd(r0, r1));
    _mm_storeu_pd(out + R, _mm_unpackhi_pd(r0, r1));
}
#else
#define FNN_PACK_W_float 1
#define FNN_PACK_W_double 1
static inline void fnn_pack_block_float(const float *x, int64_t xs, float *out, int R)
{
    (void)xs; (void)R;
    *out = *x;
}
static inline void fnn_pack_block_double(const double *x, int64_t xs, double *out, int R)
{
    (void)xs; (void)R;
    *out = *x;
}
#endif

#define FNN_GEMM_PACK(NAME, T, R)                                                                 \
static void NAME(int64_t n, int64_t kc, const T *X, int64_t xs, int64_t ks, T *buf)              \
{                                                                                                 \
    enum { W = FNN_PACK_W_##T };                                                                  \
    int64_t x0 = 0, k;                                                                            \
    int t;                                                                                        \
    if (xs == 1 && n >= 2 * R) {                                                                  \
        /* several full panels of contiguous k-rows (a row-major B block): walk each row once,  \
         * left to right, so the reads are one contiguous stream per row instead of one short  \
         * strided stream per panel */                                                          \
        const int64_t full = n / R;                                                               \
        int64_t p;                                                                                \
        for (k = 0; k < kc; k++)                                                                  \
            for (p = 0; p < full; p++)                                                            \
                memcpy(buf + p * R * kc + k * R, X + k * ks + p * R, R * sizeof(T));              \
        x0 = full * R;                                                                            \
        buf += full * R * kc;                                                                     \
    }                                                                                             \
    for (; x0 < n; x0 += R, buf += (int64_t)R * kc) {                                             \
        const int r = (int)(n - x0 < R ? n - x0 : R);                                             \
        const T *x = X + x0 * xs;                                                                 \
        if (r == R && xs == 1) {                                                                  \
            /* the R values of one k are contiguous (A^T / Fortran-order A, row-major B) */      \
            for (k = 0; k < kc; k++)                                                              \
                memcpy(buf + k * R, x + k * ks, R * sizeof(T));                                   \
        } else if (r == R && ks == 1) {                                                           \
            /* each x is contiguous in k (row-major A, B^T): transpose W x W blocks */           \
            const int tw = R / W * W;                                                             \
            for (k = 0; k + W <= kc; k += W) {                                                    \
                for (t = 0; t < tw; t += W)                                                       \
                    fnn_pack_block_##T(x + t * xs + k, xs, buf + k * R + t, R);                   \
                for (; t < R; t++) {                                                              \
                    int64_t q;                                                                    \
                    for (q = k; q < k + W; q++)                                                   \
                        buf[q * R + t] = x[t * xs + q];                                           \
                }                                                                                 \
            }                                                                                     \
            for (; k < kc; k++)                                                                   \
                for (t = 0; t < R; t++)                                                           \
                    buf[k * R + t] = x[t * xs + k];                                               \
        } else if (ks == 1) {                                                                     \
            /* a partial panel of such runs: read r runs, interleave them */                     \
            for (t = 0; t < r; t++) {                                                             \
                const T *run = x + t * xs;                                                        \
                for (k = 0; k < kc; k++)                                                          \
                    buf[k * R + t] = run[k];                                                      \
            }                                                                                     \
            for (; t < R; t++)                                                                    \
                for (k = 0; k < kc; k++)                                                          \
                    buf[k * R + t] = 0;                                                           \
        } else {                                                                                  \
            for (k = 0; k < kc; k++) {                                                            \
                for (t = 0; t < r; t++)                                                           \
                    buf[k * R + t] = x[t * xs + k * ks];                                          \
                for (; t < R; t++)                                                                \
                    buf[k * R + t] = 0;                                                           \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
}

FNN_GEMM_PACK(fnn_s_pack_6, float, 6)
FNN_GEMM_PACK(fnn_s_pack_12, float, 12)
FNN_GEMM_PACK(fnn_s_pack_16, float, 16)
FNN_GEMM_PACK(fnn_s_pack_32, float, 32)
FNN_GEMM_PACK(fnn_d_pack_6, double, 6)
FNN_GEMM_PACK(fnn_d_pack_8, double, 8)
FNN_GEMM_PACK(fnn_d_pack_12, double, 12)
FNN_GEMM_PACK(fnn_d_pack_16, double, 16)
#undef FNN_GEMM_PACK

#endif /* FNN_GEMM_PACK_H */
