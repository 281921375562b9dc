/* Max pooling's C loops: the general row loop (any window, any stride) and the 2x2 / stride 2
 * planes (the pooling every CNN here uses), forward and backward, with SIMD variants.
 *
 * Rule (torch's CPU kernel, the NumPy twin's): each window starts at -inf with its first index,
 * is visited in row-major order, and takes a value v (and its flat index h*W + w) when
 * `v > best or v != v`.  Strict >: ties keep the first; a NaN always wins, so NaN propagates and
 * argmax points at the last NaN.  v != v is isnan, valid because nothing here is built with
 * -ffast-math.  Every variant below makes exactly these comparisons in this order for every
 * output, so all of them (and the twin) give the same bits.
 *
 * 1. fnn_maxpool_row_{s,d}: one window offset applied to a row of outputs, branch-free (on
 *    random data the comparison is a coin flip, and an `if` or `take ? v : cur` mispredicts
 *    about half of the time: docs/kernels/pool.md).  fastnn/kernels/_pool.pyx calls it for each
 *    plane, output row and offset (i, j) in row-major order, with `row` pointing at input
 *    (oh*sh + i, j) and `off` its flat index.
 *
 * 2. fnn_maxpool2x2_plane_s(simd, ...): one float32 plane, 2x2 windows, stride 2.  A window is
 *    a = r0[2ow], b = r0[2ow+1], c = r1[2ow], d = r1[2ow+1] (r0, r1 = input rows 2oh, 2oh+1):
 *    best = a (a is taken unless it is -inf, and then best is -inf anyway, at the same first
 *    index), then b, c, d each by the rule above.  The SIMD variants load two input rows,
 *    split even and odd columns with a permute and run the four steps on 16 (AVX-512) or 8
 *    (AVX2) outputs at once; argmax is 2oh*W + 2ow + {0, 1, W, W+1}, widened to int64 last.
 *
 * 3. fnn_unpool2x2_plane_s(simd, ...): the backward of (2) with zeroing fused in.  2x2 cells of
 *    stride 2 do not overlap, so when every argmax entry lies in its own output's cell each dx
 *    element receives at most one dy: the plane is written once, row pair by row pair, as
 *    dx = (index here ? 0 + dy : 0) (0 + dy, not dy: the twin's np.add.at turns -0.0 into +0.0),
 *    with no memset and no scatter.  An entry outside its cell (legal: backward accepts any
 *    index in [0, H*W)) is never written through; it is counted, and the caller redoes that
 *    plane with the general scatter, which re-checks every index where it uses it.  Columns
 *    and rows no window covers (odd W or H) are zeroed.
 *
 * The SIMD variants carry target attributes (the build stays portable) and run only when the
 * caller's `simd` level allows them (FNN_SIMD_* from fnn_cpu.h; the level is
 * fastnn.kernels._runtime.simd_level()).  Callers validate every size and pointer: no checks
 * here (nogil code), except that the 2x2 paths need W < 2^30 (the caller checks it).
 */
#ifndef FNN_POOL_H
#define FNN_POOL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fnn_cpu.h"

#if FNN_X86
#include <immintrin.h>
#define FNN_POOL_TARGET_AVX2 __attribute__((target("avx2")))
#define FNN_POOL_TARGET_AVX512 __attribute__((target("avx512f")))
#endif

/* ------------------------------------------------------------------ 1. general row */
#define FNN_MAXPOOL_STEP(T, UT, LOAD)                                                             \
    {                                                                                             \
        T v = LOAD, cur = yr[ow];                                                                 \
        int64_t m = -(int64_t)((v > cur) | (v != v));    /* all ones when v is taken */           \
        UT vb, cb, rb;                                                                            \
        memcpy(&vb, &v, sizeof(T));                                                               \
        memcpy(&cb, &cur, sizeof(T));                                                             \
        rb = (vb & (UT)m) | (cb & ~(UT)m);                                                        \
        memcpy(&yr[ow], &rb, sizeof(T));                                                          \
        ar[ow] = ((off + (int64_t)(ow * sw)) & m) | (ar[ow] & ~m);                                \
    }

