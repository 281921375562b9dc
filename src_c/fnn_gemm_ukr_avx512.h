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
 * for row r at the current k; STEP_A advances A by one k. */
#define FNN_AVX512_ROW(r)                                                                         \
    do {                                                                                          \
        VT ar = SET1(*A_AT(r));                                                                   \
        c##r##a = FMADD(ar, b0, c##r##a);                                                         \
        c##r##b = FMADD(ar, b1, c##r##b);                                                         \
    } while (0)

#define FNN_AVX512_LOAD_C(r)                                                                      \
    do {                                                                                          \
        c##r##a = LOADU(c + (r) * rs_c);                                                          \
        c##r##b = LOADU(c + (r) * rs_c + W);                                                      \
    } while (0)

#define FNN_AVX512_STORE_C(r)                                                                     \
    do {                                                                                          \
        STOREU(c + (r) * rs_c, c##r##a);                                                          \
        STOREU(c + (r) * rs_c + W, c##r##b);                                                      \
    } while (0)

#define FNN_AVX512_BODY                                                                           \
    VT c0a, c0b, c1a, c1b, c2a, c2b, c3a, c3b, c4a, c4b, c5a, c5b;                                \
    VT c6a, c6b, c7a, c7b, c8a, c8b, c9a, c9b, c10a, c10b, c11a, c11b;                            \
    int64_t k;                                                                                    \
    if (load) {                                                                                   \
        FNN_AVX512_LOAD_C(0); FNN_AVX512_LOAD_C(1); FNN_AVX512_LOAD_C(2);                         \
        FNN_AVX512_LOAD_C(3); FNN_AVX512_LOAD_C(4); FNN_AVX512_LOAD_C(5);                         \
        FNN_AVX512_LOAD_C(6); FNN_AVX512_LOAD_C(7); FNN_AVX512_LOAD_C(8);                         \
        FNN_AVX512_LOAD_C(9); FNN_AVX512_LOAD_C(10); FNN_AVX512_LOAD_C(11);                       \
    } else {                                                                                      \
        c0a = c0b = c1a = c1b = c2a = c2b = c3a = c3b = ZERO();                                   \
        c4a = c4b = c5a = c5b = c6a = c6b = c7a = c7b = ZERO();                                   \
        c8a = c8b = c9a = c9b = c10a = c10b = c11a = c11b = ZERO();                               \
    }                                                                                             \
    for (k = 0; k < kc; k++) {                                                                    \
        VT b0 = LOAD(b), b1 = LOAD(b + W);                                                        \
        /* one packed B row is two cache lines; fetch the row 8 steps ahead */                    \
        _mm_prefetch((const char *)(b + 16 * W), _MM_HINT_T0);                                    \
        _mm_prefetch((const char *)(b + 16 * W) + 64, _MM_HINT_T0);                               \
        FNN_AVX512_ROW(0); FNN_AVX512_ROW(1); FNN_AVX512_ROW(2); FNN_AVX512_ROW(3);               \
        FNN_AVX512_ROW(4); FNN_AVX512_ROW(5); FNN_AVX512_ROW(6); FNN_AVX512_ROW(7);               \
        FNN_AVX512_ROW(8); FNN_AVX512_ROW(9); FNN_AVX512_ROW(10); FNN_AVX512_ROW(11);             \
        STEP_A;                                                                                   \
        b += 2 * W;                                                                               \
    }                                                                                             \
    FNN_AVX512_STORE_C(0); FNN_AVX512_STORE_C(1); FNN_AVX512_STORE_C(2);                          \
    FNN_AVX512_STORE_C(3); FNN_AVX512_STORE_C(4); FNN_AVX512_STORE_C(5);                          \
    FNN_AVX512_STORE_C(6); FNN_AVX512_STORE_C(7); FNN_AVX512_STORE_C(8);                          \
    FNN_AVX512_STORE_C(9); FNN_AVX512_STORE_C(10); FNN_AVX512_STORE_C(11);

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
    FNN_AVX512_BODY
}
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
    FNN_AVX512_BODY
}
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

#endif /* FNN_GEMM_UKR_AVX512_H */
