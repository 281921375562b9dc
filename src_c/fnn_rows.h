/* The loops of the rows family (fastnn/kernels/_rows.pyx): sum_rows' column loop and take_rows'
 * row copy.
 *
 * sum_rows: s[j] = ((0 + a[0][j]) + a[1][j]) + ... + a[N-1][j], rows added in order from +0.0
 * (as NumPy's sum: a column of -0.0 sums to +0.0).
 * One loop (fnn_sum_rows_body, always inlined) compiled twice side by side: _generic (the
 * portable baseline, SSE2 on x86-64) and _avx2 (the same code under target("avx2"): 8 floats or
 * 4 doubles a vector); the dispatcher takes the level to run as `int simd` (fnn_cpu.h).  Each
 * output element is its own chain of additions in row order whatever the vector width, so every
 * level, a vector body and its scalar remainder give the same bits.
 *
 * The columns [j0, j1) are walked in blocks that keep their partial sums in L1 while all N rows
 * stream past; the caller splits the columns between threads (each thread owns its columns, so
 * no sum depends on the thread count).
 */
#ifndef FNN_ROWS_H
#define FNN_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fnn_cpu.h"

#if defined(__GNUC__) || defined(__clang__)
#define FNN_ROWS_INLINE static inline __attribute__((always_inline))
#else
#define FNN_ROWS_INLINE static inline
#endif

/* columns per block: the block's sums (8 KB in float32) stay in L1 */
#define FNN_ROWS_BLOCK 2048

#define FNN_SUM_ROWS_BODY(T, NAME)                                                          \
FNN_ROWS_INLINE void NAME(const T *restrict a, T *restrict s, ptrdiff_t N, ptrdiff_t M,     \
                          ptrdiff_t j0, ptrdiff_t j1)                                       \
{                                                                                           \
    for (ptrdiff_t b = j0; b < j1; b += FNN_ROWS_BLOCK) {                                   \
        ptrdiff_t e = b + FNN_ROWS_BLOCK < j1 ? b + FNN_ROWS_BLOCK : j1;                    \
        for (ptrdiff_t j = b; j < e; j++)                                                   \
            s[j] = 0;                                                                       \
        for (ptrdiff_t i = 0; i < N; i++) {                                                 \
            const T *r = a + i * M;                                                         \
            for (ptrdiff_t j = b; j < e; j++)                                               \
                s[j] += r[j];                                                               \
        }                                                                                   \
    }                                                                                       \
}

FNN_SUM_ROWS_BODY(float, fnn_sum_rows_f32_body)
FNN_SUM_ROWS_BODY(double, fnn_sum_rows_f64_body)

static void fnn_sum_rows_f32_generic(const float *a, float *s, ptrdiff_t N, ptrdiff_t M,
                                     ptrdiff_t j0, ptrdiff_t j1)
{
    fnn_sum_rows_f32_body(a, s, N, M, j0, j1);
}

static void fnn_sum_rows_f64_generic(const double *a, double *s, ptrdiff_t N, ptrdiff_t M,
                                     ptrdiff_t j0, ptrdiff_t j1)
{
    fnn_sum_rows_f64_body(a, s, N, M, j0, j1);
}

#if FNN_X86
__attribute__((target("avx2")))
static void fnn_sum_rows_f32_avx2(const float *a, float *s, ptrdiff_t N, ptrdiff_t M,
                                  ptrdiff_t j0, ptrdiff_t j1)
{
    fnn_sum_rows_f32_body(a, s, N, M, j0, j1);
}

__attribute__((target("avx2")))
static void fnn_sum_rows_f64_avx2(const double *a, double *s, ptrdiff_t N, ptrdiff_t M,
                                  ptrdiff_t j0, ptrdiff_t j1)
{
    fnn_sum_rows_f64_body(a, s, N, M, j0, j1);
}
#endif

/* s[j0:j1] = the row sums of a (N, M, C order) over those columns, at the best level <= simd */
static inline void fnn_sum_rows_s(int simd, const float *a, float *s, ptrdiff_t N, ptrdiff_t M,
                                  ptrdiff_t j0, ptrdiff_t j1)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX2) { fnn_sum_rows_f32_avx2(a, s, N, M, j0, j1); return; }
#endif
    (void)simd;
    fnn_sum_rows_f32_generic(a, s, N, M, j0, j1);
}

static inline void fnn_sum_rows_d(int simd, const double *a, double *s, ptrdiff_t N,
                                  ptrdiff_t M, ptrdiff_t j0, ptrdiff_t j1)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX2) { fnn_sum_rows_f64_avx2(a, s, N, M, j0, j1); return; }
#endif
    (void)simd;
    fnn_sum_rows_f64_generic(a, s, N, M, j0, j1);
}

/* ---------------------------------------------------------------- take_rows */

/* dst row i = src row idx[i] for i in [i0, i1), each row_bytes bytes; a negative index counts
 * from the end (k + n, as NumPy's), and one still outside [0, n) is not read but counted (the
 * return value).  One memcpy a row: the rows of a shuffled batch
 * lie far apart, so the copy waits on memory whatever moves the bytes (software prefetching of
 * the next rows and a hand-written vector copy were no faster, docs/kernels/rows.md); the
 * caller's threads, each copying its own run of rows, keep more of those reads in flight. */
static inline ptrdiff_t fnn_take_rows(const char *src, char *dst, const int64_t *idx,
                                      ptrdiff_t i0, ptrdiff_t i1, size_t row_bytes, int64_t n)
{
    ptrdiff_t bad = 0;
    for (ptrdiff_t i = i0; i < i1; i++) {
        int64_t k = idx[i];
        k += k < 0 ? n : 0;
        if (k < 0 || k >= n) {
            bad++;
            continue;
        }
        memcpy(dst + (size_t)i * row_bytes, src + (size_t)k * row_bytes, row_bytes);
    }
    return bad;
}

#endif