#define FNN_MAXPOOL_ROW(NAME, T, UT)                                                              \
static inline void NAME(const T *restrict row, T *restrict yr, int64_t *restrict ar,              \
                        ptrdiff_t OW, ptrdiff_t sw, int64_t off)                                  \
{                                                                                                 \
    ptrdiff_t ow;                                                                                 \
    if (sw == 1) {                                                                                \
        for (ow = 0; ow < OW; ++ow) FNN_MAXPOOL_STEP(T, UT, row[ow])                              \
    } else {                                                                                      \
        for (ow = 0; ow < OW; ++ow) FNN_MAXPOOL_STEP(T, UT, row[ow * sw])                         \
    }                                                                                             \
}

/* float32 and float64 rows: the same body, the select done on 32- or 64-bit patterns */
FNN_MAXPOOL_ROW(fnn_maxpool_row_s, float, uint32_t)
FNN_MAXPOOL_ROW(fnn_maxpool_row_d, double, uint64_t)

#undef FNN_MAXPOOL_ROW
#undef FNN_MAXPOOL_STEP

/* ------------------------------------------------------------------ 2. 2x2 forward */

/* One step of the window fold, branch-free (a select on bits, as in (1)). */
#define FNN_MAXPOOL2X2_TAKE(LOAD, OFF)                                                            \
    {                                                                                             \
        const float v = LOAD;                                                                     \
        const int64_t m = -(int64_t)((v > best) | (v != v));                                      \
        uint32_t vb, bb;                                                                          \
        memcpy(&vb, &v, sizeof vb);                                                               \
        memcpy(&bb, &best, sizeof bb);                                                            \
        bb = (vb & (uint32_t)m) | (bb & ~(uint32_t)m);                                            \
        memcpy(&best, &bb, sizeof bb);                                                            \
        off = ((OFF) & m) | (off & ~m);                                                           \
    }

/* The windows of outputs [ow0, ow1) of one row: generic C, also the SIMD variants' rows that
 * are shorter than one vector. */
static inline void fnn_maxpool2x2_run_generic(const float *r0, const float *r1, float *y,
                                              int64_t *am, ptrdiff_t ow0, ptrdiff_t ow1,
                                              int64_t base, ptrdiff_t W)
{
    ptrdiff_t ow;
    for (ow = ow0; ow < ow1; ow++) {
        float best = r0[2 * ow];
        int64_t off = 0;
        FNN_MAXPOOL2X2_TAKE(r0[2 * ow + 1], 1)
        FNN_MAXPOOL2X2_TAKE(r1[2 * ow], (int64_t)W)
        FNN_MAXPOOL2X2_TAKE(r1[2 * ow + 1], (int64_t)W + 1)
        y[ow] = best;
        am[ow] = base + 2 * ow + off;
    }
}

static void fnn_maxpool2x2_plane_s_generic(const float *x, float *y, int64_t *am, ptrdiff_t W,
                                           ptrdiff_t OH, ptrdiff_t OW)
{
    ptrdiff_t oh;
    for (oh = 0; oh < OH; oh++) {
        const float *r0 = x + 2 * oh * W;
        fnn_maxpool2x2_run_generic(r0, r0 + W, y + oh * OW, am + oh * OW, 0, OW,
                                   (int64_t)(2 * oh * W), W);
    }
}

