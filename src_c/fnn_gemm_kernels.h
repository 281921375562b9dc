/* Private to fnn_gemm.c: the MR x NR micro-kernels and the MXCSR helpers.
 *
 * A micro-kernel computes one MR x NR tile of C from a packed A micro-panel (kc steps of MR
 * values) and a packed B micro-panel (kc steps of NR values):
 *     C[r][j] (+)= sum_k a[k*MR + r] * b[k*NR + j]        (k ascending, one FMA chain per element)
 * `load` = 0 starts the accumulators at zero (C is write-only), `load` = 1 continues the chain
 * from the values already in C (the previous k-block, or beta*C).  C is addressed as c[r*rs_c + j]
 * (unit column stride); the driver gives a private MR x NR scratch tile when the real C tile is
 * partial or not row-contiguous.
 *
 * Every element's k loop runs in the same order in every tile, edge or not (edges are
 * zero-padded, never a different kernel), so where a tile starts never changes a result.
 */
#ifndef FNN_GEMM_KERNELS_H
#define FNN_GEMM_KERNELS_H
#include <stdint.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define FNN_X86_GNUC 1
#include <immintrin.h>
#else
#define FNN_X86_GNUC 0
#endif

#define FNN_S_MR 6
#define FNN_S_NR 16
#define FNN_D_MR 6
#define FNN_D_NR 8

typedef void (*fnn_sukr_t)(int64_t kc, const float *a, const float *b, float *c, int64_t rs_c,
                           int load);
typedef void (*fnn_dukr_t)(int64_t kc, const double *a, const double *b, double *c, int64_t rs_c,
                           int load);

/* "Direct" variants read A in place (element (r, k) at a[r*a_rs + k*a_cs]) instead of from a
 * packed panel.  Used when each A micro-panel would meet only one or two B micro-panels (a
 * skinny output, N <= 2*NR), where packing A would cost as much as the arithmetic.  Same FMA
 * chain per element as the packed kernels, so the same bits. */
typedef void (*fnn_sukr_direct_t)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                                  const float *b, float *c, int64_t rs_c, int load);
typedef void (*fnn_dukr_direct_t)(int64_t kc, const double *a, int64_t a_rs, int64_t a_cs,
                                  const double *b, double *c, int64_t rs_c, int load);

/* ---- generic C micro-kernels: the portable fallback, same tile shape, plain loops ---------- */
static void fnn_sukr_generic(int64_t kc, const float *a, const float *b, float *c, int64_t rs_c,
                             int load)
{
    float acc[FNN_S_MR][FNN_S_NR];
    int64_t k;
    int r, j;
    for (r = 0; r < FNN_S_MR; r++)
        for (j = 0; j < FNN_S_NR; j++)
            acc[r][j] = load ? c[r * rs_c + j] : 0.0f;
    for (k = 0; k < kc; k++, a += FNN_S_MR, b += FNN_S_NR)
        for (r = 0; r < FNN_S_MR; r++)
            for (j = 0; j < FNN_S_NR; j++)
                acc[r][j] += a[r] * b[j];
    for (r = 0; r < FNN_S_MR; r++)
        for (j = 0; j < FNN_S_NR; j++)
            c[r * rs_c + j] = acc[r][j];
}

static void fnn_dukr_generic(int64_t kc, const double *a, const double *b, double *c,
                             int64_t rs_c, int load)
{
    double acc[FNN_D_MR][FNN_D_NR];
    int64_t k;
    int r, j;
    for (r = 0; r < FNN_D_MR; r++)
        for (j = 0; j < FNN_D_NR; j++)
            acc[r][j] = load ? c[r * rs_c + j] : 0.0;
    for (k = 0; k < kc; k++, a += FNN_D_MR, b += FNN_D_NR)
        for (r = 0; r < FNN_D_MR; r++)
            for (j = 0; j < FNN_D_NR; j++)
                acc[r][j] += a[r] * b[j];
    for (r = 0; r < FNN_D_MR; r++)
        for (j = 0; j < FNN_D_NR; j++)
            c[r * rs_c + j] = acc[r][j];
}

