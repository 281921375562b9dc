/* Private to fnn_conv_direct.h: the direct convolution's AVX2 + FMA kernels (8 pixels or 8 output
 * channels a vector).  Same operations, in the same order per element, as the generic kernels
 * there (which explain the design), with FMAs: the same bits as the GEMM at the AVX2 and AVX-512
 * levels.  maskload never touches masked-off lanes; maskstore is slow on AMD CPUs, so it is used
 * only for an image's last, partial tile. */
#ifndef FNN_CONV_DIRECT_AVX2_H
#define FNN_CONV_DIRECT_AVX2_H

/* The low 8 bits of a lane mask as an AVX2 mask vector (lane l all ones when bit l is set). */
FNN_CONV_TARGET_AVX2
FNN_CONV_INLINE __m256i fnn_conv_mask_avx2(unsigned bits)
{
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), sel), sel);
}

/* The AVX2 twins of fnn_conv_fwd_out_avx512, fnn_conv_fwd8_avx512 and fnn_conv_fwd1_avx512 (8
 * lanes); n live lanes (8: plain stores). */
FNN_CONV_TARGET_AVX2
FNN_CONV_INLINE void fnn_conv_fwd_out_avx2(__m256 v, const float *bias, int act, float *y,
                                           ptrdiff_t n)
{
    const __m256 zero = _mm256_setzero_ps();
    if (bias != NULL)
        v = _mm256_add_ps(v, _mm256_set1_ps(*bias));
    if (act == FNN_ACT_RELU)
        v = _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    if (n == 8)
        _mm256_storeu_ps(y, v);
    else
        _mm256_maskstore_ps(y, fnn_conv_mask_avx2(fnn_conv_bits(0, n)), v);
    if (act != FNN_ACT_NONE && act != FNN_ACT_RELU)
        fnn_conv_act(act, y, n);
}

FNN_CONV_TARGET_AVX2
FNN_CONV_INLINE void fnn_conv_fwd8_avx2(ptrdiff_t K, const __m256 *X, const float *w,
                                        const float *bias, int act, float *y, ptrdiff_t stride,
                                        ptrdiff_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0;
    __m256 a7 = a0;
    ptrdiff_t k;
    for (k = 0; k < K; k++) {
        const __m256 xk = X[k];
        const float *wk = w + k;
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(wk[0]), xk, a0);
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(wk[K]), xk, a1);
        a2 = _mm256_fmadd_ps(_mm256_set1_ps(wk[2 * K]), xk, a2);
        a3 = _mm256_fmadd_ps(_mm256_set1_ps(wk[3 * K]), xk, a3);
        a4 = _mm256_fmadd_ps(_mm256_set1_ps(wk[4 * K]), xk, a4);
        a5 = _mm256_fmadd_ps(_mm256_set1_ps(wk[5 * K]), xk, a5);
        a6 = _mm256_fmadd_ps(_mm256_set1_ps(wk[6 * K]), xk, a6);
        a7 = _mm256_fmadd_ps(_mm256_set1_ps(wk[7 * K]), xk, a7);
    }
    fnn_conv_fwd_out_avx2(a0, bias, act, y, n);
    fnn_conv_fwd_out_avx2(a1, bias ? bias + 1 : NULL, act, y + stride, n);
    fnn_conv_fwd_out_avx2(a2, bias ? bias + 2 : NULL, act, y + 2 * stride, n);
    fnn_conv_fwd_out_avx2(a3, bias ? bias + 3 : NULL, act, y + 3 * stride, n);
    fnn_conv_fwd_out_avx2(a4, bias ? bias + 4 : NULL, act, y + 4 * stride, n);
    fnn_conv_fwd_out_avx2(a5, bias ? bias + 5 : NULL, act, y + 5 * stride, n);
    fnn_conv_fwd_out_avx2(a6, bias ? bias + 6 : NULL, act, y + 6 * stride, n);
    fnn_conv_fwd_out_avx2(a7, bias ? bias + 7 : NULL, act, y + 7 * stride, n);
}

FNN_CONV_TARGET_AVX2
FNN_CONV_INLINE void fnn_conv_fwd1_avx2(ptrdiff_t K, const __m256 *X, const float *w,
                                        const float *bias, int act, float *y, ptrdiff_t n)
{
    __m256 a = _mm256_setzero_ps();
    ptrdiff_t k;
    for (k = 0; k < K; k++)
        a = _mm256_fmadd_ps(_mm256_set1_ps(w[k]), X[k], a);
    fnn_conv_fwd_out_avx2(a, bias, act, y, n);
}

