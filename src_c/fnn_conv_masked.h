/* The convolution's GEMM with its B operand read straight from the image: the micro-kernel loads
 * each row of an im2col panel from x with one masked vector load per 16 (AVX-512) or 8 (AVX2)
 * pixels, so the panel is never packed.  float32, stride 1 and "same" width (OW == W); the
 * forward pass and dx by convolution (fastnn/kernels/_conv.pyx, _dx_convolution) both run here
 * when it applies.
 *
 * Why it works.  At stride 1 with OW == W, output pixel p = oh*OW + ow of tap (i, j) reads
 *     x[c, oh + i - ph, ow + j - pw] = x_c[p + (i - ph)*W + (j - pw)]
 * so one tap's values for 16 consecutive pixels lie at 16 consecutive addresses of channel c's
 * plane, off[t] = (i - ph)*W + (j - pw) away from the pixels' own: one vector load.  The lanes
 * whose window hangs over the padding (or past the image's last pixel) are exactly the lanes
 * where the address left the row or the plane; a mask zeroes them, and a masked-off lane is
 * never read (AVX-512's opmask loads and AVX2's vmaskmovps suppress its fault).  The masks
 * depend on the panel and the tap only: a table, fnn_conv_masked_tables, made once per call.
 * The packing source of fnn_conv_pack.h copied the same values into a panel first; that copy
 * was 12% of conv 32->64's training step (docs/kernels/conv.md).
 *
 * Tiles.  A work unit is one image's panel of 32 pixels (the last one may be narrower), every
 * output channel: the packed weights (fnn_conv_masked_pack_w: MR = 12 rows per panel, k-major,
 * the GEMM's A format) stream past while the panel's inputs stay in L1.  The tile is the GEMM's:
 * 12 x 32 at AVX-512 (24 zmm accumulators), 6 x 16 at AVX2 (12 ymm), one body for both
 * (fnn_conv_masked_fwd says how a panel is cut into tiles).
 *
 * Same bits as the GEMM path.  Each output element is the chain the GEMM computes for it:
 *     acc = 0;  for k = c*kh*kw + i*kw + j ascending: acc = fma(w[oc, k], x_k, acc)
 * then acc + bias[oc], then the activation (fnn_conv_act: the GEMM epilogue's formulas), with
 * flush-to-zero / denormals-are-zero set as the GEMM sets them.  A masked lane is +0.0, the value
 * the packer writes for padding.  tests/test_conv.py compares the two paths bit for bit.
 *
 * Nothing here is checked: the caller validated the geometry, sized the tables and the packed
 * weights, and calls fnn_conv_masked_fwd only where fnn_conv_masked_applies.
 */
#ifndef FNN_CONV_MASKED_H
#define FNN_CONV_MASKED_H
#include <stddef.h>
#include <stdint.h>

#include "fnn_conv_direct.h"   /* fnn_conv_geom, fnn_conv_act; FNN_X86; <string.h> */
#include "fnn_gemm_ftz.h"

#define FNN_CONV_MASKED_MR 12  /* output channels per row panel */
#define FNN_CONV_MASKED_NR 32  /* pixels per work unit */
/* The most taps (kh * kw) the AVX2 tiles take: each tile keeps its taps' lane masks on the stack
 * (2 x 32 bytes a tap); a larger kernel goes through the packing path (same bits). */
#define FNN_CONV_MASKED_AVX2_TAPS 49

/* Whether fnn_conv_masked_fwd can compute this float32 convolution at SIMD level simd. */
static inline int fnn_conv_masked_applies(int simd, const fnn_conv_geom *g)
{
#if FNN_X86
    return simd >= FNN_SIMD_AVX2 && g->sh == 1 && g->sw == 1 && g->OW == g->W && g->OH > 0
        && g->OW > 0 && (simd >= FNN_SIMD_AVX512 || g->kh * g->kw <= FNN_CONV_MASKED_AVX2_TAPS);
#else
    (void)simd;
    (void)g;
    return 0;
#endif
}

/* Pixel panels of one image. */
static inline ptrdiff_t fnn_conv_masked_panels(const fnn_conv_geom *g)
{
    return (g->OH * g->OW + FNN_CONV_MASKED_NR - 1) / FNN_CONV_MASKED_NR;
}

