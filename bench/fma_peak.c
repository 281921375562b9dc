/* The machine's peak float32 FMA rate: a loop of independent fused multiply-adds per thread,
 * nothing else (no loads, no stores), at one SIMD width.  Used by bench/targets_gemm.py, which
 * compiles it on the fly (cc -O2 -fopenmp), as the "measured peak" the GEMM targets refer to.
 *
 *   fma_peak <avx2|avx512> <threads> <seconds> [cpu]   ->  prints "<GFLOP/s> <threads> <level>"
 *
 * Wall-clock rate of all threads together; with "cpu", one thread's rate per second of its own
 * CPU time (what a core does when it runs, whatever else the machine runs: for a loaded machine).
 *
 * 12 accumulators per thread: more independent chains than FMA pipes x FMA latency (2 x 4 on
 * current x86 cores), so the loop runs at the FMA throughput.  flops = 2 per lane per FMA.
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS 12

/* Twelve named accumulators (an array of vectors may be kept in memory by the compiler). */
#define FMA12(FMADD)                                                                              \
    do {                                                                                          \
        a0 = FMADD(a0, m, d); a1 = FMADD(a1, m, d); a2 = FMADD(a2, m, d);                         \
        a3 = FMADD(a3, m, d); a4 = FMADD(a4, m, d); a5 = FMADD(a5, m, d);                         \
        a6 = FMADD(a6, m, d); a7 = FMADD(a7, m, d); a8 = FMADD(a8, m, d);                         \
        a9 = FMADD(a9, m, d); a10 = FMADD(a10, m, d); a11 = FMADD(a11, m, d);                     \
    } while (0)

__attribute__((target("avx2,fma")))
static float run_avx2(long iters)
{
    __m256 m = _mm256_set1_ps(0.999999f), d = _mm256_set1_ps(1e-6f);
    __m256 a0 = _mm256_set1_ps(0.f), a1 = _mm256_set1_ps(1.f), a2 = _mm256_set1_ps(2.f);
    __m256 a3 = _mm256_set1_ps(3.f), a4 = _mm256_set1_ps(4.f), a5 = _mm256_set1_ps(5.f);
    __m256 a6 = _mm256_set1_ps(6.f), a7 = _mm256_set1_ps(7.f), a8 = _mm256_set1_ps(8.f);
    __m256 a9 = _mm256_set1_ps(9.f), a10 = _mm256_set1_ps(10.f), a11 = _mm256_set1_ps(11.f);
    float out[8];
    long i;
    for (i = 0; i < iters; i++)
        FMA12(_mm256_fmadd_ps);
    a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                       _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    a0 = _mm256_add_ps(a0, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    _mm256_storeu_ps(out, a0);
    return out[0] + out[7];
}

__attribute__((target("avx512f")))
static float run_avx512(long iters)
{
    __m512 m = _mm512_set1_ps(0.999999f), d = _mm512_set1_ps(1e-6f);
    __m512 a0 = _mm512_set1_ps(0.f), a1 = _mm512_set1_ps(1.f), a2 = _mm512_set1_ps(2.f);
    __m512 a3 = _mm512_set1_ps(3.f), a4 = _mm512_set1_ps(4.f), a5 = _mm512_set1_ps(5.f);
    __m512 a6 = _mm512_set1_ps(6.f), a7 = _mm512_set1_ps(7.f), a8 = _mm512_set1_ps(8.f);
    __m512 a9 = _mm512_set1_ps(9.f), a10 = _mm512_set1_ps(10.f), a11 = _mm512_set1_ps(11.f);
    long i;
    for (i = 0; i < iters; i++)
        FMA12(_mm512_fmadd_ps);
    a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                       _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    a0 = _mm512_add_ps(a0, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(a0);
}

int main(int argc, char **argv)
{
    const int wide = argc > 1 && strcmp(argv[1], "avx512") == 0;
    const int threads = argc > 2 ? atoi(argv[2]) : 1;
    const double seconds = argc > 3 ? atof(argv[3]) : 0.5;
    const int lanes = wide ? 16 : 8;
    long iters = 1000000;
    double t, best = 0;
    volatile float sink = 0;
    int rep;
    if (argc > 4 && strcmp(argv[4], "cpu") == 0) {
        struct timespec a, b;
        iters = 20000000;
        for (rep = 0; rep < 3; rep++) {
            double rate;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
            sink += wide ? run_avx512(iters) : run_avx2(iters);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
            t = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
            rate = 2.0 * lanes * CHAINS * (double)iters / t / 1e9;
            if (rate > best)
                best = rate;
        }
        printf("%.1f 1 %s cpu\n", best, wide ? "avx512" : "avx2");
        return sink == 12345.0f;
    }
    /* calibrate on one thread: iterations that take about `seconds` */
    for (;;) {
        t = omp_get_wtime();
        sink += wide ? run_avx512(iters) : run_avx2(iters);
        t = omp_get_wtime() - t;
        if (t > seconds / 4 || iters > (1L << 40))
            break;
        iters *= 4;
    }
    iters = (long)(iters * (seconds / (t > 0 ? t : 1e-9)));
    for (rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime(), rate;
        #pragma omp parallel num_threads(threads)
        {
            float v = wide ? run_avx512(iters) : run_avx2(iters);
            #pragma omp atomic
            sink += v;
        }
        t = omp_get_wtime() - t0;
        rate = 2.0 * lanes * CHAINS * (double)iters * threads / t / 1e9;
        if (rate > best)
            best = rate;
    }
    printf("%.1f %d %s\n", best, threads, wide ? "avx512" : "avx2");
    return sink == 12345.0f;   /* keeps the loops alive */
}