#if FNN_X86
/* 8 outputs starting at ow: even/odd columns of 16 inputs split with shuffle + lane permute */
FNN_POOL_TARGET_AVX2
static inline void fnn_maxpool2x2_vec_avx2(const float *r0, const float *r1, float *y,
                                           int64_t *am, ptrdiff_t ow, int64_t base, ptrdiff_t W)
{
    const __m256 p0 = _mm256_loadu_ps(r0 + 2 * ow), p1 = _mm256_loadu_ps(r0 + 2 * ow + 8);
    const __m256 q0 = _mm256_loadu_ps(r1 + 2 * ow), q1 = _mm256_loadu_ps(r1 + 2 * ow + 8);
    /* shuffle_ps works within 128-bit lanes: [e0 e2 e8 e10 | e4 e6 e12 e14], then 0,2,1,3 */
    const __m256 a = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(p0, p1, 0x88)), 0xd8));
    const __m256 b = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(p0, p1, 0xdd)), 0xd8));
    const __m256 c = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(q0, q1, 0x88)), 0xd8));
    const __m256 d = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(q0, q1, 0xdd)), 0xd8));
    __m256 best = a, m;
    __m256i off = _mm256_setzero_si256();
    m = _mm256_or_ps(_mm256_cmp_ps(b, best, _CMP_GT_OQ), _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
    best = _mm256_blendv_ps(best, b, m);
    off = _mm256_blendv_epi8(off, _mm256_set1_epi32(1), _mm256_castps_si256(m));
    m = _mm256_or_ps(_mm256_cmp_ps(c, best, _CMP_GT_OQ), _mm256_cmp_ps(c, c, _CMP_UNORD_Q));
    best = _mm256_blendv_ps(best, c, m);
    off = _mm256_blendv_epi8(off, _mm256_set1_epi32((int)W), _mm256_castps_si256(m));
    m = _mm256_or_ps(_mm256_cmp_ps(d, best, _CMP_GT_OQ), _mm256_cmp_ps(d, d, _CMP_UNORD_Q));
    best = _mm256_blendv_ps(best, d, m);
    off = _mm256_blendv_epi8(off, _mm256_set1_epi32((int)W + 1), _mm256_castps_si256(m));
    _mm256_storeu_ps(y + ow, best);
    /* argmax = base + 2*(ow + lane) + off; the int32 part stays below 2^31 as W < 2^30 */
    off = _mm256_add_epi32(off, _mm256_add_epi32(_mm256_set1_epi32((int)(2 * ow)),
                                                 _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)));
    {
        const __m256i vb = _mm256_set1_epi64x(base);
        _mm256_storeu_si256((__m256i *)(am + ow), _mm256_add_epi64(
            vb, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(off))));
        _mm256_storeu_si256((__m256i *)(am + ow + 4), _mm256_add_epi64(
            vb, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(off, 1))));
    }
}

/* Rows of fewer than 8 outputs run the generic loop; otherwise the last vector overlaps the
 * previous one (it recomputes, and stores again, the same values). */
FNN_POOL_TARGET_AVX2
static void fnn_maxpool2x2_plane_s_avx2(const float *x, float *y, int64_t *am, ptrdiff_t W,
                                        ptrdiff_t OH, ptrdiff_t OW)
{
    ptrdiff_t oh, ow;
    for (oh = 0; oh < OH; oh++) {
        const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
        const int64_t base = (int64_t)(2 * oh * W);
        float *yr = y + oh * OW;
        int64_t *ar = am + oh * OW;
        if (OW < 8) {
            fnn_maxpool2x2_run_generic(r0, r1, yr, ar, 0, OW, base, W);
            continue;
        }
        for (ow = 0; ow + 8 <= OW; ow += 8)
            fnn_maxpool2x2_vec_avx2(r0, r1, yr, ar, ow, base, W);
        if (ow < OW)
            fnn_maxpool2x2_vec_avx2(r0, r1, yr, ar, OW - 8, base, W);
    }
}

/* 16 outputs: masked loads and stores handle the row's last, partial vector (AVX-512 masked
 * loads never touch the memory of masked-off lanes). */
