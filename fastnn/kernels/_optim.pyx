# Design: optimizer update kernels, one fused pass per parameter tensor.
#
# * An optimizer step is memory-bound: Adam does ~12 flops per element but must read p, g, m, v
#   and write p, m, v (28 bytes per float32 parameter).  torch's single-tensor path does it in
#   ~8 separate array operations, each streaming whole arrays through memory, plus temporaries;
#   the NumPy twin does the same.  Here each element is loaded once, updated in registers and
#   stored once: the bytes moved are the minimum, so the kernel can run at memory bandwidth.
# * Bit-for-bit twin: every kernel does, per element, exactly the operations (same order, same
#   precision) that the NumPy twin in fastnn/reference/optim.py does on whole arrays, and those
#   follow torch.optim's single-tensor code.  Hyper-parameter scalars (bias corrections, step
#   sizes) are computed in Python doubles by the `_prep_*` helpers imported from the twin -- the
#   validation and the scalars are literally the same code -- then cast to the array dtype before
#   the loop, so no double constant promotes float32 arithmetic inside it.
# * Layout of the work: Python checks everything (bounds checks are off below), Cython's
#   `prange(schedule="static")` hands each thread one contiguous block of elements (block starts
#   rounded to 16 elements = one cache line for float32), and each thread runs a tiny C loop over
#   `restrict` pointers (in the verbatim C block below).  Cython's own prange body does not
#   vectorise (its memoryview indexing hides the no-alias fact and adds temporaries); the C loop
#   does (sqrtps/divps), which is what lets the fused pass reach memory bandwidth.
# * Elementwise only: element i's result never depends on how the range is split, so results are
#   identical at any thread count.
# * Flags that gate memory traffic (momentum buffer, amsgrad max, centered average) are compile-
#   time constants of an always-inline body, so each variant touches only the arrays it needs;
#   pure flags (maximize, weight decay, lerp branch) are loop-invariant selects.
# * No FMA contraction (a FASTNN_NATIVE=1 build enables FMA and GCC would fuse a*b+c, breaking
#   bit-equality with NumPy), and sqrt is declared const: with GCC's default -fmath-errno a sqrt
#   call "may write errno", which forbids vectorising it; we never read errno and sqrtps is
#   correctly rounded like sqrtf, so results are unchanged.
from cython.parallel cimport prange
from cython cimport floating
cimport cython

import numpy as np

from fastnn._config import get_num_threads
from fastnn.reference.optim import (
    _prep_sgd, _prep_adagrad, _prep_adadelta, _prep_rmsprop, _prep_adam, _prep_adamax,
    _prep_nadam, _lerp_coeffs,
)

