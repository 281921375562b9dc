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
 * Per list entry: 8 loads of the B row segment (from L1: the k-block's tile, 16 KB, stays there
 * while every row goes through it), 8 FMAs.  A partial tile (n < NW) loads through a mask: the lanes past n read nothing
 * and are never stored. */
#define FNN_GEMM_SPARSE_AVX2(NAME, T, V, L, SET1, SETZERO, LOAD, MASKLOAD, MASKSTORE, STORE, FMA,  \
                             MASK_T, MASK_SET)                                                    \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t rows, const int32_t *cnt, int32_t *pos, const int32_t *idx,             \
                 const T *val, int64_t cap, int64_t kbase, int64_t kend, const T *b,              \
                 int64_t b_rs, T *c, int64_t rs_c, int64_t n, int load)                           \
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
        T *cr = c + r * rs_c;                                                                     \
        V c0, c1, c2, c3, c4, c5, c6, c7;                                                         \
        p = pos[r];                                                                               \
        if (n == 8 * L) {                                                                         \
            if (load) {                                                                           \
                c0 = LOAD(cr + 0 * L); c1 = LOAD(cr + 1 * L); c2 = LOAD(cr + 2 * L);              \
                c3 = LOAD(cr + 3 * L); c4 = LOAD(cr + 4 * L); c5 = LOAD(cr + 5 * L);              \
                c6 = LOAD(cr + 6 * L); c7 = LOAD(cr + 7 * L);                                     \
            } else {                                                                              \
                c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = SETZERO();                                \
            }                                                                                     \
            for (; p < np && ix[p] < kend; p++) {                                                 \
                const T *br = b + ((int64_t)ix[p] - kbase) * b_rs;                                          \
                const V a = SET1(v[p]);                                                           \
                c0 = FMA(a, LOAD(br + 0 * L), c0); c1 = FMA(a, LOAD(br + 1 * L), c1);             \
                c2 = FMA(a, LOAD(br + 2 * L), c2); c3 = FMA(a, LOAD(br + 3 * L), c3);             \
                c4 = FMA(a, LOAD(br + 4 * L), c4); c5 = FMA(a, LOAD(br + 5 * L), c5);             \
                c6 = FMA(a, LOAD(br + 6 * L), c6); c7 = FMA(a, LOAD(br + 7 * L), c7);             \
            }                                                                                     \
            STORE(cr + 0 * L, c0); STORE(cr + 1 * L, c1); STORE(cr + 2 * L, c2);                  \
            STORE(cr + 3 * L, c3); STORE(cr + 4 * L, c4); STORE(cr + 5 * L, c5);                  \
            STORE(cr + 6 * L, c6); STORE(cr + 7 * L, c7);                                         \
        } else {                                                                                  \
            if (load) {                                                                           \
                c0 = MASKLOAD(cr + 0 * L, m[0]); c1 = MASKLOAD(cr + 1 * L, m[1]);                 \
                c2 = MASKLOAD(cr + 2 * L, m[2]); c3 = MASKLOAD(cr + 3 * L, m[3]);                 \
                c4 = MASKLOAD(cr + 4 * L, m[4]); c5 = MASKLOAD(cr + 5 * L, m[5]);                 \
                c6 = MASKLOAD(cr + 6 * L, m[6]); c7 = MASKLOAD(cr + 7 * L, m[7]);                 \
            } else {                                                                              \
                c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = SETZERO();                                \
            }                                                                                     \
            for (; p < np && ix[p] < kend; p++) {                                                 \
                const T *br = b + ((int64_t)ix[p] - kbase) * b_rs;                                          \
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
        pos[r] = (int32_t)p;                                                                      \
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
