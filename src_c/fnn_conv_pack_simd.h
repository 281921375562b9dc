/* Implicit im2col, the vector packers: fnn_conv_pack.h's cols packer for float32 and width
 * stride 1, with each run of a panel row moved by masked vector loads and stores instead of one
 * element at a time.  Included by fnn_conv_pack.h (x86 only), which dispatches to these from
 * fnn_conv_pack_cols_f on the level in the source's context.
 *
 * Why: a 3x3 layer with 32 -> 64 channels on 14x14 images packs 288 taps x 196 pixels per
 * image and each packed value meets only 64 rows of W, so a scalar packer with a branch per
 * element costs nearly as much as the micro-kernel (docs/kernels/conv.md has the profile).
 *
 * What they write is exactly what the scalar packer writes: for panel row k and each segment
 * (the panel's pixels that lie in one output row, oh, ow in [ow0, ow1)), the input row
 * under the segment where it is real input ([lo, hi)) and zeros elsewhere; zeros past xn.
 * Copies only, so the same bits.
 *
 * Memory safety: a lane is loaded only where its mask bit is set, and the set bits are exactly
 * the pixels in [lo, hi), whose inputs lie inside the image (the bounds fnn_conv_pack_lo/hi
 * give).  A masked-off lane is never read and cannot fault (AVX-512 and AVX2 masked loads
 * suppress faults on such lanes), so the vector's first address may lie before the image row;
 * it is formed in integer arithmetic, never dereferenced as a whole.  Stores are masked to the
 * segment (and the panel row), so nothing past the panel buffer is written.
 */
#ifndef FNN_CONV_PACK_SIMD_H
#define FNN_CONV_PACK_SIMD_H

/* Lanes [a, b) of a vector set (a < b <= 16 or empty); for the masks below. */
static inline unsigned fnn_conv_lane_bits(ptrdiff_t a, ptrdiff_t b)
{
    if (a < 0)
        a = 0;
    if (b <= a)
        return 0u;
    return ((1u << b) - 1u) & ~((1u << a) - 1u);
}

/* Kernel widths up to this have each piece's load masks computed once per group. */
#define FNN_CONV_PACK_MAX_KW 8

/* A piece: at most LANES consecutive pixels of one segment, the unit of one masked move. */
typedef struct {
    ptrdiff_t dst;             /* offset in the panel buffer of its first pixel in row k = 0 */
    ptrdiff_t ow, n;           /* its first pixel's output column, its length */
    ptrdiff_t ih0;             /* input row under it for tap row i = 0: oh*sh - ph */
    unsigned store;            /* lanes [0, n) */
    unsigned load[FNN_CONV_PACK_MAX_KW];   /* per tap column j: the lanes that read input */
} fnn_conv_piece;

/* Panels per group: the pieces of FNN_CONV_PACK_GROUP panels are listed once, then every tap
 * row k is written for all of them before the next, so the input rows of one channel stay in
 * L1 across its kh*kw taps instead of being fetched again for each panel. */
#define FNN_CONV_PACK_GROUP 8
/* A panel of r <= FNN_GEMM_MAX_R columns splits into at most r segments whose pieces number at
 * most n/LANES + (segments) plus the zero pieces past xn, (r - n)/LANES + 1: at most
 * r + r/LANES + 1 <= 37 pieces for r = 32 and LANES >= 8, under 2 * FNN_GEMM_MAX_R = 64. */
#define FNN_CONV_PACK_MAX_PIECES (FNN_CONV_PACK_GROUP * 2 * FNN_GEMM_MAX_R)

/* The vector packer's loop, one body for both instruction sets: MOVE(dst, src_addr, n, a, b)
 * writes dst[0..n) (n <= LANES) with lanes [a, b) loaded from src_addr and zeros elsewhere;
 * ZERO(dst, n) writes n zeros.  The moves are branch-free: a lane is loaded where its bit is set
 * in `load` (mask 0 for a padding row), stored where it is set in `store`. */