cdef extern from *:
    """
    #include <stddef.h>
    #include <math.h>
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize ("fp-contract=off")
    #elif defined(__clang__)
    #pragma clang fp contract(off)
    #endif
    /* x86-64 Linux/GCC: also build an AVX2 clone of each loop, picked at load time (ifunc).
       Same IEEE operations, no FMA, so the clones give the same bits as the SSE2 default. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define FNN_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define FNN_CLONES
    #endif
    #if defined(__GNUC__)
    extern float sqrtf(float) __attribute__((const, nothrow, leaf));
    extern double sqrt(double) __attribute__((const, nothrow, leaf));
    #define FNN_AI static inline __attribute__((always_inline))
    #define FNN_R __restrict__
    #elif defined(_MSC_VER)
    #define FNN_AI static __forceinline
    #define FNN_R __restrict
    #else
    #define FNN_AI static inline
    #define FNN_R
    #endif

    /* torch's lerp(a, b, w): exact at both ends; `small` is |w| < 0.5. */
    #define FNN_LERP(a, b, w, omw, small) ((small) ? (a) + (w) * ((b) - (a)) : (b) - ((b) - (a)) * (omw))
    /* np.maximum / torch.maximum: a NaN in either operand propagates. */
    #define FNN_MAX(a, b) (((a) >= (b) || (a) != (a)) ? (a) : (b))

    #define FNN_DEFINE_OPTIM(T, SFX, SQRT, FABS)                                                   \\
    FNN_AI void fnn_sgd_body_##SFX(ptrdiff_t n, T *FNN_R p, const T *FNN_R gr, T *FNN_R buf,      \\
            T neg_lr, T mom, T omd, T wd, int maximize, int use_wd, int nesterov, int first,      \\
            const int use_mom) {                                                                 \\
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \\
            T g = gr[i];                                                                          \\
            if (maximize) g = -g;                                                                 \\
            if (use_wd) g = g + wd * p[i];                                                        \\
            if (use_mom) {                                                                        \\
                T b = first ? g : buf[i] * mom + omd * g;                                         \\
                buf[i] = b;                                                                       \\
                g = nesterov ? g + mom * b : b;                                                   \\
            }                                                                                     \\
            p[i] = p[i] + neg_lr * g;                                                             \\
        }                                                                                         \\
    }                                                                                             \\
    FNN_CLONES static void fnn_sgd_##SFX(ptrdiff_t n, T *p, const T *gr, T *buf, T neg_lr, T mom, T omd,    \\
            T wd, int maximize, int use_mom, int nesterov, int first) {                           \\
        if (use_mom) fnn_sgd_body_##SFX(n, p, gr, buf, neg_lr, mom, omd, wd, maximize, wd != 0,   \\
                                        nesterov, first, 1);                                      \\
        else fnn_sgd_body_##SFX(n, p, gr, buf, neg_lr, mom, omd, wd, maximize, wd != 0,          \\
                                nesterov, first, 0);                                              \\
    }                                                                                             \\
    FNN_CLONES static void fnn_adagrad_##SFX(ptrdiff_t n, T *FNN_R p, const T *FNN_R gr, T *FNN_R ss,       \\
            T neg_clr, T wd, T eps, int maximize) {                                               \\
        const int use_wd = wd != 0;                                                               \\
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \\
            T g = gr[i];                                                                          \\
            if (maximize) g = -g;                                                                 \\
            if (use_wd) g = g + wd * p[i];                                                        \\
            T s = ss[i] + g * g;                                                                  \\
            ss[i] = s;                                                                            \\
            p[i] = p[i] + (neg_clr * g) / (SQRT(s) + eps);                                        \\
        }                                                                                         \\
    }                                                                                             \\
    FNN_CLONES static void fnn_adadelta_##SFX(ptrdiff_t n, T *FNN_R p, const T *FNN_R gr, T *FNN_R sq,      \\
            T *FNN_R acc, T neg_lr, T rho, T omr, T eps, T wd, int maximize) {                    \\
        const int use_wd = wd != 0;                                                               \\
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \\
            T g = gr[i];                                                                          \\
            if (maximize) g = -g;                                                                 \\
            if (use_wd) g = g + wd * p[i];                                                        \\
            T v = sq[i] * rho + (omr * g) * g;                                                    \\
            sq[i] = v;                                                                            \\
            T u = acc[i];                                                                         \\
            T d = (SQRT(u + eps) / SQRT(v + eps)) * g;                                            \\
            acc[i] = u * rho + (omr * d) * d;                                                     \\
            p[i] = p[i] + neg_lr * d;                                                             \\
        }                                                                                         \\
    }                                                                                             \\
    FNN_AI void fnn_rmsprop_body_##SFX(ptrdiff_t n, T *FNN_R p, const T *FNN_R gr, T *FNN_R sq,  \\
            T *FNN_R ga, T *FNN_R buf, T neg_lr, T alpha, T oma, T w, T omw, int small, T eps,    \\
            T wd, T mom, int maximize, const int centered, const int use_mom) {                   \\
        const int use_wd = wd != 0;                                                               \\
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \\
            T g = gr[i];                                                                          \\
            if (maximize) g = -g;                                                                 \\
            if (use_wd) g = g + wd * p[i];                                                        \\
            T v = sq[i] * alpha + (oma * g) * g;                                                  \\
            sq[i] = v;                                                                            \\
            T avg;                                                                                \\
            if (centered) {                                                                       \\
                T a = FNN_LERP(ga[i], g, w, omw, small);                                          \\
                ga[i] = a;                                                                        \\
                avg = SQRT(v - a * a) + eps;                                                      \\
            } else {                                                                              \\
                avg = SQRT(v) + eps;                                                              \\
            }                                                                                     \\
            if (use_mom) {                                                                        \\
                T b = buf[i] * mom + g / avg;                                                     \\
                buf[i] = b;                                                                       \\
                p[i] = p[i] + neg_lr * b;                                                         \\
            } else {                                                                              \\
                p[i] = p[i] + (neg_lr * g) / avg;                                                 \\
            }                                                                                     \\
        }                                                                                         \\
    }                                                                                             \\
    FNN_CLONES static void fnn_rmsprop_##SFX(ptrdiff_t n, T *p, const T *gr, T *sq, T *ga, T *buf,          \\
            T neg_lr, T alpha, T oma, T w, T omw, int small, T eps, T wd, T mom, int maximize,    \\
            int centered, int use_mom) {                                                          \\
        if (centered) {                                                                           \\
            if (use_mom) fnn_rmsprop_body_##SFX(n, p, gr, sq, ga, buf, neg_lr, alpha, oma, w,     \\
                                                omw, small, eps, wd, mom, maximize, 1, 1);        \\
            else fnn_rmsprop_body_##SFX(n, p, gr, sq, ga, buf, neg_lr, alpha, oma, w, omw, small, \\
                                        eps, wd, mom, maximize, 1, 0);                            \\
        } else {                                                                                  \\
            if (use_mom) fnn_rmsprop_body_##SFX(n, p, gr, sq, ga, buf, neg_lr, alpha, oma, w,     \\
                                                omw, small, eps, wd, mom, maximize, 0, 1);        \\
            else fnn_rmsprop_body_##SFX(n, p, gr, sq, ga, buf, neg_lr, alpha, oma, w, omw, small, \\
                                        eps, wd, mom, maximize, 0, 0);                            \\
        }                                                                                         \\
    }                                                                                             \\
    FNN_AI void fnn_adam_body_##SFX(ptrdiff_t n, T *FNN_R p, const T *FNN_R gr, T *FNN_R m_,     \\
            T *FNN_R v_, T *FNN_R vm, T neg_step, T bc2s, T w, T omw, int small, T b2, T omb2,    \\
            T eps, T wd, T decay, int decoupled, int maximize, const int amsgrad) {               \\
        const int use_wd = wd != 0;                                                               \\
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \\
            T g = gr[i];                                                                          \\
            if (maximize) g = -g;                                                                 \\
            T pi = p[i];                                                                          \\
            if (use_wd) {                                                                         \\
                if (decoupled) pi = pi * decay;                                                   \\
                else g = g + wd * pi;                                                             \\
            }                                                                                     \\
            T m = FNN_LERP(m_[i], g, w, omw, small);                                              \\
            m_[i] = m;                                                                            \\
            T v = v_[i] * b2 + (omb2 * g) * g;                                                    \\
            v_[i] = v;                                                                            \\
            if (amsgrad) {                                                                        \\
                v = FNN_MAX(vm[i], v);                                                            \\
                vm[i] = v;                                                                        \\
            }                                                                                     \\
            T d = SQRT(v) / bc2s + eps;                                                           \\
            p[i] = pi + (neg_step * m) / d;                                                       \\
        }                                                                                         \\
    }                                                                                             \\
    FNN_CLONES static void fnn_adam_##SFX(ptrdiff_t n, T *p, const T *gr, T *m_, T *v_, T *vm, T neg_step,  \\
            T bc2s, T w, T omw, int small, T b2, T omb2, T eps, T wd, T decay, int decoupled,     \\
            int maximize, int amsgrad) {                                                          \\
        if (amsgrad) fnn_adam_body_##SFX(n, p, gr, m_, v_, vm, neg_step, bc2s, w, omw, small, b2, \\
                                         omb2, eps, wd, decay, decoupled, maximize, 1);           \\
        else fnn_adam_body_##SFX(n, p, gr, m_, v_, vm, neg_step, bc2s, w, omw, small, b2, omb2,   \\
                                 eps, wd, decay, decoupled, maximize, 0);                         \\
    }                                                                                             \\
    FNN_CLONES static void fnn_adamax_##SFX(ptrdiff_t n, T *FNN_R p, const T *FNN_R gr, T *FNN_R m_,        \\
            T *FNN_R u_, T neg_clr, T w, T omw, int small, T b2, T eps, T wd, int maximize) {     \\
        const int use_wd = wd != 0;                                                               \\
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \\
            T g = gr[i];                                                                          \\
            if (maximize) g = -g;                                                                 \\
            if (use_wd) g = g + wd * p[i];                                                        \\
            T m = FNN_LERP(m_[i], g, w, omw, small);                                              \\
            m_[i] = m;                                                                            \\
            T u = FNN_MAX(u_[i] * b2, FABS(g) + eps);                                             \\
            u_[i] = u;                                                                            \\
            p[i] = p[i] + (neg_clr * m) / u;                                                      \\
        }                                                                                         \\
    }                                                                                             \\
    FNN_CLONES static void fnn_nadam_##SFX(ptrdiff_t n, T *FNN_R p, const T *FNN_R gr, T *FNN_R m_,         \\
            T *FNN_R v_, T bc2, T gcoef, T mcoef, T w, T omw, int small, T b2, T omb2, T eps,     \\
            T wd, T decay, int decoupled, int maximize) {                                         \\
        const int use_wd = wd != 0;                                                               \\
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \\
            T g = gr[i];                                                                          \\
            if (maximize) g = -g;                                                                 \\
            T pi = p[i];                                                                          \\
            if (use_wd) {                                                                         \\
                if (decoupled) pi = pi * decay;                                                   \\
                else g = g + wd * pi;                                                             \\
            }                                                                                     \\
            T m = FNN_LERP(m_[i], g, w, omw, small);                                              \\
            m_[i] = m;                                                                            \\
            T v = v_[i] * b2 + (omb2 * g) * g;                                                    \\
            v_[i] = v;                                                                            \\
            T d = SQRT(v / bc2) + eps;                                                            \\
            pi = pi + (gcoef * g) / d;      /* two roundings: torch's two addcdiv_ calls */       \\
            p[i] = pi + (mcoef * m) / d;                                                          \\
        }                                                                                         \\
    }

    FNN_DEFINE_OPTIM(float, f32, sqrtf, fabsf)
    FNN_DEFINE_OPTIM(double, f64, sqrt, fabs)
    """
    void fnn_sgd_f32(Py_ssize_t n, float* p, const float* g, float* buf, float neg_lr, float mom,
                     float omd, float wd, int maximize, int use_mom, int nesterov, int first) nogil
    void fnn_sgd_f64(Py_ssize_t n, double* p, const double* g, double* buf, double neg_lr,
                     double mom, double omd, double wd, int maximize, int use_mom, int nesterov,
                     int first) nogil
    void fnn_adagrad_f32(Py_ssize_t n, float* p, const float* g, float* ss, float neg_clr, float wd,
                         float eps, int maximize) nogil
    void fnn_adagrad_f64(Py_ssize_t n, double* p, const double* g, double* ss, double neg_clr,
                         double wd, double eps, int maximize) nogil
    void fnn_adadelta_f32(Py_ssize_t n, float* p, const float* g, float* sq, float* acc,
                          float neg_lr, float rho, float omr, float eps, float wd, int maximize) nogil
    void fnn_adadelta_f64(Py_ssize_t n, double* p, const double* g, double* sq, double* acc,
                          double neg_lr, double rho, double omr, double eps, double wd,
                          int maximize) nogil
    void fnn_rmsprop_f32(Py_ssize_t n, float* p, const float* g, float* sq, float* ga, float* buf,
                         float neg_lr, float alpha, float oma, float w, float omw, int small,
                         float eps, float wd, float mom, int maximize, int centered,
                         int use_mom) nogil
    void fnn_rmsprop_f64(Py_ssize_t n, double* p, const double* g, double* sq, double* ga,
                         double* buf, double neg_lr, double alpha, double oma, double w,
                         double omw, int small, double eps, double wd, double mom, int maximize,
                         int centered, int use_mom) nogil
    void fnn_adam_f32(Py_ssize_t n, float* p, const float* g, float* m, float* v, float* vm,
                      float neg_step, float bc2s, float w, float omw, int small, float b2,
                      float omb2, float eps, float wd, float decay, int decoupled, int maximize,
                      int amsgrad) nogil
    void fnn_adam_f64(Py_ssize_t n, double* p, const double* g, double* m, double* v, double* vm,
                      double neg_step, double bc2s, double w, double omw, int small, double b2,
                      double omb2, double eps, double wd, double decay, int decoupled,
                      int maximize, int amsgrad) nogil
    void fnn_adamax_f32(Py_ssize_t n, float* p, const float* g, float* m, float* u, float neg_clr,
                        float w, float omw, int small, float b2, float eps, float wd,
                        int maximize) nogil
    void fnn_adamax_f64(Py_ssize_t n, double* p, const double* g, double* m, double* u,
                        double neg_clr, double w, double omw, int small, double b2, double eps,
                        double wd, int maximize) nogil
    void fnn_nadam_f32(Py_ssize_t n, float* p, const float* g, float* m, float* v, float bc2,
                       float gcoef, float mcoef, float w, float omw, int small, float b2,
                       float omb2, float eps, float wd, float decay, int decoupled,
                       int maximize) nogil
    void fnn_nadam_f64(Py_ssize_t n, double* p, const double* g, double* m, double* v, double bc2,
                       double gcoef, double mcoef, double w, double omw, int small, double b2,
                       double omb2, double eps, double wd, double decay, int decoupled,
                       int maximize) nogil

