/* Implicit im2col: a GEMM packing source (fnn_gemm_src, src_c/fnn_gemm.h) that packs panels of
 * the im2col matrix of one image straight from the image, so the convolution's forward GEMM
 * y[n] = W @ cols_n never needs cols_n in memory.
 *
 * The operand.  For image bi of x (N, C, H, W, C order), op(B) is cols_n, K x P with
 * K = C*kh*kw and P = OH*OW:
 *     op(B)[k, p] = x[bi, c, oh*sh + i - ph, ow*sw + j - pw]   (0 where that is padding)
 *     k = c*kh*kw + i*kw + j,  p = oh*OW + ow
 * the values im2col writes, so a GEMM fed by this source packs the same numbers in the same
 * k order as one reading the materialised matrix: the same bits.
 *
 * A request (k0, kc, x0, xn, r) asks for ceil(xn/r) micro-panels of r columns.  The r columns
 * of a panel are consecutive pixels, so they split into at most r runs that each lie in one
 * output row (a "segment": oh, ow in [ow0, ow1)).  For each k the row ih of a segment is one
 * test, and along the row the pixels that read real input are the run [lo, hi) of ow found
 * once per tap j (as im2col's _tap_lo/_tap_hi): [zeros | copy | zeros], a contiguous copy when
 * sw == 1.  The panel's tail past xn is zero.
 *
 * Nothing here is checked: the caller (fastnn/kernels/_conv.pyx) validated the geometry and the
 * driver's requests are in range by the hook's contract.  Read-only on ctx: safe from several
 * threads at once.
 */
#ifndef FNN_CONV_PACK_H
#define FNN_CONV_PACK_H
#include <stddef.h>
#include <stdint.h>

#include "fnn_conv_direct.h"   /* fnn_conv_geom; <immintrin.h> on x86 (FNN_X86) */
#include "fnn_gemm.h"          /* FNN_GEMM_MAX_R */

/* The context of a cols packer: the geometry, the image tensor, the SIMD level.  x is
 * x[0, 0, 0, 0] (float * or double *) in (N, C, H, W) order, except for the weight gradient's
 * channel-last packer (fnn_conv_pack_nhwc_*, below), whose x is the channel-last copy of x,
 * (N, H, W, C). */
typedef struct {
    const fnn_conv_geom *g;
    const void *x;
    int simd;                  /* FNN_SIMD_*: a packer's vector variant runs at or below */
} fnn_conv_cols_src;

/* first output o whose input o*s + j - p is >= 0, and one past the last whose input is < L;
 * hi >= lo */
static inline ptrdiff_t fnn_conv_pack_lo(ptrdiff_t j, ptrdiff_t s, ptrdiff_t p, ptrdiff_t OL)
{
    ptrdiff_t d = p - j, lo = d <= 0 ? 0 : s == 1 ? d : (d + s - 1) / s;  /* s == 1: no div */
    return lo < OL ? lo : OL;
}

static inline ptrdiff_t fnn_conv_pack_hi(ptrdiff_t j, ptrdiff_t s, ptrdiff_t p, ptrdiff_t L,
                                         ptrdiff_t OL, ptrdiff_t lo)
{
    ptrdiff_t t = L - 1 - j + p, hi = t < 0 ? 0 : s == 1 ? t + 1 : t / s + 1;
    if (hi > OL)
        hi = OL;
    return hi > lo ? hi : lo;
}

/* The tap after (c, i, j) in im2col's row order k = c*kh*kw + i*kw + j. */
static inline void fnn_conv_next_tap(ptrdiff_t *c, ptrdiff_t *i, ptrdiff_t *j, ptrdiff_t kh,
                                     ptrdiff_t kw)
{
    if (++*j == kw) {
        *j = 0;
        if (++*i == kh) {
            *i = 0;
            ++*c;
        }
    }
}

/* Zeros in the last of npan micro-panels (kc rows of r) from column nlast on: the columns past
 * the request's end (the micro-kernel computes whole tiles). */
