/* The float32 activation loops that need an exp or expm1: sigmoid, tanh, elu forward and
 * backward, and the shifted exp of a softmax / cross-entropy row.
 *
 * Each loop is written once (fnn_*_body, always inlined), compiled into one variant per SIMD
 * level side by side (_generic: the portable baseline, SSE2 on x86-64; _avx2: the same code
 * under target("avx2")), and chosen by the dispatcher from the explicit `int simd` argument
 * (FNN_SIMD_GENERIC / FNN_SIMD_AVX2 / FNN_SIMD_AVX512 from fnn_cpu.h; the caller passes the
 * process-wide level, fastnn.kernels._runtime.simd_level()).  The dispatcher runs the best
 * variant at or below `simd`; there is no AVX-512 variant yet, so level 2 runs AVX2 (to add
 * one: a FNN_TARGET_AVX512 copy of each loop and a `simd >= FNN_SIMD_AVX512` branch in each
 * dispatcher).
 *
 * Every variant performs the same IEEE float32 operations in the same order, without FMA
 * contraction (FNN_VECMATH_BEGIN, see fnn_vecmath.h), so all variants, and a vector body and its
 * scalar remainder, give the same bits: the SIMD level never changes a result.
 *
 * In place (x == y, or dy/x == dx) is allowed: element i is read before it is written and no
 * element depends on another, which is what FNN_IVDEP promises the vectoriser.
 */
#ifndef FNN_ACTIVATIONS_H
#define FNN_ACTIVATIONS_H

#include <math.h>
#include <stddef.h>

#include "fnn_cpu.h"
#include "fnn_vecmath.h"

#if defined(__GNUC__) && !defined(__clang__)
#define FNN_IVDEP _Pragma("GCC ivdep")
#elif defined(__clang__)
#define FNN_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#else
#define FNN_IVDEP
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FNN_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define FNN_ALWAYS_INLINE static inline
#endif

#if FNN_X86
#define FNN_TARGET_AVX2 __attribute__((target("avx2")))
#endif

FNN_VECMATH_BEGIN

/* ---------------------------------------------------------------- the loops, written once */

/* y = 1 / (1 + e^-x) from e = e^-|x| (never overflows): 1/(1+e) for x >= 0, e/(1+e) below */
FNN_ALWAYS_INLINE void fnn_sigmoid_f32_body(const float *x, float *y, ptrdiff_t n)
{
    FNN_IVDEP for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        float e = fnn_exp_neg_f(-fabsf(v));
        y[i] = (v >= 0.0f ? 1.0f : e) / (1.0f + e);
    }
}

/* tanh(x) = sign(x) * -u / (2 + u), u = e^(-2|x|) - 1 */
FNN_ALWAYS_INLINE void fnn_tanh_f32_body(const float *x, float *y, ptrdiff_t n)
{
    FNN_IVDEP for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        float u = fnn_expm1_neg_f(-2.0f * fabsf(v));
        y[i] = copysignf(-u / (2.0f + u), v);
    }
}

/* y = x for x > 0, a (e^x - 1) otherwise (NaN fails x > 0 and propagates through expm1) */
FNN_ALWAYS_INLINE void fnn_elu_f32_body(const float *x, float *y, ptrdiff_t n, float a)
{
    FNN_IVDEP for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        float m = fnn_expm1_neg_f(v > 0.0f ? 0.0f : v);
        y[i] = v > 0.0f ? v : a * m;
    }
}

/* dx = dy for x > 0, dy (a e^x) otherwise, from the forward input x */
FNN_ALWAYS_INLINE void fnn_elu_bwd_f32_body(const float *dy, const float *x, float *dx,
                                            ptrdiff_t n, float a)
{
    FNN_IVDEP for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i], g = dy[i];
        float e = fnn_exp_neg_f(v > 0.0f ? 0.0f : v);
        dx[i] = v > 0.0f ? g : g * (a * e);
    }
}

