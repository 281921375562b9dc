/* Optimizer update rules: one plain C function per optimizer, written line for line like its NumPy
 * twin in fastnn/reference/optim.py.
 *
 * Read a rule here beside its twin: the names are the same (g, m, v, denom, step_size, ...), the
 * operations are the same and in the same order, one element at a time instead of one array at a
 * time.  That is what makes the two bit-identical.  The scalars a rule takes are the fields of its
 * contract's named tuple (fastnn/contracts/optim.py), in double, exactly as Python computed them;
 * a rule rounds each to the element type T once, before its loop, which is what NumPy does with a
 * Python float in the twin's array arithmetic.  Derived constants such as 1 - beta2 are computed
 * in double first, as the twin's Python does, and then rounded.
 *
 * This header has two parts:
 *   1. (below, once) the rule ids, each rule's scalars, one row of the tensor table, and the
 *      two entry points: fnn_optim_update() updates elements [lo, hi) of one tensor;
 *      fnn_optim_update_checked() does the same after copying what it writes to a snapshot,
 *      and reports non-finite values (what fit's divergence check and rollback use).
 *   2. (after it) the rules for one element type T.  fnn_optim.c includes this file once per
 *      element type (float, double) and SIMD variant (generic, avx2) with T, UINT (the unsigned
 *      integer of T's width), EXP_MASK (T's exponent bits), SQRT, ABS, FNN(name) and FNN_TARGET
 *      defined; nothing else compiles part 2.
 */
#ifndef FNN_OPTIM_H
#define FNN_OPTIM_H

#include <stddef.h>

enum {
    FNN_OPTIM_SGD, FNN_OPTIM_ADAGRAD, FNN_OPTIM_ADADELTA, FNN_OPTIM_RMSPROP, FNN_OPTIM_ADAM,
    FNN_OPTIM_ADAMAX, FNN_OPTIM_NADAM
};
enum { FNN_OPTIM_FLOAT32, FNN_OPTIM_FLOAT64 };

/* Each rule's scalars: the fields of its contract's named tuple, same names, same order. */
typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov, maximize, first_step;
} fnn_sgd_scalars;

typedef struct {
    double clr, weight_decay, eps;
    int maximize;
} fnn_adagrad_scalars;

typedef struct {
    double lr, rho, eps, weight_decay;
    int maximize;
} fnn_adadelta_scalars;

typedef struct {
    double lr, alpha, eps, weight_decay, momentum;
    int centered, maximize;
} fnn_rmsprop_scalars;

typedef struct {
    double lr, beta1, beta2, eps, weight_decay, step_size, bias_correction2_sqrt;
    int amsgrad, maximize, decoupled_weight_decay;
} fnn_adam_scalars;

/* Adam's weight decay, as one value (the rule's loop and the fused checked kernel are
 * instantiated per value), and Adam's flags: maximize in bit 0, the decay mode above it. */
enum { FNN_ADAM_NO_DECAY, FNN_ADAM_COUPLED_DECAY, FNN_ADAM_DECOUPLED_DECAY };

static inline int fnn_adam_decay_mode(const fnn_adam_scalars *s)
{
    return s->weight_decay == 0 ? FNN_ADAM_NO_DECAY
           : s->decoupled_weight_decay ? FNN_ADAM_DECOUPLED_DECAY : FNN_ADAM_COUPLED_DECAY;
}

static inline int fnn_adam_flags(const fnn_adam_scalars *s)
{
    return (s->maximize != 0) | fnn_adam_decay_mode(s) << 1;
}

/* adam_update's flags argument when it reads maximize and the weight decay at run time */
#define FNN_ADAM_FLAGS_AT_RUN_TIME (-1)

typedef struct {
    double beta1, beta2, eps, weight_decay, clr;
    int maximize;
} fnn_adamax_scalars;

typedef struct {
    double lr, beta1, beta2, eps, weight_decay, bias_correction2, grad_coef, exp_avg_coef;
    int decoupled_weight_decay, maximize;
} fnn_nadam_scalars;

