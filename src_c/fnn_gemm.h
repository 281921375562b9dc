/* fastnn's own GEMM: C[b] = act(beta * C[b] + A[b] @ B[b] + bias) for b in [0, batch).
 *
 * Every matrix is addressed by element strides (batch stride, row stride, column stride), so
 * transposes, slices, Fortran order and any NumPy view are read in place: the packing routines
 * gather panels from whatever strides they are given.  Shapes: A[b] is M x K, B[b] is K x N,
 * C[b] is M x N.  beta must be 0 (C is write-only; its old contents, even NaN, are ignored) or
 * any finite value (C is read).  bias is applied per row (length M, FNN_BIAS_ROW, as a conv
 * bias per output channel) or per column (length N, FNN_BIAS_COL, as a dense-layer bias), then
 * the activation, while the output tile is still in cache.  K == 0 is allowed (C = beta*C+bias).
 *
 * Threads split the output into tiles (batch x row-blocks x column-blocks); the k loop of each
 * output element is always run by one thread in a fixed order, so results are bit-identical for
 * any nthreads.  Callers validate every argument before calling (no checks here: nogil code).
 *
 * simd is the SIMD level to run at (FNN_SIMD_GENERIC, FNN_SIMD_AVX2, FNN_SIMD_AVX512 from
 * fnn_cpu.h; the process-wide setting held by fastnn.kernels._runtime): the best micro-kernel at
 * or below it runs.  The caller guarantees the CPU can run that level.  For one level the results
 * never depend on nthreads; the generic micro-kernel rounds each multiply and add separately, the
 * SIMD ones fuse them, so results may differ between levels in the last bits.
 */
#ifndef FNN_GEMM_H
#define FNN_GEMM_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { FNN_ACT_NONE = 0, FNN_ACT_RELU = 1, FNN_ACT_SIGMOID = 2, FNN_ACT_TANH = 3, FNN_ACT_ELU = 4 };
enum { FNN_BIAS_NONE = 0, FNN_BIAS_ROW = 1, FNN_BIAS_COL = 2 };

void fnn_sgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const float *bias, int bias_mode, int act, float elu_alpha, int nthreads,
               int simd);

void fnn_dgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const double *bias, int bias_mode, int act, double elu_alpha, int nthreads,
               int simd);

/* The micro-kernels fnn_sgemm/fnn_dgemm run at SIMD level simd: "generic" or "avx2" (the
 * level's name, so tests can see that the level given is the one used). */
const char *fnn_gemm_ukr_name(int simd);

#ifdef __cplusplus
}
#endif
#endif