/* off[t] (kh*kw entries, t = i*kw + j) and mask[q*kh*kw + t] (one per panel q and tap t: bit l
 * set when pixel 32q + l exists and its tap t reads inside the image). */
static void fnn_conv_masked_tables(const fnn_conv_geom *g, ptrdiff_t *off, uint32_t *mask)
{
    const ptrdiff_t T = g->kh * g->kw, P = g->OH * g->OW, npan = fnn_conv_masked_panels(g);
    ptrdiff_t q, i, j, l;
    for (i = 0; i < g->kh; i++)
        for (j = 0; j < g->kw; j++)
            off[i * g->kw + j] = (i - g->ph) * g->W + (j - g->pw);
    for (q = 0; q < npan; q++)
        for (i = 0; i < g->kh; i++)
            for (j = 0; j < g->kw; j++) {
                uint32_t m = 0;
                for (l = 0; l < FNN_CONV_MASKED_NR && q * FNN_CONV_MASKED_NR + l < P; l++) {
                    const ptrdiff_t p = q * FNN_CONV_MASKED_NR + l;
                    const ptrdiff_t ih = p / g->OW + i - g->ph, iw = p % g->OW + j - g->pw;
                    if (ih >= 0 && ih < g->H && iw >= 0 && iw < g->W)
                        m |= 1u << l;
                }
                mask[q * T + i * g->kw + j] = m;
            }
}

/* Floats of fnn_conv_masked_pack_w's output for OC rows of K. */
static inline ptrdiff_t fnn_conv_masked_packed_size(ptrdiff_t OC, ptrdiff_t K)
{
    return (OC + FNN_CONV_MASKED_MR - 1) / FNN_CONV_MASKED_MR * FNN_CONV_MASKED_MR * K;
}

/* w2 (OC x K, C order) as row panels of MR rows, k-major: ap[r0*K + k*MR + r] with rows past OC
 * zero (computed, never stored). */
static void fnn_conv_masked_pack_w(const float *w2, ptrdiff_t OC, ptrdiff_t K, float *ap)
{
    const ptrdiff_t MR = FNN_CONV_MASKED_MR;
    ptrdiff_t r0, k, r;
    for (r0 = 0; r0 < OC; r0 += MR)
        for (k = 0; k < K; k++)
            for (r = 0; r < MR; r++)
                *ap++ = r0 + r < OC ? w2[(r0 + r) * K + k] : 0.0f;
}

#if FNN_X86
/* One tile body for both levels.  VT is the vector type, V its floats; SET1/FMADD/ADD/MAX/
 * ZERO/STOREU its intrinsics; LOAD_B(b, t, m, v) loads vector v (0 or 1) of tap t's row at b, the
 * lanes of the tap's mask m (bit l: lane l of the tile) that are clear as zeros, never reading
 * them.  AVX-512: opmask loads.  AVX2 has no opmask registers: vmaskmovps, with its lane masks
 * looked up per byte of m (fnn_conv_masked_lanes) once per tile (TILE_PREP).  TILE_PREP runs
 * before the loops (nothing at AVX-512). */

/* fnn_conv_masked_lanes[b]: the 8 lane masks (-1 or 0) of the bits of byte b. */
#define FNN_CONV_LANES1(b) {-((b) & 1), -((b) >> 1 & 1), -((b) >> 2 & 1), -((b) >> 3 & 1),   \
                            -((b) >> 4 & 1), -((b) >> 5 & 1), -((b) >> 6 & 1), -((b) >> 7 & 1)}
#define FNN_CONV_LANES4(b) FNN_CONV_LANES1(b), FNN_CONV_LANES1((b) + 1),                      \
                           FNN_CONV_LANES1((b) + 2), FNN_CONV_LANES1((b) + 3)
#define FNN_CONV_LANES16(b) FNN_CONV_LANES4(b), FNN_CONV_LANES4((b) + 4),                     \
                            FNN_CONV_LANES4((b) + 8), FNN_CONV_LANES4((b) + 12)
#define FNN_CONV_LANES64(b) FNN_CONV_LANES16(b), FNN_CONV_LANES16((b) + 16),                  \
                            FNN_CONV_LANES16((b) + 32), FNN_CONV_LANES16((b) + 48)