/* e[i] = e^(x[i] - m), m the row max (so every argument is <= 0, or NaN) */
FNN_ALWAYS_INLINE void fnn_exp_shift_f32_body(const float *x, float *e, ptrdiff_t n, float m)
{
    FNN_IVDEP for (ptrdiff_t i = 0; i < n; i++)
        e[i] = fnn_exp_neg_f(x[i] - m);
}

/* ---------------------------------------------------------------- variants, side by side */

static void fnn_sigmoid_f32_generic(const float *x, float *y, ptrdiff_t n)
{ fnn_sigmoid_f32_body(x, y, n); }
static void fnn_tanh_f32_generic(const float *x, float *y, ptrdiff_t n)
{ fnn_tanh_f32_body(x, y, n); }
static void fnn_elu_f32_generic(const float *x, float *y, ptrdiff_t n, float a)
{ fnn_elu_f32_body(x, y, n, a); }
static void fnn_elu_bwd_f32_generic(const float *dy, const float *x, float *dx, ptrdiff_t n,
                                    float a)
{ fnn_elu_bwd_f32_body(dy, x, dx, n, a); }
static void fnn_exp_shift_f32_generic(const float *x, float *e, ptrdiff_t n, float m)
{ fnn_exp_shift_f32_body(x, e, n, m); }

#if FNN_X86
FNN_TARGET_AVX2 static void fnn_sigmoid_f32_avx2(const float *x, float *y, ptrdiff_t n)
{ fnn_sigmoid_f32_body(x, y, n); }
FNN_TARGET_AVX2 static void fnn_tanh_f32_avx2(const float *x, float *y, ptrdiff_t n)
{ fnn_tanh_f32_body(x, y, n); }
FNN_TARGET_AVX2 static void fnn_elu_f32_avx2(const float *x, float *y, ptrdiff_t n, float a)
{ fnn_elu_f32_body(x, y, n, a); }
FNN_TARGET_AVX2 static void fnn_elu_bwd_f32_avx2(const float *dy, const float *x, float *dx,
                                                 ptrdiff_t n, float a)
{ fnn_elu_bwd_f32_body(dy, x, dx, n, a); }
FNN_TARGET_AVX2 static void fnn_exp_shift_f32_avx2(const float *x, float *e, ptrdiff_t n,
                                                   float m)
{ fnn_exp_shift_f32_body(x, e, n, m); }
#endif

FNN_VECMATH_END

/* ---------------------------------------------------------------- dispatch on `simd` */

/* Which variant runs at level `simd`: "avx2" or "generic" (tests and documentation). */
static inline const char *fnn_act_variant(int simd)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX2)
        return "avx2";
#endif
    (void)simd;
    return "generic";
}

/* The per-function dispatchers below stay written out: each names its own SIMD variants. */
static void fnn_sigmoid_f32(int simd, const float *x, float *y, ptrdiff_t n)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX2) { fnn_sigmoid_f32_avx2(x, y, n); return; }
#endif
    (void)simd;
    fnn_sigmoid_f32_generic(x, y, n);
}

static void fnn_tanh_f32(int simd, const float *x, float *y, ptrdiff_t n)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX2) { fnn_tanh_f32_avx2(x, y, n); return; }
#endif
    (void)simd;
    fnn_tanh_f32_generic(x, y, n);
}

static void fnn_elu_f32(int simd, const float *x, float *y, ptrdiff_t n, float a)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX2) { fnn_elu_f32_avx2(x, y, n, a); return; }
#endif
    (void)simd;
    fnn_elu_f32_generic(x, y, n, a);
}

static void fnn_elu_bwd_f32(int simd, const float *dy, const float *x, float *dx, ptrdiff_t n,
                            float a)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX2) { fnn_elu_bwd_f32_avx2(dy, x, dx, n, a); return; }
#endif
    (void)simd;
    fnn_elu_bwd_f32_generic(dy, x, dx, n, a);
}

static void fnn_exp_shift_f32(int simd, const float *x, float *e, ptrdiff_t n, float m)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX2) { fnn_exp_shift_f32_avx2(x, e, n, m); return; }
#endif
    (void)simd;
    fnn_exp_shift_f32_generic(x, e, n, m);
}

#endif
