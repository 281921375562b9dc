/* What SIMD this CPU and its operating system can run, decided once per process.
 *
 * Levels, in order: FNN_SIMD_GENERIC (plain C, any CPU), FNN_SIMD_AVX2 (AVX2 + FMA),
 * FNN_SIMD_AVX512 (AVX-512F; also needs the OS to save the zmm and opmask registers, which
 * XGETBV reports).  Every kernel family takes the level to run as an `int simd` argument and
 * runs its best variant at or below it; the level in use is one process-wide setting held by
 * fastnn.kernels._runtime (FASTNN_SIMD, fastnn.set_simd), never a hidden global in C.
 */
#ifndef FNN_CPU_H
#define FNN_CPU_H

enum { FNN_SIMD_GENERIC = 0, FNN_SIMD_AVX2 = 1, FNN_SIMD_AVX512 = 2 };

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define FNN_X86 1
#include <cpuid.h>

/* XCR0 bits the OS must enable: SSE and AVX state (0x6) for AVX2; plus opmask, ZMM_Hi256 and
 * Hi16_ZMM (0xe0) for AVX-512. */
static inline unsigned long long fnn_xgetbv0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static inline int fnn_cpu_best_simd(void)
{
    unsigned int a, b, c, d;
    unsigned long long xcr0;
    int osxsave, fma, avx2, avx512f;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return FNN_SIMD_GENERIC;
    osxsave = (c >> 27) & 1;
    fma = (c >> 12) & 1;
    if (!osxsave || !((c >> 28) & 1))          /* no XSAVE enabled or no AVX */
        return FNN_SIMD_GENERIC;
    xcr0 = fnn_xgetbv0();
    if ((xcr0 & 0x6) != 0x6)
        return FNN_SIMD_GENERIC;
    if (__get_cpuid_max(0, 0) < 7)
        return FNN_SIMD_GENERIC;
    __cpuid_count(7, 0, a, b, c, d);
    avx2 = (b >> 5) & 1;
    avx512f = (b >> 16) & 1;
    if (!(avx2 && fma))
        return FNN_SIMD_GENERIC;
    if (avx512f && (xcr0 & 0xe6) == 0xe6)
        return FNN_SIMD_AVX512;
    return FNN_SIMD_AVX2;
}
#else
#define FNN_X86 0
static inline int fnn_cpu_best_simd(void) { return FNN_SIMD_GENERIC; }
#endif

#endif