static const int32_t fnn_conv_masked_lanes[256][8] __attribute__((aligned(32))) = {
    FNN_CONV_LANES64(0), FNN_CONV_LANES64(64), FNN_CONV_LANES64(128), FNN_CONV_LANES64(192)};
#undef FNN_CONV_LANES64
#undef FNN_CONV_LANES16
#undef FNN_CONV_LANES4
#undef FNN_CONV_LANES1

/* One row: broadcast its weight at this k, one FMA per vector. */
#define FNN_CONV_MASKED_ROW(r)                                                                 \
    if (ROWS > r) {                                                                            \
        const VT a = SET1(ap[r]);                                                              \
        c##r##a = FMADD(a, b0, c##r##a);                                                       \
        if (VECS > 1)                                                                          \
            c##r##b = FMADD(a, b1, c##r##b);                                                   \
    }

/* + bias, then ReLU: max(0, v) is `v < 0 ? 0 : v` (a NaN or -0 passes through). */
#define FNN_CONV_MASKED_EPI(v, br) (relu ? MAX(ZERO(), (br) ? ADD(v, SET1(*(br))) : (v))       \
                                         : (br) ? ADD(v, SET1(*(br))) : (v))

/* Row r of the tile to y: + bias (and ReLU) in registers; whole tiles stored as they are, a
 * partial one (an image's last panel) through a buffer, as masked stores are slow on some CPUs;
 * then an activation other than ReLU on the stored row (fnn_conv_act, the GEMM epilogue's
 * formulas). */