FNN_CONV_TARGET_AVX2
static void fnn_conv_direct_fwd_avx2(const fnn_conv_geom *g, const float *buf, ptrdiff_t S,
                                     ptrdiff_t q0, const float *w, const float *bias, int act,
                                     float *y, ptrdiff_t p0, ptrdiff_t p1)
{
    const ptrdiff_t K = g->C * g->kh * g->kw, P = g->OH * g->OW;
    __m256 X[FNN_CONV_DIRECT_MAX_K];
    ptrdiff_t t, oc, k;
    for (t = p0; t < p1; t += 8) {
        const ptrdiff_t n = p1 - t < 8 ? p1 - t : 8;
        for (k = 0; k < K; k++)        /* lanes past n are the buffer's padding: not stored */
            X[k] = _mm256_loadu_ps(buf + k * S + t - q0);
        for (oc = 0; oc + 8 <= g->OC; oc += 8)
            fnn_conv_fwd8_avx2(K, X, w + oc * K, bias ? bias + oc : NULL, act, y + oc * P + t, P,
                               n);
        for (; oc < g->OC; oc++)
            fnn_conv_fwd1_avx2(K, X, w + oc * K, bias ? bias + oc : NULL, act, y + oc * P + t,
                               n);
    }
}

FNN_CONV_TARGET_AVX2
static void fnn_conv_direct_dw_avx2(const fnn_conv_geom *g, const float *x, const float *dy,
                                    float *dw, float *db, ptrdiff_t oc0, float *buf, ptrdiff_t S,
                                    float *keep)
{
    const ptrdiff_t K = g->C * g->kh * g->kw, P = g->OH * g->OW;
    const ptrdiff_t nr = g->OC - oc0 < 8 ? g->OC - oc0 : 8;
    float out[8] __attribute__((aligned(32)));
    __m256 acc[FNN_CONV_DIRECT_MAX_K], T[8], dbacc = _mm256_setzero_ps();
    ptrdiff_t n, t, l, r, k;
    for (k = 0; k < FNN_CONV_DIRECT_MAX_K; k++)
        acc[k] = _mm256_setzero_ps();
    for (n = 0; n < g->N; n++) {
        const float *dyn = dy + (n * g->OC + oc0) * P;
        unsigned csr;
        fnn_conv_cols(g, x + n * g->C * g->H * g->W, 0, g->OH, buf, S);
        csr = fnn_ftz_enter();
        for (t = 0; t < P; t += 8) {
            const ptrdiff_t cnt = P - t < 8 ? P - t : 8;
            const __m256i mo = fnn_conv_mask_avx2(fnn_conv_bits(0, cnt));
            if (nr == 8 && cnt == 8)
                for (r = 0; r < 8; r++)
                    T[r] = _mm256_loadu_ps(dyn + r * P + t);
            else
                for (r = 0; r < 8; r++)
                    T[r] = r >= nr ? _mm256_setzero_ps()
                           : _mm256_maskload_ps(dyn + r * P + t, mo);
            fnn_transpose8_avx2(T);        /* T[l]: channels oc0.. of pixel t + l */
            for (l = 0; l < cnt; l++) {
                const __m256 d = T[l];
                const float *xk = buf + t + l;
                _mm256_store_ps(keep + (t + l) * 8, d);
                if (K <= 9) {
#pragma GCC unroll 9
                    for (k = 0; k < 9; k++)
                        acc[k] = _mm256_fmadd_ps(d, _mm256_set1_ps(xk[k * S]), acc[k]);
                } else {
#pragma GCC unroll 12
                    for (k = 0; k < FNN_CONV_DIRECT_MAX_K; k++)
                        acc[k] = _mm256_fmadd_ps(d, _mm256_set1_ps(xk[k * S]), acc[k]);
                }
            }
        }
        fnn_ftz_leave(csr);
        for (t = 0; t < P; t++)      /* db in (n, p) order, flush-to-zero off */
            dbacc = _mm256_add_ps(dbacc, _mm256_load_ps(keep + t * 8));
    }
    for (k = 0; k < K; k++) {
        _mm256_store_ps(out, acc[k]);
        for (r = 0; r < nr; r++)
            dw[(oc0 + r) * K + k] = out[r];
    }
    _mm256_store_ps(out, dbacc);
    for (r = 0; r < nr; r++)
        db[oc0 + r] = out[r];
}

#endif /* FNN_CONV_DIRECT_AVX2_H */
