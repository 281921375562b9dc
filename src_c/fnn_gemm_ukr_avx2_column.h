/* Private to fnn_gemm.c: the column kernels, AVX2 + FMA, for a product with one column (N = 1: a
 * matrix-vector product, e.g. a Dense(1) layer or a logistic regression).
 *
 * Why: the narrow kernels keep a vector per row of C, so with one column they use one FMA lane
 * in 8 (4 for double), and six rows give six chains, too few to hide the FMA's latency.  Here a
 * vector holds W rows of C instead (W = 8 floats, 4 doubles): every lane is an output.
 *
 * A kernel computes, for rows i in [0, m):
 *     C(i) = (load ? C(i) : +0) + sum_k A(i, k) * B(k)      (k ascending)
 * with A(i, k) at a[i*a_rs + k*a_cs], B(k) at b[k*b_rs] and C(i) at c[i] (the caller passes a
 * contiguous C).  Each lane is one element's chain of fused multiply-adds in k order, as in the
 * narrow and packed kernels (fma(a, b, c) == fma(b, a, c)), so the bits are theirs.
 * Two layouts of A, the two a dense layer gives (the caller keeps the narrow path otherwise):
 *   - a_rs == 1 (op(A)'s columns contiguous: x^T @ dz, a weight gradient): W rows are one load;
 *     8 vectors (8 W rows) go through k together, 8 chains in flight;
 *   - a_cs == 1 (rows contiguous: x @ w, a forward), float only (NAME_rows): blocks of 64 rows
 *     by 64 k are transposed into a 16 KB buffer (8 x 8 blocks loaded and transposed in
 *     registers), which the first loop then reads; the chain goes on through C between k-blocks.
 *     For double the 4 x 4 transposes cost more than the narrow kernel's spare lanes
 *     (docs/kernels/gemm.md): doubles keep the narrow kernel there.
 */
#ifndef FNN_GEMM_UKR_AVX2_COLUMN_H
#define FNN_GEMM_UKR_AVX2_COLUMN_H
#include <stdint.h>
#include <immintrin.h>
#include "fnn_gemm_ukr_avx2.h"     /* fnn_avx2_mask_ps / _pd: lanes on below a count */
#include "fnn_transpose8_avx2.h"

/* One element type's kernel for a_rs == 1, NAME, and its helpers, from its intrinsics (T, VT, W,
 * ... defined below). */