#define FNN_CONV_PACK_ZERO_TAIL(T)                                                             \
static inline void fnn_conv_pack_zero_tail_##T(T *buf, ptrdiff_t npan, ptrdiff_t nlast,        \
                                               ptrdiff_t kc, int r)                            \
{                                                                                              \
    T *pan = buf + (npan - 1) * kc * r;                                                        \
    ptrdiff_t k, t;                                                                            \
    for (k = 0; k < kc; k++)                                                                   \
        for (t = nlast; t < r; t++)                                                            \
            pan[k * r + t] = 0;                                                                \
}
FNN_CONV_PACK_ZERO_TAIL(float)
FNN_CONV_PACK_ZERO_TAIL(double)

/* One output row's run of a tap row: d[ow] for ow in [ow0, ow1) is the input under pixel ow,
 * plane[at + ow*sw], where that is real input ([lo_j, hi_j), the tap's bounds) and 0 elsewhere;
 * all zeros when the input row is padding (valid_row false).  [zeros | copy | zeros]. */
#define FNN_CONV_PACK_RUN(T)                                                                   \
static inline void fnn_conv_pack_run_##T(T *d, const T *plane, int valid_row, ptrdiff_t at,    \
                                         ptrdiff_t sw, ptrdiff_t ow0, ptrdiff_t ow1,           \
                                         ptrdiff_t lo_j, ptrdiff_t hi_j)                       \
{                                                                                              \
    ptrdiff_t ow, lo = ow1, hi = ow1;                                                          \
    if (valid_row) {                                                                           \
        lo = lo_j > ow0 ? (lo_j < ow1 ? lo_j : ow1) : ow0;                                     \
        hi = hi_j < ow1 ? hi_j : ow1;                                                          \
        if (hi < lo)                                                                           \
            hi = lo;                                                                           \
    }                                                                                          \
    for (ow = ow0; ow < lo; ow++)                                                              \
        d[ow] = 0;                                                                             \
    if (sw == 1)                                                                               \
        for (ow = lo; ow < hi; ow++)                                                           \
            d[ow] = plane[at + ow];                                                            \
    else                                                                                       \
        for (ow = lo; ow < hi; ow++)                                                           \
            d[ow] = plane[at + ow * sw];                                                       \
    for (ow = hi; ow < ow1; ow++)                                                              \
        d[ow] = 0;                                                                             \
}
FNN_CONV_PACK_RUN(float)
FNN_CONV_PACK_RUN(double)

