/* PLACEHOLDER (correct, slow): a strided triple loop with the fused epilogue.  Replaced by the
 * packed, blocked, SIMD-dispatched implementation. */
#include <math.h>
#include "fnn_gemm.h"
#include "fnn_openmp.h"

#define DEFINE_NAIVE(NAME, T, EXP, TANH)                                                        \
void NAME(int64_t batch, int64_t M, int64_t N, int64_t K,                                       \
          const T *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,                                 \
          const T *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,                                 \
          T beta, T *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,                               \
          const T *bias, int bias_mode, int act, T elu_alpha, int nthreads)                     \
{                                                                                               \
    int64_t total = batch * M;                                                                  \
    int64_t t;                                                                                  \
    (void)nthreads;                                                                             \
    for (t = 0; t < total; t++) {                                                               \
        int64_t b = t / M, i = t % M, j, k;                                                     \
        for (j = 0; j < N; j++) {                                                               \
            T acc = 0;                                                                          \
            T *c = C + b * c_bs + i * c_rs + j * c_cs;                                          \
            for (k = 0; k < K; k++)                                                             \
                acc += A[b * a_bs + i * a_rs + k * a_cs] * B[b * b_bs + k * b_rs + j * b_cs];   \
            if (beta != 0) acc += beta * *c;                                                    \
            if (bias_mode == FNN_BIAS_ROW) acc += bias[i];                                      \
            else if (bias_mode == FNN_BIAS_COL) acc += bias[j];                                 \
            switch (act) {                                                                      \
            case FNN_ACT_RELU: acc = acc > 0 ? acc : 0; break;                                  \
            case FNN_ACT_SIGMOID: acc = acc >= 0 ? 1 / (1 + EXP(-acc))                          \
                                                 : EXP(acc) / (1 + EXP(acc)); break;            \
            case FNN_ACT_TANH: acc = TANH(acc); break;                                          \
            case FNN_ACT_ELU: acc = acc > 0 ? acc : elu_alpha * (EXP(acc) - 1); break;          \
            default: break;                                                                     \
            }                                                                                   \
            *c = acc;                                                                           \
        }                                                                                       \
    }                                                                                           \
}

DEFINE_NAIVE(fnn_sgemm, float, expf, tanhf)
DEFINE_NAIVE(fnn_dgemm, double, exp, tanh)

const char *fnn_gemm_simd_level(void) { return "generic"; }