__all__ = [
    "sgd_update", "adagrad_update", "adadelta_update", "rmsprop_update", "adam_update",
    "adamw_update", "adamax_update", "nadam_update",
]

# Below this many elements one thread is faster than waking a team (the result is the same).
cdef Py_ssize_t _PARALLEL_MIN = 32768


cdef int _nthreads(Py_ssize_t n) except -1:
    if n < _PARALLEL_MIN:
        return 1
    return max(1, <int>get_num_threads())


cdef inline Py_ssize_t _block(Py_ssize_t n, int nt, int t) noexcept nogil:
    # Start of thread t's contiguous block, rounded down to 16 elements so blocks begin on a
    # cache line (64 B of float32); the last block ends at n.
    if t >= nt:
        return n
    return ((n * t) // nt) & ~(<Py_ssize_t>15)


def _flat(a):
    # C-contiguity was checked, so this is a view (writes reach the caller's array).
    return a.reshape(-1)


# ------------------------------------------------------------------------------------------
# Parallel drivers: one contiguous block per thread, the C loop inside.
# ------------------------------------------------------------------------------------------

cdef void _sgd_run(floating[::1] p, const floating[::1] g, floating[::1] buf, floating neg_lr,
                   floating mom, floating omd, floating wd, int maximize, int use_mom,
                   int nesterov, int first, int nt) noexcept nogil:
    cdef Py_ssize_t n = p.shape[0], lo, hi
    cdef int t
    for t in prange(nt, schedule="static", num_threads=nt):
        lo = _block(n, nt, t)
        hi = _block(n, nt, t + 1)
        if floating is float:
            fnn_sgd_f32(hi - lo, &p[lo], &g[lo], &buf[lo], neg_lr, mom, omd, wd, maximize,
                        use_mom, nesterov, first)
        else:
            fnn_sgd_f64(hi - lo, &p[lo], &g[lo], &buf[lo], neg_lr, mom, omd, wd, maximize,
                        use_mom, nesterov, first)


cdef void _adagrad_run(floating[::1] p, const floating[::1] g, floating[::1] ss, floating neg_clr,
                       floating wd, floating eps, int maximize, int nt) noexcept nogil:
    cdef Py_ssize_t n = p.shape[0], lo, hi
    cdef int t
    for t in prange(nt, schedule="static", num_threads=nt):
        lo = _block(n, nt, t)
        hi = _block(n, nt, t + 1)
        if floating is float:
            fnn_adagrad_f32(hi - lo, &p[lo], &g[lo], &ss[lo], neg_clr, wd, eps, maximize)
        else:
            fnn_adagrad_f64(hi - lo, &p[lo], &g[lo], &ss[lo], neg_clr, wd, eps, maximize)


cdef void _adadelta_run(floating[::1] p, const floating[::1] g, floating[::1] sq,
                        floating[::1] acc, floating neg_lr, floating rho, floating omr,
                        floating eps, floating wd, int maximize, int nt) noexcept nogil:
    cdef Py_ssize_t n = p.shape[0], lo, hi
    cdef int t
    for t in prange(nt, schedule="static", num_threads=nt):
        lo = _block(n, nt, t)
        hi = _block(n, nt, t + 1)
        if floating is float:
            fnn_adadelta_f32(hi - lo, &p[lo], &g[lo], &sq[lo], &acc[lo], neg_lr, rho, omr, eps,
                             wd, maximize)
        else:
            fnn_adadelta_f64(hi - lo, &p[lo], &g[lo], &sq[lo], &acc[lo], neg_lr, rho, omr, eps,
                             wd, maximize)


cdef void _rmsprop_run(floating[::1] p, const floating[::1] g, floating[::1] sq, floating[::1] ga,
                       floating[::1] buf, floating neg_lr, floating alpha, floating oma,
                       floating w, floating omw, int small, floating eps, floating wd,
                       floating mom, int maximize, int centered, int use_mom,
                       int nt) noexcept nogil:
    cdef Py_ssize_t n = p.shape[0], lo, hi
    cdef int t
    for t in prange(nt, schedule="static", num_threads=nt):
        lo = _block(n, nt, t)
        hi = _block(n, nt, t + 1)
        if floating is float:
            fnn_rmsprop_f32(hi - lo, &p[lo], &g[lo], &sq[lo], &ga[lo], &buf[lo], neg_lr, alpha,
                            oma, w, omw, small, eps, wd, mom, maximize, centered, use_mom)
        else:
            fnn_rmsprop_f64(hi - lo, &p[lo], &g[lo], &sq[lo], &ga[lo], &buf[lo], neg_lr, alpha,
                            oma, w, omw, small, eps, wd, mom, maximize, centered, use_mom)


cdef void _adam_run(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
                    floating[::1] vm, floating neg_step, floating bc2s, floating w, floating omw,
                    int small, floating b2, floating omb2, floating eps, floating wd,
                    floating decay, int decoupled, int maximize, int amsgrad,
                    int nt) noexcept nogil:
    cdef Py_ssize_t n = p.shape[0], lo, hi
    cdef int t
    for t in prange(nt, schedule="static", num_threads=nt):
        lo = _block(n, nt, t)
        hi = _block(n, nt, t + 1)
        if floating is float:
            fnn_adam_f32(hi - lo, &p[lo], &g[lo], &m[lo], &v[lo], &vm[lo], neg_step, bc2s, w,
                         omw, small, b2, omb2, eps, wd, decay, decoupled, maximize, amsgrad)
        else:
            fnn_adam_f64(hi - lo, &p[lo], &g[lo], &m[lo], &v[lo], &vm[lo], neg_step, bc2s, w,
                         omw, small, b2, omb2, eps, wd, decay, decoupled, maximize, amsgrad)


cdef void _adamax_run(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] u,
                      floating neg_clr, floating w, floating omw, int small, floating b2,
                      floating eps, floating wd, int maximize, int nt) noexcept nogil:
    cdef Py_ssize_t n = p.shape[0], lo, hi
    cdef int t
    for t in prange(nt, schedule="static", num_threads=nt):
        lo = _block(n, nt, t)
        hi = _block(n, nt, t + 1)
        if floating is float:
            fnn_adamax_f32(hi - lo, &p[lo], &g[lo], &m[lo], &u[lo], neg_clr, w, omw, small, b2,
                           eps, wd, maximize)
        else:
            fnn_adamax_f64(hi - lo, &p[lo], &g[lo], &m[lo], &u[lo], neg_clr, w, omw, small, b2,
                           eps, wd, maximize)