#define FNN_COL_DEFINE(NAME)                                               \
__attribute__((target("avx2,fma"), always_inline))                                                \
static inline VT NAME##_load_c(const T *c, int64_t r)                                            \
{                                                                                                 \
    return r == W ? LOADU(c) : LOADM(c, MASK(r));                                                 \
}                                                                                                 \
__attribute__((target("avx2,fma"), always_inline))                                                \
static inline void NAME##_store_c(T *c, int64_t r, VT v)                                         \
{                                                                                                 \
    if (r == W)                                                                                   \
        STOREU(c, v);                                                                             \
    else                                                                                          \
        STOREM(c, MASK(r), v);                                                                    \
}                                                                                                 \
/* a_rs == 1: G vectors of W rows (the last with `last` rows), full = (last == W) */           \
__attribute__((target("avx2,fma"), always_inline))                                                \
static inline void NAME##_cols(const int G, const int full, int64_t last, int64_t kc,            \
                               const T *a, int64_t a_cs, const T *b, int64_t b_rs, T *c,          \
                               int load)                                                          \
{                                                                                                 \
    VT acc[8];                                                                                    \
    const MT lm = MASK(last);                                                                     \
    int64_t k;                                                                                    \
    int u;                                                                                        \
    for (u = 0; u < G; u++)                                                                       \
        acc[u] = load ? NAME##_load_c(c + u * W, u == G - 1 ? last : W) : ZERO();                 \
    for (k = 0; k < kc; k++) {                                                                    \
        const VT bk = BCAST(b + k * b_rs);                                                        \
        const T *ak = a + k * a_cs;                                                               \
        for (u = 0; u < G - 1; u++)                                                               \
            acc[u] = FMADD(LOADU(ak + u * W), bk, acc[u]);                                        \
        acc[G - 1] = FMADD(full ? LOADU(ak + (G - 1) * W) : LOADM(ak + (G - 1) * W, lm), bk,      \
                           acc[G - 1]);                                                           \
    }                                                                                             \
    for (u = 0; u < G; u++)                                                                       \
        NAME##_store_c(c + u * W, u == G - 1 ? last : W, acc[u]);                                 \
}                                                                                                 \
/* Up to 8 vectors (rows <= 8 W) through the whole k loop, reading A with a_rs == 1 */         \
__attribute__((target("avx2,fma")))                                                               \
static void NAME##_block(int64_t rows, int64_t kc, const T *a, int64_t a_cs, const T *b,         \
                         int64_t b_rs, T *c, int load)                                            \
{                                                                                                 \
    const int64_t g = (rows + W - 1) / W, last = rows - (g - 1) * W;                              \
    switch (g * 2 + (last == W)) {                                                                \
    FNN_COL_CASES(NAME, last, kc, a, a_cs, b, b_rs, c, load)                                      \
    }                                                                                             \
}                                                                                                 \
/* The kernel for a_rs == 1 */                                                                   \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t m, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b,      \
                 int64_t b_rs, T *c, int load)                                                    \
{                                                                                                 \
    int64_t i = 0;                                                                                \
    (void)a_rs;                                                                                   \
    for (; i + 8 * W <= m; i += 8 * W)                                                            \
        NAME##_cols(8, 1, W, kc, a + i, a_cs, b, b_rs, c + i, load);                              \
    if (i < m)                                                                                    \
        NAME##_block(m - i, kc, a + i, a_cs, b, b_rs, c + i, load);                               \
}
/* The kernel for a_cs == 1 (float: FNN_COL_DEFINE's helpers and an 8 x 8 TRANSPOSE): blocks of
 * 8 W rows, k in blocks of FNN_COL_KB transposed into a buffer (16 KB) that the a_rs == 1 loop
 * then reads; the chain goes on through C between k-blocks.  Rows past the end read the last
 * row (memory that exists) and are never stored. */
#define FNN_COL_DEFINE_ROWS(NAME, TRANSPOSE)                                                     \
__attribute__((target("avx2,fma"), always_inline))                                                \
static inline void NAME##_pack(T *buf, const T *a, int64_t a_rs, int64_t rows, int64_t kb)      \
{                                                                                                 \
    VT x[W];                                                                                      \
    const T *r[W];                                                                                \
    int64_t g0, kk;                                                                               \
    int t;                                                                                        \
    for (g0 = 0; g0 < rows; g0 += W) {                                                            \
        for (t = 0; t < W; t++)                                                                   \
            r[t] = a + (g0 + t < rows ? g0 + t : rows - 1) * a_rs;                                \
        for (kk = 0; kk + W <= kb; kk += W) {                                                     \
            for (t = 0; t < W; t++)                                                               \
                x[t] = LOADU(r[t] + kk);                                                          \
            TRANSPOSE(x);                                                                         \
            for (t = 0; t < W; t++)                                                               \
                STORE(buf + (kk + t) * 8 * W + g0, x[t]);                                         \
        }                                                                                         \
        for (; kk < kb; kk++)                                                                     \
            for (t = 0; t < W; t++)                                                               \
                buf[kk * 8 * W + g0 + t] = r[t][kk];                                              \
    }                                                                                             \
}                                                                                                 \
__attribute__((target("avx2,fma")))                                                               \
static void NAME##_rows(int64_t m, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs,           \
                        const T *b, int64_t b_rs, T *c, int load)                                \
{                                                                                                 \
    T buf[FNN_COL_KB * 8 * W] __attribute__((aligned(32)));                                       \
    int64_t i, k0;                                                                                \
    (void)a_cs;                                                                                   \
    for (i = 0; i < m; i += 8 * W) {                                                              \
        const int64_t rows = m - i < 8 * W ? m - i : 8 * W;                                       \
        for (k0 = 0; k0 < kc; k0 += FNN_COL_KB) {                                                 \
            const int64_t kb = kc - k0 < FNN_COL_KB ? kc - k0 : FNN_COL_KB;                       \
            NAME##_pack(buf, a + i * a_rs + k0, a_rs, rows, kb);                                  \
            NAME##_block(rows, kb, buf, 8 * W, b + k0 * b_rs, b_rs, c + i, load || k0 > 0);       \
        }                                                                                         \
    }                                                                                             \
}
#define FNN_COL_KB 64
/* _block's dispatch: g = 1..8 vectors, the last full or not */
#define FNN_COL_CASE(NAME, G, last, kc, a, a_cs, b, b_rs, c, load)                               \
    case 2 * G: NAME##_cols(G, 0, last, kc, a, a_cs, b, b_rs, c, load); break;                   \
    case 2 * G + 1: NAME##_cols(G, 1, last, kc, a, a_cs, b, b_rs, c, load); break;
