/* Private to fnn_gemm.c: the AVX2 + FMA micro-kernels (FNN_SIMD_AVX2), x86 with GCC or clang.
 *
 * Same interface, tile shapes and k order as the reference kernels in fnn_gemm_ukr_generic.h
 * (described in fnn_gemm_ukr.h); each element is one fused multiply-add chain.  The functions
 * carry __attribute__((target("avx2,fma"))), so the package is built with portable flags and
 * these run only when the SIMD level passed to fnn_sgemm/fnn_dgemm allows them.
 *
 * Register plan, float 6 x 16: 12 ymm accumulators (6 rows x 2 vectors of 8) + 2 for the B row
 * + 1 broadcast of A = 15 of the 16 ymm registers, so nothing spills.  Per k: 2 aligned loads of
 * B, 6 broadcasts of A, 12 FMAs: the FMAs, not the loads, are the bottleneck.  The packed B panel
 * is 64-byte aligned and NR*sizeof(T) = 64 bytes, so every B load is aligned.  Double 6 x 8 is
 * the same plan with 4 doubles per ymm.  The k loop is unrolled by 4 (the loop counter and
 * pointer updates shared by four steps; measured in docs/engineering-notes.md); the order of the
 * FMAs of each element is unchanged, so are the bits.
 */
#ifndef FNN_GEMM_UKR_AVX2_H
#define FNN_GEMM_UKR_AVX2_H
#include <stdint.h>
#include <immintrin.h>
#include "fnn_gemm_ukr.h"

/* float, 6 x 16 tile from packed A and B panels */
#define FNN_S_ROW(r)                                                                              \
    do {                                                                                          \
        __m256 ar = _mm256_broadcast_ss(a + (r));                                                 \
        c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);                                               \
        c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);                                               \
    } while (0)

__attribute__((target("avx2,fma")))
static void fnn_sgemm_ukr_avx2_6x16(int64_t kc, const float *a, const float *b, float *c,
                                    int64_t rs_c, int load)
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
    #pragma GCC unroll 4
    for (k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b);
        __m256 b1 = _mm256_load_ps(b + 8);
        /* The next B rows are two cache lines ahead in the packed stream; the hardware
         * prefetcher follows the A and B streams, an explicit hint for B helps at small kc. */
        _mm_prefetch((const char *)(b + 8 * 16), _MM_HINT_T0);
        FNN_S_ROW(0); FNN_S_ROW(1); FNN_S_ROW(2);
        FNN_S_ROW(3); FNN_S_ROW(4); FNN_S_ROW(5);
        a += 6;
        b += 16;
    }
    _mm256_storeu_ps(c + 0 * rs_c, c00); _mm256_storeu_ps(c + 0 * rs_c + 8, c01);
    _mm256_storeu_ps(c + 1 * rs_c, c10); _mm256_storeu_ps(c + 1 * rs_c + 8, c11);
    _mm256_storeu_ps(c + 2 * rs_c, c20); _mm256_storeu_ps(c + 2 * rs_c + 8, c21);
    _mm256_storeu_ps(c + 3 * rs_c, c30); _mm256_storeu_ps(c + 3 * rs_c + 8, c31);
    _mm256_storeu_ps(c + 4 * rs_c, c40); _mm256_storeu_ps(c + 4 * rs_c + 8, c41);
    _mm256_storeu_ps(c + 5 * rs_c, c50); _mm256_storeu_ps(c + 5 * rs_c + 8, c51);
}
#undef FNN_S_ROW

/* Stays a twin of the float tile above: one micro-kernel per type, written out so that each
 * register plan reads whole (BLIS style). */
/* double, 6 x 8 tile from packed A and B panels */
#define FNN_D_ROW(r)                                                                              \
    do {                                                                                          \
        __m256d ar = _mm256_broadcast_sd(a + (r));                                                \
        c##r##0 = _mm256_fmadd_pd(ar, b0, c##r##0);                                               \
        c##r##1 = _mm256_fmadd_pd(ar, b1, c##r##1);                                               \
    } while (0)