cdef void _nadam_run(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
                     floating bc2, floating gcoef, floating mcoef, floating w, floating omw,
                     int small, floating b2, floating omb2, floating eps, floating wd,
                     floating decay, int decoupled, int maximize, int nt) noexcept nogil:
    cdef Py_ssize_t n = p.shape[0], lo, hi
    cdef int t
    for t in prange(nt, schedule="static", num_threads=nt):
        lo = _block(n, nt, t)
        hi = _block(n, nt, t + 1)
        if floating is float:
            fnn_nadam_f32(hi - lo, &p[lo], &g[lo], &m[lo], &v[lo], bc2, gcoef, mcoef, w, omw,
                          small, b2, omb2, eps, wd, decay, decoupled, maximize)
        else:
            fnn_nadam_f64(hi - lo, &p[lo], &g[lo], &m[lo], &v[lo], bc2, gcoef, mcoef, w, omw,
                          small, b2, omb2, eps, wd, decay, decoupled, maximize)


# ------------------------------------------------------------------------------------------
# Public kernels: validate (shared with the twin), compute scalars in double, run.
# A state array that a flag leaves unused is replaced by `param` as a dummy: the C variant
# compiled for that flag never touches it.
# ------------------------------------------------------------------------------------------

def sgd_update(param, grad, momentum_buffer, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
               nesterov=False, maximize=False, first_step=False):
    """SGD with momentum, in place, one fused pass (torch.optim.SGD).

    ``momentum_buffer`` may be None when ``momentum == 0``; ``first_step=True`` initialises it
    to the (decayed, sign-adjusted) gradient as torch does.  See fastnn.reference.sgd_update.
    """
    lr, momentum, dampening, weight_decay, nesterov, maximize, first_step = _prep_sgd(
        param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, maximize,
        first_step)
    if param.size == 0:
        return
    use_mom = momentum != 0
    p, g = _flat(param), _flat(grad)
    buf = _flat(momentum_buffer) if use_mom else p
    nt = _nthreads(p.shape[0])
    if param.dtype == np.float32:
        _sgd_run[float](p, g, buf, -lr, momentum, 1 - dampening, weight_decay, maximize, use_mom,
                        nesterov, first_step, nt)
    else:
        _sgd_run[double](p, g, buf, -lr, momentum, 1 - dampening, weight_decay, maximize,
                         use_mom, nesterov, first_step, nt)


