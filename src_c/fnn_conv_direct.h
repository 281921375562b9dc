/* Direct convolution for layers whose K = C*kh*kw is tiny (a network's first layer: 1 -> 32
 * channels, 3x3, K = 9), float32, stride 1 along the width: forward (bias and activation fused)
 * and the weight and bias gradients, with no im2col matrix, no packing and no GEMM.
 *
 * Why: with K = 9 a GEMM does 9 multiply-adds per output element and spends more time packing
 * its panels and handling edge tiles than computing; the layer is bound by writing y (forward)
 * and reading dy (backward).  Here the K input vectors under a tile of output pixels are loaded
 * once from a small per-unit copy of the input rows (below) and each output channel is one chain
 * of K FMAs over them, vectorised over the tile's pixels.
 *
 * Tiles.  Output pixels are numbered p = oh*OW + ow within an image (the layout of a y plane).
 * A work unit first copies the K input rows under its output rows into a small buffer, tap by
 * tap and row by row (plain copies, zeros for the padding: fnn_conv_cols, a per-unit im2col of at
 * most FNN_CONV_DIRECT_CHUNK + OW pixels, in L1/L2), then runs over tiles of L consecutive p
 * (L = 16 at AVX-512, 8 at AVX2): tap k of a tile is one vector load from that buffer.  The
 * caller sizes units so that every tile is full except an image's last one (rows too wide for
 * that give one-row units, whose last tile may be partial): the stores to y are plain vector
 * stores, masked only on a partial tile.
 *
 * Same bits as the GEMM path.  Each output element is the chain the GEMM computes for it:
 *     acc = 0;  for k = c*kh*kw + i*kw + j ascending: acc = fma(w[oc, k], x_k, acc)
 * (generic level: acc = acc + w*x, two roundings, as the generic micro-kernel), then
 *     acc += bias[oc], then the activation (the GEMM epilogue's formulas, fnn_gemm_driver.h),
 * all with flush-to-zero / denormals-are-zero set, as the GEMM does (fnn_ftz_*).
 * Each weight-gradient element is the chain of the GEMM dW = dY (OC x N*P) @ cols^T:
 *     acc = 0;  for q = n*P + p ascending: acc = fma(dy[n, oc, p], x_k(q), acc)
 * and each bias-gradient element the serial sum over (n, p) without flush-to-zero, as
 * fastnn/kernels/_conv.pyx's _transpose_dy_bias_grad.  So the path changes speed, never results
 * (tests/test_conv.py compares the two paths bit for bit at every SIMD level).
 *
 * Weight gradient, vectorised over output channels: a tile of L pixels of L channels of dy is
 * loaded as L rows and transposed in registers (16x16 AVX-512, 8x8 AVX2), so that one pixel's
 * L channels are one vector; then acc[k] (one vector per tap k: L channels) += that vector times
 * the broadcast input x_k of that pixel.  One call owns channels [oc0, oc0 + L) for the whole
 * batch: every sum stays in one thread, in q order.  The transposed dy of one image is kept
 * (P*L floats) and added into db after the image, with flush-to-zero off.  The SIMD variants
 * run a constant number of chains, 9 when K <= 9 (a 3x3 first layer) and FNN_CONV_DIRECT_MAX_K
 * otherwise (taps past K multiply zeros and are dropped), so the loop is unrolled and the
 * accumulators stay in registers.
 *
 * Files: this one (geometry, the scalar parts, the generic kernels, the dispatch on `simd`),
 * fnn_conv_direct_avx2.h and fnn_conv_direct_avx512.h (the same kernels with intrinsics, under
 * target attributes: the build stays portable and they run only at or below the caller's level,
 * FNN_SIMD_* from fnn_cpu.h).  Callers (fastnn/kernels/_conv.pyx) check every size: no checks
 * here (nogil code).  Needs sw == 1 and K <= FNN_CONV_DIRECT_MAX_K.
 */
#ifndef FNN_CONV_DIRECT_H
#define FNN_CONV_DIRECT_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fnn_cpu.h"
#include "fnn_gemm.h"          /* FNN_ACT_* */
#include "fnn_gemm_ftz.h"      /* the GEMM's flush-to-zero: results match it bit for bit */

