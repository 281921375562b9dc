/* Machine probes for the roofline (fastnn/benchmarks/probes.py): how many float32 FLOP/s this
 * CPU can retire at each SIMD level, and how many bytes per second its memory can stream.
 *
 * Peak: each thread runs `iters` steps of ACC independent multiply-add chains,
 *     acc[j] = acc[j] * m + a          (one FMA instruction per vector at avx2/avx512)
 * Independent chains hide the FMA latency (4 cycles on Zen 4 and Skylake, two pipes: at least
 * 8 chains in flight), so the loop runs at the FMA units' throughput, which is the peak a
 * kernel at that level could reach.  m < 1 keeps every value near a / (1 - m): no overflow and
 * no denormals, whose slow path would measure something else.  The generic level is plain C
 * compiled for the baseline ISA (SSE2 on x86-64: a multiply and an add, no FMA), which is what
 * the generic micro-kernel runs.  Each variant carries a GCC target attribute, never
 * -march=native; the caller (fastnn/kernels/_probe.pyx) refuses a level the CPU cannot run.
 *
 * Bandwidth: a[i] = b[i] + s * c[i] over arrays much larger than the caches, split into one
 * contiguous slice per thread (static schedule).  12 bytes per element are counted: two reads
 * and one write.  When a is distinct from b (STREAM's "triad") the hardware also reads each line
 * of a before writing it (write-allocate), 16 bytes per element really move and the count
 * understates the bandwidth by a quarter; called with a == b (in place, as fastnn's optimizers
 * update their parameters) the count is exact, so fastnn.benchmarks.probes measures that way.
 *
 * Both return what they counted (FLOPs, bytes); the caller times the call.
 */
#ifndef FNN_PROBE_H
#define FNN_PROBE_H
#include <stdint.h>
#include "fnn_cpu.h"
#include "fnn_openmp.h"

#if FNN_X86
#include <immintrin.h>
#define FNN_PROBE_AVX2 __attribute__((target("avx2,fma"), noinline))
#define FNN_PROBE_AVX512 __attribute__((target("avx512f"), noinline))
#endif

/* The accumulators are named variables, one statement each (FNN_PROBE_REP*): GCC keeps an
 * array of vectors in memory instead, and the loop then measures store-to-load forwarding. */
#define FNN_PROBE_REP8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define FNN_PROBE_REP12(X) FNN_PROBE_REP8(X) X(8) X(9) X(10) X(11)
#define FNN_PROBE_REP16(X) FNN_PROBE_REP12(X) X(12) X(13) X(14) X(15)

#define FNN_PROBE_GENERIC_ACC 8      /* vectors of 4 floats (SSE2 registers on x86-64) */
#define FNN_PROBE_AVX2_ACC 12        /* ymm accumulators, of 16 registers */
#define FNN_PROBE_AVX512_ACC 16      /* zmm accumulators, of 32 registers */
#define FNN_PROBE_M 0.999999f
#define FNN_PROBE_A 1e-6f

#if defined(__GNUC__) || defined(__clang__)
/* GCC/clang vector extension: portable C the compiler maps to the baseline ISA's registers */
typedef float fnn_probe_v4 __attribute__((vector_size(16)));
#define FNN_PROBE_LANES 4
#else
typedef float fnn_probe_v4;
#define FNN_PROBE_LANES 1
#endif

#define FNN_PROBE_ACC(j) acc##j

static __attribute__((noinline)) float fnn_probe_fma_generic(int64_t iters)
{
    const fnn_probe_v4 m = (fnn_probe_v4){0} + FNN_PROBE_M, a = (fnn_probe_v4){0} + FNN_PROBE_A;
    /* distinct starting values: equal chains would be merged into one by the compiler */
#define FNN_PROBE_INIT(j) fnn_probe_v4 acc##j = (fnn_probe_v4){0} + (float)(j + 1);
    FNN_PROBE_REP8(FNN_PROBE_INIT)
#undef FNN_PROBE_INIT
    fnn_probe_v4 sum;
    float total = 0.0f;
    int64_t t;
    for (t = 0; t < iters; t++) {
#define FNN_PROBE_STEP(j) FNN_PROBE_ACC(j) = FNN_PROBE_ACC(j) * m + a;
        FNN_PROBE_REP8(FNN_PROBE_STEP)
#undef FNN_PROBE_STEP
    }
    sum = acc0 + acc1 + acc2 + acc3 + acc4 + acc5 + acc6 + acc7;
    for (t = 0; t < FNN_PROBE_LANES; t++)
        total += ((float *)&sum)[t];
    return total;
}