def adagrad_update(param, grad, state_sum, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                   eps=1e-10, maximize=False):
    """Adagrad, in place, one fused pass (torch.optim.Adagrad); ``step`` counts from 1.
    See fastnn.reference.adagrad_update."""
    clr, weight_decay, eps, maximize = _prep_adagrad(
        param, grad, state_sum, step, lr, lr_decay, weight_decay, eps, maximize)
    if param.size == 0:
        return
    p, g, s = _flat(param), _flat(grad), _flat(state_sum)
    nt = _nthreads(p.shape[0])
    if param.dtype == np.float32:
        _adagrad_run[float](p, g, s, -clr, weight_decay, eps, maximize, nt)
    else:
        _adagrad_run[double](p, g, s, -clr, weight_decay, eps, maximize, nt)


def adadelta_update(param, grad, square_avg, acc_delta, lr=1.0, rho=0.9, eps=1e-6,
                    weight_decay=0.0, maximize=False):
    """Adadelta, in place, one fused pass (torch.optim.Adadelta).
    See fastnn.reference.adadelta_update."""
    lr, rho, eps, weight_decay, maximize = _prep_adadelta(
        param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize)
    if param.size == 0:
        return
    p, g, sq, acc = _flat(param), _flat(grad), _flat(square_avg), _flat(acc_delta)
    nt = _nthreads(p.shape[0])
    if param.dtype == np.float32:
        _adadelta_run[float](p, g, sq, acc, -lr, rho, 1 - rho, eps, weight_decay, maximize, nt)
    else:
        _adadelta_run[double](p, g, sq, acc, -lr, rho, 1 - rho, eps, weight_decay, maximize, nt)


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr=1e-2, alpha=0.99,
                   eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False):
    """RMSprop, in place, one fused pass (torch.optim.RMSprop).  ``grad_avg`` may be None unless
    ``centered``; ``momentum_buffer`` may be None unless ``momentum > 0``.
    See fastnn.reference.rmsprop_update."""
    lr, alpha, eps, weight_decay, momentum, centered, maximize = _prep_rmsprop(
        param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps, weight_decay, momentum,
        centered, maximize)
    if param.size == 0:
        return
    use_mom = momentum > 0
    p, g, sq = _flat(param), _flat(grad), _flat(square_avg)
    ga = _flat(grad_avg) if centered else p
    buf = _flat(momentum_buffer) if use_mom else p
    w, omw, small = _lerp_coeffs(1 - alpha, param.dtype)
    nt = _nthreads(p.shape[0])
    if param.dtype == np.float32:
        _rmsprop_run[float](p, g, sq, ga, buf, -lr, alpha, 1 - alpha, w, omw, small, eps,
                            weight_decay, momentum, maximize, centered, use_mom, nt)
    else:
        _rmsprop_run[double](p, g, sq, ga, buf, -lr, alpha, 1 - alpha, w, omw, small, eps,
                             weight_decay, momentum, maximize, centered, use_mom, nt)


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr=1e-3, beta1=0.9,
                beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                decoupled_weight_decay=False):
    """Adam / AdamW, in place, one fused pass (torch.optim.Adam / AdamW); ``step`` counts from 1.
    ``max_exp_avg_sq`` may be None unless ``amsgrad``.  See fastnn.reference.adam_update."""
    (lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled, step_size,
     bc2_sqrt) = _prep_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                            beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)
    if param.size == 0:
        return
    p, g, m, v = _flat(param), _flat(grad), _flat(exp_avg), _flat(exp_avg_sq)
    vm = _flat(max_exp_avg_sq) if amsgrad else p
    w, omw, small = _lerp_coeffs(1 - beta1, param.dtype)
    decay = 1 - lr * weight_decay
    nt = _nthreads(p.shape[0])
    if param.dtype == np.float32:
        _adam_run[float](p, g, m, v, vm, -step_size, bc2_sqrt, w, omw, small, beta2, 1 - beta2,
                         eps, weight_decay, decay, decoupled, maximize, amsgrad, nt)
    else:
        _adam_run[double](p, g, m, v, vm, -step_size, bc2_sqrt, w, omw, small, beta2, 1 - beta2,
                          eps, weight_decay, decay, decoupled, maximize, amsgrad, nt)