__attribute__((target("avx2,fma")))
static void fnn_dgemm_ukr_avx2_6x8(int64_t kc, const double *a, const double *b, double *c,
                                   int64_t rs_c, int load)
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
    #pragma GCC unroll 4
    for (k = 0; k < kc; k++) {
        __m256d b0 = _mm256_load_pd(b);
        __m256d b1 = _mm256_load_pd(b + 4);
        _mm_prefetch((const char *)(b + 8 * 8), _MM_HINT_T0);
        FNN_D_ROW(0); FNN_D_ROW(1); FNN_D_ROW(2);
        FNN_D_ROW(3); FNN_D_ROW(4); FNN_D_ROW(5);
        a += 6;
        b += 8;
    }
    _mm256_storeu_pd(c + 0 * rs_c, c00); _mm256_storeu_pd(c + 0 * rs_c + 4, c01);
    _mm256_storeu_pd(c + 1 * rs_c, c10); _mm256_storeu_pd(c + 1 * rs_c + 4, c11);
    _mm256_storeu_pd(c + 2 * rs_c, c20); _mm256_storeu_pd(c + 2 * rs_c + 4, c21);
    _mm256_storeu_pd(c + 3 * rs_c, c30); _mm256_storeu_pd(c + 3 * rs_c + 4, c31);
    _mm256_storeu_pd(c + 4 * rs_c, c40); _mm256_storeu_pd(c + 4 * rs_c + 4, c41);
    _mm256_storeu_pd(c + 5 * rs_c, c50); _mm256_storeu_pd(c + 5 * rs_c + 4, c51);
}
#undef FNN_D_ROW

/* The direct variants (A read in place: the six A values of step k come from six row
 * pointers), float 6 x 16 and double 6 x 8: one body written once for both element types. */
#define FNN_GEMM_UKR_AVX2_DIRECT(NAME, T, VT, LOADU, LOAD, STOREU, BCAST, FMADD, ZERO, W)        \
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
FNN_GEMM_UKR_AVX2_DIRECT(fnn_sgemm_ukr_avx2_direct_6x16, float, __m256, _mm256_loadu_ps,
                         _mm256_load_ps, _mm256_storeu_ps, _mm256_broadcast_ss, _mm256_fmadd_ps,
                         _mm256_setzero_ps, 8)
FNN_GEMM_UKR_AVX2_DIRECT(fnn_dgemm_ukr_avx2_direct_6x8, double, __m256d, _mm256_loadu_pd,
                         _mm256_load_pd, _mm256_storeu_pd, _mm256_broadcast_sd, _mm256_fmadd_pd,
                         _mm256_setzero_pd, 4)
#undef FNN_GEMM_UKR_AVX2_DIRECT

/* The edge kernels, packed A and B as in the full tile: the top ROWS (2 or 4) rows of a tile
 * ("top", the last row panel of an M that leaves 1-4 rows) and the left vector of the top ROWS
 * (2, 4 or 6) rows ("left", the last column panel when it holds at most W columns).  The full
 * kernel would compute the padding at full cost; an edge kernel skips it, with the same chain
 * per element, so the same bits.  With fewer than 8 accumulators an edge kernel waits on the
 * FMA latency rather than the ports, so it saves less than its share of FMAs: still a third of
 * the panel's time for top 4. */
#define FNN_AVX2_EDGE_ROW(r)                                                                      \
    if (ROWS > r) {                                                                               \
        VT ar = BCAST(a + (r));                                                                   \
        c##r##0 = FMADD(ar, b0, c##r##0);                                                         \
        if (VECS > 1)                                                                             \
            c##r##1 = FMADD(ar, b1, c##r##1);                                                     \
    }
#define FNN_AVX2_EDGE_LOAD_C(r)                                                                   \
    if (ROWS > r) {                                                                               \
        c##r##0 = LOADU(c + (r) * rs_c);                                                          \
        if (VECS > 1)                                                                             \
            c##r##1 = LOADU(c + (r) * rs_c + W);                                                  \
    }
