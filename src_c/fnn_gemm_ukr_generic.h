/* Private to fnn_gemm.c: the reference micro-kernels, plain C for any CPU (FNN_SIMD_GENERIC).
 *
 * The interface they implement (tile, packing, `load`, the direct variants) is described in
 * fnn_gemm_ukr.h.  They are the readable statement of what every SIMD micro-kernel computes:
 * same tile shape, same k order, one multiply-add chain per element.  With the portable build
 * flags (no FMA in the baseline x86-64 instruction set) each step rounds the product and the sum
 * separately, so their results may differ from the FMA kernels' in the last bits.
 */
#ifndef FNN_GEMM_UKR_GENERIC_H
#define FNN_GEMM_UKR_GENERIC_H
#include <stdint.h>
#include "fnn_gemm_ukr.h"

/* The packed and in-place reference kernels below share their multiply-add loop on purpose:
 * each is the readable statement of one SIMD kernel family (fnn_gemm_ukr.h). */
/* The packed kernels, float 6 x 16 and double 6 x 8: one body written once for both types.
 *     acc = C (load) or 0;  for each k: acc[r][j] += a[k*MR + r] * b[k*NR + j];  C = acc */
#define FNN_GEMM_UKR_GENERIC(NAME, T, MR, NR)                                                     \
static void NAME(int64_t kc, const T *a, const T *b, T *c, int64_t rs_c, int load)               \
{                                                                                                 \
    T acc[MR][NR];                                                                                \
    int64_t k;                                                                                    \
    int r, j;                                                                                     \
    for (r = 0; r < MR; r++)                                                                      \
        for (j = 0; j < NR; j++)                                                                  \
            acc[r][j] = load ? c[r * rs_c + j] : (T)0;                                            \
    for (k = 0; k < kc; k++, a += MR, b += NR)                                                    \
        for (r = 0; r < MR; r++)                                                                  \
            for (j = 0; j < NR; j++)                                                              \
                acc[r][j] += a[r] * b[j];                                                         \
    for (r = 0; r < MR; r++)                                                                      \
        for (j = 0; j < NR; j++)                                                                  \
            c[r * rs_c + j] = acc[r][j];                                                          \
}
FNN_GEMM_UKR_GENERIC(fnn_sgemm_ukr_generic_6x16, float, 6, 16)
FNN_GEMM_UKR_GENERIC(fnn_dgemm_ukr_generic_6x8, double, 6, 8)
#undef FNN_GEMM_UKR_GENERIC

/* The direct variants (A read in place through its strides), float 6 x 16 and double 6 x 8:
 *     for each k: acc[r][j] += a[r*a_rs + k*a_cs] * b[k*NR + j] */
#define FNN_GEMM_UKR_GENERIC_DIRECT(NAME, T, MR, NR)                                              \
static void NAME(int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b, T *c,           \
                 int64_t rs_c, int load)                                                          \
{                                                                                                 \
    T acc[MR][NR];                                                                                \
    int64_t k;                                                                                    \
    int r, j;                                                                                     \
    for (r = 0; r < MR; r++)                                                                      \
        for (j = 0; j < NR; j++)                                                                  \
            acc[r][j] = load ? c[r * rs_c + j] : (T)0;                                            \
    for (k = 0; k < kc; k++, b += NR)                                                             \
        for (r = 0; r < MR; r++) {                                                                \
            const T ar = a[r * a_rs + k * a_cs];                                                  \
            for (j = 0; j < NR; j++)                                                              \
                acc[r][j] += ar * b[j];                                                           \
        }                                                                                         \
    for (r = 0; r < MR; r++)                                                                      \
        for (j = 0; j < NR; j++)                                                                  \
            c[r * rs_c + j] = acc[r][j];                                                          \
}
FNN_GEMM_UKR_GENERIC_DIRECT(fnn_sgemm_ukr_generic_direct_6x16, float, 6, 16)
FNN_GEMM_UKR_GENERIC_DIRECT(fnn_dgemm_ukr_generic_direct_6x8, double, 6, 8)
#undef FNN_GEMM_UKR_GENERIC_DIRECT

/* The in-place kernels (fnn_gemm_ukr.h), R rows x up to NW columns, A and B read in place:
 *     for each k: acc[r][j] += A(r, k) * B(k, j) */
#define FNN_GEMM_UKR_GENERIC_INPLACE(NAME, T, R, NW)                                              \
static void NAME(int64_t n, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b,      \
                 int64_t b_rs, T *c, int64_t rs_c, int load)                                      \
{                                                                                                 \
    T acc[R][NW];                                                                                 \
    int64_t k;                                                                                    \
    int r, j;                                                                                     \
    for (r = 0; r < R; r++)                                                                       \
        for (j = 0; j < n; j++)                                                                   \
            acc[r][j] = load ? c[r * rs_c + j] : (T)0;                                            \
    for (k = 0; k < kc; k++)                                                                      \
        for (r = 0; r < R; r++) {                                                                 \
            const T ar = a[r * a_rs + k * a_cs];                                                  \
            for (j = 0; j < n; j++)                                                               \
                acc[r][j] += ar * b[k * b_rs + j];                                                \
        }                                                                                         \
    for (r = 0; r < R; r++)                                                                       \
        for (j = 0; j < n; j++)                                                                   \
            c[r * rs_c + j] = acc[r][j];                                                          \
}
FNN_GEMM_UKR_GENERIC_INPLACE(fnn_sgemm_ukr_generic_rows1, float, 1, 16)
FNN_GEMM_UKR_GENERIC_INPLACE(fnn_sgemm_ukr_generic_rows2, float, 2, 16)
FNN_GEMM_UKR_GENERIC_INPLACE(fnn_sgemm_ukr_generic_rows3, float, 3, 16)
FNN_GEMM_UKR_GENERIC_INPLACE(fnn_sgemm_ukr_generic_rows4, float, 4, 16)
FNN_GEMM_UKR_GENERIC_INPLACE(fnn_dgemm_ukr_generic_rows1, double, 1, 16)
FNN_GEMM_UKR_GENERIC_INPLACE(fnn_dgemm_ukr_generic_rows2, double, 2, 16)
FNN_GEMM_UKR_GENERIC_INPLACE(fnn_dgemm_ukr_generic_rows3, double, 3, 16)
FNN_GEMM_UKR_GENERIC_INPLACE(fnn_dgemm_ukr_generic_rows4, double, 4, 16)
#undef FNN_GEMM_UKR_GENERIC_INPLACE

#endif /* FNN_GEMM_UKR_GENERIC_H */