typedef union {
    fnn_sgd_scalars sgd;
    fnn_adagrad_scalars adagrad;
    fnn_adadelta_scalars adadelta;
    fnn_rmsprop_scalars rmsprop;
    fnn_adam_scalars adam;
    fnn_adamax_scalars adamax;
    fnn_nadam_scalars nadam;
} fnn_optim_scalars;

/* One tensor of an update: its length, its arrays and the scalars of its step.  state[] holds the
 * rule's state arrays in the kernel's argument order (Adam: exp_avg, exp_avg_sq, max_exp_avg_sq);
 * an array a flag leaves unused is NULL and never touched. */
typedef struct {
    ptrdiff_t n;
    void *param;
    const void *grad;
    void *state[3];
    fnn_optim_scalars s;
} fnn_optim_tensor;

/* Update elements [lo, hi) of tensor t with `rule`, element type `dtype`, at SIMD level `simd`
 * (FNN_SIMD_*: the AVX2 variant from FNN_SIMD_AVX2 up, where it was compiled).  Every level gives
 * the same bits: no FMA anywhere, and the vector sqrt and division are correctly rounded. */
void fnn_optim_update(int rule, int dtype, int simd, const fnn_optim_tensor *t, ptrdiff_t lo,
                      ptrdiff_t hi);

/* What fnn_optim_update_checked reports: bits of the arrays that held a non-finite value. */
enum {
    FNN_OPTIM_NONFINITE_GRAD = 1,       /* the gradient it read */
    FNN_OPTIM_NONFINITE_PARAM = 2,      /* the parameter it wrote */
    FNN_OPTIM_NONFINITE_STATE = 4       /* a state array it wrote */
};

/* Elements per block of the checked update: a block's param, grad, states and their copies
 * (7 arrays for Adam, 14 KiB of float32) stay in the L1 cache between the copy, the update and
 * the scans. */
#define FNN_OPTIM_CHECK_BLOCK 512

/* fnn_optim_update, checked and undoable: for each block of [lo, hi), first copy the elements
 * it will write (the param and every state t holds) to the same positions of `snapshot` (a
 * tensor whose param and states point at buffers as long as t's), then update them, then scan
 * the gradient and what was written.  Returns the FNN_OPTIM_NONFINITE_* bits of the arrays that
 * hold an inf or NaN in [lo, hi) (0: all finite).  Copying the snapshot back undoes the update
 * exactly.  The bits are an OR over elements, so they do not depend on how [0, n) is split
 * between threads.  float32 Adam with the default flags, at AVX2 and above, does the copy, the
 * update and the scans in one pass instead (src_c/fnn_optim_adam_checked_avx2.h). */
int fnn_optim_update_checked(int rule, int dtype, int simd, const fnn_optim_tensor *t,
                             const fnn_optim_tensor *snapshot, ptrdiff_t lo, ptrdiff_t hi);

#endif /* FNN_OPTIM_H */


#ifdef FNN_OPTIM_RULES
/* ---- Part 2: the rules for one element type T (fnn_optim.c defines the macros) ----------------
 *
 * A flag that decides which arrays a rule touches (SGD's momentum, RMSprop's centered and
 * momentum, Adam's amsgrad) is a compile-time constant argument of an always-inline loop, so each
 * variant reads and writes only the arrays it needs.  Other flags (maximize, weight decay, ...) are
 * loop-invariant selects. */

/* torch.lerp(start, end, weight) as torch's CPU kernel computes it: the weight rounded to T, then
 * start + w * (end - start) when |w| < 0.5, else end - (end - start) * (1 - w). */
typedef struct { T w, one_minus_w; int small; } FNN(lerp_weight);

FNN_TARGET FNN_INLINE FNN(lerp_weight) FNN(lerp_weight_of)(double weight)
{
    FNN(lerp_weight) r;
    r.w = (T)weight;
    r.one_minus_w = 1 - r.w;
    r.small = r.w < 0.5 && r.w > -0.5;
    return r;
}

FNN_TARGET FNN_INLINE T FNN(lerp)(T start, T end, FNN(lerp_weight) weight)
{
    return weight.small ? start + weight.w * (end - start)
                        : end - (end - start) * weight.one_minus_w;
}

