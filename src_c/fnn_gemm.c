/* fastnn's GEMM: packed, cache-blocked, register-tiled (BLIS-style), OpenMP over output tiles.
 * The API and its contract are in fnn_gemm.h; docs/kernels/gemm.md explains the design.
 *
 * BLIS's layout, one concern per file:
 *   fnn_gemm_ukr.h          what a micro-kernel is: tile sizes, pointer types
 *   fnn_gemm_ukr_generic.h  the reference micro-kernels (plain C, any CPU)
 *   fnn_gemm_ukr_avx2.h     the AVX2 + FMA micro-kernels
 *   fnn_gemm_driver.h       the type-generic driver: blocking, packing, epilogue, threads
 *   fnn_gemm_ftz.h          flush-to-zero for the duration of a call
 *   this file               the driver instantiated per element type, and the dispatch on the
 *                           SIMD level
 * It is the one translation unit of the GEMM, compiled into the fastnn.kernels._gemm extension
 * only; other extensions call it through that module (fastnn/kernels/_gemm.pxd).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fnn_gemm.h"
#include "fnn_cpu.h"
#include "fnn_openmp.h"
#include "fnn_gemm_ftz.h"
#include "fnn_gemm_ukr.h"
#include "fnn_gemm_ukr_generic.h"
#if FNN_X86
#include "fnn_gemm_ukr_avx2.h"
#endif

/* Cache blocking (why these values: docs/kernels/gemm.md, "Cache blocking"):
 *   KC  k-block length: one B micro-panel plus one A micro-panel fit in L1 together;
 *   MC  rows of the packed A block, which stays in L2;
 *   NC  columns of the packed B block, which stays in L3.
 * FMA_PER_CYCLE (FMA lanes per cycle of one core) only weighs compute against packing in the
 * thread-grid and orientation cost models; it never changes a result. */

/* ------------------------------------------------------------------ float */
#define FNN_T float
#define FNN_F(name) fnn_s_##name
#define FNN_MR FNN_S_MR
#define FNN_NR FNN_S_NR
#define FNN_MC 144
#define FNN_KC 256
#define FNN_NC 4080
#define FNN_UKR_T fnn_sukr_t
#define FNN_UKRD_T fnn_sukr_direct_t
#define FNN_EXP expf
#define FNN_EXPM1 expm1f
#define FNN_TANH tanhf
#define FNN_FMA_PER_CYCLE 16.0
#include "fnn_gemm_driver.h"
#undef FNN_T
#undef FNN_F
#undef FNN_MR
#undef FNN_NR
#undef FNN_MC
#undef FNN_KC
#undef FNN_NC
#undef FNN_UKR_T
#undef FNN_UKRD_T
#undef FNN_EXP
#undef FNN_EXPM1
#undef FNN_TANH
#undef FNN_FMA_PER_CYCLE

/* ------------------------------------------------------------------ double */
#define FNN_T double
#define FNN_F(name) fnn_d_##name
#define FNN_MR FNN_D_MR
#define FNN_NR FNN_D_NR
#define FNN_MC 72
#define FNN_KC 256
#define FNN_NC 2040
#define FNN_UKR_T fnn_dukr_t
#define FNN_UKRD_T fnn_dukr_direct_t
#define FNN_EXP exp
#define FNN_EXPM1 expm1
#define FNN_TANH tanh
#define FNN_FMA_PER_CYCLE 8.0
#include "fnn_gemm_driver.h"
#undef FNN_T
#undef FNN_F
#undef FNN_MR
#undef FNN_NR
#undef FNN_MC
#undef FNN_KC
#undef FNN_NC
#undef FNN_UKR_T
#undef FNN_UKRD_T
#undef FNN_EXP
#undef FNN_EXPM1
#undef FNN_TANH
#undef FNN_FMA_PER_CYCLE

/* ------------------------------------------------------------------ dispatch
 * The best micro-kernel at or below the level the caller passes (fastnn's process-wide setting,
 * FASTNN_SIMD / fastnn.set_simd, checked against the CPU when it is set).  Levels above what is
 * written here fall through to the best one that exists.
 *
 * AVX-512 goes first in each chain, as
 *     if (simd >= FNN_SIMD_AVX512) return <the fnn_gemm_ukr_avx512.h kernel>;
 * with the same tile shapes (float 6 x 16 is one zmm per row; the packing format depends on MR
 * and NR, see fnn_gemm_ukr.h).  A kernel with another tile shape needs a driver instance per
 * shape (the driver is compiled per element type with FNN_MR/FNN_NR). */
static int fnn_gemm_ukr_level(int simd)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX2)
        return FNN_SIMD_AVX2;
#endif
    (void)simd;
    return FNN_SIMD_GENERIC;
}

const char *fnn_gemm_ukr_name(int simd)
{
    return fnn_gemm_ukr_level(simd) == FNN_SIMD_AVX2 ? "avx2" : "generic";
}

/* The micro-kernels of a level, per element type. */
static void fnn_s_kernels(int simd, fnn_sukr_t *ukr, fnn_sukr_direct_t *ukrd)
{
    *ukr = fnn_sgemm_ukr_generic_6x16;
    *ukrd = fnn_sgemm_ukr_generic_direct_6x16;
#if FNN_X86
    if (fnn_gemm_ukr_level(simd) == FNN_SIMD_AVX2) {
        *ukr = fnn_sgemm_ukr_avx2_6x16;
        *ukrd = fnn_sgemm_ukr_avx2_direct_6x16;
    }
#endif
}

static void fnn_d_kernels(int simd, fnn_dukr_t *ukr, fnn_dukr_direct_t *ukrd)
{
    *ukr = fnn_dgemm_ukr_generic_6x8;
    *ukrd = fnn_dgemm_ukr_generic_direct_6x8;
#if FNN_X86
    if (fnn_gemm_ukr_level(simd) == FNN_SIMD_AVX2) {
        *ukr = fnn_dgemm_ukr_avx2_6x8;
        *ukrd = fnn_dgemm_ukr_avx2_direct_6x8;
    }
#endif
}

int fnn_sgemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                  const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                  const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                  float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                  const float *bias, int bias_mode, int act, float elu_alpha, int nthreads,
                  int simd, const fnn_gemm_src *a_src, const fnn_gemm_src *b_src)
{
    fnn_sukr_t ukr;
    fnn_sukr_direct_t ukrd;
    fnn_s_kernels(simd, &ukr, &ukrd);
    return fnn_s_gemm(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                      c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, ukr, ukrd, a_src,
                      b_src);
}

int fnn_dgemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                  const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                  const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                  double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                  const double *bias, int bias_mode, int act, double elu_alpha, int nthreads,
                  int simd, const fnn_gemm_src *a_src, const fnn_gemm_src *b_src)
{
    fnn_dukr_t ukr;
    fnn_dukr_direct_t ukrd;
    fnn_d_kernels(simd, &ukr, &ukrd);
    return fnn_d_gemm(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                      c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, ukr, ukrd, a_src,
                      b_src);
}

void fnn_sgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const float *bias, int bias_mode, int act, float elu_alpha, int nthreads,
               int simd)
{
    (void)fnn_sgemm_src(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                        c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, simd, NULL, NULL);
}

void fnn_dgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const double *bias, int bias_mode, int act, double elu_alpha, int nthreads,
               int simd)
{
    (void)fnn_dgemm_src(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                        c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, simd, NULL, NULL);
}
