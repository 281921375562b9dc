/* Private to fnn_gemm.c: the AVX-512F micro-kernels (FNN_SIMD_AVX512), x86 with GCC or clang.
 *
 * Same interface and k order as the reference kernels (fnn_gemm_ukr.h): each element of C is
 * one fused multiply-add chain over ascending k, as in the AVX2 kernels, so the two levels give
 * the same bits (tests/test_gemm.py::test_avx2_and_avx512_give_the_same_bits); only the tile
 * shape differs.  The functions carry __attribute__((target("avx512f"))): the package is built
 * with portable flags and these run only when the SIMD level passed in allows them.
 *
 * Register plan, float 12 x 32: 24 zmm accumulators (12 rows x 2 vectors of 16) + 2 for the B
 * row + 1 broadcast of A = 27 of the 32 zmm registers, nothing spills.  Per k: 2 aligned loads of
 * B (one 128-byte packed row), 12 broadcasts of A, 24 FMAs.  With two 512-bit FMA ports (Intel
 * server cores) the 24 FMAs take 12 cycles and the 14 loads 7 on two load ports: FMA-bound, the
 * goal.  A taller tile (14 x 32: 28 + 2 + 1 = 31 registers) would leave no slack for the
 * compiler; a wider one (8 x 48, 24 + 3 + 1) needs 3 B loads per 8 broadcasts and pads N to 48.
 * 12 x 32 keeps MR a multiple of the AVX2 kernel's 6 and NR = 2 vectors, as there.  Double
 * 12 x 16 is the same plan with 8 doubles per zmm.  docs/kernels/gemm.md discusses the choice.
 */
#ifndef FNN_GEMM_UKR_AVX512_H
#define FNN_GEMM_UKR_AVX512_H
#include <stdint.h>
#include <immintrin.h>
#include "fnn_gemm_ukr.h"

/* One body for both element types and both A layouts.  A_AT(r) is the address of A's value
 * for row r at the current k; STEP_A advances A by one k.  ROWS (an enum constant of each
 * function, 12 for the full tile) is how many of the tile's rows are computed: the "top" variants
 * serve the last, partial row panel of a matrix (fewer rows, same packed panel format, same
 * chain per element), so an M that is not a multiple of 12 wastes no FMAs on padding rows.
 * VECS (2 for the full width) is how many of the tile's two column vectors are computed: the
 * "left" variants (VECS = 1) serve a last column panel of at most NR/2 columns, which the
 * full kernel would compute at twice the cost (196 = 6 x 32 + 4 columns in conv2's products). */
#define FNN_AVX512_ROW(r)                                                                         \
    if (ROWS > r) {                                                                               \
        VT ar = SET1(*A_AT(r));                                                                   \
        c##r##a = FMADD(ar, b0, c##r##a);                                                         \
        if (VECS > 1)                                                                             \
            c##r##b = FMADD(ar, b1, c##r##b);                                                     \
    }

#define FNN_AVX512_LOAD_C(r)                                                                      \
    if (ROWS > r) {                                                                               \
        c##r##a = LOADU(c + (r) * rs_c);                                                          \
        if (VECS > 1)                                                                             \
            c##r##b = LOADU(c + (r) * rs_c + W);                                                  \
    }