#define FNN_CONV_MASKED_STORE(r)                                                               \
    if (ROWS > r && r < rows) {                                                                \
        float *yr = y + (r) * P;                                                               \
        const float *br = bias != NULL ? bias + (r) : NULL;                                    \
        const VT va = FNN_CONV_MASKED_EPI(c##r##a, br), vb = FNN_CONV_MASKED_EPI(c##r##b, br); \
        if (width == 2 * V) {                                                                  \
            STOREU(yr, va);                                                                    \
            STOREU(yr + V, vb);                                                                \
        } else {                                                                               \
            float part[2 * V];                                                                 \
            STOREU(part, va);                                                                  \
            STOREU(part + V, vb);                                                              \
            memcpy(yr, part, (size_t)width * sizeof(float));                                   \
        }                                                                                      \
        if (act != FNN_ACT_NONE && !relu)                                                      \
            fnn_conv_act(act, yr, width);                                                      \
    }

/* One tile: ROWS (<= 12) output channels x VECS (1 or 2) vectors.  x: the image's first
 * channel at the tile's first pixel; mask: the panel's tap masks, the tile's lanes from bit
 * `shift`; ap: the row panel's packed weights at the tile's first row; y: the first row's
 * output at the tile's first pixel; rows (<= ROWS) rows and width pixels are stored. */
#define FNN_CONV_MASKED_TILE(NAME, TARGET, ROWS_, VECS_)                                       \
__attribute__((target(TARGET)))                                                               \
static void NAME(const fnn_conv_geom *g, const ptrdiff_t *off, const uint32_t *mask,           \
                 int shift, const float *x, const float *ap, const float *bias, int act,       \
                 float *y, ptrdiff_t rows, ptrdiff_t width)                                    \
{                                                                                              \
    enum { ROWS = ROWS_, VECS = VECS_ };                                                       \
    const ptrdiff_t T = g->kh * g->kw, HW = g->H * g->W, P = g->OH * g->OW;                    \
    const int relu = act == FNN_ACT_RELU;                                                      \
    VT c0a = ZERO(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a, c3a = c0a;         \
    VT c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a, c6a = c0a, c6b = c0a;            \
    VT c7a = c0a, c7b = c0a, c8a = c0a, c8b = c0a, c9a = c0a, c9b = c0a, c10a = c0a;           \
    VT c10b = c0a, c11a = c0a, c11b = c0a;                                                     \
    ptrdiff_t c, t;                                                                            \
    TILE_PREP                                                                                  \
    /* fetch the tile's output lines while it computes: its stores would wait for them */     \
    for (c = 0; c < rows; c++) {                                                               \
        __builtin_prefetch(y + c * P, 1, 3);                                                   \
        __builtin_prefetch(y + c * P + width - 1, 1, 3);                                       \
    }                                                                                          \
    for (c = 0; c < g->C; c++, x += HW)                                                        \
        for (t = 0; t < T; t++, ap += FNN_CONV_MASKED_MR) {                                    \
            const float *b = x + off[t];                                                       \
            const uint32_t m = mask[t] >> shift;  /* (unused where TILE_PREP did the lookup) */\
            const VT b0 = LOAD_B(b, t, m, 0), b1 = VECS > 1 ? LOAD_B(b, t, m, 1) : b0;         \
            (void)m;                                                                           \
            FNN_CONV_MASKED_ROW(0) FNN_CONV_MASKED_ROW(1) FNN_CONV_MASKED_ROW(2)               \
            FNN_CONV_MASKED_ROW(3) FNN_CONV_MASKED_ROW(4) FNN_CONV_MASKED_ROW(5)               \
            FNN_CONV_MASKED_ROW(6) FNN_CONV_MASKED_ROW(7) FNN_CONV_MASKED_ROW(8)               \
            FNN_CONV_MASKED_ROW(9) FNN_CONV_MASKED_ROW(10) FNN_CONV_MASKED_ROW(11)             \
        }                                                                                      \
    FNN_CONV_MASKED_STORE(0) FNN_CONV_MASKED_STORE(1) FNN_CONV_MASKED_STORE(2)                 \
    FNN_CONV_MASKED_STORE(3) FNN_CONV_MASKED_STORE(4) FNN_CONV_MASKED_STORE(5)                 \
    FNN_CONV_MASKED_STORE(6) FNN_CONV_MASKED_STORE(7) FNN_CONV_MASKED_STORE(8)                 \
    FNN_CONV_MASKED_STORE(9) FNN_CONV_MASKED_STORE(10) FNN_CONV_MASKED_STORE(11)               \
}

/* AVX-512: 12 x 32 (24 zmm accumulators) */
#define VT __m512
#define V 16
#define SET1 _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define MAX _mm512_max_ps
#define ZERO _mm512_setzero_ps
#define STOREU _mm512_storeu_ps
#define TILE_PREP
#define LOAD_B(b, t, m, v) _mm512_maskz_loadu_ps((__mmask16)((m) >> 16 * (v)), (b) + 16 * (v))
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx512_12x32, "avx512f", 12, 2)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx512_8x32, "avx512f", 8, 2)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx512_4x32, "avx512f", 4, 2)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx512_12x16, "avx512f", 12, 1)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx512_8x16, "avx512f", 8, 1)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx512_4x16, "avx512f", 4, 1)
#undef VT
#undef V
#undef SET1
#undef FMADD
#undef ADD
#undef MAX
#undef ZERO
#undef STOREU
#undef TILE_PREP
#undef LOAD_B

/* AVX2 + FMA: 6 x 16 (12 ymm accumulators, the AVX2 GEMM's tile) */
#define VT __m256
#define V 8
#define SET1 _mm256_set1_ps
#define FMADD _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define MAX _mm256_max_ps
#define ZERO _mm256_setzero_ps
#define STOREU _mm256_storeu_ps
/* The tile's lane masks, tap by tap, looked up once per tile instead of at every k: the lookup
 * (shift, byte, table load) sat on each k step's load chain, once per input channel. */
#define TILE_PREP                                                                              \
    __m256i lanes[FNN_CONV_MASKED_AVX2_TAPS][2];                                               \
    for (t = 0; t < T; t++) {                                                                  \
        const uint32_t mt = mask[t] >> shift;                                                  \
        lanes[t][0] = _mm256_load_si256((const __m256i *)fnn_conv_masked_lanes[mt & 255]);     \
        lanes[t][1] = _mm256_load_si256((const __m256i *)fnn_conv_masked_lanes[mt >> 8 & 255]);\
    }