def adamw_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr=1e-3, beta1=0.9,
                 beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False):
    """AdamW (torch.optim.AdamW): ``adam_update`` with ``decoupled_weight_decay=True`` and
    torch's AdamW default ``weight_decay=1e-2``."""
    adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, amsgrad, maximize, True)


def adamax_update(param, grad, exp_avg, exp_inf, step, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                  weight_decay=0.0, maximize=False):
    """Adamax, in place, one fused pass (torch.optim.Adamax); ``step`` counts from 1.
    See fastnn.reference.adamax_update."""
    beta1, beta2, eps, weight_decay, maximize, clr = _prep_adamax(
        param, grad, exp_avg, exp_inf, step, lr, beta1, beta2, eps, weight_decay, maximize)
    if param.size == 0:
        return
    p, g, m, u = _flat(param), _flat(grad), _flat(exp_avg), _flat(exp_inf)
    w, omw, small = _lerp_coeffs(1 - beta1, param.dtype)
    nt = _nthreads(p.shape[0])
    if param.dtype == np.float32:
        _adamax_run[float](p, g, m, u, -clr, w, omw, small, beta2, eps, weight_decay, maximize, nt)
    else:
        _adamax_run[double](p, g, m, u, -clr, w, omw, small, beta2, eps, weight_decay, maximize,
                            nt)


