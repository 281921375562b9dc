# The direct convolution's C (src_c/fnn_conv_direct.h), declared once.
from libc.stdint cimport int64_t, uint32_t

cdef extern from "fnn_conv_direct.h" nogil:
    enum:
        FNN_CONV_DIRECT_MAX_K
        FNN_CONV_DIRECT_CHUNK
    ctypedef struct fnn_conv_geom:
        Py_ssize_t N, C, H, W, OC, kh, kw, sh, sw, ph, pw, OH, OW
    int fnn_conv_direct_fwd(int simd, const fnn_conv_geom *g, const float *x, const float *w,
                            const float *bias, int act, float *y, Py_ssize_t p0, Py_ssize_t p1)
    Py_ssize_t fnn_conv_direct_dw_lanes(int simd)
    int fnn_conv_direct_dw(int simd, const fnn_conv_geom *g, const float *x, const float *dy,
                           float *dw, float *db, Py_ssize_t oc0)


# The implicit-im2col packing source (src_c/fnn_conv_pack.h): GEMM B panels of one image's
# im2col matrix (forward) or of the whole batch's cols^T (weight gradient), packed straight
# from x.
cdef extern from "fnn_conv_pack.h" nogil:
    ctypedef struct fnn_conv_cols_src:
        const fnn_conv_geom *g
        const void *x
        int simd
    void fnn_conv_pack_cols_f(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0,
                              int64_t xn, int r, void *buf) noexcept
    void fnn_conv_pack_cols_d(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0,
                              int64_t xn, int r, void *buf) noexcept
    ctypedef struct fnn_conv_dy_src:
        const void *dy
        Py_ssize_t OC, P
    void fnn_conv_pack_dy_f(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0,
                            int64_t xn, int r, void *buf) noexcept
    void fnn_conv_pack_dy_d(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0,
                            int64_t xn, int r, void *buf) noexcept
    void fnn_conv_pack_nhwc_f(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0,
                              int64_t xn, int r, void *buf) noexcept
    void fnn_conv_pack_nhwc_d(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0,
                              int64_t xn, int r, void *buf) noexcept
    void fnn_conv_to_channel_last_f(const float *x, Py_ssize_t C, Py_ssize_t L,
                                    float *xt) noexcept
    void fnn_conv_to_channel_last_d(const double *x, Py_ssize_t C, Py_ssize_t L,
                                    double *xt) noexcept


# The GEMM whose micro-kernel loads its B rows straight from the image (src_c/fnn_conv_masked.h):
# float32, AVX2 or AVX-512, stride 1, OW == W.
cdef extern from "fnn_conv_masked.h" nogil:
    int fnn_conv_masked_applies(int simd, const fnn_conv_geom *g)
    Py_ssize_t fnn_conv_masked_panels(const fnn_conv_geom *g)
    void fnn_conv_masked_tables(const fnn_conv_geom *g, Py_ssize_t *off, uint32_t *mask)
    Py_ssize_t fnn_conv_masked_packed_size(Py_ssize_t OC, Py_ssize_t K)
    void fnn_conv_masked_pack_w(const float *w2, Py_ssize_t OC, Py_ssize_t K, float *ap)
    void fnn_conv_masked_fwd(int simd, const fnn_conv_geom *g, const Py_ssize_t *off,
                             const uint32_t *mask, const float *ap,
                             const float *x, const float *bias, int act, float *y,
                             Py_ssize_t q)


# The weight gradient with both GEMM operands read in place (src_c/fnn_conv_dw_inplace.h):
# float32, AVX-512 with C % 16 == 0 or AVX2 with C % 8 == 0.
cdef extern from "fnn_conv_dw_inplace.h" nogil:
    int fnn_conv_dw_inplace_applies(int simd, const fnn_conv_geom *g)
    Py_ssize_t fnn_conv_dw_inplace_tiles(int simd, const fnn_conv_geom *g)
    void fnn_conv_dw_inplace_split(int simd, const fnn_conv_geom *g, int nthreads,
                                   Py_ssize_t *bounds)
    void fnn_conv_dw_inplace_index(const fnn_conv_geom *g, Py_ssize_t *idx)
    void fnn_conv_dw_inplace(int simd, const fnn_conv_geom *g, const float *xt, const float *dy,
                             const Py_ssize_t *idx, float *dwt, Py_ssize_t tile0,
                             Py_ssize_t tile1)