#define FNN_GENERIC_DIRECT(NAME, T, MR, NR)                                                       \
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
FNN_GENERIC_DIRECT(fnn_sukr_direct_generic, float, FNN_S_MR, FNN_S_NR)
FNN_GENERIC_DIRECT(fnn_dukr_direct_generic, double, FNN_D_MR, FNN_D_NR)
#undef FNN_GENERIC_DIRECT

#if FNN_X86_GNUC
/* ---- AVX2 + FMA micro-kernels --------------------------------------------------------------
 * float 6x16: 12 ymm accumulators (6 rows x 2 vectors of 8) + 2 for the B row + 1 broadcast = 15
 * of the 16 ymm registers, so nothing spills.  Per k: 2 aligned loads of B, 6 broadcasts of A,
 * 12 FMAs; Zen3 issues 2 FMAs/cycle, so the loads and broadcasts hide behind the FMAs.  The packed
 * B panel is 64-byte aligned and NR*sizeof(T) = 64 bytes, so every B load is aligned. */
#define FNN_S_ROW(r)                                                                              \
    do {                                                                                          \
        __m256 ar = _mm256_broadcast_ss(a + (r));                                                 \
        c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);                                               \
        c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);                                               \
    } while (0)

__attribute__((target("avx2,fma")))
static void fnn_sukr_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t rs_c,
                          int load)
{
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    int64_t k;
    if (load) {
        c00 = _mm256_loadu_ps(c + 0 * rs_c); c01 = _mm256_loadu_ps(c + 0 * rs_c + 8);
        c10 = _mm256_loadu_ps(c + 1 * rs_c); c11 = _mm256_loadu_ps(c + 1 * rs_c + 8);
        c20 = _mm256_loadu_ps(c + 2 * rs_c); c21 = _mm256_loadu_ps(c + 2 * rs_c + 8);
        c30 = _mm256_loadu_ps(c + 3 * rs_c); c31 = _mm256_loadu_ps(c + 3 * rs_c + 8);
        c40 = _mm256_loadu_ps(c + 4 * rs_c); c41 = _mm256_loadu_ps(c + 4 * rs_c + 8);
        c50 = _mm256_loadu_ps(c + 5 * rs_c); c51 = _mm256_loadu_ps(c + 5 * rs_c + 8);
    } else {
        c00 = c01 = c10 = c11 = c20 = c21 = _mm256_setzero_ps();
        c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
    }
    for (k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b);
        __m256 b1 = _mm256_load_ps(b + 8);
        /* The next B rows are two cache lines ahead in the packed stream; the hardware
         * prefetcher follows the A and B streams, an explicit hint for B helps at small kc. */
        _mm_prefetch((const char *)(b + 8 * FNN_S_NR), _MM_HINT_T0);
        FNN_S_ROW(0); FNN_S_ROW(1); FNN_S_ROW(2);
        FNN_S_ROW(3); FNN_S_ROW(4); FNN_S_ROW(5);
        a += FNN_S_MR;
        b += FNN_S_NR;
    }
    _mm256_storeu_ps(c + 0 * rs_c, c00); _mm256_storeu_ps(c + 0 * rs_c + 8, c01);
    _mm256_storeu_ps(c + 1 * rs_c, c10); _mm256_storeu_ps(c + 1 * rs_c + 8, c11);
    _mm256_storeu_ps(c + 2 * rs_c, c20); _mm256_storeu_ps(c + 2 * rs_c + 8, c21);
    _mm256_storeu_ps(c + 3 * rs_c, c30); _mm256_storeu_ps(c + 3 * rs_c + 8, c31);
    _mm256_storeu_ps(c + 4 * rs_c, c40); _mm256_storeu_ps(c + 4 * rs_c + 8, c41);
    _mm256_storeu_ps(c + 5 * rs_c, c50); _mm256_storeu_ps(c + 5 * rs_c + 8, c51);
}
#undef FNN_S_ROW