/* np.maximum / torch.maximum: a NaN in either operand propagates. */
FNN_TARGET FNN_INLINE T FNN(maximum)(T a, T b)
{
    return (a >= b || a != a) ? a : b;
}


/* reference/optim.py: sgd_update */
FNN_TARGET FNN_INLINE void FNN(sgd_update)(ptrdiff_t n, T *FNN_R param, const T *FNN_R grad,
                                           T *FNN_R momentum_buffer, const fnn_sgd_scalars *s,
                                           const int use_momentum)
{
    const int maximize = s->maximize, nesterov = s->nesterov, first_step = s->first_step;
    const int use_weight_decay = s->weight_decay != 0;
    const T lr = (T)s->lr, momentum = (T)s->momentum, weight_decay = (T)s->weight_decay;
    const T one_minus_dampening = (T)(1 - s->dampening);
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = maximize ? -grad[i] : grad[i];
        if (use_weight_decay)
            g = g + weight_decay * param[i];
        if (use_momentum) {
            const T b = first_step ? g : momentum_buffer[i] * momentum + one_minus_dampening * g;
            momentum_buffer[i] = b;
            g = nesterov ? g + momentum * b : b;
        }
        param[i] = param[i] + -lr * g;
    }
}

/* reference/optim.py: adagrad_update */
FNN_TARGET FNN_INLINE void FNN(adagrad_update)(ptrdiff_t n, T *FNN_R param, const T *FNN_R grad,
                                               T *FNN_R state_sum, const fnn_adagrad_scalars *s)
{
    const int maximize = s->maximize, use_weight_decay = s->weight_decay != 0;
    const T clr = (T)s->clr, weight_decay = (T)s->weight_decay, eps = (T)s->eps;
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = maximize ? -grad[i] : grad[i];
        if (use_weight_decay)
            g = g + weight_decay * param[i];
        const T sum = state_sum[i] + g * g;
        state_sum[i] = sum;
        param[i] = param[i] + (-clr * g) / (SQRT(sum) + eps);
    }
}

/* reference/optim.py: adadelta_update */
FNN_TARGET FNN_INLINE void FNN(adadelta_update)(ptrdiff_t n, T *FNN_R param, const T *FNN_R grad,
                                                T *FNN_R square_avg, T *FNN_R acc_delta,
                                                const fnn_adadelta_scalars *s)
{
    const int maximize = s->maximize, use_weight_decay = s->weight_decay != 0;
    const T lr = (T)s->lr, rho = (T)s->rho, one_minus_rho = (T)(1 - s->rho);
    const T eps = (T)s->eps, weight_decay = (T)s->weight_decay;
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = maximize ? -grad[i] : grad[i];
        if (use_weight_decay)
            g = g + weight_decay * param[i];
        const T v = square_avg[i] * rho + (one_minus_rho * g) * g;
        square_avg[i] = v;
        const T delta = SQRT(acc_delta[i] + eps) / SQRT(v + eps) * g;
        acc_delta[i] = acc_delta[i] * rho + (one_minus_rho * delta) * delta;
        param[i] = param[i] + -lr * delta;
    }
}

/* reference/optim.py: rmsprop_update */
FNN_TARGET FNN_INLINE void FNN(rmsprop_update)(ptrdiff_t n, T *FNN_R param, const T *FNN_R grad,
                                               T *FNN_R square_avg, T *FNN_R grad_avg,
                                               T *FNN_R momentum_buffer,
                                               const fnn_rmsprop_scalars *s, const int centered,
                                               const int use_momentum)
{
    const int maximize = s->maximize, use_weight_decay = s->weight_decay != 0;
    const T lr = (T)s->lr, alpha = (T)s->alpha, one_minus_alpha = (T)(1 - s->alpha);
    const T eps = (T)s->eps, weight_decay = (T)s->weight_decay, momentum = (T)s->momentum;
    const FNN(lerp_weight) lerp_one_minus_alpha = FNN(lerp_weight_of)(1 - s->alpha);
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = maximize ? -grad[i] : grad[i];
        if (use_weight_decay)
            g = g + weight_decay * param[i];
        const T v = square_avg[i] * alpha + (one_minus_alpha * g) * g;
        square_avg[i] = v;
        T avg;
        if (centered) {
            const T a = FNN(lerp)(grad_avg[i], g, lerp_one_minus_alpha);
            grad_avg[i] = a;
            avg = SQRT(v - a * a);
        } else {
            avg = SQRT(v);
        }
        avg = avg + eps;
        if (use_momentum) {
            const T b = momentum_buffer[i] * momentum + g / avg;
            momentum_buffer[i] = b;
            param[i] = param[i] + -lr * b;
        } else {
            param[i] = param[i] + (-lr * g) / avg;
        }
    }
}

