/* The convolution's weight gradient with both GEMM operands read in place: float32, AVX-512 with
 * C a multiple of 16, or AVX2 + FMA with C a multiple of 8.
 *
 *     dw (OC x CKK) = dY (OC x N*P) @ cols^T,   cols^T's columns in tap-major order (t, c)
 *
 * The GEMM path (fastnn/kernels/_conv.pyx, _dw_implicit) packs both operands first: dY^T from
 * dy and cols from a channel-last copy of x; those packers took 12% of conv 32->64's backward
 * pass (docs/kernels/conv.md).  Here the micro-kernel reads them where they are:
 * - A, dY: the tile's MR rows are rows of dy[n] (dy[n, oc, p] is an OC x P block), broadcast
 *   one value per row and pixel, as from a packed panel;
 * - B, cols^T: pixel p's values of tap t are the C channels of one input pixel of the
 *   channel-last copy xt (N, H*W + 1, C), contiguous and aligned to the vector: a vector load at
 *   xt[n] + idx[t*P + p] + c.  The index table (fnn_conv_dw_inplace_index) points a tap that
 *   reads padding at row H*W of the image, which the caller zeroed: every load is a plain one,
 *   with no mask, at any stride and padding.
 *
 * Tiles and threads.  dw is computed as tiles of MR output channels x two vectors of columns
 * (one vector at a last panel when CKK is an odd number of vectors): 12 x 32 at AVX-512 (24 zmm
 * accumulators), 6 x 16 at AVX2 (12 ymm), the GEMM's tiles.  A last row panel of fewer rows gets
 * the instance with the next multiple of RQ rows (4 at AVX-512, 2 at AVX2; its rows past OC
 * re-read the panel's first row and are never stored).  A call owns the tiles [tile0, tile1)
 * (numbered row panel * column panels + column panel) for the whole batch: images outer, so an
 * image's dy and xt (75 KB in conv 32->64) stay in L2 while the call's tiles pass over them;
 * each tile's accumulators go to dwt between images.
 *
 * Same bits as the GEMM path.  Each dw element is the chain the GEMM computes for it,
 *     acc = 0;  for q = n*P + p ascending: acc = fma(dy[n, oc, p], cols[k, q], acc)
 * continued through dwt between images exactly as the GEMM continues it between k-blocks, under
 * the same flush-to-zero mode; a padding tap reads +0.0, the value the packer writes.
 *
 * Nothing here is checked: the caller (fastnn/kernels/_conv.pyx) validated the geometry, sized
 * idx, xt and dwt, and calls only where fnn_conv_dw_inplace_applies.
 */
#ifndef FNN_CONV_DW_INPLACE_H
#define FNN_CONV_DW_INPLACE_H
#include <stddef.h>
#include <stdint.h>

#include "fnn_conv_direct.h"   /* fnn_conv_geom; FNN_X86 */
#include "fnn_gemm_ftz.h"

/* A level's tile: MR rows, NR = two vectors of columns, row variants in steps of RQ. */
typedef struct {
    ptrdiff_t mr, nr, rq;
} fnn_conv_dw_inplace_shape;

static inline fnn_conv_dw_inplace_shape fnn_conv_dw_inplace_tile(int simd)
{
    fnn_conv_dw_inplace_shape t = {6, 16, 2};
    if (simd >= FNN_SIMD_AVX512) {
        t.mr = 12;
        t.nr = 32;
        t.rq = 4;
    }
    return t;
}

/* Whether fnn_conv_dw_inplace can compute this float32 weight gradient at SIMD level simd: C a
 * multiple of the vector, and an index table (kh*kw*OH*OW entries) no larger than one image of
 * x (a large kernel sliding over a large image with few channels keeps the packing GEMM, which
 * needs no table). */
static inline int fnn_conv_dw_inplace_applies(int simd, const fnn_conv_geom *g)
{
#if FNN_X86
    return simd >= FNN_SIMD_AVX2 && g->C > 0 && g->C % (fnn_conv_dw_inplace_tile(simd).nr / 2) == 0
        && g->kh * g->kw * g->OH * g->OW <= g->C * g->H * g->W;
#else
    (void)simd;
    (void)g;
    return 0;
#endif
}

/* Tiles at level simd: row panels x column panels. */
static inline ptrdiff_t fnn_conv_dw_inplace_tiles(int simd, const fnn_conv_geom *g)
{
    const fnn_conv_dw_inplace_shape t = fnn_conv_dw_inplace_tile(simd);
    const ptrdiff_t CKK = g->C * g->kh * g->kw;
    return (g->OC + t.mr - 1) / t.mr * ((CKK + t.nr - 1) / t.nr);
}