FNN_POOL_TARGET_AVX512
static void fnn_maxpool2x2_plane_s_avx512(const float *x, float *y, int64_t *am, ptrdiff_t W,
                                          ptrdiff_t OH, ptrdiff_t OW)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i lane2 = even;                                  /* 2*lane, as int32 */
    const __m512i one = _mm512_set1_epi32(1), vw = _mm512_set1_epi32((int)W);
    const __m512i vw1 = _mm512_set1_epi32((int)W + 1);
    ptrdiff_t oh, ow;
    for (oh = 0; oh < OH; oh++) {
        const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
        const __m512i vb = _mm512_set1_epi64((long long)(2 * oh * W));
        for (ow = 0; ow < OW; ow += 16) {
            const ptrdiff_t n = OW - ow < 16 ? OW - ow : 16;
            const __mmask16 mo = (__mmask16)((1u << n) - 1);             /* outputs */
            const __mmask16 mi0 = (__mmask16)(n >= 8 ? 0xffffu : (1u << (2 * n)) - 1);
            const __mmask16 mi1 = (__mmask16)(n > 8 ? (1u << (2 * n - 16)) - 1 : 0);
            const __m512 p0 = _mm512_maskz_loadu_ps(mi0, r0 + 2 * ow);
            const __m512 p1 = _mm512_maskz_loadu_ps(mi1, r0 + 2 * ow + 16);
            const __m512 q0 = _mm512_maskz_loadu_ps(mi0, r1 + 2 * ow);
            const __m512 q1 = _mm512_maskz_loadu_ps(mi1, r1 + 2 * ow + 16);
            const __m512 a = _mm512_permutex2var_ps(p0, even, p1);
            const __m512 b = _mm512_permutex2var_ps(p0, odd, p1);
            const __m512 c = _mm512_permutex2var_ps(q0, even, q1);
            const __m512 d = _mm512_permutex2var_ps(q0, odd, q1);
            __m512 best = a;
            __m512i off = _mm512_setzero_si512();
            __mmask16 m;
            m = _mm512_cmp_ps_mask(b, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
            best = _mm512_mask_mov_ps(best, m, b);
            off = _mm512_mask_mov_epi32(off, m, one);
            m = _mm512_cmp_ps_mask(c, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(c, c, _CMP_UNORD_Q);
            best = _mm512_mask_mov_ps(best, m, c);
            off = _mm512_mask_mov_epi32(off, m, vw);
            m = _mm512_cmp_ps_mask(d, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q);
            best = _mm512_mask_mov_ps(best, m, d);
            off = _mm512_mask_mov_epi32(off, m, vw1);
            _mm512_mask_storeu_ps(y + oh * OW + ow, mo, best);
            off = _mm512_add_epi32(off, _mm512_add_epi32(lane2, _mm512_set1_epi32((int)(2 * ow))));
            _mm512_mask_storeu_epi64(am + oh * OW + ow, (__mmask8)mo, _mm512_add_epi64(
                vb, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(off))));
            _mm512_mask_storeu_epi64(am + oh * OW + ow + 8, (__mmask8)(mo >> 8), _mm512_add_epi64(
                vb, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(off, 1))));
        }
    }
}
#endif /* FNN_X86 */

/* One float32 plane (H x W, C order) -> y, am (OH x OW): 2x2 windows, stride 2, at the best
 * variant at or below `simd`.  Needs 2*OH <= H, 2*OW <= W and W < 2^30. */
static void fnn_maxpool2x2_plane_s(int simd, const float *x, float *y, int64_t *am, ptrdiff_t W,
                                   ptrdiff_t OH, ptrdiff_t OW)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512) { fnn_maxpool2x2_plane_s_avx512(x, y, am, W, OH, OW); return; }
    if (simd >= FNN_SIMD_AVX2) { fnn_maxpool2x2_plane_s_avx2(x, y, am, W, OH, OW); return; }
#endif
    (void)simd;
    fnn_maxpool2x2_plane_s_generic(x, y, am, W, OH, OW);
}

/* ------------------------------------------------------------------ 3. 2x2 backward */

/* Outputs [ow0, ow1) of one row into input rows d0, d1; returns how many indices were not in
 * their own cell (nothing is written through those). */