/* reference/optim.py: adam_update (and adamw_update) */
FNN_TARGET FNN_INLINE void FNN(adam_update)(ptrdiff_t n, T *FNN_R param, const T *FNN_R grad,
                                            T *FNN_R exp_avg, T *FNN_R exp_avg_sq,
                                            T *FNN_R max_exp_avg_sq, const fnn_adam_scalars *s,
                                            const int amsgrad, const int flags)
{
    /* flags (a constant at each call): fnn_adam_flags(s) known at compile time, or
     * FNN_ADAM_FLAGS_AT_RUN_TIME.  The amsgrad loop is too large for GCC to unswitch on
     * maximize and the decay itself, and with them as branches it stays scalar (five to seven
     * times the plain Adam loop's time). */
    const int known = flags != FNN_ADAM_FLAGS_AT_RUN_TIME;
    const int maximize = known ? flags & 1 : s->maximize;
    const int decay_mode = known ? flags >> 1 : fnn_adam_decay_mode(s);
    const int use_weight_decay = decay_mode != FNN_ADAM_NO_DECAY;
    const int decoupled_weight_decay = decay_mode == FNN_ADAM_DECOUPLED_DECAY;
    const T weight_decay = (T)s->weight_decay, decay = (T)(1 - s->lr * s->weight_decay);
    const FNN(lerp_weight) lerp_one_minus_beta1 = FNN(lerp_weight_of)(1 - s->beta1);
    const T beta2 = (T)s->beta2, one_minus_beta2 = (T)(1 - s->beta2);
    const T bias_correction2_sqrt = (T)s->bias_correction2_sqrt, eps = (T)s->eps;
    const T step_size = (T)s->step_size;
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = maximize ? -grad[i] : grad[i];
        T p = param[i];
        if (use_weight_decay) {
            if (decoupled_weight_decay)
                p = p * decay;                              /* param *= 1 - lr * weight_decay */
            else
                g = g + weight_decay * p;
        }
        const T m = FNN(lerp)(exp_avg[i], g, lerp_one_minus_beta1);
        exp_avg[i] = m;
        T v = exp_avg_sq[i] * beta2 + (one_minus_beta2 * g) * g;
        exp_avg_sq[i] = v;
        if (amsgrad) {
            v = FNN(maximum)(max_exp_avg_sq[i], v);
            max_exp_avg_sq[i] = v;
        }
        const T denom = SQRT(v) / bias_correction2_sqrt + eps;
        param[i] = p + (-step_size * m) / denom;
    }
}

/* reference/optim.py: adamax_update */
FNN_TARGET FNN_INLINE void FNN(adamax_update)(ptrdiff_t n, T *FNN_R param, const T *FNN_R grad,
                                              T *FNN_R exp_avg, T *FNN_R exp_inf,
                                              const fnn_adamax_scalars *s)
{
    const int maximize = s->maximize, use_weight_decay = s->weight_decay != 0;
    const T weight_decay = (T)s->weight_decay, beta2 = (T)s->beta2, eps = (T)s->eps;
    const T clr = (T)s->clr;
    const FNN(lerp_weight) lerp_one_minus_beta1 = FNN(lerp_weight_of)(1 - s->beta1);
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = maximize ? -grad[i] : grad[i];
        if (use_weight_decay)
            g = g + weight_decay * param[i];
        const T m = FNN(lerp)(exp_avg[i], g, lerp_one_minus_beta1);
        exp_avg[i] = m;
        const T u = FNN(maximum)(exp_inf[i] * beta2, ABS(g) + eps);
        exp_inf[i] = u;
        param[i] = param[i] + (-clr * m) / u;
    }
}