/* What tile `tile` costs: its rows as its kernel computes them (a multiple of the level's RQ)
 * times its vectors (2, or 1 at a last column panel of one vector). */
static inline ptrdiff_t fnn_conv_dw_inplace_cost(fnn_conv_dw_inplace_shape t,
                                                 const fnn_conv_geom *g, ptrdiff_t tile)
{
    const ptrdiff_t CKK = g->C * g->kh * g->kw, ncp = (CKK + t.nr - 1) / t.nr;
    const ptrdiff_t left = g->OC - tile / ncp * t.mr, rows = left < t.mr ? left : t.mr;
    return (rows + t.rq - 1) / t.rq * t.rq * (CKK - tile % ncp * t.nr > t.nr / 2 ? 2 : 1);
}

/* bounds[0..nthreads]: thread i owns tiles [bounds[i], bounds[i + 1]), shares of equal cost.
 * Only the split depends on nthreads, never a tile's arithmetic. */
static void fnn_conv_dw_inplace_split(int simd, const fnn_conv_geom *g, int nthreads,
                                      ptrdiff_t *bounds)
{
    const fnn_conv_dw_inplace_shape t = fnn_conv_dw_inplace_tile(simd);
    const ptrdiff_t tiles = fnn_conv_dw_inplace_tiles(simd, g);
    ptrdiff_t total = 0, run = 0, tile;
    int i = 1;
    for (tile = 0; tile < tiles; tile++)
        total += fnn_conv_dw_inplace_cost(t, g, tile);
    bounds[0] = 0;
    for (tile = 0; tile < tiles; tile++) {
        run += fnn_conv_dw_inplace_cost(t, g, tile);
        while (i < nthreads && run * nthreads >= total * i)   /* share i ends after this tile */
            bounds[i++] = tile + 1;
    }
    while (i <= nthreads)
        bounds[i++] = tiles;
}

/* idx[t*P + p] (t = i*kw + j, p = oh*OW + ow): where in one image of xt output pixel p's tap t
 * reads, in floats: (ih*W + iw)*C, or H*W*C (the zero row) when that is padding. */
static void fnn_conv_dw_inplace_index(const fnn_conv_geom *g, ptrdiff_t *idx)
{
    const ptrdiff_t P = g->OH * g->OW;
    ptrdiff_t i, j, oh, ow;
    for (i = 0; i < g->kh; i++)
        for (j = 0; j < g->kw; j++)
            for (oh = 0; oh < g->OH; oh++)
                for (ow = 0; ow < g->OW; ow++) {
                    const ptrdiff_t ih = oh * g->sh + i - g->ph, iw = ow * g->sw + j - g->pw;
                    const int inside = ih >= 0 && ih < g->H && iw >= 0 && iw < g->W;
                    idx[(i * g->kw + j) * P + oh * g->OW + ow] =
                        (inside ? ih * g->W + iw : g->H * g->W) * g->C;
                }
}

#if FNN_X86
/* One body for both levels: VT the vector type, V its floats, SET1/FMADD/LOADU/STOREU/ZERO its
 * intrinsics; ROWS (<= 12) and VECS (1 or 2) are constants of each instance. */