#define FNN_AVX512_STORE_C(r)                                                                     \
    if (ROWS > r) {                                                                               \
        STOREU(c + (r) * rs_c, c##r##a);                                                          \
        if (VECS > 1)                                                                             \
            STOREU(c + (r) * rs_c + W, c##r##b);                                                  \
    }

#define FNN_AVX512_BODY                                                                           \
    VT c0a = ZERO(), c0b = ZERO(), c1a = ZERO(), c1b = ZERO(), c2a = ZERO(), c2b = ZERO();        \
    VT c3a = ZERO(), c3b = ZERO(), c4a = ZERO(), c4b = ZERO(), c5a = ZERO(), c5b = ZERO();        \
    VT c6a = ZERO(), c6b = ZERO(), c7a = ZERO(), c7b = ZERO(), c8a = ZERO(), c8b = ZERO();        \
    VT c9a = ZERO(), c9b = ZERO(), c10a = ZERO(), c10b = ZERO(), c11a = ZERO(), c11b = ZERO();    \
    int64_t k;                                                                                    \
    if (load) {                                                                                   \
        FNN_AVX512_LOAD_C(0) FNN_AVX512_LOAD_C(1) FNN_AVX512_LOAD_C(2)                            \
        FNN_AVX512_LOAD_C(3) FNN_AVX512_LOAD_C(4) FNN_AVX512_LOAD_C(5)                            \
        FNN_AVX512_LOAD_C(6) FNN_AVX512_LOAD_C(7) FNN_AVX512_LOAD_C(8)                            \
        FNN_AVX512_LOAD_C(9) FNN_AVX512_LOAD_C(10) FNN_AVX512_LOAD_C(11)                          \
    }                                                                                             \
    for (k = 0; k < kc; k++) {                                                                    \
        VT b0 = LOAD(b), b1 = VECS > 1 ? LOAD(b + W) : b0;                                        \
        /* one packed B row is two cache lines; fetch the row 8 steps ahead */                    \
        _mm_prefetch((const char *)(b + 16 * W), _MM_HINT_T0);                                    \
        _mm_prefetch((const char *)(b + 16 * W) + 64, _MM_HINT_T0);                               \
        FNN_AVX512_ROW(0) FNN_AVX512_ROW(1) FNN_AVX512_ROW(2) FNN_AVX512_ROW(3)                   \
        FNN_AVX512_ROW(4) FNN_AVX512_ROW(5) FNN_AVX512_ROW(6) FNN_AVX512_ROW(7)                   \
        FNN_AVX512_ROW(8) FNN_AVX512_ROW(9) FNN_AVX512_ROW(10) FNN_AVX512_ROW(11)                 \
        STEP_A;                                                                                   \
        b += 2 * W;                                                                               \
    }                                                                                             \
    FNN_AVX512_STORE_C(0) FNN_AVX512_STORE_C(1) FNN_AVX512_STORE_C(2)                             \
    FNN_AVX512_STORE_C(3) FNN_AVX512_STORE_C(4) FNN_AVX512_STORE_C(5)                             \
    FNN_AVX512_STORE_C(6) FNN_AVX512_STORE_C(7) FNN_AVX512_STORE_C(8)                             \
    FNN_AVX512_STORE_C(9) FNN_AVX512_STORE_C(10) FNN_AVX512_STORE_C(11)

/* ------------------------------------------------------------------ float, 12 x 32 */
#define VT __m512
#define W 16
#define LOAD _mm512_load_ps
#define LOADU _mm512_loadu_ps
#define STOREU _mm512_storeu_ps
#define SET1 _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define ZERO _mm512_setzero_ps

/* packed A: the 12 values of step k are a[0..11] */
#define A_AT(r) (a + (r))
#define STEP_A (a += 12)
__attribute__((target("avx512f")))
static void fnn_sgemm_ukr_avx512_12x32(int64_t kc, const float *a, const float *b, float *c,
                                       int64_t rs_c, int load)
{
    enum { ROWS = 12, VECS = 2 };
    FNN_AVX512_BODY
}

/* the top 8 / top 4 rows of a 12 x 32 tile (the last row panel of a matrix) */
__attribute__((target("avx512f")))
static void fnn_sgemm_ukr_avx512_12x32_top8(int64_t kc, const float *a, const float *b,
                                            float *c, int64_t rs_c, int load)
{
    enum { ROWS = 8, VECS = 2 };
    FNN_AVX512_BODY
}

__attribute__((target("avx512f")))
static void fnn_sgemm_ukr_avx512_12x32_top4(int64_t kc, const float *a, const float *b,
                                            float *c, int64_t rs_c, int load)
{
    enum { ROWS = 4, VECS = 2 };
    FNN_AVX512_BODY
}

/* the left 16 columns of a 12 x 32 tile, all / the top 8 / the top 4 rows (the last column
 * panel of a matrix, when it holds at most 16 columns) */
#define FNN_AVX512_LEFT(NAME, T, NROWS)                                                          \
__attribute__((target("avx512f")))                                                               \
static void NAME(int64_t kc, const T *a, const T *b, T *c, int64_t rs_c, int load)              \
{                                                                                                \
    enum { ROWS = NROWS, VECS = 1 };                                                             \
    FNN_AVX512_BODY                                                                              \
}
FNN_AVX512_LEFT(fnn_sgemm_ukr_avx512_12x32_left, float, 12)
FNN_AVX512_LEFT(fnn_sgemm_ukr_avx512_12x32_top8_left, float, 8)
FNN_AVX512_LEFT(fnn_sgemm_ukr_avx512_12x32_top4_left, float, 4)
#undef A_AT
#undef STEP_A

/* direct A: row r of step k at a[r*a_rs + k*a_cs]; rows 6..11 from a second base pointer so the
 * addresses stay base + index*scale forms */
#define A_AT(r) ((r) < 6 ? a + (r) * a_rs : a6 + ((r) - 6) * a_rs)
#define STEP_A (a += a_cs, a6 += a_cs)
__attribute__((target("avx512f")))
static void fnn_sgemm_ukr_avx512_direct_12x32(int64_t kc, const float *a, int64_t a_rs,
                                              int64_t a_cs, const float *b, float *c,
                                              int64_t rs_c, int load)
{
    const float *a6 = a + 6 * a_rs;
    enum { ROWS = 12, VECS = 2 };
    FNN_AVX512_BODY
}
#undef A_AT
#undef STEP_A
#undef VT
#undef W
#undef LOAD
#undef LOADU
#undef STOREU
#undef SET1
#undef FMADD
#undef ZERO

/* The double kernel stays written out beside the float one (tile 12 x 16, not 12 x 32): each
 * micro-kernel reads whole with its register plan, BLIS style. */
/* ------------------------------------------------------------------ double, 12 x 16 */
#define VT __m512d
#define W 8
#define LOAD _mm512_load_pd
#define LOADU _mm512_loadu_pd
#define STOREU _mm512_storeu_pd
#define SET1 _mm512_set1_pd
#define FMADD _mm512_fmadd_pd
#define ZERO _mm512_setzero_pd

#define A_AT(r) (a + (r))
#define STEP_A (a += 12)
__attribute__((target("avx512f")))
static void fnn_dgemm_ukr_avx512_12x16(int64_t kc, const double *a, const double *b, double *c,
                                       int64_t rs_c, int load)
{
    enum { ROWS = 12, VECS = 2 };
    FNN_AVX512_BODY
}

__attribute__((target("avx512f")))
static void fnn_dgemm_ukr_avx512_12x16_top8(int64_t kc, const double *a, const double *b,
                                            double *c, int64_t rs_c, int load)
{
    enum { ROWS = 8, VECS = 2 };
    FNN_AVX512_BODY
}

__attribute__((target("avx512f")))
static void fnn_dgemm_ukr_avx512_12x16_top4(int64_t kc, const double *a, const double *b,
                                            double *c, int64_t rs_c, int load)
{
    enum { ROWS = 4, VECS = 2 };
    FNN_AVX512_BODY
}

/* the left 8 columns of a 12 x 16 tile (as the float kernels' left variants) */
FNN_AVX512_LEFT(fnn_dgemm_ukr_avx512_12x16_left, double, 12)
FNN_AVX512_LEFT(fnn_dgemm_ukr_avx512_12x16_top8_left, double, 8)
FNN_AVX512_LEFT(fnn_dgemm_ukr_avx512_12x16_top4_left, double, 4)
#undef A_AT
#undef STEP_A

#define A_AT(r) ((r) < 6 ? a + (r) * a_rs : a6 + ((r) - 6) * a_rs)
#define STEP_A (a += a_cs, a6 += a_cs)
__attribute__((target("avx512f")))
static void fnn_dgemm_ukr_avx512_direct_12x16(int64_t kc, const double *a, int64_t a_rs,
                                              int64_t a_cs, const double *b, double *c,
                                              int64_t rs_c, int load)
{
    const double *a6 = a + 6 * a_rs;
    enum { ROWS = 12, VECS = 2 };
    FNN_AVX512_BODY
}
#undef A_AT
#undef STEP_A
#undef VT
#undef W
#undef LOAD
#undef LOADU
#undef STOREU
#undef SET1
#undef FMADD
#undef ZERO

#undef FNN_AVX512_ROW
#undef FNN_AVX512_LOAD_C
#undef FNN_AVX512_STORE_C
#undef FNN_AVX512_BODY
#undef FNN_AVX512_LEFT

/* The in-place row macros mirror fnn_gemm_ukr_avx2.h's (4 vectors per row here, 2 there):
 * one micro-kernel per ISA, BLIS style. */
/* The in-place kernels (fnn_gemm_ukr.h), columns past n masked off (masked loads and stores never
 * touch masked-off memory).  Every accumulator is a named variable (arrays of vectors are not
 * reliably kept in registers by compilers).
 *   rows:   R = 1..4 rows x 4 vectors (64 floats, 32 doubles): up to 16 accumulators + 4 B
 *           vectors + 1 broadcast;
 *   narrow: 12 rows x 1 vector (12 accumulators: enough independent FMA chains to hide the FMA
 *           latency), and 1..4 rows x 1 vector for the rows left over. */
#define FNN_IP512_MASK(MT, W, rem)                                                               \
    ((MT)((rem) >= W ? (MT)~(MT)0 : (rem) <= 0 ? (MT)0 : (MT)((1u << (rem)) - 1u)))

/* rows r of the R-row, 4-vector kernel */
#define FNN_IP512_R_LOAD(r)                                                                       \
    if (R > r) {                                                                                  \
        c##r##0 = LOADM(l0, c + r * rs_c);                                                        \
        c##r##1 = LOADM(l1, c + r * rs_c + W);                                                    \
        c##r##2 = LOADM(l2, c + r * rs_c + 2 * W);                                                \
        c##r##3 = LOADM(l3, c + r * rs_c + 3 * W);                                                \
    }
#define FNN_IP512_R_FMA(r)                                                                        \
    if (R > r) {                                                                                  \
        const VT ar = SET1(a[r * a_rs + k * a_cs]);                                               \
        c##r##0 = FMADD(ar, b0, c##r##0);                                                         \
        c##r##1 = FMADD(ar, b1, c##r##1);                                                         \
        c##r##2 = FMADD(ar, b2, c##r##2);                                                         \
        c##r##3 = FMADD(ar, b3, c##r##3);                                                         \
    }
#define FNN_IP512_R_STORE(r)                                                                      \
    if (R > r) {                                                                                  \
        STOREM(c + r * rs_c, m0, c##r##0);                                                        \
        STOREM(c + r * rs_c + W, m1, c##r##1);                                                    \
        STOREM(c + r * rs_c + 2 * W, m2, c##r##2);                                                \
        STOREM(c + r * rs_c + 3 * W, m3, c##r##3);                                                \
    }
#define FNN_IP512_ROWS(NAME, NROWS)                                                               \
__attribute__((target("avx512f")))                                                                \
static void NAME(int64_t n, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b,      \
                 int64_t b_rs, T *c, int64_t rs_c, int load)                                      \
{                                                                                                 \
    enum { R = NROWS };                                                                           \
    const MT m0 = FNN_IP512_MASK(MT, W, n), m1 = FNN_IP512_MASK(MT, W, n - W);                    \
    const MT m2 = FNN_IP512_MASK(MT, W, n - 2 * W), m3 = FNN_IP512_MASK(MT, W, n - 3 * W);        \
    const MT l0 = load ? m0 : 0, l1 = load ? m1 : 0, l2 = load ? m2 : 0, l3 = load ? m3 : 0;     \
    VT c00 = ZERO(), c01 = ZERO(), c02 = ZERO(), c03 = ZERO();                                    \
    VT c10 = ZERO(), c11 = ZERO(), c12 = ZERO(), c13 = ZERO();                                    \
    VT c20 = ZERO(), c21 = ZERO(), c22 = ZERO(), c23 = ZERO();                                    \
    VT c30 = ZERO(), c31 = ZERO(), c32 = ZERO(), c33 = ZERO();                                    \
    int64_t k;                                                                                    \
    FNN_IP512_R_LOAD(0) FNN_IP512_R_LOAD(1) FNN_IP512_R_LOAD(2) FNN_IP512_R_LOAD(3)              \
    for (k = 0; k < kc; k++) {                                                                    \
        const T *bk = b + k * b_rs;                                                               \
        const VT b0 = LOADM(m0, bk), b1 = LOADM(m1, bk + W);                                      \
        const VT b2 = LOADM(m2, bk + 2 * W), b3 = LOADM(m3, bk + 3 * W);                          \
        FNN_IP512_R_FMA(0) FNN_IP512_R_FMA(1) FNN_IP512_R_FMA(2) FNN_IP512_R_FMA(3)              \
    }                                                                                             \
    FNN_IP512_R_STORE(0) FNN_IP512_R_STORE(1) FNN_IP512_R_STORE(2) FNN_IP512_R_STORE(3)          \
}

/* row r of the narrow kernels (one vector per row) */
#define FNN_IP512_N_LOAD(r) if (R > r) c##r = LOADM(l0, c + r * rs_c);
#define FNN_IP512_N_FMA(r) if (R > r) c##r = FMADD(SET1(a[r * a_rs + k * a_cs]), b0, c##r);
#define FNN_IP512_N_STORE(r) if (R > r) STOREM(c + r * rs_c, m0, c##r);
#define FNN_IP512_NARROW(NAME, NROWS)                                                             \
__attribute__((target("avx512f")))                                                                \
static void NAME(int64_t n, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs, const T *b,      \
                 int64_t b_rs, T *c, int64_t rs_c, int load)                                      \
{                                                                                                 \
    enum { R = NROWS };                                                                           \
    const MT m0 = FNN_IP512_MASK(MT, W, n), l0 = load ? m0 : 0;                                   \
    VT c0 = ZERO(), c1 = ZERO(), c2 = ZERO(), c3 = ZERO(), c4 = ZERO(), c5 = ZERO();              \
    VT c6 = ZERO(), c7 = ZERO(), c8 = ZERO(), c9 = ZERO(), c10 = ZERO(), c11 = ZERO();            \
    int64_t k;                                                                                    \
    FNN_IP512_N_LOAD(0) FNN_IP512_N_LOAD(1) FNN_IP512_N_LOAD(2) FNN_IP512_N_LOAD(3)              \
    FNN_IP512_N_LOAD(4) FNN_IP512_N_LOAD(5) FNN_IP512_N_LOAD(6) FNN_IP512_N_LOAD(7)              \
    FNN_IP512_N_LOAD(8) FNN_IP512_N_LOAD(9) FNN_IP512_N_LOAD(10) FNN_IP512_N_LOAD(11)            \
    for (k = 0; k < kc; k++) {                                                                    \
        const VT b0 = LOADM(m0, b + k * b_rs);                                                    \
        FNN_IP512_N_FMA(0) FNN_IP512_N_FMA(1) FNN_IP512_N_FMA(2) FNN_IP512_N_FMA(3)              \
        FNN_IP512_N_FMA(4) FNN_IP512_N_FMA(5) FNN_IP512_N_FMA(6) FNN_IP512_N_FMA(7)              \
        FNN_IP512_N_FMA(8) FNN_IP512_N_FMA(9) FNN_IP512_N_FMA(10) FNN_IP512_N_FMA(11)            \
    }                                                                                             \
    FNN_IP512_N_STORE(0) FNN_IP512_N_STORE(1) FNN_IP512_N_STORE(2) FNN_IP512_N_STORE(3)          \
    FNN_IP512_N_STORE(4) FNN_IP512_N_STORE(5) FNN_IP512_N_STORE(6) FNN_IP512_N_STORE(7)          \
    FNN_IP512_N_STORE(8) FNN_IP512_N_STORE(9) FNN_IP512_N_STORE(10) FNN_IP512_N_STORE(11)        \
}

/* float: the element type and its intrinsics, for the bodies above */
#define T float
#define VT __m512
#define MT __mmask16
#define W 16
#define LOADM _mm512_maskz_loadu_ps
#define STOREM _mm512_mask_storeu_ps
#define SET1 _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define ZERO _mm512_setzero_ps
FNN_IP512_ROWS(fnn_sgemm_ukr_avx512_rows1, 1)
FNN_IP512_ROWS(fnn_sgemm_ukr_avx512_rows2, 2)
FNN_IP512_ROWS(fnn_sgemm_ukr_avx512_rows3, 3)
FNN_IP512_ROWS(fnn_sgemm_ukr_avx512_rows4, 4)
FNN_IP512_NARROW(fnn_sgemm_ukr_avx512_narrow12, 12)
FNN_IP512_NARROW(fnn_sgemm_ukr_avx512_narrow1, 1)
FNN_IP512_NARROW(fnn_sgemm_ukr_avx512_narrow2, 2)
FNN_IP512_NARROW(fnn_sgemm_ukr_avx512_narrow3, 3)
FNN_IP512_NARROW(fnn_sgemm_ukr_avx512_narrow4, 4)
#undef T
#undef VT
#undef MT
#undef W
#undef LOADM
#undef STOREM
#undef SET1
#undef FMADD
#undef ZERO

/* double */
#define T double
#define VT __m512d
#define MT __mmask8
#define W 8
#define LOADM _mm512_maskz_loadu_pd
#define STOREM _mm512_mask_storeu_pd
#define SET1 _mm512_set1_pd
#define FMADD _mm512_fmadd_pd
#define ZERO _mm512_setzero_pd
FNN_IP512_ROWS(fnn_dgemm_ukr_avx512_rows1, 1)
FNN_IP512_ROWS(fnn_dgemm_ukr_avx512_rows2, 2)
FNN_IP512_ROWS(fnn_dgemm_ukr_avx512_rows3, 3)
FNN_IP512_ROWS(fnn_dgemm_ukr_avx512_rows4, 4)
FNN_IP512_NARROW(fnn_dgemm_ukr_avx512_narrow12, 12)
FNN_IP512_NARROW(fnn_dgemm_ukr_avx512_narrow1, 1)
FNN_IP512_NARROW(fnn_dgemm_ukr_avx512_narrow2, 2)
FNN_IP512_NARROW(fnn_dgemm_ukr_avx512_narrow3, 3)
FNN_IP512_NARROW(fnn_dgemm_ukr_avx512_narrow4, 4)
#undef T
#undef VT
#undef MT
#undef W
#undef LOADM
#undef STOREM
#undef SET1
#undef FMADD
#undef ZERO
#undef FNN_IP512_ROWS
#undef FNN_IP512_NARROW
#undef FNN_IP512_R_LOAD
#undef FNN_IP512_R_FMA
#undef FNN_IP512_R_STORE
#undef FNN_IP512_N_LOAD
#undef FNN_IP512_N_FMA
#undef FNN_IP512_N_STORE
#undef FNN_IP512_MASK

#endif /* FNN_GEMM_UKR_AVX512_H */