static inline ptrdiff_t fnn_unpool2x2_run_generic(const float *dy, const int64_t *am, float *d0,
                                                  float *d1, ptrdiff_t ow0, ptrdiff_t ow1,
                                                  int64_t base, ptrdiff_t W)
{
    ptrdiff_t ow, miss = 0;
    for (ow = ow0; ow < ow1; ow++) {
        const int64_t rel = am[ow] - (base + 2 * ow);     /* read once */
        const float g = 0.0f + dy[ow];
        uint32_t gb, z0, z1, z2, z3;
        memcpy(&gb, &g, sizeof gb);
        /* branch-free: the winner of a window is a coin flip on random data */
        z0 = gb & -(uint32_t)(rel == 0);
        z1 = gb & -(uint32_t)(rel == 1);
        z2 = gb & -(uint32_t)(rel == W);
        z3 = gb & -(uint32_t)(rel == W + 1);
        memcpy(d0 + 2 * ow, &z0, sizeof z0);
        memcpy(d0 + 2 * ow + 1, &z1, sizeof z1);
        memcpy(d1 + 2 * ow, &z2, sizeof z2);
        memcpy(d1 + 2 * ow + 1, &z3, sizeof z3);
        miss += (rel != 0) & (rel != 1) & (rel != W) & (rel != W + 1);
    }
    return miss;
}

/* The parts of a dx plane no 2x2 cell covers: column W-1 when W is odd, the last row when H is
 * odd. */
static inline void fnn_unpool2x2_zero_rest(float *dx, ptrdiff_t H, ptrdiff_t W, ptrdiff_t OH,
                                           ptrdiff_t OW)
{
    ptrdiff_t h;
    if (2 * OW < W)
        for (h = 0; h < 2 * OH; h++)
            memset(dx + h * W + 2 * OW, 0, (size_t)(W - 2 * OW) * sizeof(float));
    if (2 * OH < H)
        memset(dx + 2 * OH * W, 0, (size_t)(H - 2 * OH) * (size_t)W * sizeof(float));
}

static ptrdiff_t fnn_unpool2x2_plane_s_generic(const float *dy, const int64_t *am, float *dx,
                                               ptrdiff_t H, ptrdiff_t W, ptrdiff_t OH,
                                               ptrdiff_t OW)
{
    ptrdiff_t oh, miss = 0;
    for (oh = 0; oh < OH; oh++)
        miss += fnn_unpool2x2_run_generic(dy + oh * OW, am + oh * OW, dx + 2 * oh * W,
                                          dx + (2 * oh + 1) * W, 0, OW, (int64_t)(2 * oh * W), W);
    fnn_unpool2x2_zero_rest(dx, H, W, OH, OW);
    return miss;
}

#if FNN_X86
/* The low 32 bits of each 64-bit compare result of lo (lanes 0-3) and hi (lanes 4-7), as one
 * 8 x 32-bit mask (every result is all ones or all zeros, so the low half is the whole). */
FNN_POOL_TARGET_AVX2
static inline __m256 fnn_pool_pack_mask_avx2(__m256i lo, __m256i hi)
{
    const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    return _mm256_castsi256_ps(_mm256_permute2x128_si256(
        _mm256_permutevar8x32_epi32(lo, pick), _mm256_permutevar8x32_epi32(hi, pick), 0x20));
}