#define FNN_COL_CASES(NAME, ...)                                                                  \
    FNN_COL_CASE(NAME, 1, __VA_ARGS__) FNN_COL_CASE(NAME, 2, __VA_ARGS__)                         \
    FNN_COL_CASE(NAME, 3, __VA_ARGS__) FNN_COL_CASE(NAME, 4, __VA_ARGS__)                         \
    FNN_COL_CASE(NAME, 5, __VA_ARGS__) FNN_COL_CASE(NAME, 6, __VA_ARGS__)                         \
    FNN_COL_CASE(NAME, 7, __VA_ARGS__) FNN_COL_CASE(NAME, 8, __VA_ARGS__)


#define T float
#define VT __m256
#define MT __m256i
#define W 8
#define MASK fnn_avx2_mask_ps
#define LOADM _mm256_maskload_ps
#define STOREM _mm256_maskstore_ps
#define LOADU _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#define STORE _mm256_store_ps
#define BCAST _mm256_broadcast_ss
#define FMADD _mm256_fmadd_ps
#define ZERO _mm256_setzero_ps
FNN_COL_DEFINE(fnn_sgemm_ukr_avx2_column)
FNN_COL_DEFINE_ROWS(fnn_sgemm_ukr_avx2_column, fnn_transpose8_avx2)
#undef T
#undef VT
#undef MT
#undef W
#undef MASK
#undef LOADM
#undef STOREM
#undef LOADU
#undef STOREU
#undef STORE
#undef BCAST
#undef FMADD
#undef ZERO

#define T double
#define VT __m256d
#define MT __m256i
#define W 4
#define MASK fnn_avx2_mask_pd
#define LOADM _mm256_maskload_pd
#define STOREM _mm256_maskstore_pd
#define LOADU _mm256_loadu_pd
#define STOREU _mm256_storeu_pd
#define STORE _mm256_store_pd
#define BCAST _mm256_broadcast_sd
#define FMADD _mm256_fmadd_pd
#define ZERO _mm256_setzero_pd
FNN_COL_DEFINE(fnn_dgemm_ukr_avx2_column)
#undef T
#undef VT
#undef MT
#undef W
#undef MASK
#undef LOADM
#undef STOREM
#undef LOADU
#undef STOREU
#undef STORE
#undef BCAST
#undef FMADD
#undef ZERO
#undef FNN_COL_DEFINE
#undef FNN_COL_DEFINE_ROWS
#undef FNN_COL_CASE
#undef FNN_COL_CASES
#undef FNN_COL_KB

#endif /* FNN_GEMM_UKR_AVX2_COLUMN_H */
