# The C GEMM (src_c/fnn_gemm.h), declared once, and the typed entry points other extensions
# cimport.  The GEMM is compiled and linked into fastnn.kernels._gemm only (one copy of the code,
# one set of thread-local packing buffers); _conv calls it through the fused-type `gemm` below,
# as scikit-learn's extensions call BLAS through sklearn.utils._cython_blas:
#
#     from fastnn.kernels._gemm cimport gemm, act_code, FNN_BIAS_ROW
#
# gemm_src is the same with caller-supplied packing routines for A and/or B (fnn_gemm_src).
from cython cimport floating
from libc.stdint cimport int64_t

# The declarations below mirror src_c/fnn_gemm.h (and its float/double pairs) by necessity.
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

    # The blocking context (fnn_gemm.h, "blocking and its context"): for gemm_config and
    # set_gemm_blocking.
    ctypedef struct fnn_gemm_config_t:
        const char *ukr
        int simd, mr, nr
        int64_t mc, kc, nc
        long l1d, l2, l3, l3_per_core
        int cache_source
    void fnn_gemm_init()
    void fnn_gemm_config(int simd, int elsize, fnn_gemm_config_t *out)
    void fnn_gemm_set_blocking(int64_t mc, int64_t kc, int64_t nc)
    void fnn_gemm_get_blocking(int64_t *mc, int64_t *kc, int64_t *nc)
    void fnn_gemm_blocking_model(long l1d, long l2, long l3_per_core, int mr, int nr, int elsize,
                                 int64_t set_mc, int64_t set_kc, int64_t set_nc, int64_t *mc,
                                 int64_t *kc, int64_t *nc)
    # The in-place paths' split threshold (fnn_gemm.h, "split threshold").
    void fnn_gemm_set_ip_split_min(double v)
    double fnn_gemm_ip_split_min(int simd, int elsize, int skinny_n, int nthreads)
    # The zero-skipping path for a sparse A (fnn_gemm.h, "zero-skipping").
    enum:
        FNN_SPARSE_OFF
        FNN_SPARSE_AUTO
        FNN_SPARSE_ALWAYS
    void fnn_gemm_set_sparse_a(int mode)
    int fnn_gemm_get_sparse_a()
    int64_t fnn_gemm_sparse_a_calls()
    enum:
        FNN_GEMM_KC_MIN
        FNN_GEMM_KC_MAX
        FNN_GEMM_MC_MIN
        FNN_GEMM_MC_MAX
        FNN_GEMM_NC_MIN
        FNN_GEMM_NC_MAX

    # Caller-supplied packing (the contract is in src_c/fnn_gemm.h, "packing sources"):
    # pack(ctx, bi, k0, kc, x0, xn, r, buf) writes ceil(xn/r) zero-padded micro-panels of
    # kc x r values (op(B)'s columns x0.., or op(A)'s rows x0..) into buf; thread-safe, no Python.
    ctypedef void (*fnn_gemm_pack_fn)(const void *ctx, int64_t bi, int64_t k0, int64_t kc,
                                      int64_t x0, int64_t xn, int r, void *buf) noexcept nogil
    ctypedef struct fnn_gemm_src:
        fnn_gemm_pack_fn pack
        const void *ctx
    enum:
        FNN_GEMM_MAX_R
    int fnn_sgemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                      const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                      const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                      float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                      const float *bias, int bias_mode, int act, float elu_alpha, int nthreads,
                      int simd, const fnn_gemm_src *a_src, const fnn_gemm_src *b_src)
    int fnn_dgemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                      const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                      const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                      double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                      const double *bias, int bias_mode, int act, double elu_alpha,
                      int nthreads, int simd, const fnn_gemm_src *a_src,
                      const fnn_gemm_src *b_src)


# fnn_sgemm or fnn_dgemm, by the element type, for other extensions: the same arguments and the
# same contract (every argument validated by the caller; simd is
# fastnn.kernels._runtime.simd_level()).
cdef void gemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const floating *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const floating *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               floating beta, floating *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const floating *bias, int bias_mode, int act, floating elu_alpha, int nthreads,
               int simd) noexcept nogil

# gemm with optional packing sources (a_src / b_src replace A / B, whose pointer and strides are
# then ignored: pass <const float *>NULL or <const double *>NULL and zeros).  The routine's buf
# is float * for the float instance, double * for the double one.  Returns 0, or -1 when a
# packing buffer could not be allocated (raise MemoryError).  E.g. the convolution's forward
# pass with B (the im2col matrix of image bi) packed straight from the image:
#
#     cdef fnn_gemm_src src
#     src.pack = _pack_cols_f      # a noexcept nogil function of the fnn_gemm_pack_fn type
#     src.ctx = &geometry          # read-only from several threads
#     gemm_src(N, OC, P, CKK, w, 0, CKK, 1, <const float *>NULL, 0, 0, 0, 0, y, OC * P, P, 1,
#              bias, FNN_BIAS_ROW, act, 1, nthreads, simd_level(), NULL, &src)
# (the signatures below are the .pyx definitions', as Cython requires of a .pxd)
cdef int gemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                  const floating *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                  const floating *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                  floating beta, floating *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                  const floating *bias, int bias_mode, int act, floating elu_alpha,
                  int nthreads, int simd, const fnn_gemm_src *a_src,
                  const fnn_gemm_src *b_src) noexcept nogil

# The FNN_ACT_* code of a checked activation name (None, 'relu', 'sigmoid', 'tanh', 'elu').
cdef int act_code(object activation) except -1