def nadam_update(param, grad, exp_avg, exp_avg_sq, step, mu_product, lr=2e-3, beta1=0.9,
                 beta2=0.999, eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, maximize=False):
    """NAdam, in place, one fused pass (torch.optim.NAdam); ``step`` counts from 1 and
    ``mu_product`` is the product of the previous mus (1.0 at first).  Returns the new
    ``mu_product`` (float32-rounded as torch stores it).  See fastnn.reference.nadam_update."""
    (lr, beta1, beta2, eps, weight_decay, decoupled, maximize, bc2, grad_coef, exp_avg_coef,
     mu_product) = _prep_nadam(param, grad, exp_avg, exp_avg_sq, step, mu_product, lr, beta1, beta2,
                               eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize)
    if param.size == 0:
        return mu_product
    p, g, m, v = _flat(param), _flat(grad), _flat(exp_avg), _flat(exp_avg_sq)
    w, omw, small = _lerp_coeffs(1 - beta1, param.dtype)
    decay = 1 - lr * weight_decay
    nt = _nthreads(p.shape[0])
    if param.dtype == np.float32:
        _nadam_run[float](p, g, m, v, bc2, grad_coef, exp_avg_coef, w, omw, small, beta2,
                          1 - beta2, eps, weight_decay, decay, decoupled, maximize, nt)
    else:
        _nadam_run[double](p, g, m, v, bc2, grad_coef, exp_avg_coef, w, omw, small, beta2,
                           1 - beta2, eps, weight_decay, decay, decoupled, maximize, nt)
    return mu_product
