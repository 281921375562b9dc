/* fastnn's GEMM: packed, cache-blocked, register-tiled (BLIS-style), OpenMP over output tiles.
 * The API and its contract are in fnn_gemm.h; docs/kernels/gemm.md explains the design.
 *
 * This one translation unit includes the private headers (micro-kernels, then the driver once
 * per element type), so setup.py compiles a single source into every extension that needs GEMM.
 *
 * Blocking for the target core (AMD Zen3: 32 KiB L1d, 512 KiB L2 per core, 32 MiB shared L3):
 *   KC = 256:  one B micro-panel (KC x NR: 16 KiB) plus one A micro-panel (KC x MR: 6/12 KiB)
 *              fit in L1 together.
 *   MC:        the packed A block (MC x KC) takes about a quarter of L2 (float 144 -> 144 KiB,
 *              double 72 -> 144 KiB), leaving room for the B panel stream and C tiles.
 *   NC:        the packed B block (KC x NC) sits in L3 (float 4080 -> 4 MiB per thread).
 * Same values as BLIS's Zen configurations (not re-tuned here; see docs/kernels/gemm.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fnn_gemm.h"
#include "fnn_openmp.h"
#include "fnn_gemm_kernels.h"

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
 * Decided once per process: 1 = AVX2+FMA micro-kernels, 0 = generic C.  The environment
 * variable FASTNN_GEMM_SIMD=generic forces the fallback (tests use it to cover that path on
 * AVX2 machines).  Racing first calls compute the same value, so a relaxed atomic suffices. */
static int fnn_simd_cached = -1;

static int fnn_detect_simd(void)
{
    const char *env = getenv("FASTNN_GEMM_SIMD");
    if (env != NULL && strcmp(env, "generic") == 0)
        return 0;
#if FNN_X86_GNUC
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
#endif
    return 0;
}

static int fnn_simd(void)
{
    int s = __atomic_load_n(&fnn_simd_cached, __ATOMIC_RELAXED);
    if (s < 0) {
        s = fnn_detect_simd();
        __atomic_store_n(&fnn_simd_cached, s, __ATOMIC_RELAXED);
    }
    return s;
}

const char *fnn_gemm_simd_level(void) { return fnn_simd() ? "avx2+fma" : "generic"; }

void fnn_sgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const float *bias, int bias_mode, int act, float elu_alpha, int nthreads)
{
    fnn_sukr_t ukr = fnn_sukr_generic;
    fnn_sukr_direct_t ukrd = fnn_sukr_direct_generic;
#if FNN_X86_GNUC
    if (fnn_simd()) {
        ukr = fnn_sukr_avx2;
        ukrd = fnn_sukr_direct_avx2;
    }
#endif
    fnn_s_gemm(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs, c_rs,
               c_cs, bias, bias_mode, act, elu_alpha, nthreads, ukr, ukrd);
}

void fnn_dgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const double *bias, int bias_mode, int act, double elu_alpha, int nthreads)
{
    fnn_dukr_t ukr = fnn_dukr_generic;
    fnn_dukr_direct_t ukrd = fnn_dukr_direct_generic;
#if FNN_X86_GNUC
    if (fnn_simd()) {
        ukr = fnn_dukr_avx2;
        ukrd = fnn_dukr_direct_avx2;
    }
#endif
    fnn_d_gemm(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs, c_rs,
               c_cs, bias, bias_mode, act, elu_alpha, nthreads, ukr, ukrd);
}
