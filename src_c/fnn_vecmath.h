/* Branch-free float32 e^x and e^x - 1 for x <= 0, written to be vectorised.
 *
 * Why not expf/expm1f from libm: a libm call per element keeps a loop scalar.  These are
 * straight-line code with selects instead of branches, so a loop that calls them (inlined)
 * vectorises, and every operation is an IEEE float32 operation, so a vector body and its scalar
 * remainder, and the generic and AVX2 compilations of one loop, give the same bits.
 *
 * The argument is never positive where fastnn uses them (sigmoid: -|x|; softmax and the
 * cross-entropy: x - max; elu: min(x, 0); tanh: -2|x|), which keeps the range reduction simple:
 *
 *   e^x:      n = round(x / ln2) (the 1.5 * 2^23 trick), r = x - n ln2 (Cody-Waite, two
 *             constants), e^r by the Cephes degree-6 polynomial, times 2^n built in the exponent
 *             bits (2^n as 2^(n+64) * 2^-64 below 2^-126, so a denormal result is rounded once).
 *             x < -104 gives 0.
 *   e^x - 1:  the same reduction, expm1(r) = r + r^2 q(r) with q a degree-5 minimax fit of
 *             (e^r - 1 - r) / r^2 on [-ln2/2, ln2/2], then 2^n expm1(r) + (2^n - 1).  No
 *             cancellation near 0 (n = 0 there); -1 below -30; -0.0 stays -0.0.
 *
 * Error against the correctly rounded result: at most 0.98 ulp (e^x) and 0.86 ulp (e^x - 1)
 * over every float32 x <= 0 (how this was checked, and the errors seen through the public
 * kernels: docs/kernels/activations.md).  NaN propagates: the range reduction keeps it, and the
 * integer conversion of n is fed 0 instead of NaN.
 *
 * Compiler options, for these functions and every loop that inlines them (fnn_activations.h
 * uses the same FNN_VECMATH_BEGIN / FNN_VECMATH_END pair, so caller and callee agree and GCC
 * inlines):
 *   no-trapping-math  without it GCC will not turn the float compares into vector selects; it
 *                     only means discarded lanes may raise floating-point flags, which nothing
 *                     reads.
 *   fp-contract=off   a*b + c stays two roundings even in a FASTNN_NATIVE=1 (-march=native, FMA)
 *                     build, so every compilation of a loop gives the same bits.
 */
#ifndef FNN_VECMATH_H
#define FNN_VECMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#define FNN_VECMATH_BEGIN _Pragma("GCC push_options") \
    _Pragma("GCC optimize(\"no-trapping-math\", \"fp-contract=off\")")
#define FNN_VECMATH_END _Pragma("GCC pop_options")
#elif defined(__clang__)
/* clang vectorises the selects without help; the standard pragma keeps a*b + c unfused */
#define FNN_VECMATH_BEGIN _Pragma("STDC FP_CONTRACT OFF")
#define FNN_VECMATH_END _Pragma("STDC FP_CONTRACT DEFAULT")
#else
#define FNN_VECMATH_BEGIN
#define FNN_VECMATH_END
#endif

FNN_VECMATH_BEGIN

/* 2^n for an integral n in [-126, 127] (NaN -> 1: the caller's value is NaN anyway) */
static inline float fnn_pow2_f(float n)
{
    float nn = n == n ? n : 0.0f;
    uint32_t bits = (uint32_t)((int32_t)nn + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* z = n ln2 + r with n integral and |r| <= ln2/2 (returns r, stores n), for |z| <= 104:
 * n = round(z / ln2) by the 1.5 * 2^23 trick (|z / ln2| < 2^22), then r by Cody-Waite: ln2 split
 * into a constant of few significant bits (n times it is exact) and the rest. */
static inline float fnn_reduce_ln2_f(float z, float *n_out)
{
    float t = z * 1.44269504088896341f;
    float n = (t + 12582912.0f) - 12582912.0f;
    float r = z - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    *n_out = n;
    return r;
}

/* e^x for x <= 0 or NaN */
static inline float fnn_exp_neg_f(float x)
{
    float z = x < -104.0f ? -104.0f : x;
    float n;
    float r = fnn_reduce_ln2_f(z, &n);
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int tiny = n < -126.0f;
    float res = p * fnn_pow2_f(tiny ? n + 64.0f : n);
    return tiny ? res * 5.42101086242752217e-20f : res;  /* 2^-64 */
}

/* e^x - 1 for x <= 0 or NaN.  fnn_exp_neg_f's shape (range reduction, polynomial) with its own
 * coefficients: it forms p*s + (s - 1), accurate near 0 where fnn_exp_neg_f(x) - 1 cancels. */
static inline float fnn_expm1_neg_f(float x)
{
    float z = x < -30.0f ? -30.0f : x;
    float n;
    float r = fnn_reduce_ln2_f(z, &n);
    float q = 1.985780254e-4f;
    q = q * r + 1.393360668e-3f;
    q = q * r + 8.333360776e-3f;
    q = q * r + 4.166646674e-2f;
    q = q * r + 1.666666716e-1f;
    q = q * r + 0.5f;
    float p = r + (r * r) * q;
    float s = fnn_pow2_f(n);
    float res = p * s + (s - 1.0f);
    return x == 0.0f ? x : res;
}

FNN_VECMATH_END

#endif
