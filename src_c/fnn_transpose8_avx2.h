/* The 8 x 8 float transpose in AVX2 registers, shared by the convolution's direct kernels
 * (fnn_conv_direct_avx2.h) and the GEMM's column kernels (fnn_gemm_ukr_avx2_column.h).
 * Included by each translation unit that needs it; it only moves data, so it changes no bit. */
#ifndef FNN_TRANSPOSE8_AVX2_H
#define FNN_TRANSPOSE8_AVX2_H
#include <immintrin.h>

/* r[l] = column l of the 8 x 8 block whose rows are r[0..7] (in place). */
__attribute__((target("avx2"), always_inline))
static inline void fnn_transpose8_avx2(__m256 r[8])
{
    __m256 t[8];
    int i, m, q;
    for (i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (m = 0; m < 2; m++) {
        const __m256d a = _mm256_castps_pd(t[4 * m]), b = _mm256_castps_pd(t[4 * m + 2]);
        const __m256d c = _mm256_castps_pd(t[4 * m + 1]), d = _mm256_castps_pd(t[4 * m + 3]);
        r[4 * m] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, b));
        r[4 * m + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, b));
        r[4 * m + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(c, d));
        r[4 * m + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(c, d));
    }
    for (q = 0; q < 4; q++) {
        t[q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x20);
        t[4 + q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x31);
    }
    for (i = 0; i < 8; i++)
        r[i] = t[i];
}

#endif /* FNN_TRANSPOSE8_AVX2_H */
