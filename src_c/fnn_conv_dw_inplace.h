/* The convolution's weight gradient with both GEMM operands read in place: float32, AVX-512,
 * C a multiple of 16.
 *
 *     dw (OC x CKK) = dY (OC x N*P) @ cols^T,   cols^T's columns in tap-major order (t, c)
 *
 * The GEMM path (fastnn/kernels/_conv.pyx, _dw_implicit) packs both operands first: dY^T from
 * dy and cols from a channel-last copy of x; those packers took 12% of conv 32->64's backward
 * pass (docs/kernels/conv.md).  Here the micro-kernel reads them where they are:
 * - A, dY: the tile's 12 rows are rows of dy[n] (dy[n, oc, p] is an OC x P block), broadcast
 *   one value per row and pixel, as from a packed panel;
 * - B, cols^T: pixel p's values of tap t are the C channels of one input pixel of the
 *   channel-last copy xt (N, H*W + 1, C), contiguous and 64-byte aligned: a vector load at
 *   xt[n] + idx[t*P + p] + c.  The index table (fnn_conv_dw_inplace_index) points a tap that
 *   reads padding at row H*W of the image, which the caller zeroed: every load is a plain one,
 *   with no mask, at any stride and padding.
 *
 * Tiles and threads.  dw is computed as tiles of 12 output channels x 32 columns (two vectors;
 * one at the last panel when CKK is an odd number of 16s); a tile's last row panel of 4 or 8
 * rows gets its own instance (the rows past OC re-read the panel's first row and are never
 * stored).  A call owns the tiles [tile0, tile1) (numbered rp * column panels + cp) for the whole
 * batch: images outer, so an image's dy and xt (75 KB in conv 32->64) stay in L2 while the
 * call's tiles pass over them; each tile's accumulators go to dwt between images.
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

#define FNN_CONV_DW_INPLACE_MR 12  /* output channels per tile */
#define FNN_CONV_DW_INPLACE_NR 32  /* columns per tile */

/* Whether fnn_conv_dw_inplace can compute this float32 weight gradient at SIMD level simd. */
static inline int fnn_conv_dw_inplace_applies(int simd, const fnn_conv_geom *g)
{
#if FNN_X86
    return simd >= FNN_SIMD_AVX512 && g->C % 16 == 0 && g->C > 0;
#else
    (void)simd;
    (void)g;
    return 0;
#endif
}

/* Tiles: row panels x column panels. */
static inline ptrdiff_t fnn_conv_dw_inplace_tiles(const fnn_conv_geom *g)
{
    const ptrdiff_t CKK = g->C * g->kh * g->kw;
    return (g->OC + FNN_CONV_DW_INPLACE_MR - 1) / FNN_CONV_DW_INPLACE_MR
        * ((CKK + FNN_CONV_DW_INPLACE_NR - 1) / FNN_CONV_DW_INPLACE_NR);
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
#define FNN_CONV_DWI_ROW(r)                                                                    \
    if (ROWS > r) {                                                                            \
        const __m512 a = _mm512_set1_ps(a##r[p]);                                              \
        c##r##a = _mm512_fmadd_ps(a, b0, c##r##a);                                             \
        if (VECS > 1)                                                                          \
            c##r##b = _mm512_fmadd_ps(a, b1, c##r##b);                                         \
    }

#define FNN_CONV_DWI_LOAD(r)                                                                   \
    if (ROWS > r && r < rows && load) {                                                        \
        c##r##a = _mm512_loadu_ps(c + (r) * CKK);                                              \
        if (VECS > 1)                                                                          \
            c##r##b = _mm512_loadu_ps(c + (r) * CKK + 16);                                     \
    }

#define FNN_CONV_DWI_STORE(r)                                                                  \
    if (ROWS > r && r < rows) {                                                                \
        _mm512_storeu_ps(c + (r) * CKK, c##r##a);                                              \
        if (VECS > 1)                                                                          \
            _mm512_storeu_ps(c + (r) * CKK + 16, c##r##b);                                     \
    }

/* Row r's dy pointer: rows past the tile's `rows` re-read its first row (never stored). */
#define FNN_CONV_DWI_A(r) const float *a##r = dy + ((r) < rows ? (r) : 0) * P;

/* One tile over one image: dy = the image's dy at the tile's first row, b0/b1 = xt of the image
 * plus each vector's channel offset, i0/i1 = the index table's rows of each vector's tap,
 * c = the tile in dwt (row stride CKK), load = continue the chain from c. */
#define FNN_CONV_DWI_TILE(NAME, ROWS_, VECS_)                                                  \
__attribute__((target("avx512f")))                                                            \
static void NAME(ptrdiff_t P, ptrdiff_t CKK, const float *dy, const float *x0,                 \
                 const float *x1, const ptrdiff_t *i0, const ptrdiff_t *i1, float *c,          \
                 ptrdiff_t rows, int load)                                                     \
{                                                                                              \
    enum { ROWS = ROWS_, VECS = VECS_ };                                                       \
    __m512 c0a = _mm512_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a;   \
    __m512 c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a, c6a = c0a;         \
    __m512 c6b = c0a, c7a = c0a, c7b = c0a, c8a = c0a, c8b = c0a, c9a = c0a, c9b = c0a;         \
    __m512 c10a = c0a, c10b = c0a, c11a = c0a, c11b = c0a;                                     \
    FNN_CONV_DWI_A(0) FNN_CONV_DWI_A(1) FNN_CONV_DWI_A(2) FNN_CONV_DWI_A(3)                    \
    FNN_CONV_DWI_A(4) FNN_CONV_DWI_A(5) FNN_CONV_DWI_A(6) FNN_CONV_DWI_A(7)                    \
    FNN_CONV_DWI_A(8) FNN_CONV_DWI_A(9) FNN_CONV_DWI_A(10) FNN_CONV_DWI_A(11)                  \
    ptrdiff_t p;                                                                               \
    FNN_CONV_DWI_LOAD(0) FNN_CONV_DWI_LOAD(1) FNN_CONV_DWI_LOAD(2) FNN_CONV_DWI_LOAD(3)        \
    FNN_CONV_DWI_LOAD(4) FNN_CONV_DWI_LOAD(5) FNN_CONV_DWI_LOAD(6) FNN_CONV_DWI_LOAD(7)        \
    FNN_CONV_DWI_LOAD(8) FNN_CONV_DWI_LOAD(9) FNN_CONV_DWI_LOAD(10) FNN_CONV_DWI_LOAD(11)      \
    for (p = 0; p < P; p++) {                                                                  \
        const __m512 b0 = _mm512_loadu_ps(x0 + i0[p]);                                          \
        const __m512 b1 = VECS > 1 ? _mm512_loadu_ps(x1 + i1[p]) : b0;                          \
        FNN_CONV_DWI_ROW(0) FNN_CONV_DWI_ROW(1) FNN_CONV_DWI_ROW(2) FNN_CONV_DWI_ROW(3)        \
        FNN_CONV_DWI_ROW(4) FNN_CONV_DWI_ROW(5) FNN_CONV_DWI_ROW(6) FNN_CONV_DWI_ROW(7)        \
        FNN_CONV_DWI_ROW(8) FNN_CONV_DWI_ROW(9) FNN_CONV_DWI_ROW(10) FNN_CONV_DWI_ROW(11)      \
    }                                                                                          \
    FNN_CONV_DWI_STORE(0) FNN_CONV_DWI_STORE(1) FNN_CONV_DWI_STORE(2) FNN_CONV_DWI_STORE(3)    \
    FNN_CONV_DWI_STORE(4) FNN_CONV_DWI_STORE(5) FNN_CONV_DWI_STORE(6) FNN_CONV_DWI_STORE(7)    \
    FNN_CONV_DWI_STORE(8) FNN_CONV_DWI_STORE(9) FNN_CONV_DWI_STORE(10) FNN_CONV_DWI_STORE(11)  \
}

FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_12x32, 12, 2)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_8x32, 8, 2)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_4x32, 4, 2)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_12x16, 12, 1)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_8x16, 8, 1)
FNN_CONV_DWI_TILE(fnn_conv_dw_inplace_4x16, 4, 1)
#undef FNN_CONV_DWI_TILE
#undef FNN_CONV_DWI_A
#undef FNN_CONV_DWI_STORE
#undef FNN_CONV_DWI_LOAD
#undef FNN_CONV_DWI_ROW
#endif

