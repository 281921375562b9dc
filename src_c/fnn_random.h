/* Counter-based random bits for dropout, and the dropout pass that draws its mask.
 *
 * The generator is SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014; the 64-bit finaliser is Stafford's "Mix13" variant of MurmurHash3's),
 * read as a function of (key, counter) rather than as a sequence:
 *
 *     draw(key, j) = mix(key + (j + 1) * GAMMA)            (all arithmetic mod 2^64)
 *     mix(z):  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
 *              z = (z ^ (z >> 27)) * 0x94d049bb133111eb
 *              return z ^ (z >> 31)
 *     GAMMA = 0x9e3779b97f4a7c15                            (2^64 / golden ratio, odd)
 *
 * so draw(key, j) is the (j+1)-th output of the usual SplitMix64 stream seeded with `key`
 * (tests check it against published outputs).  Draw j of a dropout call feeds two elements:
 * element i uses draw counter + i/2, its low 32 bits for even i and its high 32 bits for odd i,
 * and is kept when those 32 bits are >= `threshold` (round(rate * 2^32)), so
 * P(keep) = 1 - threshold / 2^32.  Every element depends only on (key, counter, i): the same
 * mask whatever the thread split or the SIMD variant, and a call of n elements consumes
 * (n + 1) / 2 draws (the caller advances its counter by that).  Statistical quality and the
 * NumPy twin: docs/kernels/activations.md and fastnn/reference/activations.py.
 *
 * The pass is written once (fnn_dropout_rng_body) and compiled per SIMD level side by side:
 * generic (SSE2 on x86-64), AVX2, and AVX-512 with AVX-512DQ (vpmullq: the 64-bit multiplies
 * of mix() in one instruction; without DQ the AVX2 variant runs); the AVX2 float variant is
 * written again with intrinsics below (the compiler's version of it gained little).  Integer
 * arithmetic only, plus one multiply per kept element, so every variant gives the same bits.
 */
#ifndef FNN_RANDOM_H
#define FNN_RANDOM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fnn_cpu.h"

#if defined(__GNUC__) || defined(__clang__)
#define FNN_RND_INLINE static inline __attribute__((always_inline))
#else
#define FNN_RND_INLINE static inline
#endif
/* x may be y (in place): element i is read before it is written and no element depends on
 * another, which is what the pragma promises the vectoriser. */
#if defined(__GNUC__) && !defined(__clang__)
#define FNN_RND_IVDEP _Pragma("GCC ivdep")
#elif defined(__clang__)
#define FNN_RND_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#else
#define FNN_RND_IVDEP
#endif

#define FNN_SPLITMIX64_GAMMA 0x9e3779b97f4a7c15ULL

FNN_RND_INLINE uint64_t fnn_splitmix64_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* draw(key, j): the (j+1)-th output of SplitMix64 seeded with key */
static inline uint64_t fnn_splitmix64_draw(uint64_t key, uint64_t j)
{
    return fnn_splitmix64_mix(key + (j + 1) * FNN_SPLITMIX64_GAMMA);
}

/* Elements per block: the draws of a block go to a small array first (that loop vectorises over
 * draws), then the block's elements are kept or zeroed (that loop vectorises over elements). */
#define FNN_DROPOUT_BLOCK 64

/* Elements [0, n) of one call's range that starts at element `first` of the call (first even):
 * keep[i] = bits(first + i) >= threshold; y[i] = keep ? x[i] * scale : 0.  A dropped element is
 * +0 whatever x holds (NaN and inf included), as the twin's np.where. */
#define FNN_DROPOUT_RNG_BODY(T, UINT)                                                           \
    {                                                                                            \
        const uint64_t draw0 = counter + (uint64_t)(first / 2);                                  \
        for (ptrdiff_t b = 0; b < n; b += FNN_DROPOUT_BLOCK) {                                   \
            uint32_t bits[FNN_DROPOUT_BLOCK];                                                    \
            const ptrdiff_t nb = n - b < FNN_DROPOUT_BLOCK ? n - b : FNN_DROPOUT_BLOCK;          \
            const uint64_t d = draw0 + (uint64_t)(b / 2) + 1;                                    \
            for (int j = 0; j < FNN_DROPOUT_BLOCK / 2; j++) {                                    \
                const uint64_t z = fnn_splitmix64_mix(key + (d + (uint64_t)j)                    \
                                                      * FNN_SPLITMIX64_GAMMA);                   \
                bits[2 * j] = (uint32_t)z;                                                       \
                bits[2 * j + 1] = (uint32_t)(z >> 32);                                           \
            }                                                                                    \
            FNN_RND_IVDEP for (ptrdiff_t i = 0; i < nb; i++) {                                   \
                /* select by a bit mask, not a branch: the loop vectorises */                    \
                const UINT k = (UINT)(bits[i] >= threshold);                                     \
                const T v = x[b + i] * scale;                                                    \
                UINT vb;                                                                         \
                memcpy(&vb, &v, sizeof vb);                                                      \
                vb &= (UINT)0 - k;                                                               \
                memcpy(&y[b + i], &vb, sizeof vb);                                               \
                keep[b + i] = (uint8_t)k;                                                        \
            }                                                                                    \
        }                                                                                        \
    }