/* reference/optim.py: nadam_update.  Its first lines are Adam's (weight decay, m, v); they stay
 * written out so that each rule reads as its twin, as torch writes _single_tensor_nadam. */
FNN_TARGET FNN_INLINE void FNN(nadam_update)(ptrdiff_t n, T *FNN_R param, const T *FNN_R grad,
                                             T *FNN_R exp_avg, T *FNN_R exp_avg_sq,
                                             const fnn_nadam_scalars *s)
{
    const int maximize = s->maximize, decoupled_weight_decay = s->decoupled_weight_decay;
    const int use_weight_decay = s->weight_decay != 0;
    const T weight_decay = (T)s->weight_decay, decay = (T)(1 - s->lr * s->weight_decay);
    const FNN(lerp_weight) lerp_one_minus_beta1 = FNN(lerp_weight_of)(1 - s->beta1);
    const T beta2 = (T)s->beta2, one_minus_beta2 = (T)(1 - s->beta2);
    const T bias_correction2 = (T)s->bias_correction2, eps = (T)s->eps;
    const T grad_coef = (T)s->grad_coef, exp_avg_coef = (T)s->exp_avg_coef;
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = maximize ? -grad[i] : grad[i];
        T p = param[i];
        if (use_weight_decay) {
            if (decoupled_weight_decay)
                p = p * decay;                              /* param *= 1 - lr * weight_decay */
            else
                g = g + weight_decay * p;
        }
        const T m = FNN(lerp)(exp_avg[i], g, lerp_one_minus_beta1);
        exp_avg[i] = m;
        const T v = exp_avg_sq[i] * beta2 + (one_minus_beta2 * g) * g;
        exp_avg_sq[i] = v;
        const T denom = SQRT(v / bias_correction2) + eps;
        p = p + (grad_coef * g) / denom;        /* two roundings: the twin's two in-place adds */
        param[i] = p + (exp_avg_coef * m) / denom;
    }
}


/* Elements [lo, hi) of tensor t: pick the rule, and for the flags that decide which arrays it
 * touches, the variant compiled with those flags as constants. */
FNN_TARGET static void FNN(update)(int rule, const fnn_optim_tensor *t, ptrdiff_t lo, ptrdiff_t hi)
{
    const ptrdiff_t n = hi - lo;
    T *param = (T *)t->param + lo;
    const T *grad = (const T *)t->grad + lo;
    T *s0 = t->state[0] ? (T *)t->state[0] + lo : NULL;
    T *s1 = t->state[1] ? (T *)t->state[1] + lo : NULL;
    T *s2 = t->state[2] ? (T *)t->state[2] + lo : NULL;
    switch (rule) {
    case FNN_OPTIM_SGD:
        if (t->s.sgd.momentum != 0)
            FNN(sgd_update)(n, param, grad, s0, &t->s.sgd, 1);
        else
            FNN(sgd_update)(n, param, grad, s0, &t->s.sgd, 0);
        break;
    case FNN_OPTIM_ADAGRAD:
        FNN(adagrad_update)(n, param, grad, s0, &t->s.adagrad);
        break;
    case FNN_OPTIM_ADADELTA:
        FNN(adadelta_update)(n, param, grad, s0, s1, &t->s.adadelta);
        break;
    case FNN_OPTIM_RMSPROP:
        if (t->s.rmsprop.centered) {
            if (t->s.rmsprop.momentum > 0)
                FNN(rmsprop_update)(n, param, grad, s0, s1, s2, &t->s.rmsprop, 1, 1);
            else
                FNN(rmsprop_update)(n, param, grad, s0, s1, s2, &t->s.rmsprop, 1, 0);
        } else {
            if (t->s.rmsprop.momentum > 0)
                FNN(rmsprop_update)(n, param, grad, s0, s1, s2, &t->s.rmsprop, 0, 1);
            else
                FNN(rmsprop_update)(n, param, grad, s0, s1, s2, &t->s.rmsprop, 0, 0);
        }
        break;
    case FNN_OPTIM_ADAM:
        if (!t->s.adam.amsgrad) {
            FNN(adam_update)(n, param, grad, s0, s1, s2, &t->s.adam, 0,
                             FNN_ADAM_FLAGS_AT_RUN_TIME);
            break;
        }
        /* amsgrad: one instance per setting of the flags, each a constant (see adam_update) */
        switch (fnn_adam_flags(&t->s.adam)) {
#define FNN_ADAM_AMSGRAD_CASE(F)                                                                  \
        case F:                                                                                   \
            FNN(adam_update)(n, param, grad, s0, s1, s2, &t->s.adam, 1, F);                       \
            break;
        FNN_ADAM_AMSGRAD_CASE(0) FNN_ADAM_AMSGRAD_CASE(1) FNN_ADAM_AMSGRAD_CASE(2)
        FNN_ADAM_AMSGRAD_CASE(3) FNN_ADAM_AMSGRAD_CASE(4) FNN_ADAM_AMSGRAD_CASE(5)
#undef FNN_ADAM_AMSGRAD_CASE
        }
        break;
    case FNN_OPTIM_ADAMAX:
        FNN(adamax_update)(n, param, grad, s0, s1, &t->s.adamax);
        break;
    case FNN_OPTIM_NADAM:
        FNN(nadam_update)(n, param, grad, s0, s1, &t->s.nadam);
        break;
    }
}

