/* Private to fnn_gemm.c: the sparse-A kernels (the zero-skipping path, fnn_gemm_sparse.h), one
 * readable reference version and one AVX2 + FMA version per element type.
 *
 * A sparse kernel advances, for `rows` rows of C and n <= NW columns (NW: the kernel's tile
 * width), each element's chain through one k-block:
 *     C(r, j) = (load ? C(r, j) : +0) + sum_p val_r[p] * B(idx_r[p], j)
 * over row r's entries from pos[r] up to the first with k >= kend (p ascending), and leaves
 * pos[r] there for the next k-block.  Row r's list holds the nonzero elements of row r of op(A)
 * in ascending k: cnt[r] entries at idx + r*cap (their k) and val + r*cap (their values).
 * B(k, j) is at b[(k - kbase)*b_rs + j] (the driver passes the k-block's tile, copied, with
 * kbase its first k), C(r, j) at c[r*rs_c + j].  The chain goes
 * on through C between k-blocks (a value stored and reloaded is the same value).
 *
 * Why the bits equal the dense kernels' of the same level: the dense chain of C(r, j) runs over
 * every k; a step whose A value is zero adds a product +-0 (B finite: the driver checks), which
 * leaves a nonzero accumulator unchanged and a +0 accumulator +0.  So skipping those steps gives
 * the same number, except that an accumulator flushed to -0 by flush-to-zero stays -0 where the
 * dense chain may turn it to +0: the sign of a zero result is the one possible difference.  The
 * AVX2 kernel fuses each multiply-add as the AVX2 and AVX-512 micro-kernels do (a fused result
 * does not depend on the vector width), the reference kernel rounds both steps as the generic
 * micro-kernels do.
 */
#ifndef FNN_GEMM_UKR_SPARSE_H
#define FNN_GEMM_UKR_SPARSE_H
#include <stdint.h>
#include "fnn_gemm_ukr.h"


/* The reference kernels, float and double: NW = 64 / 32 columns (the AVX2 kernels' width). */
#define FNN_GEMM_SPARSE_GENERIC(NAME, T, NW)                                                      \
static void NAME(int64_t rows, const int32_t *cnt, int32_t *pos, const int32_t *idx,             \
                 const T *val, int64_t cap, int64_t kbase, int64_t kend, const T *b,              \
                 int64_t b_rs, T *c, int64_t rs_c, int64_t n, int load)                           \
{                                                                                                 \
    int64_t r, p, j;                                                                              \
    for (r = 0; r < rows; r++) {                                                                  \
        const int32_t *ix = idx + r * cap;                                                        \
        const T *v = val + r * cap;                                                               \
        T acc[NW];                                                                                \
        for (j = 0; j < n; j++)                                                                   \
            acc[j] = load ? c[r * rs_c + j] : (T)0;                                               \
        for (p = pos[r]; p < cnt[r] && ix[p] < kend; p++) {                                       \
            const T a = v[p], *brow = b + ((int64_t)ix[p] - kbase) * b_rs;                                  \
            for (j = 0; j < n; j++)                                                               \
                acc[j] += a * brow[j];                                                            \
        }                                                                                         \
        pos[r] = (int32_t)p;                                                                      \
        for (j = 0; j < n; j++)                                                                   \
            c[r * rs_c + j] = acc[j];                                                             \
    }                                                                                             \
}
FNN_GEMM_SPARSE_GENERIC(fnn_sgemm_sparse_generic_64, float, 64)
FNN_GEMM_SPARSE_GENERIC(fnn_dgemm_sparse_generic_32, double, 32)
#undef FNN_GEMM_SPARSE_GENERIC

#if FNN_X86
#include <immintrin.h>

/* AVX2 + FMA: 8 ymm accumulators (64 floats or 32 doubles: one C row segment), 1 broadcast.
 * Per list entry: 8 loads of the B row segment (from L1 or close: the k-block's tile, 32 KB,
 * stays there while every row goes through it), 8 FMAs.  A partial tile (n < NW) loads and stores through a
 * mask: the lanes past n read nothing and are never stored.  One row is an always-inline body
 * with `full` constant at each of its two calls, so the full tile's loop has plain loads. */