#define FNN_CONV_DIRECT_MAX_K 12
/* pixels of one image per forward work unit (a multiple of every tile width) */
#define FNN_CONV_DIRECT_CHUNK 256

/* The geometry of one convolution: x (N, C, H, W), w (OC, C, kh, kw), y (N, OC, OH, OW). */
typedef struct {
    ptrdiff_t N, C, H, W, OC, kh, kw, sh, sw, ph, pw, OH, OW;
} fnn_conv_geom;

#if FNN_X86
#include <immintrin.h>
#define FNN_CONV_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FNN_CONV_TARGET_AVX512 __attribute__((target("avx512f")))
#define FNN_CONV_INLINE static inline __attribute__((always_inline))
#endif

/* ------------------------------------------------------------------ shared scalar parts */

/* The GEMM epilogue's activations (fnn_gemm_driver.h): same formulas, same libm calls. */
static inline float fnn_conv_sigmoid(float v)
{
    if (v >= 0)
        return 1 / (1 + expf(-v));
    else {
        float e = expf(v);
        return e / (1 + e);
    }
}

static inline void fnn_conv_act(int act, float *y, ptrdiff_t n)
{
    ptrdiff_t i;
    switch (act) {
    case FNN_ACT_RELU:
        for (i = 0; i < n; i++)
            y[i] = y[i] < 0 ? 0.0f : y[i];
        break;
    case FNN_ACT_SIGMOID:
        for (i = 0; i < n; i++)
            y[i] = fnn_conv_sigmoid(y[i]);
        break;
    case FNN_ACT_TANH:
        for (i = 0; i < n; i++)
            y[i] = tanhf(y[i]);
        break;
    case FNN_ACT_ELU:
        for (i = 0; i < n; i++)
            y[i] = y[i] > 0 ? y[i] : 1.0f * expm1f(y[i]);
        break;
    default:
        break;
    }
}

/* Bit l (0 <= l < 32) set when lo <= l < hi. */
static inline unsigned fnn_conv_bits(ptrdiff_t lo, ptrdiff_t hi)
{
    if (lo < 0)
        lo = 0;
    if (hi > 32)
        hi = 32;
    if (lo >= hi)
        return 0u;
    return (hi == 32 ? 0xffffffffu : (1u << hi) - 1u) & ~((1u << lo) - 1u);
}

/* The im2col rows of output rows [oh0, oh1) of one image x (C x H x W), sw == 1:
 *     buf[k*S + (oh - oh0)*OW + ow] = x[c, oh*sh + i - ph, ow + j - pw], 0 in the padding,
 * for taps k = c*kh*kw + i*kw + j < K; S >= (oh1 - oh0)*OW is the buffer's row stride.  Each
 * (tap, output row) is [zeros | one copy | zeros]; the copy's bounds are found once per tap. */