/* 8 outputs starting at ow; returns the number of indices outside their cell */
FNN_POOL_TARGET_AVX2
static inline int fnn_unpool2x2_vec_avx2(const float *dy, const int64_t *am, float *d0,
                                         float *d1, ptrdiff_t ow, int64_t base, ptrdiff_t W)
{
    const __m256i e0 = _mm256_add_epi64(_mm256_set1_epi64x(base + 2 * ow),
                                        _mm256_setr_epi64x(0, 2, 4, 6));
    const __m256i e1 = _mm256_add_epi64(e0, _mm256_set1_epi64x(8));
    const __m256i r0 = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(am + ow)), e0);
    const __m256i r1 = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(am + ow + 4)), e1);
    const __m256i k1 = _mm256_set1_epi64x(1), kw = _mm256_set1_epi64x(W);
    const __m256i kw1 = _mm256_set1_epi64x(W + 1), z = _mm256_setzero_si256();
    const __m256 g = _mm256_add_ps(_mm256_setzero_ps(), _mm256_loadu_ps(dy + ow));
    const __m256 m0 = fnn_pool_pack_mask_avx2(_mm256_cmpeq_epi64(r0, z), _mm256_cmpeq_epi64(r1, z));
    const __m256 m1 = fnn_pool_pack_mask_avx2(_mm256_cmpeq_epi64(r0, k1),
                                              _mm256_cmpeq_epi64(r1, k1));
    const __m256 m2 = fnn_pool_pack_mask_avx2(_mm256_cmpeq_epi64(r0, kw),
                                              _mm256_cmpeq_epi64(r1, kw));
    const __m256 m3 = fnn_pool_pack_mask_avx2(_mm256_cmpeq_epi64(r0, kw1),
                                              _mm256_cmpeq_epi64(r1, kw1));
    const __m256 v0 = _mm256_and_ps(m0, g), v1 = _mm256_and_ps(m1, g);
    const __m256 v2 = _mm256_and_ps(m2, g), v3 = _mm256_and_ps(m3, g);
    /* interleave: unpack works within 128-bit lanes, permute2f128 puts the halves in order */
    const __m256 lo01 = _mm256_unpacklo_ps(v0, v1), hi01 = _mm256_unpackhi_ps(v0, v1);
    const __m256 lo23 = _mm256_unpacklo_ps(v2, v3), hi23 = _mm256_unpackhi_ps(v2, v3);
    const int hit = _mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(m0, m1), _mm256_or_ps(m2, m3)));
    _mm256_storeu_ps(d0 + 2 * ow, _mm256_permute2f128_ps(lo01, hi01, 0x20));
    _mm256_storeu_ps(d0 + 2 * ow + 8, _mm256_permute2f128_ps(lo01, hi01, 0x31));
    _mm256_storeu_ps(d1 + 2 * ow, _mm256_permute2f128_ps(lo23, hi23, 0x20));
    _mm256_storeu_ps(d1 + 2 * ow + 8, _mm256_permute2f128_ps(lo23, hi23, 0x31));
    return 8 - __builtin_popcount((unsigned)hit);
}

FNN_POOL_TARGET_AVX2
static ptrdiff_t fnn_unpool2x2_plane_s_avx2(const float *dy, const int64_t *am, float *dx,
                                            ptrdiff_t H, ptrdiff_t W, ptrdiff_t OH, ptrdiff_t OW)
{
    ptrdiff_t oh, ow, miss = 0;
    for (oh = 0; oh < OH; oh++) {
        const float *g = dy + oh * OW;
        const int64_t *a = am + oh * OW;
        float *d0 = dx + 2 * oh * W, *d1 = d0 + W;
        const int64_t base = (int64_t)(2 * oh * W);
        if (OW < 8) {
            miss += fnn_unpool2x2_run_generic(g, a, d0, d1, 0, OW, base, W);
            continue;
        }
        for (ow = 0; ow + 8 <= OW; ow += 8)
            miss += fnn_unpool2x2_vec_avx2(g, a, d0, d1, ow, base, W);
        if (ow < OW)   /* overlapping last vector: rewrites the same values */
            miss += fnn_unpool2x2_vec_avx2(g, a, d0, d1, OW - 8, base, W);
    }
    fnn_unpool2x2_zero_rest(dx, H, W, OH, OW);
    return miss;
}