/* double 6x8: the same register plan with 4 doubles per ymm. */
#define FNN_D_ROW(r)                                                                              \
    do {                                                                                          \
        __m256d ar = _mm256_broadcast_sd(a + (r));                                                \
        c##r##0 = _mm256_fmadd_pd(ar, b0, c##r##0);                                               \
        c##r##1 = _mm256_fmadd_pd(ar, b1, c##r##1);                                               \
    } while (0)

__attribute__((target("avx2,fma")))
static void fnn_dukr_avx2(int64_t kc, const double *a, const double *b, double *c, int64_t rs_c,
                          int load)
{
    __m256d c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    int64_t k;
    if (load) {
        c00 = _mm256_loadu_pd(c + 0 * rs_c); c01 = _mm256_loadu_pd(c + 0 * rs_c + 4);
        c10 = _mm256_loadu_pd(c + 1 * rs_c); c11 = _mm256_loadu_pd(c + 1 * rs_c + 4);
        c20 = _mm256_loadu_pd(c + 2 * rs_c); c21 = _mm256_loadu_pd(c + 2 * rs_c + 4);
        c30 = _mm256_loadu_pd(c + 3 * rs_c); c31 = _mm256_loadu_pd(c + 3 * rs_c + 4);
        c40 = _mm256_loadu_pd(c + 4 * rs_c); c41 = _mm256_loadu_pd(c + 4 * rs_c + 4);
        c50 = _mm256_loadu_pd(c + 5 * rs_c); c51 = _mm256_loadu_pd(c + 5 * rs_c + 4);
    } else {
        c00 = c01 = c10 = c11 = c20 = c21 = _mm256_setzero_pd();
        c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_pd();
    }
    for (k = 0; k < kc; k++) {
        __m256d b0 = _mm256_load_pd(b);
        __m256d b1 = _mm256_load_pd(b + 4);
        _mm_prefetch((const char *)(b + 8 * FNN_D_NR), _MM_HINT_T0);
        FNN_D_ROW(0); FNN_D_ROW(1); FNN_D_ROW(2);
        FNN_D_ROW(3); FNN_D_ROW(4); FNN_D_ROW(5);
        a += FNN_D_MR;
        b += FNN_D_NR;
    }
    _mm256_storeu_pd(c + 0 * rs_c, c00); _mm256_storeu_pd(c + 0 * rs_c + 4, c01);
    _mm256_storeu_pd(c + 1 * rs_c, c10); _mm256_storeu_pd(c + 1 * rs_c + 4, c11);
    _mm256_storeu_pd(c + 2 * rs_c, c20); _mm256_storeu_pd(c + 2 * rs_c + 4, c21);
    _mm256_storeu_pd(c + 3 * rs_c, c30); _mm256_storeu_pd(c + 3 * rs_c + 4, c31);
    _mm256_storeu_pd(c + 4 * rs_c, c40); _mm256_storeu_pd(c + 4 * rs_c + 4, c41);
    _mm256_storeu_pd(c + 5 * rs_c, c50); _mm256_storeu_pd(c + 5 * rs_c + 4, c51);
}
#undef FNN_D_ROW

