# The C GEMM (src_c/fnn_gemm.h), declared once, and the typed entry points other extensions
# cimport.  The GEMM is compiled and linked into fastnn.kernels._gemm only (one copy of the code,
# one set of thread-local packing buffers); _conv calls it through the fused-type `gemm` below,
# as scikit-learn's extensions call BLAS through sklearn.utils._cython_blas:
#
#     from fastnn.kernels._gemm cimport gemm, act_code, FNN_BIAS_ROW
from cython cimport floating
from libc.stdint cimport int64_t

cdef extern from "fnn_gemm.h" nogil:
    enum:
        FNN_ACT_NONE
        FNN_ACT_RELU
        FNN_ACT_SIGMOID
        FNN_ACT_TANH
        FNN_ACT_ELU
    enum:
        FNN_BIAS_NONE
        FNN_BIAS_ROW
        FNN_BIAS_COL
    void fnn_sgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
                   const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                   const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                   float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                   const float *bias, int bias_mode, int act, float elu_alpha, int nthreads,
                   int simd)
    void fnn_dgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
                   const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                   const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                   double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                   const double *bias, int bias_mode, int act, double elu_alpha, int nthreads,
                   int simd)
    const char *fnn_gemm_ukr_name(int simd)


# fnn_sgemm or fnn_dgemm, by the element type, for other extensions: the same arguments and the
# same contract (every argument validated by the caller; simd is
# fastnn.kernels._runtime.simd_level()).
cdef void gemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const floating *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const floating *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               floating beta, floating *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const floating *bias, int bias_mode, int act, floating elu_alpha, int nthreads,
               int simd) noexcept nogil

# The FNN_ACT_* code of a checked activation name (None, 'relu', 'sigmoid', 'tanh', 'elu').
cdef int act_code(object activation) except -1