/* Whether a[0..n) holds an inf or NaN: the exponent bits all ones.  An integer test, so the loop
 * vectorises, raises no floating-point exception and reads a NaN's payload as it is.  32-bit
 * elements keep the largest exponent field (an unsigned max: an AND and a max per vector, where
 * a compare-and-OR takes four operations) and compare it once; 64-bit ones keep the compare,
 * as AVX2 has no unsigned 64-bit max. */
FNN_TARGET FNN_INLINE int FNN(any_nonfinite)(const T *FNN_R a, ptrdiff_t n)
{
    UINT acc = 0;
    ptrdiff_t i;
    if (sizeof(UINT) == 4) {
        for (i = 0; i < n; i++) {
            UINT u;
            memcpy(&u, &a[i], sizeof u);
            u &= EXP_MASK;
            acc = u > acc ? u : acc;
        }
        return acc == EXP_MASK;
    }
    for (i = 0; i < n; i++) {
        UINT u;
        memcpy(&u, &a[i], sizeof u);
        acc |= (UINT)((u & EXP_MASK) == EXP_MASK);
    }
    return acc != 0;
}

/* fnn_optim_update_checked for one element type and SIMD variant (Part 1 says what it does). */
FNN_TARGET static int FNN(update_checked)(int rule, const fnn_optim_tensor *t,
                                          const fnn_optim_tensor *snap, ptrdiff_t lo,
                                          ptrdiff_t hi)
{
    int flags = 0;
    for (ptrdiff_t b = lo; b < hi; b += FNN_OPTIM_CHECK_BLOCK) {
        const ptrdiff_t e = hi - b < FNN_OPTIM_CHECK_BLOCK ? hi : b + FNN_OPTIM_CHECK_BLOCK;
        const size_t bytes = (size_t)(e - b) * sizeof(T);
        memcpy((T *)snap->param + b, (const T *)t->param + b, bytes);
        for (int k = 0; k < 3; k++)
            if (t->state[k])
                memcpy((T *)snap->state[k] + b, (const T *)t->state[k] + b, bytes);
        FNN(update)(rule, t, b, e);
        if (FNN(any_nonfinite)((const T *)t->grad + b, e - b))
            flags |= FNN_OPTIM_NONFINITE_GRAD;
        if (FNN(any_nonfinite)((const T *)t->param + b, e - b))
            flags |= FNN_OPTIM_NONFINITE_PARAM;
        for (int k = 0; k < 3; k++)
            if (t->state[k] && FNN(any_nonfinite)((const T *)t->state[k] + b, e - b))
                flags |= FNN_OPTIM_NONFINITE_STATE;
    }
    return flags;
}

#endif /* FNN_OPTIM_RULES */