#define FNN_CONV_PACK_COLS(NAME, T)                                                            \
static void NAME(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0, int64_t xn, \
                 int r, void *vbuf)                                                           \
{                                                                                             \
    const fnn_conv_cols_src *s = (const fnn_conv_cols_src *)ctx;                              \
    const fnn_conv_geom *g = s->g;                                                            \
    const ptrdiff_t H = g->H, W = g->W, OW = g->OW, kh = g->kh, kw = g->kw;                   \
    const ptrdiff_t sh = g->sh, sw = g->sw, ph = g->ph, pw = g->pw, KK = kh * kw;             \
    const T *xb = (const T *)s->x + (ptrdiff_t)bi * g->C * H * W;                             \
    T *buf = (T *)vbuf;                                                                       \
    ptrdiff_t seg_oh[FNN_GEMM_MAX_R], seg_ow0[FNN_GEMM_MAX_R], seg_ow1[FNN_GEMM_MAX_R];       \
    ptrdiff_t seg_t0[FNN_GEMM_MAX_R];                                                         \
    int64_t q0;                                                                               \
    for (q0 = 0; q0 < xn; q0 += r) {                                                          \
        const ptrdiff_t n = (ptrdiff_t)(xn - q0 < r ? xn - q0 : r);                           \
        T *pan = buf + (q0 / r) * kc * r;                                                     \
        ptrdiff_t nseg = 0, t = 0, col = (ptrdiff_t)(x0 + q0), c, i, j, k, sg;                \
        while (t < n) {                                                                       \
            ptrdiff_t oh = col / OW, ow = col - oh * OW;                                      \
            ptrdiff_t len = OW - ow < n - t ? OW - ow : n - t;                                \
            seg_oh[nseg] = oh;                                                                \
            seg_ow0[nseg] = ow;                                                               \
            seg_ow1[nseg] = ow + len;                                                         \
            seg_t0[nseg] = t;                                                                 \
            nseg++;                                                                           \
            t += len;                                                                         \
            col += len;                                                                       \
        }                                                                                     \
        c = (ptrdiff_t)(k0 / KK);                                                             \
        i = ((ptrdiff_t)k0 - c * KK) / kw;                                                    \
        j = (ptrdiff_t)k0 - c * KK - i * kw;                                                  \
        for (k = 0; k < kc; k++) {                                                            \
            T *dst = pan + k * r;                                                             \
            const T *plane = xb + c * H * W;                                                  \
            const ptrdiff_t lo_j = fnn_conv_pack_lo(j, sw, pw, OW);                           \
            const ptrdiff_t hi_j = fnn_conv_pack_hi(j, sw, pw, W, OW, lo_j);                  \
            for (sg = 0; sg < nseg; sg++) {                                                   \
                const ptrdiff_t ow0 = seg_ow0[sg], ow1 = seg_ow1[sg];                         \
                const ptrdiff_t ih = seg_oh[sg] * sh + i - ph;                                \
                const ptrdiff_t dt = seg_t0[sg] - ow0;  /* dst[dt + ow]: pixel (oh, ow) */    \
                fnn_conv_pack_run_##T(dst + dt, plane, ih >= 0 && ih < H, ih * W + j - pw,    \
                                      sw, ow0, ow1, lo_j, hi_j);                              \
            }                                                                                 \
            for (t = n; t < r; t++)                                                           \
                dst[t] = 0;                                                                   \
            fnn_conv_next_tap(&c, &i, &j, kh, kw);                                            \
        }                                                                                     \
    }                                                                                         \
}

FNN_CONV_PACK_COLS(fnn_conv_pack_cols_f_generic, float)
FNN_CONV_PACK_COLS(fnn_conv_pack_cols_d, double)

#if FNN_X86
#include "fnn_conv_pack_simd.h"
#endif

/* The float cols packer: the vector variants (fnn_conv_pack_simd.h) for width stride 1 at the
 * context's level, else the scalar one; all write the same panels. */
static void fnn_conv_pack_cols_f(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0,
                                 int64_t xn, int r, void *buf)
{
#if FNN_X86
    const fnn_conv_cols_src *s = (const fnn_conv_cols_src *)ctx;
    if (s->g->sw == 1 && s->simd >= FNN_SIMD_AVX512) {
        fnn_conv_pack_cols_f_avx512(s, bi, k0, kc, x0, xn, r, (float *)buf);
        return;
    }
    if (s->g->sw == 1 && s->simd >= FNN_SIMD_AVX2) {
        fnn_conv_pack_cols_f_avx2(s, bi, k0, kc, x0, xn, r, (float *)buf);
        return;
    }
#endif
    fnn_conv_pack_cols_f_generic(ctx, bi, k0, kc, x0, xn, r, buf);
}

/* Pixels per run of the dY packer below (its transposes work on runs of at most this). */
#define FNN_CONV_PACK_L 64

/* dst[u*r + t] = src[t*stride + u] for u < len, t < ct: a block of ct rows (stride apart) of
 * len values transposed into a panel.  4 x 4 blocks are transposed in SSE registers for float
 * (SSE2 is in every x86-64's baseline, as in fnn_gemm_pack.h), the rest one by one. */
static inline void fnn_conv_pack_transpose_double(const double *src, ptrdiff_t stride,
                                                  ptrdiff_t len, ptrdiff_t ct, double *dst, int r)
{
    ptrdiff_t u, t;
    for (u = 0; u < len; u++)
        for (t = 0; t < ct; t++)
            dst[u * r + t] = src[t * stride + u];
}