#define FNN_DROPOUT_RNG_ARGS(T)                                                                 \
    (const T *x, T *y, uint8_t *keep, ptrdiff_t n,                                             \
     ptrdiff_t first, uint64_t key, uint64_t counter, uint32_t threshold, T scale)

static void fnn_dropout_rng_f32_generic FNN_DROPOUT_RNG_ARGS(float)
FNN_DROPOUT_RNG_BODY(float, uint32_t)
static void fnn_dropout_rng_f64_generic FNN_DROPOUT_RNG_ARGS(double)
FNN_DROPOUT_RNG_BODY(double, uint64_t)

#if FNN_X86
#include <immintrin.h>

/* AVX2 float, written with intrinsics: GCC's own vectorisation of the body above gains little at
 * this level (AVX2 has no 64-bit multiply: it builds each one from 32-bit pieces, per draw).
 * Here one vector holds 4 consecutive draws, i.e. 8 elements in order (draw J's low half for the
 * even element, its high half for the odd one, as the words lie in memory), and each multiply by
 * mix()'s constants is three 32 x 32 -> 64-bit multiplies.  Integer arithmetic and the same
 * float multiply per element: the same bits as the generic variant. */
__attribute__((target("avx2")))
static inline __m256i fnn_mul64_by_avx2(__m256i z, uint64_t c)
{
    const __m256i clo = _mm256_set1_epi64x((long long)(c & 0xffffffffULL));
    const __m256i chi = _mm256_set1_epi64x((long long)(c >> 32));
    const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(z, 32), clo),
                                           _mm256_mul_epu32(z, chi));
    return _mm256_add_epi64(_mm256_mul_epu32(z, clo), _mm256_slli_epi64(cross, 32));
}

__attribute__((target("avx2")))
static inline __m256i fnn_splitmix64_mix_avx2(__m256i z)
{
    z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 30));
    z = fnn_mul64_by_avx2(z, 0xbf58476d1ce4e5b9ULL);
    z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 27));
    z = fnn_mul64_by_avx2(z, 0x94d049bb133111ebULL);
    return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

__attribute__((target("avx2"))) static void fnn_dropout_rng_f32_avx2 FNN_DROPOUT_RNG_ARGS(float)
{
    const uint64_t g = FNN_SPLITMIX64_GAMMA;
    /* element i uses draw counter + (first + i) / 2 (first is even): lanes j = 0..3 start at
     * draw counter + first/2 + j, i.e. at key + (that + 1) * GAMMA before mix() */
    const uint64_t z0 = key + (counter + (uint64_t)(first / 2) + 1) * g;
    __m256i z = _mm256_add_epi64(_mm256_set1_epi64x((long long)z0),
                                 _mm256_setr_epi64x(0, (long long)g, (long long)(2 * g),
                                                    (long long)(3 * g)));
    const __m256i step = _mm256_set1_epi64x((long long)(4 * g));
    /* bits >= threshold, unsigned, as a signed compare of both with their top bit flipped */
    const __m256i flip = _mm256_set1_epi32((int)0x80000000u);
    const __m256i thr = _mm256_xor_si256(_mm256_set1_epi32((int)threshold), flip);
    const __m256 vscale = _mm256_set1_ps(scale);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i bits = _mm256_xor_si256(fnn_splitmix64_mix_avx2(z), flip);
        const __m256i drop = _mm256_cmpgt_epi32(thr, bits);             /* all ones: dropped */
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vscale);
        const __m128i d16 = _mm_packs_epi32(_mm256_castsi256_si128(drop),
                                            _mm256_extracti128_si256(drop, 1));
        _mm256_storeu_ps(y + i, _mm256_andnot_ps(_mm256_castsi256_ps(drop), v));   /* +0 */
        /* -1 dropped / 0 kept, plus one: the 0 / 1 keep bytes */
        _mm_storel_epi64((__m128i *)(keep + i),
                         _mm_add_epi8(_mm_packs_epi16(d16, d16), _mm_set1_epi8(1)));
        z = _mm256_add_epi64(z, step);
    }
    if (i < n)
        fnn_dropout_rng_f32_generic(x + i, y + i, keep + i, n - i, first + i, key, counter,
                                    threshold, scale);
}
__attribute__((target("avx2"))) static void fnn_dropout_rng_f64_avx2 FNN_DROPOUT_RNG_ARGS(double)
FNN_DROPOUT_RNG_BODY(double, uint64_t)
#define FNN_TARGET_AVX512DQ __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))
FNN_TARGET_AVX512DQ static void fnn_dropout_rng_f32_avx512 FNN_DROPOUT_RNG_ARGS(float)
FNN_DROPOUT_RNG_BODY(float, uint32_t)
FNN_TARGET_AVX512DQ static void fnn_dropout_rng_f64_avx512 FNN_DROPOUT_RNG_ARGS(double)
FNN_DROPOUT_RNG_BODY(double, uint64_t)

