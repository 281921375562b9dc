/* Private to fnn_gemm.c: the sparse-A kernels (the zero-skipping path, fnn_gemm_sparse.h), one
 * readable reference version and one AVX2 + FMA version per element type.
 *
 * A sparse kernel computes, for `rows` rows of C and n <= NW columns (NW: the kernel's tile width),
 *     C(r, j) = sum_p val_r[p] * B(idx_r[p], j)       (p ascending, one chain per element)
 * where row r's list holds the nonzero elements of row r of op(A) in ascending k: cnt[r] entries
 * at idx + r*cap (their k) and val + r*cap (their values).  B(k, j) is at b[k*b_rs + j] (rows of B
 * contiguous), C(r, j) at c[r*rs_c + j].  The accumulators start at +0 (beta == 0 only).
 *
 * Why the bits equal the dense kernels' of the same level: the dense chain of C(r, j) runs over
 * every k; a step whose A value is zero adds a product +-0 (B finite: the driver checks), which
 * leaves a nonzero accumulator unchanged and a +0 accumulator +0.  So skipping those steps gives
 * the same number, except that an accumulator flushed to -0 by flush-to-zero stays -0 where the
 * dense chain may turn it to +0: the sign of a zero result is the one possible difference.  The
 * AVX2 kernel fuses each multiply-add as the AVX2 and AVX-512 micro-kernels do (a fused result
 * does not depend on the vector width), the reference kernel rounds both steps as the generic
 * micro-kernels do.
 *
 * The list's next B rows are prefetched FNN_SPARSE_PREFETCH entries ahead: the rows are chosen by
 * the data, so the hardware prefetcher cannot see them coming.
 */
#ifndef FNN_GEMM_UKR_SPARSE_H
#define FNN_GEMM_UKR_SPARSE_H
#include <stdint.h>
#include "fnn_gemm_ukr.h"

#define FNN_SPARSE_PREFETCH 8

/* The reference kernels, float and double: NW = 64 / 32 columns (the AVX2 kernels' width). */
#define FNN_GEMM_SPARSE_GENERIC(NAME, T, NW)                                                      \
static void NAME(int64_t rows, const int32_t *cnt, const int32_t *idx, const T *val,             \
                 int64_t cap, const T *b, int64_t b_rs, T *c, int64_t rs_c, int64_t n)           \
{                                                                                                 \
    int64_t r, p, j;                                                                              \
    for (r = 0; r < rows; r++) {                                                                  \
        const int32_t *ix = idx + r * cap;                                                        \
        const T *v = val + r * cap;                                                               \
        T acc[NW];                                                                                \
        for (j = 0; j < n; j++)                                                                   \
            acc[j] = (T)0;                                                                        \
        for (p = 0; p < cnt[r]; p++) {                                                            \
            const T a = v[p], *brow = b + (int64_t)ix[p] * b_rs;                                  \
            for (j = 0; j < n; j++)                                                               \
                acc[j] += a * brow[j];                                                            \
        }                                                                                         \
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
 * Per list entry: 8 loads of the B row segment (4 cache lines), 8 FMAs.  A partial tile (n < NW)
 * loads through a mask: the lanes past n read nothing and are never stored. */
#define FNN_GEMM_SPARSE_AVX2(NAME, T, V, L, SET1, SETZERO, LOAD, MASKLOAD, MASKSTORE, STORE, FMA,  \
                             MASK_T, MASK_SET)                                                    \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t rows, const int32_t *cnt, const int32_t *idx, const T *val,             \
                 int64_t cap, const T *b, int64_t b_rs, T *c, int64_t rs_c, int64_t n)           \
{                                                                                                 \
    int64_t r, p;                                                                                 \
    int t;                                                                                        \
    MASK_T m[8];                                                                                  \
    for (t = 0; t < 8; t++)                                                                       \
        m[t] = MASK_SET(n - (int64_t)t * L);                                                      \
    for (r = 0; r < rows; r++) {                                                                  \
        const int32_t *ix = idx + r * cap;                                                        \
        const T *v = val + r * cap;                                                               \
        const int64_t np = cnt[r];                                                                \
        V c0 = SETZERO(), c1 = SETZERO(), c2 = SETZERO(), c3 = SETZERO();                         \
        V c4 = SETZERO(), c5 = SETZERO(), c6 = SETZERO(), c7 = SETZERO();                         \
        T *cr = c + r * rs_c;                                                                     \
        if (n == 8 * L) {                                                                         \
            for (p = 0; p < np; p++) {                                                            \
                const T *br = b + (int64_t)ix[p] * b_rs;                                          \
                const V a = SET1(v[p]);                                                           \
                if (p + FNN_SPARSE_PREFETCH < np) {                                               \
                    const char *q = (const char *)(b + (int64_t)ix[p + FNN_SPARSE_PREFETCH]       \
                                                   * b_rs);                                       \
                    _mm_prefetch(q, _MM_HINT_T0); _mm_prefetch(q + 64, _MM_HINT_T0);              \
                    _mm_prefetch(q + 128, _MM_HINT_T0); _mm_prefetch(q + 192, _MM_HINT_T0);       \
                }                                                                                 \
                c0 = FMA(a, LOAD(br + 0 * L), c0); c1 = FMA(a, LOAD(br + 1 * L), c1);             \
                c2 = FMA(a, LOAD(br + 2 * L), c2); c3 = FMA(a, LOAD(br + 3 * L), c3);             \
                c4 = FMA(a, LOAD(br + 4 * L), c4); c5 = FMA(a, LOAD(br + 5 * L), c5);             \
                c6 = FMA(a, LOAD(br + 6 * L), c6); c7 = FMA(a, LOAD(br + 7 * L), c7);             \
            }                                                                                     \
            STORE(cr + 0 * L, c0); STORE(cr + 1 * L, c1); STORE(cr + 2 * L, c2);                  \
            STORE(cr + 3 * L, c3); STORE(cr + 4 * L, c4); STORE(cr + 5 * L, c5);                  \
            STORE(cr + 6 * L, c6); STORE(cr + 7 * L, c7);                                         \
        } else {                                                                                  \
            for (p = 0; p < np; p++) {                                                            \
                const T *br = b + (int64_t)ix[p] * b_rs;                                          \
                const V a = SET1(v[p]);                                                           \
                c0 = FMA(a, MASKLOAD(br + 0 * L, m[0]), c0);                                      \
                c1 = FMA(a, MASKLOAD(br + 1 * L, m[1]), c1);                                      \
                c2 = FMA(a, MASKLOAD(br + 2 * L, m[2]), c2);                                      \
                c3 = FMA(a, MASKLOAD(br + 3 * L, m[3]), c3);                                      \
                c4 = FMA(a, MASKLOAD(br + 4 * L, m[4]), c4);                                      \
                c5 = FMA(a, MASKLOAD(br + 5 * L, m[5]), c5);                                      \
                c6 = FMA(a, MASKLOAD(br + 6 * L, m[6]), c6);                                      \
                c7 = FMA(a, MASKLOAD(br + 7 * L, m[7]), c7);                                      \
            }                                                                                     \
            MASKSTORE(cr + 0 * L, m[0], c0); MASKSTORE(cr + 1 * L, m[1], c1);                     \
            MASKSTORE(cr + 2 * L, m[2], c2); MASKSTORE(cr + 3 * L, m[3], c3);                     \
            MASKSTORE(cr + 4 * L, m[4], c4); MASKSTORE(cr + 5 * L, m[5], c5);                     \
            MASKSTORE(cr + 6 * L, m[6], c6); MASKSTORE(cr + 7 * L, m[7], c7);                     \
        }                                                                                         \
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
