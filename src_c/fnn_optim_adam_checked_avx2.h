/* The checked Adam update (float32, AVX2) in one pass: snapshot, update and finiteness test
 * fused into the rule's own loop.
 *
 * Design.  fnn_optim_update_checked's general path copies a block of the param and the state to
 * the snapshot, runs the rule on it, then scans what it read and wrote: three passes over each
 * block.  The rule's loop is bound by its square root and division, which leave the load and
 * store ports and most integer work idle; copying and testing inside that loop costs little, but
 * the separate passes added three quarters of the update's time (docs/kernels/optim.md).  The
 * compiler does not vectorise the rule's C loop with the copy and the test written into it (the
 * loop no longer unswitches on the rule's flags, and its selects stay branches), so this is the
 * Adam rule of fnn_optim.h written out in AVX2 intrinsics, with maximize and either kind of
 * weight decay (six instances of one always-inline body, the flags constant in each), but
 * without amsgrad and only for 1 - beta1 below one half (torch.lerp's first formula).  Every
 * other case, and the last n % 8 elements, take the general path.
 *
 * The same bits as the rule: each element goes through the same IEEE operations in the same
 * order (no FMA: this file is compiled without contraction, see fnn_optim.c), on the same float
 * constants.  fnn_optim.h's Adam, line by line:
 *     g = maximize ? -grad : grad;  p = param
 *     weight decay: p = p * decay (decoupled, decay = 1 - lr * weight_decay), or
 *                   g = g + weight_decay * p (coupled)
 *     m = exp_avg + w * (g - exp_avg)               FNN(lerp), w = (float)(1 - beta1)
 *     v = exp_avg_sq * beta2 + (one_minus_beta2 * g) * g
 *     denom = sqrt(v) / bias_correction2_sqrt + eps
 *     param = p + (-step_size * m) / denom
 * The test: the exponent field plus its lowest bit carries into the sign bit exactly for inf and
 * NaN; the sums are ORed into three accumulators (gradient, weights, state), whose sign bits
 * are read once at the end.  (The general path's scan, fnn_optim.h's any_nonfinite, keeps an
 * unsigned max of the fields instead: AVX2 has one, and it needs no add.) */
#ifndef FNN_OPTIM_ADAM_CHECKED_AVX2_H
#define FNN_OPTIM_ADAM_CHECKED_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "fnn_optim.h"

/* Whether the fused kernel computes Adam tensor t (no amsgrad, 1 - beta1 below one half, see
 * above; and no third state array, which the snapshot would otherwise have to hold too). */
static inline int fnn_adam_checked_avx2_applies(const fnn_optim_tensor *t)
{
    const fnn_adam_scalars *s = &t->s.adam;
    const float w = (float)(1 - s->beta1);
    return !s->amsgrad && w < 0.5f && w > -0.5f
        && t->state[0] != NULL && t->state[1] != NULL && t->state[2] == NULL;
}

__attribute__((target("avx2")))
static inline __m256i fnn_adam_seen(__m256i acc, __m256 x)
{
    const __m256i exp = _mm256_set1_epi32(0x7f800000), lsb = _mm256_set1_epi32(0x00800000);
    return _mm256_or_si256(acc, _mm256_add_epi32(_mm256_and_si256(_mm256_castps_si256(x), exp),
                                                 lsb));
}