/* AVX-512DQ, BW and VL (CPUID leaf 7, EBX bits 17, 30, 31); fnn_cpu_best_simd() has already
 * checked the OS's zmm state for the avx512 level.  Asked once: CPUID is slow in a VM (it traps
 * to the hypervisor).  The cache is a benign race: every thread computes the same value. */
static inline int fnn_cpu_has_avx512dq(void)
{
    static int cached = -1;
    unsigned int a, b, c, d;
    if (cached < 0) {
        if (__get_cpuid_max(0, 0) < 7) {
            cached = 0;
        } else {
            __cpuid_count(7, 0, a, b, c, d);
            cached = ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
        }
    }
    return cached;
}
#endif

/* Which variant runs at level `simd` (tests and documentation). */
static inline const char *fnn_dropout_rng_variant(int simd)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512 && fnn_cpu_has_avx512dq())
        return "avx512";
    if (simd >= FNN_SIMD_AVX2)
        return "avx2";
#endif
    (void)simd;
    return "generic";
}

/* The variant to run at level `simd`: 2 avx512 (with DQ), 1 avx2, 0 generic. */
static inline int fnn_dropout_rng_level(int simd)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512 && fnn_cpu_has_avx512dq())
        return 2;
    if (simd >= FNN_SIMD_AVX2)
        return 1;
#endif
    (void)simd;
    return 0;
}

/* The f32 and f64 dispatchers stay twins: each names its own typed SIMD variants. */
static void fnn_dropout_rng_f32(int variant, const float *x, float *y, uint8_t *keep,
                                ptrdiff_t n, ptrdiff_t first, uint64_t key, uint64_t counter,
                                uint32_t threshold, float scale)
{
#if FNN_X86
    if (variant == 2) {
        fnn_dropout_rng_f32_avx512(x, y, keep, n, first, key, counter, threshold, scale);
        return;
    }
    if (variant == 1) {
        fnn_dropout_rng_f32_avx2(x, y, keep, n, first, key, counter, threshold, scale);
        return;
    }
#endif
    (void)variant;
    fnn_dropout_rng_f32_generic(x, y, keep, n, first, key, counter, threshold, scale);
}

static void fnn_dropout_rng_f64(int variant, const double *x, double *y, uint8_t *keep,
                                ptrdiff_t n, ptrdiff_t first, uint64_t key, uint64_t counter,
                                uint32_t threshold, double scale)
{
#if FNN_X86
    if (variant == 2) {
        fnn_dropout_rng_f64_avx512(x, y, keep, n, first, key, counter, threshold, scale);
        return;
    }
    if (variant == 1) {
        fnn_dropout_rng_f64_avx2(x, y, keep, n, first, key, counter, threshold, scale);
        return;
    }
#endif
    (void)variant;
    fnn_dropout_rng_f64_generic(x, y, keep, n, first, key, counter, threshold, scale);
}

/* ---------------------------------------------------------------- applying a given mask
 * y[i] = x[i] * scale where keep[i] != 0, else +0: dropout_forward / dropout_backward with a
 * mask the caller holds.  Written without a branch (the product's bits ANDed with an all-ones or
 * all-zeros word) so that the compiler vectorises it and a random mask costs no mispredicted
 * branches; the same values as the select `keep ? x * scale : 0` (a dropped inf or NaN gives
 * +0, as in the twin's np.where). */
static inline void fnn_dropout_apply_f32(const float *x, const uint8_t *keep, float *y,
                                         ptrdiff_t n, float scale)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        const float v = x[i] * scale;
        uint32_t b;
        memcpy(&b, &v, sizeof b);
        b &= (uint32_t)0 - (uint32_t)(keep[i] != 0);
        memcpy(&y[i], &b, sizeof b);
    }
}

static inline void fnn_dropout_apply_f64(const double *x, const uint8_t *keep, double *y,
                                         ptrdiff_t n, double scale)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        const double v = x[i] * scale;
        uint64_t b;
        memcpy(&b, &v, sizeof b);
        b &= (uint64_t)0 - (uint64_t)(keep[i] != 0);
        memcpy(&y[i], &b, sizeof b);
    }
}

#endif