/* Direct-A AVX2 kernels: the six A values of step k come from six row pointers. */
#define FNN_AVX_DIRECT(NAME, T, VT, LOADU, LOAD, STOREU, BCAST, FMADD, ZERO, W)                  \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b, T *c,           \
                 int64_t rs_c, int load)                                                          \
{                                                                                                 \
    VT c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;                                \
    const T *a0 = a, *a1 = a + a_rs, *a2 = a + 2 * a_rs, *a3 = a + 3 * a_rs, *a4 = a + 4 * a_rs, \
            *a5 = a + 5 * a_rs;                                                                   \
    int64_t k, off;                                                                               \
    if (load) {                                                                                   \
        c00 = LOADU(c + 0 * rs_c); c01 = LOADU(c + 0 * rs_c + W);                                 \
        c10 = LOADU(c + 1 * rs_c); c11 = LOADU(c + 1 * rs_c + W);                                 \
        c20 = LOADU(c + 2 * rs_c); c21 = LOADU(c + 2 * rs_c + W);                                 \
        c30 = LOADU(c + 3 * rs_c); c31 = LOADU(c + 3 * rs_c + W);                                 \
        c40 = LOADU(c + 4 * rs_c); c41 = LOADU(c + 4 * rs_c + W);                                 \
        c50 = LOADU(c + 5 * rs_c); c51 = LOADU(c + 5 * rs_c + W);                                 \
    } else {                                                                                      \
        c00 = c01 = c10 = c11 = c20 = c21 = ZERO();                                               \
        c30 = c31 = c40 = c41 = c50 = c51 = ZERO();                                               \
    }                                                                                             \
    for (k = 0, off = 0; k < kc; k++, off += a_cs, b += 2 * W) {                                  \
        VT b0 = LOAD(b), b1 = LOAD(b + W), ar;                                                    \
        ar = BCAST(a0 + off); c00 = FMADD(ar, b0, c00); c01 = FMADD(ar, b1, c01);                 \
        ar = BCAST(a1 + off); c10 = FMADD(ar, b0, c10); c11 = FMADD(ar, b1, c11);                 \
        ar = BCAST(a2 + off); c20 = FMADD(ar, b0, c20); c21 = FMADD(ar, b1, c21);                 \
        ar = BCAST(a3 + off); c30 = FMADD(ar, b0, c30); c31 = FMADD(ar, b1, c31);                 \
        ar = BCAST(a4 + off); c40 = FMADD(ar, b0, c40); c41 = FMADD(ar, b1, c41);                 \
        ar = BCAST(a5 + off); c50 = FMADD(ar, b0, c50); c51 = FMADD(ar, b1, c51);                 \
    }                                                                                             \
    STOREU(c + 0 * rs_c, c00); STOREU(c + 0 * rs_c + W, c01);                                     \
    STOREU(c + 1 * rs_c, c10); STOREU(c + 1 * rs_c + W, c11);                                     \
    STOREU(c + 2 * rs_c, c20); STOREU(c + 2 * rs_c + W, c21);                                     \
    STOREU(c + 3 * rs_c, c30); STOREU(c + 3 * rs_c + W, c31);                                     \
    STOREU(c + 4 * rs_c, c40); STOREU(c + 4 * rs_c + W, c41);                                     \
    STOREU(c + 5 * rs_c, c50); STOREU(c + 5 * rs_c + W, c51);                                     \
}
FNN_AVX_DIRECT(fnn_sukr_direct_avx2, float, __m256, _mm256_loadu_ps, _mm256_load_ps,
               _mm256_storeu_ps, _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_setzero_ps, 8)
FNN_AVX_DIRECT(fnn_dukr_direct_avx2, double, __m256d, _mm256_loadu_pd, _mm256_load_pd,
               _mm256_storeu_pd, _mm256_broadcast_sd, _mm256_fmadd_pd, _mm256_setzero_pd, 4)
#undef FNN_AVX_DIRECT

/* Denormal inputs or results make x86 FP units take a microcode assist (~100x slower per op);
 * near-zero gradients and weights in training produce them, costing 25-50% of a training step.
 * FTZ (bit 15) flushes denormal results to zero and DAZ (bit 6) reads denormal inputs as zero.
 * Set per thread (MXCSR is per thread) for the kernel's duration and restored afterwards so the
 * caller's floating-point environment is untouched. */
static inline unsigned fnn_ftz_enter(void)
{
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    return old;
}
static inline void fnn_ftz_leave(unsigned old) { _mm_setcsr(old); }
#else
static inline unsigned fnn_ftz_enter(void) { return 0; }
static inline void fnn_ftz_leave(unsigned old) { (void)old; }
#endif /* FNN_X86_GNUC */

#endif /* FNN_GEMM_KERNELS_H */