/* Tiles [tile0, tile1) of dwt (OC x CKK, columns in tap-major order) over the whole batch:
 * xt (N, H*W + 1, C) with each image's last row zero, dy (N, OC, P), idx from
 * fnn_conv_dw_inplace_index. */
static void fnn_conv_dw_inplace(const fnn_conv_geom *g, const float *xt, const float *dy,
                                const ptrdiff_t *idx, float *dwt, ptrdiff_t tile0,
                                ptrdiff_t tile1)
{
#if FNN_X86
    const ptrdiff_t MR = FNN_CONV_DW_INPLACE_MR, NR = FNN_CONV_DW_INPLACE_NR;
    const ptrdiff_t P = g->OH * g->OW, C = g->C, CKK = C * g->kh * g->kw;
    const ptrdiff_t ncp = (CKK + NR - 1) / NR, image = (g->H * g->W + 1) * C;
    const unsigned csr = fnn_ftz_enter();
    ptrdiff_t n, tile;
    for (n = 0; n < g->N; n++) {
        const float *xn = xt + n * image, *dyn = dy + n * g->OC * P;
        for (tile = tile0; tile < tile1; tile++) {
            const ptrdiff_t r0 = tile / ncp * MR, col = tile % ncp * NR;
            const ptrdiff_t rows = g->OC - r0 < MR ? g->OC - r0 : MR;
            /* each vector's tap and channel offset (C % 16 == 0: a vector is one tap) */
            const ptrdiff_t t0 = col / C, t1 = (col + 16) / C;
            const float *x0 = xn + col % C, *x1 = xn + (col + 16) % C;
            const ptrdiff_t *i0 = idx + t0 * P, *i1 = idx + (t1 < CKK / C ? t1 : t0) * P;
            const float *a = dyn + r0 * P;
            float *c = dwt + r0 * CKK + col;
            const int load = n > 0;
            if (CKK - col > 16) {
                if (rows > 8)
                    fnn_conv_dw_inplace_12x32(P, CKK, a, x0, x1, i0, i1, c, rows, load);
                else if (rows > 4)
                    fnn_conv_dw_inplace_8x32(P, CKK, a, x0, x1, i0, i1, c, rows, load);
                else
                    fnn_conv_dw_inplace_4x32(P, CKK, a, x0, x1, i0, i1, c, rows, load);
            } else {
                if (rows > 8)
                    fnn_conv_dw_inplace_12x16(P, CKK, a, x0, x1, i0, i1, c, rows, load);
                else if (rows > 4)
                    fnn_conv_dw_inplace_8x16(P, CKK, a, x0, x1, i0, i1, c, rows, load);
                else
                    fnn_conv_dw_inplace_4x16(P, CKK, a, x0, x1, i0, i1, c, rows, load);
            }
        }
    }
    fnn_ftz_leave(csr);
#else
    (void)g; (void)xt; (void)dy; (void)idx; (void)dwt; (void)tile0; (void)tile1;
#endif
}

#endif /* FNN_CONV_DW_INPLACE_H */