FNN_POOL_TARGET_AVX512
static ptrdiff_t fnn_unpool2x2_plane_s_avx512(const float *dy, const int64_t *am, float *dx,
                                              ptrdiff_t H, ptrdiff_t W, ptrdiff_t OH,
                                              ptrdiff_t OW)
{
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22,
                                             7, 23);
    const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
    const __m512i lane2 = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i k1 = _mm512_set1_epi64(1), kw = _mm512_set1_epi64((long long)W);
    const __m512i kw1 = _mm512_set1_epi64((long long)W + 1), z = _mm512_setzero_si512();
    ptrdiff_t oh, ow, miss = 0;
    for (oh = 0; oh < OH; oh++) {
        const float *g = dy + oh * OW;
        const int64_t *a = am + oh * OW;
        float *d0 = dx + 2 * oh * W, *d1 = d0 + W;
        for (ow = 0; ow < OW; ow += 16) {
            const ptrdiff_t n = OW - ow < 16 ? OW - ow : 16;
            const __mmask16 mo = (__mmask16)((1u << n) - 1);
            const __mmask16 mi0 = (__mmask16)(n >= 8 ? 0xffffu : (1u << (2 * n)) - 1);
            const __mmask16 mi1 = (__mmask16)(n > 8 ? (1u << (2 * n - 16)) - 1 : 0);
            const __m512i e0 = _mm512_add_epi64(
                _mm512_set1_epi64((long long)(2 * oh * W + 2 * ow)), lane2);
            const __m512i e1 = _mm512_add_epi64(e0, _mm512_set1_epi64(16));
            const __m512i r0 = _mm512_sub_epi64(_mm512_maskz_loadu_epi64((__mmask8)mo, a + ow), e0);
            const __m512i r1 = _mm512_sub_epi64(
                _mm512_maskz_loadu_epi64((__mmask8)(mo >> 8), a + ow + 8), e1);
            const __m512 gv = _mm512_add_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(mo, g + ow));
#define FNN_POOL_EQ16(k) ((__mmask16)(_mm512_cmpeq_epi64_mask(r0, k) |                        \
                                      ((unsigned)_mm512_cmpeq_epi64_mask(r1, k) << 8)))
            const __mmask16 m0 = FNN_POOL_EQ16(z), m1 = FNN_POOL_EQ16(k1);
            const __mmask16 m2 = FNN_POOL_EQ16(kw), m3 = FNN_POOL_EQ16(kw1);
#undef FNN_POOL_EQ16
            const __m512 v0 = _mm512_maskz_mov_ps(m0, gv), v1 = _mm512_maskz_mov_ps(m1, gv);
            const __m512 v2 = _mm512_maskz_mov_ps(m2, gv), v3 = _mm512_maskz_mov_ps(m3, gv);
            miss += __builtin_popcount((unsigned)(mo & ~(m0 | m1 | m2 | m3)));
            _mm512_mask_storeu_ps(d0 + 2 * ow, mi0, _mm512_permutex2var_ps(v0, lo_idx, v1));
            _mm512_mask_storeu_ps(d0 + 2 * ow + 16, mi1, _mm512_permutex2var_ps(v0, hi_idx, v1));
            _mm512_mask_storeu_ps(d1 + 2 * ow, mi0, _mm512_permutex2var_ps(v2, lo_idx, v3));
            _mm512_mask_storeu_ps(d1 + 2 * ow + 16, mi1, _mm512_permutex2var_ps(v2, hi_idx, v3));
        }
    }
    fnn_unpool2x2_zero_rest(dx, H, W, OH, OW);
    return miss;
}
#endif /* FNN_X86 */

/* One float32 dx plane (H x W) from dy, am (OH x OW) with OH = H/2, OW = W/2 (floor) and
 * W < 2^30, at the best variant at or below `simd`.  Returns how many entries of am were not in
 * their own output's 2x2 cell: when non-zero, the plane is incomplete and the caller must redo it
 * with the general scatter. */
static ptrdiff_t fnn_unpool2x2_plane_s(int simd, const float *dy, const int64_t *am, float *dx,
                                       ptrdiff_t H, ptrdiff_t W, ptrdiff_t OH, ptrdiff_t OW)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512)
        return fnn_unpool2x2_plane_s_avx512(dy, am, dx, H, W, OH, OW);
    if (simd >= FNN_SIMD_AVX2)
        return fnn_unpool2x2_plane_s_avx2(dy, am, dx, H, W, OH, OW);
#endif
    (void)simd;
    return fnn_unpool2x2_plane_s_generic(dy, am, dx, H, W, OH, OW);
}

#endif /* FNN_POOL_H */