#define LOAD_B(b, t, m, v) _mm256_maskload_ps((b) + 8 * (v), lanes[t][v])
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx2_6x16, "avx2,fma", 6, 2)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx2_4x16, "avx2,fma", 4, 2)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx2_2x16, "avx2,fma", 2, 2)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx2_6x8, "avx2,fma", 6, 1)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx2_4x8, "avx2,fma", 4, 1)
FNN_CONV_MASKED_TILE(fnn_conv_masked_avx2_2x8, "avx2,fma", 2, 1)
#undef VT
#undef V
#undef SET1
#undef FMADD
#undef ADD
#undef MAX
#undef ZERO
#undef STOREU
#undef TILE_PREP
#undef LOAD_B
#undef FNN_CONV_MASKED_TILE
#undef FNN_CONV_MASKED_STORE
#undef FNN_CONV_MASKED_EPI
#undef FNN_CONV_MASKED_ROW

typedef void (*fnn_conv_masked_kernel)(const fnn_conv_geom *, const ptrdiff_t *,
                                       const uint32_t *, int, const float *, const float *,
                                       const float *, int, float *, ptrdiff_t, ptrdiff_t);
#endif

/* Pixel panel q of one image, every output channel, at SIMD level simd (AVX2 or above): x =
 * image n (C x H x W), y = image n (OC x OH*OW); ap from fnn_conv_masked_pack_w, off and mask
 * from fnn_conv_masked_tables; bias may be NULL.  A level's tile is TR rows x TW pixels (12 x
 * 32 at AVX-512: one tile per row panel; 6 x 16 at AVX2: a row panel and the pixel panel each
 * run as two halves); a partial tile gets the instance with the next multiple of RQ rows and
 * one vector when it has at most half a tile's pixels, so no FMA is spent on padding. */
static void fnn_conv_masked_fwd(int simd, const fnn_conv_geom *g, const ptrdiff_t *off,
                                const uint32_t *mask, const float *ap, const float *x,
                                const float *bias, int act, float *y, ptrdiff_t q)
{
#if FNN_X86
    /* [level][vectors - 1][rows / RQ - 1] */
    static const fnn_conv_masked_kernel kernels[2][2][3] = {
        {{fnn_conv_masked_avx2_2x8, fnn_conv_masked_avx2_4x8, fnn_conv_masked_avx2_6x8},
         {fnn_conv_masked_avx2_2x16, fnn_conv_masked_avx2_4x16, fnn_conv_masked_avx2_6x16}},
        {{fnn_conv_masked_avx512_4x16, fnn_conv_masked_avx512_8x16,
          fnn_conv_masked_avx512_12x16},
         {fnn_conv_masked_avx512_4x32, fnn_conv_masked_avx512_8x32,
          fnn_conv_masked_avx512_12x32}}};
    const int level = simd >= FNN_SIMD_AVX512;
    const ptrdiff_t TR = level ? 12 : 6, TW = level ? 32 : 16, RQ = level ? 4 : 2;
    const ptrdiff_t MR = FNN_CONV_MASKED_MR, P = g->OH * g->OW, T = g->kh * g->kw;
    const ptrdiff_t K = g->C * T, p0 = q * FNN_CONV_MASKED_NR;
    const ptrdiff_t width = P - p0 < FNN_CONV_MASKED_NR ? P - p0 : FNN_CONV_MASKED_NR;
    const uint32_t *mq = mask + q * T;
    const unsigned csr = fnn_ftz_enter();
    ptrdiff_t r0, r, h;
    for (r0 = 0; r0 < g->OC; r0 += MR)
        for (r = r0; r < r0 + MR && r < g->OC; r += TR) {
            const ptrdiff_t rn = g->OC - r < TR ? g->OC - r : TR;
            for (h = 0; h < width; h += TW) {
                const ptrdiff_t wn = width - h < TW ? width - h : TW;
                kernels[level][wn > TW / 2][(rn - 1) / RQ](
                    g, off, mq, (int)h, x + p0 + h, ap + r0 * K + (r - r0),
                    bias != NULL ? bias + r : NULL, act, y + r * P + p0 + h, rn, wn);
            }
        }
    fnn_ftz_leave(csr);
#else
    (void)simd; (void)g; (void)off; (void)mask; (void)ap; (void)x; (void)bias; (void)act;
    (void)y; (void)q;
#endif
}

#endif /* FNN_CONV_MASKED_H */