static inline void fnn_conv_pack_transpose_float(const float *src, ptrdiff_t stride,
                                                 ptrdiff_t len, ptrdiff_t ct, float *dst, int r)
{
    ptrdiff_t u = 0, t;
#if FNN_X86
    const ptrdiff_t L = stride, ct4 = ct / 4 * 4;
    for (; u + 4 <= len; u += 4) {
        for (t = 0; t < ct4; t += 4) {
            __m128 r0 = _mm_loadu_ps(src + t * L + u);
            __m128 r1 = _mm_loadu_ps(src + (t + 1) * L + u);
            __m128 r2 = _mm_loadu_ps(src + (t + 2) * L + u);
            __m128 r3 = _mm_loadu_ps(src + (t + 3) * L + u);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(dst + u * r + t, r0);
            _mm_storeu_ps(dst + (u + 1) * r + t, r1);
            _mm_storeu_ps(dst + (u + 2) * r + t, r2);
            _mm_storeu_ps(dst + (u + 3) * r + t, r3);
        }
        for (; t < ct; t++) {
            dst[u * r + t] = src[t * L + u];
            dst[(u + 1) * r + t] = src[t * L + u + 1];
            dst[(u + 2) * r + t] = src[t * L + u + 2];
            dst[(u + 3) * r + t] = src[t * L + u + 3];
        }
    }
#endif
    for (; u < len; u++)
        for (t = 0; t < ct; t++)
            dst[u * r + t] = src[t * stride + u];
}
/* ---- The weight gradient's cols operand, from a channel-last copy of x --------------------
 * dW^T (C*kh*kw x OC) = cols (C*kh*kw x N*P) @ dY^T.  Here the GEMM's A operand is the im2col
 * matrix with its rows in tap-major order, row t = (i*kw + j)*C + c (the caller writes dW^T's
 * rows back to dW's (c, i, j) columns), read from xt, x in (N, H, W, C) order:
 *     op(A)[t, q] = xt[n, oh*sh + i - ph, ow*sw + j - pw, c]   (0 where that is padding)
 *     q = n*P + oh*OW + ow
 * A request's k0..k0+kc runs over pixels q, its x0..x0+xn over rows t.  For one pixel, the r
 * rows of a micro-panel are a few runs of consecutive channels under one tap each (r/C + 2 at
 * most), each run a contiguous piece of xt: the panel is written pixel by pixel with no
 * transposes, where a channel-first x would need one per tap.  The runs of a panel are the
 * same for every pixel, so they are listed once per panel.  Same values, and the GEMM's k is
 * still q in order: dW's sums are those of the GEMM reading the materialised cols, bit for bit
 * (tests/test_conv.py checks it). */
/* Its context is a fnn_conv_cols_src whose x is xt. */

/* A run of a panel's rows: `len` channels from c under tap (i, j), written to lanes
 * [lane, lane + len) of a pixel's row; `off` = (i*W + j)*C + c, its offset in xt from the
 * element under tap (0, 0), channel 0. */
typedef struct {
    ptrdiff_t i, j, off, lane, len;
} fnn_conv_tap_run;

/* The runs of rows [t0, t0 + ct) (ct <= r); returns how many. */
static inline ptrdiff_t fnn_conv_tap_runs(const fnn_conv_geom *g, ptrdiff_t t0, ptrdiff_t ct,
                                          fnn_conv_tap_run *run)
{
    const ptrdiff_t C = g->C, kw = g->kw, W = g->W;
    ptrdiff_t nrun = 0, lane = 0;
    while (lane < ct) {
        const ptrdiff_t t = t0 + lane, tap = t / C, c = t - tap * C;
        const ptrdiff_t len = C - c < ct - lane ? C - c : ct - lane;
        run[nrun].i = tap / kw;
        run[nrun].j = tap - run[nrun].i * kw;
        run[nrun].off = (run[nrun].i * W + run[nrun].j) * C + c;
        run[nrun].lane = lane;
        run[nrun].len = len;
        nrun++;
        lane += len;
    }
    return nrun;
}

/* The pixel walk shared by the scalar and vector packers: for each q in [k0, k0 + kc), `at`
 * is xt's index of the element under tap (0, 0), channel 0 (before the image where that is
 * padding: it is only read past the bounds test of each run), and ihb, iwb its input row and
 * column. */
