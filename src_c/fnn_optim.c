/* The optimizer rules of fnn_optim.h, compiled once per element type (float, double) and SIMD
 * variant (generic; avx2 on x86-64 with GCC or clang), and fnn_optim_update(), which picks one.
 *
 * Facts that make the loops fast and bit-identical to the NumPy twins:
 *  - restrict pointers: the arrays never overlap (the contract refuses overlap), so the compiler
 *    may vectorise without run-time alias checks;
 *  - no FMA contraction: a*b + c fused into one rounding would differ from NumPy's two roundings
 *    (a FASTNN_NATIVE=1 build enables FMA instructions; this pragma keeps them out of these loops);
 *  - sqrt declared const: with GCC's default -fmath-errno a sqrt call "may set errno", which
 *    forbids the vector sqrt; errno is never read here and sqrtps is correctly rounded like sqrtf;
 *  - flags that decide which arrays a rule touches are compile-time constants of always-inline
 *    loops (see fnn_optim.h);
 *  - the AVX2 variant is the same source compiled with target("avx2") (no FMA): wider vectors,
 *    the same IEEE operations, so every SIMD level gives the same bits.
 * There is no AVX-512 variant: the loops are bound by memory bandwidth, not by vector width
 * (docs/kernels/optim.md).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#include "fnn_cpu.h"
#include "fnn_optim.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("fp-contract=off")
#elif defined(__clang__)
#pragma clang fp contract(off)
#endif

#if defined(__GNUC__)
extern float sqrtf(float) __attribute__((const, nothrow, leaf));
extern double sqrt(double) __attribute__((const, nothrow, leaf));
#define FNN_INLINE static inline __attribute__((always_inline))
#define FNN_R __restrict__
#elif defined(_MSC_VER)
#define FNN_INLINE static __forceinline
#define FNN_R __restrict
#else
#define FNN_INLINE static inline
#define FNN_R
#endif

#if FNN_X86
#define FNN_HAVE_AVX2_VARIANT 1
#include "fnn_optim_adam_checked_avx2.h"
#else
#define FNN_HAVE_AVX2_VARIANT 0
#endif

/* The instantiations: the float and the double block differ only in the type and its sqrt/fabs;
 * each includes the rules once per SIMD variant. */
#define FNN_OPTIM_RULES

/* float */
#define T float
#define UINT uint32_t
#define EXP_MASK 0x7f800000u
#define SQRT sqrtf
#define ABS fabsf

#define FNN(name) fnn_##name##_f32_generic
#define FNN_TARGET
#include "fnn_optim.h"
#undef FNN
#undef FNN_TARGET

/* Each variant below instantiates fnn_optim.h with its own names and target attribute: the
 * repeated #define/#include blocks are that instantiation, one per (type, ISA). */
#if FNN_HAVE_AVX2_VARIANT
#define FNN(name) fnn_##name##_f32_avx2
#define FNN_TARGET __attribute__((target("avx2")))
#include "fnn_optim.h"
#undef FNN
#undef FNN_TARGET
#endif

#undef T
#undef UINT
#undef EXP_MASK
#undef SQRT
#undef ABS

/* double */
#define T double
#define UINT uint64_t
#define EXP_MASK 0x7ff0000000000000ull
#define SQRT sqrt
#define ABS fabs

#define FNN(name) fnn_##name##_f64_generic
#define FNN_TARGET
#include "fnn_optim.h"
#undef FNN
#undef FNN_TARGET

#if FNN_HAVE_AVX2_VARIANT
#define FNN(name) fnn_##name##_f64_avx2
#define FNN_TARGET __attribute__((target("avx2")))
#include "fnn_optim.h"
#undef FNN
#undef FNN_TARGET
#endif

#undef T
#undef UINT
#undef EXP_MASK
#undef SQRT
#undef ABS


void fnn_optim_update(int rule, int dtype, int simd, const fnn_optim_tensor *t, ptrdiff_t lo,
                      ptrdiff_t hi)
{
    if (hi <= lo)
        return;
#if FNN_HAVE_AVX2_VARIANT
    if (simd >= FNN_SIMD_AVX2) {
        if (dtype == FNN_OPTIM_FLOAT32)
            fnn_update_f32_avx2(rule, t, lo, hi);
        else
            fnn_update_f64_avx2(rule, t, lo, hi);
        return;
    }
#else
    (void)simd;
#endif
    if (dtype == FNN_OPTIM_FLOAT32)
        fnn_update_f32_generic(rule, t, lo, hi);
    else
        fnn_update_f64_generic(rule, t, lo, hi);
}


int fnn_optim_update_checked(int rule, int dtype, int simd, const fnn_optim_tensor *t,
                             const fnn_optim_tensor *snapshot, ptrdiff_t lo, ptrdiff_t hi)
{
    if (hi <= lo)
        return 0;
#if FNN_HAVE_AVX2_VARIANT
    if (simd >= FNN_SIMD_AVX2) {
        if (dtype == FNN_OPTIM_FLOAT32) {
            int flags = 0;
            /* Adam with the default flags: one fused pass (fnn_optim_adam_checked_avx2.h) */
            if (rule == FNN_OPTIM_ADAM && fnn_adam_checked_avx2_applies(t))
                lo = fnn_adam_checked_avx2(t, snapshot, lo, hi, &flags);
            if (lo < hi)
                flags |= fnn_update_checked_f32_avx2(rule, t, snapshot, lo, hi);
            return flags;
        }
        return fnn_update_checked_f64_avx2(rule, t, snapshot, lo, hi);
    }
#else
    (void)simd;
#endif
    if (dtype == FNN_OPTIM_FLOAT32)
        return fnn_update_checked_f32_generic(rule, t, snapshot, lo, hi);
    return fnn_update_checked_f64_generic(rule, t, snapshot, lo, hi);
}