#define FNN_AVX2_EDGE_STORE_C(r)                                                                  \
    if (ROWS > r) {                                                                               \
        STOREU(c + (r) * rs_c, c##r##0);                                                          \
        if (VECS > 1)                                                                             \
            STOREU(c + (r) * rs_c + W, c##r##1);                                                  \
    }
#define FNN_GEMM_UKR_AVX2_EDGE(NAME, NROWS, NVECS)                                               \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t kc, const T *a, const T *b, T *c, int64_t rs_c, int load)               \
{                                                                                                 \
    enum { ROWS = NROWS, VECS = NVECS };                                                          \
    VT c00 = ZERO(), c01 = ZERO(), c10 = ZERO(), c11 = ZERO(), c20 = ZERO(), c21 = ZERO();        \
    VT c30 = ZERO(), c31 = ZERO(), c40 = ZERO(), c41 = ZERO(), c50 = ZERO(), c51 = ZERO();        \
    int64_t k;                                                                                    \
    if (load) {                                                                                   \
        FNN_AVX2_EDGE_LOAD_C(0) FNN_AVX2_EDGE_LOAD_C(1) FNN_AVX2_EDGE_LOAD_C(2)                   \
        FNN_AVX2_EDGE_LOAD_C(3) FNN_AVX2_EDGE_LOAD_C(4) FNN_AVX2_EDGE_LOAD_C(5)                   \
    }                                                                                             \
    for (k = 0; k < kc; k++) {                                                                    \
        VT b0 = LOAD(b), b1 = VECS > 1 ? LOAD(b + W) : b0;                                        \
        _mm_prefetch((const char *)(b + 16 * W), _MM_HINT_T0);  /* as in the full tile */         \
        FNN_AVX2_EDGE_ROW(0) FNN_AVX2_EDGE_ROW(1) FNN_AVX2_EDGE_ROW(2)                            \
        FNN_AVX2_EDGE_ROW(3) FNN_AVX2_EDGE_ROW(4) FNN_AVX2_EDGE_ROW(5)                            \
        a += 6;                                                                                   \
        b += 2 * W;                                                                               \
    }                                                                                             \
    FNN_AVX2_EDGE_STORE_C(0) FNN_AVX2_EDGE_STORE_C(1) FNN_AVX2_EDGE_STORE_C(2)                    \
    FNN_AVX2_EDGE_STORE_C(3) FNN_AVX2_EDGE_STORE_C(4) FNN_AVX2_EDGE_STORE_C(5)                    \
}
/* One element type's edge kernels, named P##top2 .. P##left (instantiated below, with the
 * in-place kernels, from the same per-type intrinsics) */
#define FNN_GEMM_UKR_AVX2_EDGE_SET(P)                                                            \
    FNN_GEMM_UKR_AVX2_EDGE(P##top2, 2, 2)                                                        \
    FNN_GEMM_UKR_AVX2_EDGE(P##top4, 4, 2)                                                        \
    FNN_GEMM_UKR_AVX2_EDGE(P##top2_left, 2, 1)                                                   \
    FNN_GEMM_UKR_AVX2_EDGE(P##top4_left, 4, 1)                                                   \
    FNN_GEMM_UKR_AVX2_EDGE(P##left, 6, 1)

/* lane i of the mask is on when i < n */
__attribute__((target("avx2,fma")))
static inline __m256i fnn_avx2_mask_ps(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 0 ? 0 : n > 8 ? 8 : n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
__attribute__((target("avx2,fma")))
static inline __m256i fnn_avx2_mask_pd(int64_t n)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n < 0 ? 0 : n > 4 ? 4 : n),
                              _mm256_setr_epi64x(0, 1, 2, 3));
}

/* The in-place kernels (fnn_gemm_ukr.h), the columns past n masked off (vmaskmov loads and
 * stores never touch masked-off memory).  Every accumulator is a named variable.
 *   rows:   R = 1 or 2 rows x 4 vectors (32 floats, 16 doubles); R = 3 or 4 rows as two 2-vector
 *           halves one after the other (12 or 16 accumulators and the B vectors would not fit
 *           the 16 ymm registers);
 *   narrow: 6 rows x 2 vectors (the packed 6 x 16 tile's register plan, read in place), and
 *           R = 1..4 rows x 2 vectors for the rows left over; each picks by the width n one
 *           vector (n <= W) or, for float n = 9, 10, the packed pair below, so that no FMA
 *           lane is spent on columns that do not exist.
 * Why the widths: two FMA ports with a latency of 4 cycles keep busy only with about 8
 * independent FMA chains (accumulators) in flight.  One row of 2 vectors has 2, which held a
 * batch-1 product to a quarter of the FMA rate; 4 vectors give 4, and two rows 8.
 * B is read with plain loads when every column is in (the usual case), masked ones otherwise,
 * and only vectors cut by n use masked stores: on AMD CPUs a masked store costs many cycles,
 * which a short k loop (the narrow kernel on a small K) would feel. */
#define FNN_IPX_LOAD(r, v)                                                                        \
    if (R > r && V > v)                                                                           \
        c##r##v = load ? LOADM(c + r * rs_c + v * W, m##v) : ZERO();
#define FNN_IPX_LOAD_ROW(r)                                                                       \
    FNN_IPX_LOAD(r, 0) FNN_IPX_LOAD(r, 1) FNN_IPX_LOAD(r, 2) FNN_IPX_LOAD(r, 3)
#define FNN_IPX_FMA(r)                                                                            \
    if (R > r) {                                                                                  \
        const VT ar = BCAST(a + r * a_rs + k * a_cs);                                             \
        c##r##0 = FMADD(ar, b0, c##r##0);                                                         \
        if (V > 1)                                                                                \
            c##r##1 = FMADD(ar, b1, c##r##1);                                                     \
        if (V > 2) {                                                                              \
            c##r##2 = FMADD(ar, b2, c##r##2);                                                     \
            c##r##3 = FMADD(ar, b3, c##r##3);                                                     \
        }                                                                                         \
    }
#define FNN_IPX_STORE(r, v)                                                                       \
    if (R > r && V > v) {                                                                         \
        if (n >= (v + 1) * W)                                                                     \
            STOREU(c + r * rs_c + v * W, c##r##v);                                                \
        else                                                                                      \
            STOREM(c + r * rs_c + v * W, m##v, c##r##v);                                          \
    }
#define FNN_IPX_STORE_ROW(r)                                                                      \
    FNN_IPX_STORE(r, 0) FNN_IPX_STORE(r, 1) FNN_IPX_STORE(r, 2) FNN_IPX_STORE(r, 3)
/* The k loop, with the B loads of every column in (plain) or of the columns cut by n (masked) */
#define FNN_IPX_LOADU(p, v) LOADU(p)
#define FNN_IPX_LOADM(p, v) LOADM(p, m##v)
#define FNN_IPX_KLOOP(LOADB)                                                                      \
    for (k = 0; k < kc; k++) {                                                                    \
        const T *bk = b + k * b_rs;                                                               \
        const VT b0 = LOADB(bk, 0), b1 = V > 1 ? LOADB(bk + W, 1) : b0;                           \
        if (V > 2) {                                                                              \
            b2 = LOADB(bk + 2 * W, 2);                                                            \
            b3 = LOADB(bk + 3 * W, 3);                                                            \
        }                                                                                         \
        FNN_IPX_FMA(0) FNN_IPX_FMA(1) FNN_IPX_FMA(2) FNN_IPX_FMA(3) FNN_IPX_FMA(4) FNN_IPX_FMA(5)  \
    }
/* R rows x V vectors (R <= 6 with V = 2, R <= 2 with V = 4) */
#define FNN_GEMM_UKR_AVX2_INPLACE(NAME, NROWS, NVEC)                                             \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t n, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b,      \
                 int64_t b_rs, T *c, int64_t rs_c, int load)                                      \
{                                                                                                 \
    enum { R = NROWS, V = NVEC };                                                                 \
    const MT m0 = MASK(n), m1 = MASK(n - W), m2 = MASK(n - 2 * W), m3 = MASK(n - 3 * W);          \
    /* every name the macros spell; the compiler drops those this R x V never uses */           \
    VT c00 = ZERO(), c01 = ZERO(), c02 = ZERO(), c03 = ZERO();                                    \
    VT c10 = ZERO(), c11 = ZERO(), c12 = ZERO(), c13 = ZERO();                                    \
    VT c20 = ZERO(), c21 = ZERO(), c22 = ZERO(), c23 = ZERO();                                    \
    VT c30 = ZERO(), c31 = ZERO(), c32 = ZERO(), c33 = ZERO();                                    \
    VT c40 = ZERO(), c41 = ZERO(), c42 = ZERO(), c43 = ZERO();                                    \
    VT c50 = ZERO(), c51 = ZERO(), c52 = ZERO(), c53 = ZERO();                                    \
    VT b2 = ZERO(), b3 = ZERO();                                                                  \
    int64_t k;                                                                                    \
    FNN_IPX_LOAD_ROW(0) FNN_IPX_LOAD_ROW(1) FNN_IPX_LOAD_ROW(2)                                   \
    FNN_IPX_LOAD_ROW(3) FNN_IPX_LOAD_ROW(4) FNN_IPX_LOAD_ROW(5)                                   \
    if (n >= V * W)                                                                               \
        FNN_IPX_KLOOP(FNN_IPX_LOADU)                                                              \
    else                                                                                          \
        FNN_IPX_KLOOP(FNN_IPX_LOADM)                                                              \
    FNN_IPX_STORE_ROW(0) FNN_IPX_STORE_ROW(1) FNN_IPX_STORE_ROW(2)                                \
    FNN_IPX_STORE_ROW(3) FNN_IPX_STORE_ROW(4) FNN_IPX_STORE_ROW(5)                                \
}
/* R rows x (W + 1 or W + 2) columns, float only (the 10 classes of an output layer: 8 + 2): one
 * vector per row for the first 8 columns, and the last one or two columns of P = 4 rows packed
 * into one vector (lanes 2p and 2p + 1 for row p), its A operand blended from the rows'
 * broadcasts and its B operand the pair B(k, 8..9) repeated.  A 2-vector kernel spends 2 FMAs
 * per row and k where 1 + 2/8 of a vector are used; this one 1 + 1/4 (8 FMAs for 6 rows instead
 * of 12).  Each lane is still one element's chain over ascending k, so the same bits. */
#define FNN_IPP_A(r)                                                                              \
    const VT a##r = R > r ? BCAST(a + r * a_rs + k * a_cs) : ZERO();
#define FNN_IPP_FMA(r)                                                                            \
    if (R > r)                                                                                    \
        c##r = FMADD(a##r, b0, c##r);
/* lane of row r, column W + j in the tail vectors (stored one after another at tmp) */
#define FNN_IPP_AT(r, j) (((r) / P) * W + ((r) % P) * 2 + (j))
#define FNN_IPP_KLOOP(BTAIL)                                                                      \
    for (k = 0; k < kc; k++) {                                                                    \
        const T *bk = b + k * b_rs;                                                               \
        const VT b0 = LOADU(bk), bt = BTAIL(bk + W);                                             \
        FNN_IPP_A(0) FNN_IPP_A(1) FNN_IPP_A(2) FNN_IPP_A(3) FNN_IPP_A(4) FNN_IPP_A(5)            \
        FNN_IPP_FMA(0) FNN_IPP_FMA(1) FNN_IPP_FMA(2) FNN_IPP_FMA(3) FNN_IPP_FMA(4) FNN_IPP_FMA(5) \
        t0 = FMADD(R > 2 ? TAIL4(a0, a1, a2, a3) : TAIL2(a0, a1), bt, t0);                       \
        if (R > 4)                                                                                \
            t1 = FMADD(TAIL2(a4, a5), bt, t1);                                                    \
    }
#define FNN_GEMM_UKR_AVX2_PAIR(NAME, NROWS)                                                      \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t n, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b,      \
                 int64_t b_rs, T *c, int64_t rs_c, int load)                                      \
{                                                                                                 \
    enum { R = NROWS, P = 4 };                                                                    \
    const int64_t tail = n - W;                                                                   \
    T tmp[2 * W] __attribute__((aligned(32)));                                                    \
    VT c0 = ZERO(), c1 = ZERO(), c2 = ZERO(), c3 = ZERO(), c4 = ZERO(), c5 = ZERO();              \
    VT t0 = ZERO(), t1 = ZERO();                                                                  \
    int64_t k, r, j;                                                                              \
    if (load) {                                                                                   \
        if (R > 0) c0 = LOADU(c);                                                                 \
        if (R > 1) c1 = LOADU(c + rs_c);                                                          \
        if (R > 2) c2 = LOADU(c + 2 * rs_c);                                                      \
        if (R > 3) c3 = LOADU(c + 3 * rs_c);                                                      \
        if (R > 4) c4 = LOADU(c + 4 * rs_c);                                                      \
        if (R > 5) c5 = LOADU(c + 5 * rs_c);                                                      \
        for (r = 0; r < 2 * W; r++)                                                               \
            tmp[r] = 0;                                                                           \
        for (r = 0; r < R; r++)                                                                   \
            for (j = 0; j < tail; j++)                                                            \
                tmp[FNN_IPP_AT(r, j)] = c[r * rs_c + W + j];                                      \
        t0 = LOAD(tmp);                                                                           \
        t1 = LOAD(tmp + W);                                                                       \
    }                                                                                             \
    if (tail == 2)                                                                                \
        FNN_IPP_KLOOP(BPAIR)                                                                      \
    else                                                                                          \
        FNN_IPP_KLOOP(BCAST)                                                                      \
    if (R > 0) STOREU(c, c0);                                                                     \
    if (R > 1) STOREU(c + rs_c, c1);                                                              \
    if (R > 2) STOREU(c + 2 * rs_c, c2);                                                          \
    if (R > 3) STOREU(c + 3 * rs_c, c3);                                                          \
    if (R > 4) STOREU(c + 4 * rs_c, c4);                                                          \
    if (R > 5) STOREU(c + 5 * rs_c, c5);                                                          \
    STORE(tmp, t0);                                                                               \
    if (R > 4) STORE(tmp + W, t1);                                                                \
    for (r = 0; r < R; r++)                                                                       \
        for (j = 0; j < tail; j++)                                                                \
            c[r * rs_c + W + j] = tmp[FNN_IPP_AT(r, j)];                                          \
}
/* The narrow kernel of R rows: by the width n, one vector (n <= W), the packed pair (n = W + 1,
 * W + 2) or two vectors; the same chain per element in all three, so the choice changes only
 * how many FMA lanes are spent on columns past n. */
#define FNN_GEMM_UKR_AVX2_NARROW(NAME, NROWS)                                                    \
FNN_GEMM_UKR_AVX2_INPLACE(NAME##_v1, NROWS, 1)                                                    \
FNN_IPP_PAIR_DEF(NAME, NROWS)                                                                     \
FNN_GEMM_UKR_AVX2_INPLACE(NAME##_v2, NROWS, 2)                                                    \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t n, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b,      \
                 int64_t b_rs, T *c, int64_t rs_c, int load)                                      \
{                                                                                                 \
    if (n <= W)                                                                                   \
        NAME##_v1(n, kc, a, a_rs, a_cs, b, b_rs, c, rs_c, load);                                  \
    else if (n <= W + 2)                                                                          \
        FNN_IPP_PAIR_OF(NAME)(n, kc, a, a_rs, a_cs, b, b_rs, c, rs_c, load);                      \
    else                                                                                          \
        NAME##_v2(n, kc, a, a_rs, a_cs, b, b_rs, c, rs_c, load);                                  \
}
/* R = 3, 4 rows of the rows path (4 vectors wide): the two 2-vector halves in turn */
#define FNN_GEMM_UKR_AVX2_HALVES(NAME, HALF)                                                     \
__attribute__((target("avx2,fma")))                                                               \
static void NAME(int64_t n, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b,      \
                 int64_t b_rs, T *c, int64_t rs_c, int load)                                      \
{                                                                                                 \
    HALF(n < 2 * W ? n : 2 * W, kc, a, a_rs, a_cs, b, b_rs, c, rs_c, load);                       \
    if (n > 2 * W)                                                                                \
        HALF(n - 2 * W, kc, a, a_rs, a_cs, b + 2 * W, b_rs, c + 2 * W, rs_c, load);               \
}
/* One element type's in-place kernels, named P##narrow1 .. P##rows4 */
#define FNN_GEMM_UKR_AVX2_INPLACE_SET(P)                                                         \
    FNN_GEMM_UKR_AVX2_NARROW(P##narrow1, 1)                                                      \
    FNN_GEMM_UKR_AVX2_NARROW(P##narrow2, 2)                                                      \
    FNN_GEMM_UKR_AVX2_NARROW(P##narrow3, 3)                                                      \
    FNN_GEMM_UKR_AVX2_NARROW(P##narrow4, 4)                                                      \
    FNN_GEMM_UKR_AVX2_NARROW(P##narrow6, 6)                                                      \
    FNN_GEMM_UKR_AVX2_INPLACE(P##rows1, 1, 4)                                                    \
    FNN_GEMM_UKR_AVX2_INPLACE(P##rows2, 2, 4)                                                    \
    FNN_GEMM_UKR_AVX2_HALVES(P##rows3, P##narrow3)                                               \
    FNN_GEMM_UKR_AVX2_HALVES(P##rows4, P##narrow4)

/* float: the element type and its intrinsics, for the bodies above (in-place and edge) */
#define T float
#define VT __m256
#define MT __m256i
#define W 8
#define MASK fnn_avx2_mask_ps
#define LOADM _mm256_maskload_ps
#define STOREM _mm256_maskstore_ps
#define STOREU _mm256_storeu_ps
#define LOADU _mm256_loadu_ps
#define LOAD _mm256_load_ps
#define BCAST _mm256_broadcast_ss
#define FMADD _mm256_fmadd_ps
#define ZERO _mm256_setzero_ps
#define STORE _mm256_store_ps
#define BPAIR(p) _mm256_castpd_ps(_mm256_broadcast_sd((const double *)(p)))
#define TAIL2(x0, x1) _mm256_blend_ps(x0, x1, 0x0C)
#define TAIL4(x0, x1, x2, x3) _mm256_blend_ps(TAIL2(x0, x1), _mm256_blend_ps(x2, x3, 0xC0), 0xF0)
#define FNN_IPP_PAIR_DEF(NAME, NROWS) FNN_GEMM_UKR_AVX2_PAIR(NAME##_pair, NROWS)
#define FNN_IPP_PAIR_OF(NAME) NAME##_pair
FNN_GEMM_UKR_AVX2_INPLACE_SET(fnn_sgemm_ukr_avx2_)
FNN_GEMM_UKR_AVX2_EDGE_SET(fnn_sgemm_ukr_avx2_6x16_)
#undef T
#undef VT
#undef MT
#undef W
#undef MASK
#undef LOADM
#undef STOREM
#undef STOREU
#undef LOADU
#undef LOAD
#undef BCAST
#undef FMADD
#undef ZERO
#undef STORE
#undef BPAIR
#undef TAIL2
#undef TAIL4
#undef FNN_IPP_PAIR_DEF
#undef FNN_IPP_PAIR_OF

/* double */
#define T double
#define VT __m256d
#define MT __m256i
#define W 4
#define MASK fnn_avx2_mask_pd
#define LOADM _mm256_maskload_pd
#define STOREM _mm256_maskstore_pd
#define STOREU _mm256_storeu_pd
#define LOADU _mm256_loadu_pd
#define LOAD _mm256_load_pd
#define BCAST _mm256_broadcast_sd
#define FMADD _mm256_fmadd_pd
#define ZERO _mm256_setzero_pd
#define STORE _mm256_store_pd
/* No pair kernel for double: two rows a vector would take three tail accumulators, which with
 * the six rows' broadcasts spilled (a chain through the stack: slower than two vectors,
 * docs/kernels/gemm.md); W + 1 and W + 2 columns take the two-vector kernel. */
#define FNN_IPP_PAIR_DEF(NAME, NROWS)
#define FNN_IPP_PAIR_OF(NAME) NAME##_v2
FNN_GEMM_UKR_AVX2_INPLACE_SET(fnn_dgemm_ukr_avx2_)
FNN_GEMM_UKR_AVX2_EDGE_SET(fnn_dgemm_ukr_avx2_6x8_)
#undef T
#undef VT
#undef MT
#undef W
#undef MASK
#undef LOADM
#undef STOREM
#undef STOREU
#undef LOADU
#undef LOAD
#undef BCAST
#undef FMADD
#undef ZERO
#undef STORE
#undef FNN_IPP_PAIR_DEF
#undef FNN_IPP_PAIR_OF
#undef FNN_GEMM_UKR_AVX2_INPLACE
#undef FNN_GEMM_UKR_AVX2_PAIR
#undef FNN_GEMM_UKR_AVX2_NARROW
#undef FNN_IPP_A
#undef FNN_IPP_FMA
#undef FNN_IPP_AT
#undef FNN_IPP_KLOOP
#undef FNN_GEMM_UKR_AVX2_HALVES
#undef FNN_GEMM_UKR_AVX2_INPLACE_SET
#undef FNN_IPX_LOAD
#undef FNN_IPX_LOAD_ROW
#undef FNN_IPX_FMA
#undef FNN_IPX_STORE
#undef FNN_IPX_STORE_ROW
#undef FNN_IPX_KLOOP
#undef FNN_IPX_LOADU
#undef FNN_IPX_LOADM
#undef FNN_GEMM_UKR_AVX2_EDGE_SET
#undef FNN_GEMM_UKR_AVX2_EDGE
#undef FNN_AVX2_EDGE_STORE_C
#undef FNN_AVX2_EDGE_LOAD_C
#undef FNN_AVX2_EDGE_ROW

#endif /* FNN_GEMM_UKR_AVX2_H */