static void fnn_conv_cols(const fnn_conv_geom *g, const float *x, ptrdiff_t oh0, ptrdiff_t oh1,
                          float *buf, ptrdiff_t S)
{
    const ptrdiff_t OW = g->OW;
    ptrdiff_t c, i, j, k = 0, oh, ow;
    for (c = 0; c < g->C; c++)
        for (i = 0; i < g->kh; i++)
            for (j = 0; j < g->kw; j++, k++) {
                /* outputs [lo, hi) read inside the row: 0 <= ow + j - pw < W */
                ptrdiff_t lo = g->pw - j > 0 ? g->pw - j : 0, hi = g->W + g->pw - j;
                if (lo > OW)
                    lo = OW;
                if (hi > OW)
                    hi = OW;
                if (hi < lo)
                    hi = lo;
                for (oh = oh0; oh < oh1; oh++) {
                    const ptrdiff_t ih = oh * g->sh + i - g->ph;
                    float *dst = buf + k * S + (oh - oh0) * OW;
                    const float *src = x + (c * g->H + ih) * g->W + j - g->pw;
                    if (ih < 0 || ih >= g->H) {
                        memset(dst, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    for (ow = 0; ow < lo; ow++)
                        dst[ow] = 0.0f;
                    memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
                    for (ow = hi; ow < OW; ow++)
                        dst[ow] = 0.0f;
                }
            }
}

/* The output rows of one forward work unit: [oh0, oh1) covers pixels [p0, p1). */
static inline void fnn_conv_unit_rows(const fnn_conv_geom *g, ptrdiff_t p0, ptrdiff_t p1,
                                      ptrdiff_t *oh0, ptrdiff_t *oh1)
{
    *oh0 = p0 / g->OW;
    *oh1 = (p1 + g->OW - 1) / g->OW;
}

/* ------------------------------------------------------------------ generic kernels */

/* Pixels [p0, p1) of image n of every channel: x = image n (C x H x W), y = image n
 * (OC x OH x OW); bias may be NULL.  buf: fnn_conv_cols of the unit's rows, row stride S,
 * starting at pixel q0 (the first pixel of row oh0). */
static void fnn_conv_direct_fwd_generic(const fnn_conv_geom *g, const float *buf, ptrdiff_t S,
                                        ptrdiff_t q0, const float *w, const float *bias, int act,
                                        float *y, ptrdiff_t p0, ptrdiff_t p1)
{
    const ptrdiff_t K = g->C * g->kh * g->kw, P = g->OH * g->OW;
    ptrdiff_t p, oc, k;
    for (oc = 0; oc < g->OC; oc++) {
        const float *wr = w + oc * K;
        float *yr = y + oc * P;
        for (p = p0; p < p1; p++) {
            float acc = 0.0f;
            for (k = 0; k < K; k++)
                acc += wr[k] * buf[k * S + p - q0];
            yr[p] = acc;
        }
        if (bias != NULL)
            for (p = p0; p < p1; p++)
                yr[p] += bias[oc];
        fnn_conv_act(act, yr + p0, p1 - p0);
    }
}

/* db lanes acc[0..L) += the kept transposed dy of one image, pixel by pixel (flush-to-zero off). */
static inline void fnn_conv_db_add(float *acc, const float *keep, ptrdiff_t P, ptrdiff_t L)
{
    ptrdiff_t p, r;
    for (p = 0; p < P; p++)
        for (r = 0; r < L; r++)
            acc[r] = acc[r] + keep[p * L + r];
}

/* dw rows and db of channels [oc0, oc0 + 8) over the whole batch (see the SIMD variants); buf
 * holds one image's fnn_conv_cols (row stride S), keep its transposed dy (P x 8). */
static void fnn_conv_direct_dw_generic(const fnn_conv_geom *g, const float *x, const float *dy,
                                       float *dw, float *db, ptrdiff_t oc0, float *buf,
                                       ptrdiff_t S, float *keep)
{
    const ptrdiff_t K = g->C * g->kh * g->kw, P = g->OH * g->OW, L = 8;
    const ptrdiff_t nr = g->OC - oc0 < L ? g->OC - oc0 : L;
    float acc[FNN_CONV_DIRECT_MAX_K][8], dbacc[8];
    ptrdiff_t n, p, r, k;
    memset(acc, 0, sizeof acc);
    memset(dbacc, 0, sizeof dbacc);
    for (n = 0; n < g->N; n++) {
        const float *dyn = dy + (n * g->OC + oc0) * P;
        unsigned csr;
        fnn_conv_cols(g, x + n * g->C * g->H * g->W, 0, g->OH, buf, S);
        csr = fnn_ftz_enter();
        for (p = 0; p < P; p++)
            for (r = 0; r < L; r++) {
                const float d = r < nr ? dyn[r * P + p] : 0.0f;
                keep[p * L + r] = d;
                for (k = 0; k < K; k++)
                    acc[k][r] += d * buf[k * S + p];
            }
        fnn_ftz_leave(csr);
        fnn_conv_db_add(dbacc, keep, P, L);
    }
    for (r = 0; r < nr; r++) {
        for (k = 0; k < K; k++)
            dw[(oc0 + r) * K + k] = acc[k][r];
        db[oc0 + r] = dbacc[r];
    }
}

#if FNN_X86
#include "fnn_transpose8_avx2.h"
#include "fnn_conv_direct_avx2.h"
#include "fnn_conv_direct_avx512.h"
#endif

/* ------------------------------------------------------------------ dispatch on `simd` */

/* Forward, pixels [p0, p1) of one image (see fnn_conv_direct_fwd_generic), at the best variant
 * at or below `simd`.  Returns 0, or -1 when its buffer cannot be allocated (nothing written). */
static int fnn_conv_direct_fwd(int simd, const fnn_conv_geom *g, const float *x, const float *w,
                               const float *bias, int act, float *y, ptrdiff_t p0, ptrdiff_t p1)
{
    const ptrdiff_t K = g->C * g->kh * g->kw;
    ptrdiff_t oh0, oh1, S;
    unsigned csr;
    void *buf = NULL;
    fnn_conv_unit_rows(g, p0, p1, &oh0, &oh1);
    /* row stride rounded up to whole vectors: a tile's loads stay inside the buffer */
    S = ((oh1 - oh0) * g->OW + 15) / 16 * 16;
    if (posix_memalign(&buf, 64, (size_t)(K * S) * sizeof(float)) != 0)
        return -1;
    memset(buf, 0, (size_t)(K * S) * sizeof(float));
    fnn_conv_cols(g, x, oh0, oh1, (float *)buf, S);
    csr = fnn_ftz_enter();
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512)
        fnn_conv_direct_fwd_avx512(g, (const float *)buf, S, oh0 * g->OW, w, bias, act, y, p0, p1);
    else if (simd >= FNN_SIMD_AVX2)
        fnn_conv_direct_fwd_avx2(g, (const float *)buf, S, oh0 * g->OW, w, bias, act, y, p0, p1);
    else
#endif
        fnn_conv_direct_fwd_generic(g, (const float *)buf, S, oh0 * g->OW, w, bias, act, y, p0,
                                    p1);
    (void)simd;
    fnn_ftz_leave(csr);
    free(buf);
    return 0;
}

/* How many output channels one fnn_conv_direct_dw call owns at level simd. */
static inline ptrdiff_t fnn_conv_direct_dw_lanes(int simd)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512)
        return 16;
