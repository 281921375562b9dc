/* Private to fnn_gemm.c: flush-to-zero for the duration of a GEMM call.
 *
 * Denormal inputs or results make x86 FP units take a microcode assist on every operation that
 * meets one, and training produces them (near-zero gradients and weights); docs/kernels/gemm.md
 * gives the cost.  FTZ (MXCSR bit 15) flushes denormal results to zero and DAZ (bit 6) reads
 * denormal inputs as zero.  MXCSR is per thread, so each thread of the kernel sets it on entry
 * and restores the caller's value on exit: the caller's floating-point environment is untouched.
 * Elsewhere (no x86 SSE control register) these do nothing.
 */
#ifndef FNN_GEMM_FTZ_H
#define FNN_GEMM_FTZ_H

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
static inline unsigned fnn_ftz_enter(void)
{
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    return old;
}
static inline void fnn_ftz_leave(unsigned old) { _mm_setcsr(old); }
#else
static inline unsigned fnn_ftz_enter(void) { return 0; }
static inline void fnn_ftz_leave(unsigned old) { (void)old; }
#endif

#endif /* FNN_GEMM_FTZ_H */