/* The body for one setting of maximize and the weight decay (decay: FNN_ADAM_*_DECAY). */
__attribute__((target("avx2"), always_inline))
static inline ptrdiff_t fnn_adam_checked_avx2_body(const fnn_optim_tensor *t,
                                                   const fnn_optim_tensor *snap, ptrdiff_t lo,
                                                   ptrdiff_t hi, int *flags, const int maximize,
                                                   const int decay_mode)
{
    const fnn_adam_scalars *s = &t->s.adam;
    float *param = (float *)t->param, *exp_avg = (float *)t->state[0];
    float *exp_avg_sq = (float *)t->state[1];
    const float *grad = (const float *)t->grad;
    float *keep_p = (float *)snap->param, *keep_m = (float *)snap->state[0];
    float *keep_v = (float *)snap->state[1];
    const __m256 w = _mm256_set1_ps((float)(1 - s->beta1));
    const __m256 beta2 = _mm256_set1_ps((float)s->beta2);
    const __m256 one_minus_beta2 = _mm256_set1_ps((float)(1 - s->beta2));
    const __m256 bc2 = _mm256_set1_ps((float)s->bias_correction2_sqrt);
    const __m256 eps = _mm256_set1_ps((float)s->eps);
    const __m256 neg_step = _mm256_set1_ps(-(float)s->step_size);
    const __m256 weight_decay = _mm256_set1_ps((float)s->weight_decay);
    const __m256 decay = _mm256_set1_ps((float)(1 - s->lr * s->weight_decay));
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256i seen_g = _mm256_setzero_si256(), seen_p = seen_g, seen_s = seen_g;
    const ptrdiff_t end = lo + (hi - lo) / 8 * 8;
    ptrdiff_t i;
    for (i = lo; i < end; i += 8) {
        const __m256 raw = _mm256_loadu_ps(grad + i);
        const __m256 p0 = _mm256_loadu_ps(param + i);
        __m256 g = maximize ? _mm256_xor_ps(raw, sign) : raw, p = p0;
        const __m256 ea = _mm256_loadu_ps(exp_avg + i);
        const __m256 eas = _mm256_loadu_ps(exp_avg_sq + i);
        __m256 m, v, denom, q;
        _mm256_storeu_ps(keep_p + i, p0);
        _mm256_storeu_ps(keep_m + i, ea);
        _mm256_storeu_ps(keep_v + i, eas);
        if (decay_mode == FNN_ADAM_DECOUPLED_DECAY)
            p = _mm256_mul_ps(p, decay);
        else if (decay_mode == FNN_ADAM_COUPLED_DECAY)
            g = _mm256_add_ps(g, _mm256_mul_ps(weight_decay, p));
        m = _mm256_add_ps(ea, _mm256_mul_ps(w, _mm256_sub_ps(g, ea)));
        v = _mm256_add_ps(_mm256_mul_ps(eas, beta2),
                          _mm256_mul_ps(_mm256_mul_ps(one_minus_beta2, g), g));
        denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), bc2), eps);
        q = _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(neg_step, m), denom));
        _mm256_storeu_ps(exp_avg + i, m);
        _mm256_storeu_ps(exp_avg_sq + i, v);
        _mm256_storeu_ps(param + i, q);
        seen_g = fnn_adam_seen(seen_g, raw);
        seen_s = fnn_adam_seen(fnn_adam_seen(seen_s, m), v);
        seen_p = fnn_adam_seen(seen_p, q);
    }
    /* a lane's sign bit set: that lane met an inf or NaN */
    if (_mm256_movemask_ps(_mm256_castsi256_ps(seen_g)))
        *flags |= FNN_OPTIM_NONFINITE_GRAD;
    if (_mm256_movemask_ps(_mm256_castsi256_ps(seen_p)))
        *flags |= FNN_OPTIM_NONFINITE_PARAM;
    if (_mm256_movemask_ps(_mm256_castsi256_ps(seen_s)))
        *flags |= FNN_OPTIM_NONFINITE_STATE;
    return end;
}

/* Elements [lo, lo + 8 * (n / 8)) of [lo, hi): updated, snapshot in snap, tested.  Returns how
 * far it got (the caller takes the rest) and ORs the FNN_OPTIM_NONFINITE_* bits into *flags. */
__attribute__((target("avx2")))
static ptrdiff_t fnn_adam_checked_avx2(const fnn_optim_tensor *t, const fnn_optim_tensor *snap,
                                       ptrdiff_t lo, ptrdiff_t hi, int *flags)
{
    const fnn_adam_scalars *s = &t->s.adam;
    const int decay = fnn_adam_decay_mode(s);
#define FNN_ADAM_CHECKED_CASE(MAX, DECAY)                                                       \
    if (!!s->maximize == MAX && decay == DECAY)                                                   \
        return fnn_adam_checked_avx2_body(t, snap, lo, hi, flags, MAX, DECAY);
    FNN_ADAM_CHECKED_CASE(0, FNN_ADAM_NO_DECAY)
    FNN_ADAM_CHECKED_CASE(0, FNN_ADAM_COUPLED_DECAY)
    FNN_ADAM_CHECKED_CASE(0, FNN_ADAM_DECOUPLED_DECAY)
    FNN_ADAM_CHECKED_CASE(1, FNN_ADAM_NO_DECAY)
    FNN_ADAM_CHECKED_CASE(1, FNN_ADAM_COUPLED_DECAY)
    FNN_ADAM_CHECKED_CASE(1, FNN_ADAM_DECOUPLED_DECAY)
#undef FNN_ADAM_CHECKED_CASE
    return lo;
}

#endif /* FNN_OPTIM_ADAM_CHECKED_AVX2_H */