#endif
    (void)simd;
    return 8;
}

/* dw rows [oc0, oc0 + L) and db[oc0 .. oc0 + L) (L = fnn_conv_direct_dw_lanes(simd), fewer at
 * the last block) over the whole batch: x (N, C, H, W), dy (N, OC, OH*OW), dw (OC, K).
 * Returns 0, or -1 when its buffers cannot be allocated (nothing is written then). */
static int fnn_conv_direct_dw(int simd, const fnn_conv_geom *g, const float *x, const float *dy,
                              float *dw, float *db, ptrdiff_t oc0)
{
    const ptrdiff_t L = fnn_conv_direct_dw_lanes(simd), P = g->OH * g->OW;
    const ptrdiff_t S = (P + 15) / 16 * 16;
    /* one image's im2col, all FNN_CONV_DIRECT_MAX_K rows (rows K.. stay zero: the unrolled
     * chains multiply them), then the kept transposed dy (P x L) */
    const size_t nbuf = (size_t)(FNN_CONV_DIRECT_MAX_K * S), nkeep = (size_t)(S * L);
    void *mem = NULL;
    float *buf, *keep;
    if (posix_memalign(&mem, 64, (nbuf + nkeep) * sizeof(float)) != 0)
        return -1;
    buf = (float *)mem;
    keep = buf + nbuf;
    memset(buf, 0, nbuf * sizeof(float));
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512)
        fnn_conv_direct_dw_avx512(g, x, dy, dw, db, oc0, buf, S, keep);
    else if (simd >= FNN_SIMD_AVX2)
        fnn_conv_direct_dw_avx2(g, x, dy, dw, db, oc0, buf, S, keep);
    else
#endif
        fnn_conv_direct_dw_generic(g, x, dy, dw, db, oc0, buf, S, keep);
    free(mem);
    return 0;
}

#endif /* FNN_CONV_DIRECT_H */
