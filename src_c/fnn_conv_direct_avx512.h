/* Private to fnn_conv_direct.h: the direct convolution's AVX-512 kernels (16 pixels or 16 output
 * channels a vector).  Same operations, in the same order per element, as the generic kernels
 * there (which explain the design), with FMAs: the same bits as the GEMM at the AVX2 and AVX-512
 * levels. */
/* Stays beside fnn_conv_direct_avx2.h (same plan, 512-bit intrinsics and masks): one micro-kernel
 * per ISA, BLIS style; a macro over both ISAs would hide the register plan. */
#ifndef FNN_CONV_DIRECT_AVX512_H
#define FNN_CONV_DIRECT_AVX512_H

/* One output channel's finished accumulator v: + bias (when given), ReLU (v < 0 ? 0 : v, so NaN
 * and -0.0 stay, as in the GEMM epilogue), the store (masked on a partial tile, mo != all ones),
 * then any other activation on the stored values. */
FNN_CONV_TARGET_AVX512
FNN_CONV_INLINE void fnn_conv_fwd_out_avx512(__m512 v, const float *bias, int act, float *y,
                                             __mmask16 mo)
{
    const __m512 zero = _mm512_setzero_ps();
    if (bias != NULL)
        v = _mm512_add_ps(v, _mm512_set1_ps(*bias));
    if (act == FNN_ACT_RELU)
        v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);
    if (mo == 0xffff)
        _mm512_storeu_ps(y, v);
    else
        _mm512_mask_storeu_ps(y, mo, v);
    if (act != FNN_ACT_NONE && act != FNN_ACT_RELU)
        fnn_conv_act(act, y, mo == 0xffff ? 16 : __builtin_popcount(mo));
}

/* 8 output channels (weights w: 8 rows of K) on one tile: 8 independent FMA chains over k (enough
 * to cover the FMA latency), in named registers (an accumulator array indexed in a loop over a
 * run-time K is kept on the stack by GCC), then fnn_conv_fwd_out_avx512 for each, rows of y
 * `stride` apart. */
FNN_CONV_TARGET_AVX512
FNN_CONV_INLINE void fnn_conv_fwd8_avx512(ptrdiff_t K, const __m512 *X, const float *w,
                                          const float *bias, int act, float *y, ptrdiff_t stride,
                                          __mmask16 mo)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0;
    __m512 a7 = a0;
    ptrdiff_t k;
    for (k = 0; k < K; k++) {
        const __m512 xk = X[k];
        const float *wk = w + k;
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(wk[0]), xk, a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(wk[K]), xk, a1);
        a2 = _mm512_fmadd_ps(_mm512_set1_ps(wk[2 * K]), xk, a2);
        a3 = _mm512_fmadd_ps(_mm512_set1_ps(wk[3 * K]), xk, a3);
        a4 = _mm512_fmadd_ps(_mm512_set1_ps(wk[4 * K]), xk, a4);
        a5 = _mm512_fmadd_ps(_mm512_set1_ps(wk[5 * K]), xk, a5);
        a6 = _mm512_fmadd_ps(_mm512_set1_ps(wk[6 * K]), xk, a6);
        a7 = _mm512_fmadd_ps(_mm512_set1_ps(wk[7 * K]), xk, a7);
    }
    fnn_conv_fwd_out_avx512(a0, bias, act, y, mo);
    fnn_conv_fwd_out_avx512(a1, bias ? bias + 1 : NULL, act, y + stride, mo);
    fnn_conv_fwd_out_avx512(a2, bias ? bias + 2 : NULL, act, y + 2 * stride, mo);
    fnn_conv_fwd_out_avx512(a3, bias ? bias + 3 : NULL, act, y + 3 * stride, mo);
    fnn_conv_fwd_out_avx512(a4, bias ? bias + 4 : NULL, act, y + 4 * stride, mo);
    fnn_conv_fwd_out_avx512(a5, bias ? bias + 5 : NULL, act, y + 5 * stride, mo);
    fnn_conv_fwd_out_avx512(a6, bias ? bias + 6 : NULL, act, y + 6 * stride, mo);
    fnn_conv_fwd_out_avx512(a7, bias ? bias + 7 : NULL, act, y + 7 * stride, mo);
}

/* One output channel on one tile (the channels left over after the groups of 8). */
FNN_CONV_TARGET_AVX512
FNN_CONV_INLINE void fnn_conv_fwd1_avx512(ptrdiff_t K, const __m512 *X, const float *w,
                                          const float *bias, int act, float *y, __mmask16 mo)
{
    __m512 a = _mm512_setzero_ps();
    ptrdiff_t k;
    for (k = 0; k < K; k++)
        a = _mm512_fmadd_ps(_mm512_set1_ps(w[k]), X[k], a);
    fnn_conv_fwd_out_avx512(a, bias, act, y, mo);
}

FNN_CONV_TARGET_AVX512
static void fnn_conv_direct_fwd_avx512(const fnn_conv_geom *g, const float *buf, ptrdiff_t S,
                                       ptrdiff_t q0, const float *w, const float *bias, int act,
                                       float *y, ptrdiff_t p0, ptrdiff_t p1)
{
    const ptrdiff_t K = g->C * g->kh * g->kw, P = g->OH * g->OW;
    __m512 X[FNN_CONV_DIRECT_MAX_K];
    ptrdiff_t t, oc, k;
    for (t = p0; t < p1; t += 16) {
        const ptrdiff_t n = p1 - t < 16 ? p1 - t : 16;
        const __mmask16 mo = (__mmask16)fnn_conv_bits(0, n);
        for (k = 0; k < K; k++)        /* lanes past n are the buffer's padding: not stored */
            X[k] = _mm512_loadu_ps(buf + k * S + t - q0);
        for (oc = 0; oc + 8 <= g->OC; oc += 8)
            fnn_conv_fwd8_avx512(K, X, w + oc * K, bias ? bias + oc : NULL, act, y + oc * P + t,
                                 P, mo);
        for (; oc < g->OC; oc++)
            fnn_conv_fwd1_avx512(K, X, w + oc * K, bias ? bias + oc : NULL, act, y + oc * P + t,
                                 mo);
    }
}