#define FNN_CONV_NHWC_WALK(...)                                                                \
    {                                                                                          \
        const ptrdiff_t P = g->OH * g->OW;                                                     \
        ptrdiff_t q = (ptrdiff_t)k0, n = q / P, oh = (q - n * P) / g->OW;                      \
        ptrdiff_t ow = q - n * P - oh * g->OW;                                                 \
        for (; q < (ptrdiff_t)(k0 + kc); q++) {                                                \
            const ptrdiff_t ihb = oh * g->sh - g->ph, iwb = ow * g->sw - g->pw;                \
            const ptrdiff_t at = ((n * g->H + ihb) * g->W + iwb) * g->C;                       \
            __VA_ARGS__                                                                        \
            if (++ow == g->OW) {                                                               \
                ow = 0;                                                                        \
                if (++oh == g->OH) {                                                           \
                    oh = 0;                                                                    \
                    n++;                                                                       \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    }

#define FNN_CONV_PACK_NHWC(NAME, T)                                                            \
static void NAME(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0, int64_t xn, \
                 int r, void *vbuf)                                                           \
{                                                                                             \
    const fnn_conv_cols_src *s = (const fnn_conv_cols_src *)ctx;                              \
    const fnn_conv_geom *g = s->g;                                                            \
    const T *xt = (const T *)s->x;                                                            \
    const ptrdiff_t npan = (ptrdiff_t)((xn + r - 1) / r), pstride = (ptrdiff_t)kc * r;        \
    fnn_conv_tap_run run[FNN_GEMM_MAX_R];                                                     \
    ptrdiff_t pn;                                                                             \
    (void)bi;                                                                                 \
    for (pn = 0; pn < npan; pn++) {                                                           \
        const ptrdiff_t ct = (ptrdiff_t)xn - pn * r < r ? (ptrdiff_t)xn - pn * r : r;         \
        const ptrdiff_t nrun = fnn_conv_tap_runs(g, (ptrdiff_t)x0 + pn * r, ct, run);         \
        T *d = (T *)vbuf + pn * pstride;                                                      \
        FNN_CONV_NHWC_WALK(                                                                   \
            ptrdiff_t e, l;                                                                   \
            for (e = 0; e < nrun; e++) {                                                      \
                T *o = d + run[e].lane;                                                       \
                if ((size_t)(ihb + run[e].i) < (size_t)g->H                                   \
                        && (size_t)(iwb + run[e].j) < (size_t)g->W) {                         \
                    const T *src = xt + at + run[e].off;                                      \
                    for (l = 0; l < run[e].len; l++)                                          \
                        o[l] = src[l];                                                        \
                } else {                                                                      \
                    for (l = 0; l < run[e].len; l++)                                          \
                        o[l] = 0;                                                             \
                }                                                                             \
            }                                                                                 \
            for (l = ct; l < r; l++)                                                          \
                d[l] = 0;                                                                     \
            d += r;                                                                           \
        )                                                                                     \
    }                                                                                         \
}

FNN_CONV_PACK_NHWC(fnn_conv_pack_nhwc_f_generic, float)
FNN_CONV_PACK_NHWC(fnn_conv_pack_nhwc_d, double)

/* x (C x L per image, rows L apart) into xt (L x C): fnn_conv_pack_transpose_T with whole
 * images; the caller runs one image per thread. */
static inline void fnn_conv_to_channel_last_f(const float *x, ptrdiff_t C, ptrdiff_t L,
                                              float *xt)
{
    fnn_conv_pack_transpose_float(x, L, L, C, xt, (int)C);
}

static inline void fnn_conv_to_channel_last_d(const double *x, ptrdiff_t C, ptrdiff_t L,
                                              double *xt)
{
    fnn_conv_pack_transpose_double(x, L, L, C, xt, (int)C);
}

#if FNN_X86
/* The vector variants (r <= LANES): a pixel's row of r lanes is gathered from its runs by masked
 * loads into one register (a run's lanes are loaded where its tap reads real input, zero
 * otherwise; lanes of no run are zero) and stored with r lanes.  Masked-off lanes are never
 * read, so the address of lane 0 is formed in integer arithmetic and may lie outside xt.
 * One body for both instruction sets: MT is the mask type, MASK_OF(bits) makes one from lane
 * bits, MERGE(v, m, addr) loads the lanes of m from addr into v, STORE(d, m, v) stores them. */
#define FNN_CONV_PACK_NHWC_VEC(NAME, TARGET, VT, MT, ZERO, MASK_OF, MERGE, STORE)               \
TARGET static void NAME(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0,       \
                        int64_t xn, int r, void *vbuf)                                         \
{                                                                                              \
    const fnn_conv_cols_src *s = (const fnn_conv_cols_src *)ctx;                               \
    const fnn_conv_geom *g = s->g;                                                             \
    const uintptr_t xt = (uintptr_t)s->x;                                                      \
    const ptrdiff_t npan = (ptrdiff_t)((xn + r - 1) / r), pstride = (ptrdiff_t)kc * r;         \
    const MT store = MASK_OF(fnn_conv_lane_bits(0, r)), none = MASK_OF(0u);                    \
    fnn_conv_tap_run run[FNN_GEMM_MAX_R];                                                      \
    MT mask[FNN_GEMM_MAX_R];                                                                   \
    ptrdiff_t pn, e;                                                                           \
    (void)bi;                                                                                  \
    for (pn = 0; pn < npan; pn++) {                                                            \
        const ptrdiff_t ct = (ptrdiff_t)xn - pn * r < r ? (ptrdiff_t)xn - pn * r : r;          \
        const ptrdiff_t nrun = fnn_conv_tap_runs(g, (ptrdiff_t)x0 + pn * r, ct, run);          \
        float *d = (float *)vbuf + pn * pstride;                                               \
        for (e = 0; e < nrun; e++)                                                             \
            mask[e] = MASK_OF(fnn_conv_lane_bits(run[e].lane, run[e].lane + run[e].len));      \
        FNN_CONV_NHWC_WALK(                                                                    \
            VT v = ZERO();                                                                     \
            for (e = 0; e < nrun; e++) {                                                       \
                const int real = (size_t)(ihb + run[e].i) < (size_t)g->H                       \
                                 && (size_t)(iwb + run[e].j) < (size_t)g->W;                   \
                const uintptr_t addr = xt + (uintptr_t)((at + run[e].off - run[e].lane)        \
                                                        * (ptrdiff_t)sizeof(float));           \
                v = MERGE(v, real ? mask[e] : none, addr);                                     \
            }                                                                                  \
            STORE(d, store, v);                                                                \
            d += r;                                                                            \
        )                                                                                      \
    }                                                                                          \
}

/* AVX-512F: opmask loads merge into v. */
#define FNN_NHWC_MASK_AVX512(bits) ((__mmask16)(bits))
#define FNN_NHWC_MERGE_AVX512(v, m, addr) _mm512_mask_loadu_ps((v), (m), (const void *)(addr))
#define FNN_NHWC_STORE_AVX512(d, m, v) _mm512_mask_storeu_ps((d), (m), (v))
FNN_CONV_PACK_NHWC_VEC(fnn_conv_pack_nhwc_f_avx512, __attribute__((target("avx512f"))), __m512,
                       __mmask16, _mm512_setzero_ps, FNN_NHWC_MASK_AVX512, FNN_NHWC_MERGE_AVX512,
                       FNN_NHWC_STORE_AVX512)

/* AVX2: vmaskmovps zeroes the lanes it does not load and runs own disjoint lanes, so an OR
 * merges them. */
#define FNN_NHWC_MERGE_AVX2(v, m, addr) \
    _mm256_or_ps((v), _mm256_maskload_ps((const float *)(addr), (m)))
#define FNN_NHWC_STORE_AVX2(d, m, v) _mm256_maskstore_ps((d), (m), (v))
FNN_CONV_PACK_NHWC_VEC(fnn_conv_pack_nhwc_f_avx2, __attribute__((target("avx2"))), __m256,
                       __m256i, _mm256_setzero_ps, fnn_conv_lane_mask_avx2, FNN_NHWC_MERGE_AVX2,
                       FNN_NHWC_STORE_AVX2)
#endif

/* The float channel-last packer: a vector variant where a panel row fits one vector at the
 * context's level, else the scalar one; all write the same panels. */
static void fnn_conv_pack_nhwc_f(const void *ctx, int64_t bi, int64_t k0, int64_t kc,
                                 int64_t x0, int64_t xn, int r, void *buf)
{
#if FNN_X86
    const fnn_conv_cols_src *s = (const fnn_conv_cols_src *)ctx;
    if (s->simd >= FNN_SIMD_AVX512 && r <= 16) {
        fnn_conv_pack_nhwc_f_avx512(ctx, bi, k0, kc, x0, xn, r, buf);
        return;
    }
    if (s->simd >= FNN_SIMD_AVX2 && r <= 8) {
        fnn_conv_pack_nhwc_f_avx2(ctx, bi, k0, kc, x0, xn, r, buf);
        return;
    }
#endif
    fnn_conv_pack_nhwc_f_generic(ctx, bi, k0, kc, x0, xn, r, buf);
}

/* The weight gradient's other operand, dY, straight from dy: op(A) is OC x (N*P),
 *     op(A)[o, q] = dy[n, o, p],  q = n*P + p
 * (dy is (N, OC, P), C order), so the GEMM needs no transposed copy of dy.  A request's
 * k0..k0+kc runs over pixels q, its x0..x0+xn over output channels o.  Within one image the
 * block is a row-major matrix (row stride P): each run of pixels in one image (at most
 * FNN_CONV_PACK_L) is transposed into the panels straight from dy, r rows at a time.  Same values in the same k order as packing the transposed copy: the
 * same bits. */
typedef struct {
    const void *dy;            /* float * or double *: dy[0, 0, 0] */
    ptrdiff_t OC, P;
} fnn_conv_dy_src;

#define FNN_CONV_PACK_DY(NAME, T)                                                              \
static void NAME(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0, int64_t xn, \
                 int r, void *vbuf)                                                           \
{                                                                                             \
    const fnn_conv_dy_src *s = (const fnn_conv_dy_src *)ctx;                                  \
    const ptrdiff_t OC = s->OC, P = s->P;                                                     \
    const ptrdiff_t npan = (ptrdiff_t)((xn + r - 1) / r);                                     \
    const ptrdiff_t nlast = (ptrdiff_t)xn - (npan - 1) * r;                                   \
    const ptrdiff_t pstride = (ptrdiff_t)kc * r, qend = (ptrdiff_t)(k0 + kc);                 \
    T *buf = (T *)vbuf;                                                                       \
    ptrdiff_t q = (ptrdiff_t)k0;                                                              \
    (void)bi;                                                                                 \
    if (nlast < r)                   /* the last panel's rows past xn */                      \
        fnn_conv_pack_zero_tail_##T(buf, npan, nlast, (ptrdiff_t)kc, r);                      \
    while (q < qend) {                                                                        \
        const ptrdiff_t n = q / P, pp = q - n * P;                                            \
        ptrdiff_t len = P - pp < qend - q ? P - pp : qend - q, pn;                            \
        const T *img = (const T *)s->dy + n * OC * P + pp;                                    \
        if (len > FNN_CONV_PACK_L)                                                            \
            len = FNN_CONV_PACK_L;                                                            \
        for (pn = 0; pn < npan; pn++) {                                                       \
            const ptrdiff_t o0 = (ptrdiff_t)x0 + pn * r;                                      \
            const ptrdiff_t ct = pn < npan - 1 ? r : nlast;                                   \
            T *dst = buf + pn * pstride + (q - (ptrdiff_t)k0) * r;                            \
            /* the block's ct rows are runs of dy, P apart: transposed in place */            \
            fnn_conv_pack_transpose_##T(img + o0 * P, P, len, ct, dst, r);                    \
        }                                                                                     \
        q += len;                                                                             \
    }                                                                                         \
}

FNN_CONV_PACK_DY(fnn_conv_pack_dy_f, float)
FNN_CONV_PACK_DY(fnn_conv_pack_dy_d, double)

#endif