#define FNN_CONV_DWI_ROW(r)                                                                    \
    if (ROWS > r) {                                                                            \
        const VT a = SET1(a##r[p]);                                                            \
        c##r##a = FMADD(a, b0, c##r##a);                                                       \
        if (VECS > 1)                                                                          \
            c##r##b = FMADD(a, b1, c##r##b);                                                   \
    }

#define FNN_CONV_DWI_LOAD(r)                                                                   \
    if (ROWS > r && r < rows && load) {                                                        \
        c##r##a = LOADU(c + (r) * CKK);                                                        \
        if (VECS > 1)                                                                          \
            c##r##b = LOADU(c + (r) * CKK + V);                                                \
    }

#define FNN_CONV_DWI_STORE(r)                                                                  \
    if (ROWS > r && r < rows) {                                                                \
        STOREU(c + (r) * CKK, c##r##a);                                                        \
        if (VECS > 1)                                                                          \
            STOREU(c + (r) * CKK + V, c##r##b);                                                \
    }

/* Row r's dy pointer: rows past the tile's `rows` re-read its first row (never stored). */
#define FNN_CONV_DWI_A(r) const float *a##r = dy + ((r) < rows ? (r) : 0) * P;

/* One tile over one image: dy = the image's dy at the tile's first row, x0/x1 = xt of the image
 * plus each vector's channel offset, i0/i1 = the index table's rows of each vector's tap,
 * c = the tile in dwt (row stride CKK), load = continue the chain from c. */
#define FNN_CONV_DWI_TILE(NAME, TARGET, ROWS_, VECS_)                                          \
__attribute__((target(TARGET)))                                                               \
static void NAME(ptrdiff_t P, ptrdiff_t CKK, const float *dy, const float *x0,                 \
                 const float *x1, const ptrdiff_t *i0, const ptrdiff_t *i1, float *c,          \
                 ptrdiff_t rows, int load)                                                     \
{                                                                                              \
    enum { ROWS = ROWS_, VECS = VECS_ };                                                       \
    VT c0a = ZERO(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a, c3a = c0a;         \
    VT c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a, c6a = c0a, c6b = c0a;            \
    VT c7a = c0a, c7b = c0a, c8a = c0a, c8b = c0a, c9a = c0a, c9b = c0a, c10a = c0a;           \
    VT c10b = c0a, c11a = c0a, c11b = c0a;                                                     \
    FNN_CONV_DWI_A(0) FNN_CONV_DWI_A(1) FNN_CONV_DWI_A(2) FNN_CONV_DWI_A(3)                    \
    FNN_CONV_DWI_A(4) FNN_CONV_DWI_A(5) FNN_CONV_DWI_A(6) FNN_CONV_DWI_A(7)                    \
    FNN_CONV_DWI_A(8) FNN_CONV_DWI_A(9) FNN_CONV_DWI_A(10) FNN_CONV_DWI_A(11)                  \
    ptrdiff_t p;                                                                               \
    FNN_CONV_DWI_LOAD(0) FNN_CONV_DWI_LOAD(1) FNN_CONV_DWI_LOAD(2) FNN_CONV_DWI_LOAD(3)        \
    FNN_CONV_DWI_LOAD(4) FNN_CONV_DWI_LOAD(5) FNN_CONV_DWI_LOAD(6) FNN_CONV_DWI_LOAD(7)        \
    FNN_CONV_DWI_LOAD(8) FNN_CONV_DWI_LOAD(9) FNN_CONV_DWI_LOAD(10) FNN_CONV_DWI_LOAD(11)      \
    for (p = 0; p < P; p++) {                                                                  \
        const VT b0 = LOADU(x0 + i0[p]);                                                       \
        const VT b1 = VECS > 1 ? LOADU(x1 + i1[p]) : b0;                                       \
        FNN_CONV_DWI_ROW(0) FNN_CONV_DWI_ROW(1) FNN_CONV_DWI_ROW(2) FNN_CONV_DWI_ROW(3)        \
        FNN_CONV_DWI_ROW(4) FNN_CONV_DWI_ROW(5) FNN_CONV_DWI_ROW(6) FNN_CONV_DWI_ROW(7)        \
        FNN_CONV_DWI_ROW(8) FNN_CONV_DWI_ROW(9) FNN_CONV_DWI_ROW(10) FNN_CONV_DWI_ROW(11)      \
    }                                                                                          \
    FNN_CONV_DWI_STORE(0) FNN_CONV_DWI_STORE(1) FNN_CONV_DWI_STORE(2) FNN_CONV_DWI_STORE(3)    \
    FNN_CONV_DWI_STORE(4) FNN_CONV_DWI_STORE(5) FNN_CONV_DWI_STORE(6) FNN_CONV_DWI_STORE(7)    \
    FNN_CONV_DWI_STORE(8) FNN_CONV_DWI_STORE(9) FNN_CONV_DWI_STORE(10) FNN_CONV_DWI_STORE(11)  \
}

/* AVX-512: 12 x 32 */
#define VT __m512
#define V 16
#define SET1 _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define LOADU _mm512_loadu_ps
#define STOREU _mm512_storeu_ps
#define ZERO _mm512_setzero_ps
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx512_12, "avx512f", 12, 2)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx512_8, "avx512f", 8, 2)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx512_4, "avx512f", 4, 2)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx512_12_half, "avx512f", 12, 1)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx512_8_half, "avx512f", 8, 1)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx512_4_half, "avx512f", 4, 1)
#undef VT
#undef V
#undef SET1
#undef FMADD
#undef LOADU
#undef STOREU
#undef ZERO