/* r[l] = column l of the 16 x 16 block whose rows are r[0..15] (in place). */
FNN_CONV_TARGET_AVX512
FNN_CONV_INLINE void fnn_conv_transpose16_avx512(__m512 r[16])
{
    __m512 t[16];
    int i, m, q;
    for (i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* r[4m + q], 128-bit lane L: column 4L + q of rows 4m .. 4m+3 */
    for (m = 0; m < 4; m++) {
        const __m512d a = _mm512_castps_pd(t[4 * m]), b = _mm512_castps_pd(t[4 * m + 2]);
        const __m512d c = _mm512_castps_pd(t[4 * m + 1]), d = _mm512_castps_pd(t[4 * m + 3]);
        r[4 * m] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * m + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[4 * m + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        r[4 * m + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    /* column 4L + q = 128-bit lane L of r[q], r[4 + q], r[8 + q], r[12 + q] */
    for (q = 0; q < 4; q++) {
        const __m512 x0 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x44);
        const __m512 x1 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xee);
        const __m512 x2 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x44);
        const __m512 x3 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xee);
        t[q] = _mm512_shuffle_f32x4(x0, x2, 0x88);
        t[4 + q] = _mm512_shuffle_f32x4(x0, x2, 0xdd);
        t[8 + q] = _mm512_shuffle_f32x4(x1, x3, 0x88);
        t[12 + q] = _mm512_shuffle_f32x4(x1, x3, 0xdd);
    }
    for (i = 0; i < 16; i++)
        r[i] = t[i];
}

FNN_CONV_TARGET_AVX512
static void fnn_conv_direct_dw_avx512(const fnn_conv_geom *g, const float *x, const float *dy,
                                      float *dw, float *db, ptrdiff_t oc0, float *buf,
                                      ptrdiff_t S, float *keep)
{
    const ptrdiff_t K = g->C * g->kh * g->kw, P = g->OH * g->OW;
    const ptrdiff_t nr = g->OC - oc0 < 16 ? g->OC - oc0 : 16;
    float out[16] __attribute__((aligned(64)));
    __m512 acc[FNN_CONV_DIRECT_MAX_K], T[16], dbacc = _mm512_setzero_ps();
    ptrdiff_t n, t, l, r, k;
    for (k = 0; k < FNN_CONV_DIRECT_MAX_K; k++)
        acc[k] = _mm512_setzero_ps();
    for (n = 0; n < g->N; n++) {
        const float *dyn = dy + (n * g->OC + oc0) * P;
        unsigned csr;
        fnn_conv_cols(g, x + n * g->C * g->H * g->W, 0, g->OH, buf, S);
        csr = fnn_ftz_enter();
        for (t = 0; t < P; t += 16) {
            const ptrdiff_t cnt = P - t < 16 ? P - t : 16;
            const __mmask16 mo = (__mmask16)fnn_conv_bits(0, cnt);
            if (nr == 16 && cnt == 16)          /* the common case: no branch per row */
                for (r = 0; r < 16; r++)
                    T[r] = _mm512_loadu_ps(dyn + r * P + t);
            else
                for (r = 0; r < 16; r++)
                    T[r] = r >= nr ? _mm512_setzero_ps()
                           : _mm512_maskz_loadu_ps(mo, dyn + r * P + t);
            fnn_conv_transpose16_avx512(T);     /* T[l]: channels oc0.. of pixel t + l */
            for (l = 0; l < cnt; l++) {
                const __m512 d = T[l];
                const float *xk = buf + t + l;
                _mm512_store_ps(keep + (t + l) * 16, d);
                /* 9 or all MAX_K chains, unrolled, so they stay in registers (rows K.. are
                 * zeros, their chains are never stored) */
                if (K <= 9) {
#pragma GCC unroll 9
                    for (k = 0; k < 9; k++)
                        acc[k] = _mm512_fmadd_ps(d, _mm512_set1_ps(xk[k * S]), acc[k]);
                } else {
#pragma GCC unroll 12
                    for (k = 0; k < FNN_CONV_DIRECT_MAX_K; k++)
                        acc[k] = _mm512_fmadd_ps(d, _mm512_set1_ps(xk[k * S]), acc[k]);
                }
            }
        }
        fnn_ftz_leave(csr);
        for (t = 0; t < P; t++)      /* db in (n, p) order, flush-to-zero off */
            dbacc = _mm512_add_ps(dbacc, _mm512_load_ps(keep + t * 16));
    }
    for (k = 0; k < K; k++) {
        _mm512_store_ps(out, acc[k]);
        for (r = 0; r < nr; r++)
            dw[(oc0 + r) * K + k] = out[r];
    }
    _mm512_store_ps(out, dbacc);
    for (r = 0; r < nr; r++)
        db[oc0 + r] = out[r];
}

#endif /* FNN_CONV_DIRECT_AVX512_H */