#define FNN_CONV_PACK_COLS_VEC(NAME, TARGET, LANES, MOVE)                                \
TARGET static void NAME(const fnn_conv_cols_src *s, int64_t bi, int64_t k0, int64_t kc,        \
                        int64_t x0, int64_t xn, int r, float *buf)                             \
{                                                                                              \
    const fnn_conv_geom *g = s->g;                                                             \
    const ptrdiff_t H = g->H, W = g->W, OW = g->OW, kh = g->kh, kw = g->kw;                    \
    const ptrdiff_t sh = g->sh, ph = g->ph, pw = g->pw, KK = kh * kw;                          \
    const float *xb = (const float *)s->x + (ptrdiff_t)bi * g->C * H * W;                      \
    fnn_conv_piece pc[FNN_CONV_PACK_MAX_PIECES];                                               \
    const ptrdiff_t npan = (ptrdiff_t)((xn + r - 1) / r), pstride = (ptrdiff_t)kc * r;         \
    ptrdiff_t p0;                                                                              \
    for (p0 = 0; p0 < npan; p0 += FNN_CONV_PACK_GROUP) {                                       \
        const ptrdiff_t p1 = npan - p0 < FNN_CONV_PACK_GROUP ? npan : p0 + FNN_CONV_PACK_GROUP; \
        ptrdiff_t npc = 0, q, c, i, j, k, e;                                                   \
        for (q = p0; q < p1; q++) {                                                            \
            ptrdiff_t col = (ptrdiff_t)x0 + q * r, t = 0;                                      \
            const ptrdiff_t n = (ptrdiff_t)xn - q * r < r ? (ptrdiff_t)xn - q * r : r;         \
            while (t < n) {                                                                    \
                const ptrdiff_t oh = col / OW, ow = col - oh * OW;                             \
                ptrdiff_t len = OW - ow < n - t ? OW - ow : n - t;                             \
                if (len > LANES)                                                               \
                    len = LANES;                                                               \
                pc[npc].dst = q * pstride + t;                                                 \
                pc[npc].ow = ow;                                                               \
                pc[npc].n = len;                                                               \
                pc[npc].ih0 = oh * sh - ph;                                                    \
                npc++;                                                                         \
                t += len;                                                                      \
                col += len;                                                                    \
            }                                                                                  \
            for (; t < r; t += LANES) {        /* the last panel's columns past xn: zeros */  \
                pc[npc].dst = q * pstride + t;                                                 \
                pc[npc].ow = 0;                                                                \
                pc[npc].n = r - t < LANES ? r - t : LANES;                                     \
                pc[npc].ih0 = -1 - H * (kh + 1);   /* never a real row: always zeros */        \
                npc++;                                                                         \
            }                                                                                  \
        }                                                                                      \
        for (e = 0; e < npc; e++) {                                                            \
            const ptrdiff_t ow = pc[e].ow, m = pc[e].n;                                        \
            pc[e].store = fnn_conv_lane_bits(0, m);                                            \
            for (j = 0; j < kw && j < FNN_CONV_PACK_MAX_KW; j++) {                             \
                const ptrdiff_t lo_j = fnn_conv_pack_lo(j, 1, pw, OW);                         \
                const ptrdiff_t hi_j = fnn_conv_pack_hi(j, 1, pw, W, OW, lo_j);                \
                pc[e].load[j] = fnn_conv_lane_bits(lo_j - ow, hi_j - ow < m ? hi_j - ow : m);  \
            }                                                                                  \
        }                                                                                      \
        c = (ptrdiff_t)(k0 / KK);                                                              \
        i = ((ptrdiff_t)k0 - c * KK) / kw;                                                     \
        j = (ptrdiff_t)k0 - c * KK - i * kw;                                                   \
        for (k = 0; k < kc; k++) {                                                             \
            const float *plane = xb + c * H * W;                                               \
            const ptrdiff_t lo_j = fnn_conv_pack_lo(j, 1, pw, OW);                             \
            const ptrdiff_t hi_j = fnn_conv_pack_hi(j, 1, pw, W, OW, lo_j);                    \
            const int held = j < FNN_CONV_PACK_MAX_KW;                                         \
            float *row_k = buf + k * r;                                                        \
            for (e = 0; e < npc; e++) {                                                        \
                const ptrdiff_t ih = pc[e].ih0 + i, ow = pc[e].ow, m = pc[e].n;                \
                /* input under pixel ow + l: plane[ih*W + ow + l + j - pw] */                  \
                const uintptr_t at = (uintptr_t)plane                                          \
                    + (uintptr_t)((ih * W + ow + j - pw) * (ptrdiff_t)sizeof(float));          \
                unsigned load = held ? pc[e].load[j]                                           \
                    : fnn_conv_lane_bits(lo_j - ow, hi_j - ow < m ? hi_j - ow : m);            \
                if ((size_t)ih >= (size_t)H)     /* a padding row (ih < 0 wraps): zeros */     \
                    load = 0;                                                                  \
                MOVE(row_k + pc[e].dst, at, pc[e].store, load);                                \
            }                                                                                  \
            fnn_conv_next_tap(&c, &i, &j, kh, kw);                                            \
        }                                                                                      \
    }                                                                                          \
}

/* AVX-512F: 16 lanes, opmask loads and stores. */
#define FNN_CONV_MOVE_AVX512(dst, addr, store, load)                                           \
    _mm512_mask_storeu_ps((dst), (__mmask16)(store),                                           \
                          _mm512_maskz_loadu_ps((__mmask16)(load), (const void *)(addr)))

FNN_CONV_PACK_COLS_VEC(fnn_conv_pack_cols_f_avx512, __attribute__((target("avx512f"))), 16,
                       FNN_CONV_MOVE_AVX512)

/* AVX2: 8 lanes; a lane's mask is the sign bit of its 32-bit element, made from the bits. */
__attribute__((target("avx2"))) static inline __m256i fnn_conv_lane_mask_avx2(unsigned bits)
{
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane), lane);
}
#define FNN_CONV_MOVE_AVX2(dst, addr, store, load)                                             \
    _mm256_maskstore_ps((dst), fnn_conv_lane_mask_avx2(store),                                 \
                        _mm256_maskload_ps((const float *)(addr), fnn_conv_lane_mask_avx2(load)))

FNN_CONV_PACK_COLS_VEC(fnn_conv_pack_cols_f_avx2, __attribute__((target("avx2"))), 8,
                       FNN_CONV_MOVE_AVX2)

#endif