#define FNN_GEMM_SPARSE_AVX2(NAME, T, V, L, SET1, SETZERO, LOAD, MASKLOAD, MASKSTORE, STORE, FMA,  \
                             MASK_T, MASK_SET)                                                    \
__attribute__((target("avx2,fma"), always_inline))                                                \
static inline void NAME##_row(const int32_t *ix, const T *v, int64_t np, int32_t *pos,           \
                              int64_t kbase, int64_t kend, const T *b, int64_t b_rs, T *cr,       \
                              const MASK_T *m, int load, const int full)                          \
{                                                                                                 \
    V c[8];                                                                                       \
    int64_t p = *pos;                                                                             \
    int t;                                                                                        \
    for (t = 0; t < 8; t++)                                                                       \
        c[t] = !load ? SETZERO() : full ? LOAD(cr + t * L) : MASKLOAD(cr + t * L, m[t]);         \
    for (; p < np && ix[p] < kend; p++) {                                                         \
        const T *br = b + ((int64_t)ix[p] - kbase) * b_rs;                                       \
        const V a = SET1(v[p]);                                                                   \
        for (t = 0; t < 8; t++)                                                                   \
            c[t] = FMA(a, full ? LOAD(br + t * L) : MASKLOAD(br + t * L, m[t]), c[t]);          \
    }                                                                                             \
    for (t = 0; t < 8; t++) {                                                                     \
        if (full)                                                                                 \
            STORE(cr + t * L, c[t]);                                                              \
        else                                                                                      \
            MASKSTORE(cr + t * L, m[t], c[t]);                                                    \
    }                                                                                             \
    *pos = (int32_t)p;                                                                            \
}                                                                                                 \
                                                                                                  \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t rows, const int32_t *cnt, int32_t *pos, const int32_t *idx,             \
                 const T *val, int64_t cap, int64_t kbase, int64_t kend, const T *b,              \
                 int64_t b_rs, T *c, int64_t rs_c, int64_t n, int load)                           \
{                                                                                                 \
    int64_t r;                                                                                    \
    int t;                                                                                        \
    MASK_T m[8];                                                                                  \
    for (t = 0; t < 8; t++)                                                                       \
        m[t] = MASK_SET(n - (int64_t)t * L);                                                      \
    for (r = 0; r < rows; r++) {                                                                  \
        if (n == 8 * L)                                                                           \
            NAME##_row(idx + r * cap, val + r * cap, cnt[r], &pos[r], kbase, kend, b, b_rs,       \
                       c + r * rs_c, m, load, 1);                                                 \
        else                                                                                      \
            NAME##_row(idx + r * cap, val + r * cap, cnt[r], &pos[r], kbase, kend, b, b_rs,       \
                       c + r * rs_c, m, load, 0);                                                 \
    }                                                                                             \
}

/* The lane masks of a partial vector: lane i on when i < left (all off when left <= 0). */
__attribute__((target("avx2")))
static inline __m256i fnn_sparse_mask_s(int64_t left)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int k = left < 0 ? 0 : (left > 8 ? 8 : (int)left);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), lane);
}
__attribute__((target("avx2")))
static inline __m256i fnn_sparse_mask_d(int64_t left)
{
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    const long long k = left < 0 ? 0 : (left > 4 ? 4 : left);
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(k), lane);
}

FNN_GEMM_SPARSE_AVX2(fnn_sgemm_sparse_avx2_64, float, __m256, 8, _mm256_set1_ps,
                     _mm256_setzero_ps, _mm256_loadu_ps, _mm256_maskload_ps,
                     _mm256_maskstore_ps, _mm256_storeu_ps, _mm256_fmadd_ps, __m256i,
                     fnn_sparse_mask_s)
FNN_GEMM_SPARSE_AVX2(fnn_dgemm_sparse_avx2_32, double, __m256d, 4, _mm256_set1_pd,
                     _mm256_setzero_pd, _mm256_loadu_pd, _mm256_maskload_pd,
                     _mm256_maskstore_pd, _mm256_storeu_pd, _mm256_fmadd_pd, __m256i,
                     fnn_sparse_mask_d)
#undef FNN_GEMM_SPARSE_AVX2
#endif /* FNN_X86 */

#endif /* FNN_GEMM_UKR_SPARSE_H */