/* AVX2 + FMA: 6 x 16 */
#define VT __m256
#define V 8
#define SET1 _mm256_set1_ps
#define FMADD _mm256_fmadd_ps
#define LOADU _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#define ZERO _mm256_setzero_ps
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx2_6, "avx2,fma", 6, 2)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx2_4, "avx2,fma", 4, 2)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx2_2, "avx2,fma", 2, 2)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx2_6_half, "avx2,fma", 6, 1)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx2_4_half, "avx2,fma", 4, 1)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_avx2_2_half, "avx2,fma", 2, 1)
#undef VT
#undef V
#undef SET1
#undef FMADD
#undef LOADU
#undef STOREU
#undef ZERO
#undef FNN_CONV_DWI_TILE
#undef FNN_CONV_DWI_A
#undef FNN_CONV_DWI_STORE
#undef FNN_CONV_DWI_LOAD
#undef FNN_CONV_DWI_ROW

typedef void (*fnn_conv_dw_inplace_kernel)(ptrdiff_t, ptrdiff_t, const float *, const float *,
                                           const float *, const ptrdiff_t *, const ptrdiff_t *,
                                           float *, ptrdiff_t, int);
#endif

/* Tiles [tile0, tile1) (fnn_conv_dw_inplace_tiles at level simd) of dwt (OC x CKK, columns in
 * tap-major order) over the whole batch: xt (N, H*W + 1, C) with each image's last row zero,
 * dy (N, OC, P), idx from fnn_conv_dw_inplace_index. */
static void fnn_conv_dw_inplace(int simd, const fnn_conv_geom *g, const float *xt,
                                const float *dy, const ptrdiff_t *idx, float *dwt,
                                ptrdiff_t tile0, ptrdiff_t tile1)
{
#if FNN_X86
    /* [level][vectors - 1][rows / RQ - 1] */
    static const fnn_conv_dw_inplace_kernel kernels[2][2][3] = {
        {{fnn_conv_dw_inplace_avx2_2_half, fnn_conv_dw_inplace_avx2_4_half,
          fnn_conv_dw_inplace_avx2_6_half},
         {fnn_conv_dw_inplace_avx2_2, fnn_conv_dw_inplace_avx2_4, fnn_conv_dw_inplace_avx2_6}},
        {{fnn_conv_dw_inplace_avx512_4_half, fnn_conv_dw_inplace_avx512_8_half,
          fnn_conv_dw_inplace_avx512_12_half},
         {fnn_conv_dw_inplace_avx512_4, fnn_conv_dw_inplace_avx512_8,
          fnn_conv_dw_inplace_avx512_12}}};
    const fnn_conv_dw_inplace_shape shape = fnn_conv_dw_inplace_tile(simd);
    const ptrdiff_t MR = shape.mr, NR = shape.nr, V = NR / 2, RQ = shape.rq;
    const ptrdiff_t P = g->OH * g->OW, C = g->C, CKK = C * g->kh * g->kw;
    const ptrdiff_t ncp = (CKK + NR - 1) / NR, image = (g->H * g->W + 1) * C;
    const int level = simd >= FNN_SIMD_AVX512;
    const unsigned csr = fnn_ftz_enter();
    ptrdiff_t n, tile;
    for (n = 0; n < g->N; n++) {
        const float *xn = xt + n * image, *dyn = dy + n * g->OC * P;
        for (tile = tile0; tile < tile1; tile++) {
            const ptrdiff_t r0 = tile / ncp * MR, col = tile % ncp * NR;
            const ptrdiff_t rows = g->OC - r0 < MR ? g->OC - r0 : MR;
            const int vecs = CKK - col > V ? 2 : 1;
            /* each vector's tap and channel offset (C % V == 0: a vector is one tap) */
            const ptrdiff_t t0 = col / C, t1 = vecs > 1 ? (col + V) / C : t0;
            kernels[level][vecs - 1][(rows - 1) / RQ](
                P, CKK, dyn + r0 * P, xn + col % C, xn + (col + V) % C, idx + t0 * P,
                idx + t1 * P, dwt + r0 * CKK + col, rows, n > 0);
        }
    }
    fnn_ftz_leave(csr);
#else
    (void)simd; (void)g; (void)xt; (void)dy; (void)idx; (void)dwt; (void)tile0; (void)tile1;
#endif
}

#endif /* FNN_CONV_DW_INPLACE_H */