#if FNN_X86
static FNN_PROBE_AVX2 float fnn_probe_fma_avx2(int64_t iters)
{
    const __m256 m = _mm256_set1_ps(FNN_PROBE_M), a = _mm256_set1_ps(FNN_PROBE_A);
#define FNN_PROBE_INIT(j) __m256 acc##j = _mm256_set1_ps((float)(j + 1));
    FNN_PROBE_REP12(FNN_PROBE_INIT)
#undef FNN_PROBE_INIT
    float lanes[8], total = 0.0f;
    int64_t t;
    for (t = 0; t < iters; t++) {
#define FNN_PROBE_STEP(j) FNN_PROBE_ACC(j) = _mm256_fmadd_ps(FNN_PROBE_ACC(j), m, a);
        FNN_PROBE_REP12(FNN_PROBE_STEP)
#undef FNN_PROBE_STEP
    }
    acc0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)),
                         _mm256_add_ps(_mm256_add_ps(acc4, acc5), _mm256_add_ps(acc6, acc7)));
    acc0 = _mm256_add_ps(acc0, _mm256_add_ps(_mm256_add_ps(acc8, acc9),
                                             _mm256_add_ps(acc10, acc11)));
    _mm256_storeu_ps(lanes, acc0);
    for (t = 0; t < 8; t++)
        total += lanes[t];
    return total;
}

static FNN_PROBE_AVX512 float fnn_probe_fma_avx512(int64_t iters)
{
    const __m512 m = _mm512_set1_ps(FNN_PROBE_M), a = _mm512_set1_ps(FNN_PROBE_A);
#define FNN_PROBE_INIT(j) __m512 acc##j = _mm512_set1_ps((float)(j + 1));
    FNN_PROBE_REP16(FNN_PROBE_INIT)
#undef FNN_PROBE_INIT
    int64_t t;
    for (t = 0; t < iters; t++) {
#define FNN_PROBE_STEP(j) FNN_PROBE_ACC(j) = _mm512_fmadd_ps(FNN_PROBE_ACC(j), m, a);
        FNN_PROBE_REP16(FNN_PROBE_STEP)
#undef FNN_PROBE_STEP
    }
    acc0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)),
                         _mm512_add_ps(_mm512_add_ps(acc4, acc5), _mm512_add_ps(acc6, acc7)));
    acc8 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc8, acc9), _mm512_add_ps(acc10, acc11)),
                         _mm512_add_ps(_mm512_add_ps(acc12, acc13),
                                       _mm512_add_ps(acc14, acc15)));
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc8));
}
#endif

/* FLOPs one thread does per iteration at `simd` (2 per multiply-add per lane). */
static inline int64_t fnn_probe_flops_per_iter(int simd)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512)
        return 2 * 16 * FNN_PROBE_AVX512_ACC;
    if (simd >= FNN_SIMD_AVX2)
        return 2 * 8 * FNN_PROBE_AVX2_ACC;
#endif
    (void)simd;
    return 2 * FNN_PROBE_LANES * FNN_PROBE_GENERIC_ACC;
}

/* Runs the peak loop on `threads` threads at once; returns the FLOPs done.  sink[t] (one per
 * thread) receives a value that depends on every accumulator of thread t, so the compiler cannot
 * drop the loop. */
static int64_t fnn_probe_fma(int simd, int64_t iters, int threads, float *sink)
{
    int t;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (t = 0; t < threads; t++) {
#if FNN_X86
        if (simd >= FNN_SIMD_AVX512)
            sink[t] = fnn_probe_fma_avx512(iters);
        else if (simd >= FNN_SIMD_AVX2)
            sink[t] = fnn_probe_fma_avx2(iters);
        else
#endif
            sink[t] = fnn_probe_fma_generic(iters);
    }
    return fnn_probe_flops_per_iter(simd) * iters * threads;
}

/* One pass a = b + s * c over n elements on `threads` threads (a may be b); returns the bytes
 * counted (12 per element). */
static int64_t fnn_probe_triad(float *a, const float *b, const float *c, int64_t n, float s,
                               int threads)
{
    int64_t i;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
    (void)threads;
    return 12 * n;
}

#endif /* FNN_PROBE_H */
