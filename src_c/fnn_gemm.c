#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* sched_getcpu, sched_setaffinity (fnn_openmp.h) */
#endif
/* fastnn's GEMM: packed, cache-blocked, register-tiled (BLIS-style), OpenMP over output tiles.
 * The API and its contract are in fnn_gemm.h; docs/kernels/gemm.md explains the design.
 *
 * BLIS's layout, one concern per file:
 *   fnn_gemm_ukr.h          what a micro-kernel is: the interface, the descriptor type
 *   fnn_gemm_ukr_generic.h  the reference micro-kernels (plain C, any CPU)
 *   fnn_gemm_ukr_avx2.h     the AVX2 + FMA micro-kernels
 *   fnn_gemm_ukr_avx2_column.h  the AVX2 + FMA kernels of a one-column product (N = 1)
 *   fnn_gemm_ukr_avx512.h   the AVX-512F micro-kernels
 *   fnn_gemm_pack.h         the packing routines, one per panel width
 *   fnn_gemm_blocking.h     KC, MC, NC from the cache sizes and the tile (the analytical model)
 *   fnn_cache.h             the cache sizes of the running CPU
 *   fnn_gemm_driver.h       the type-generic driver: blocking loops, packing, epilogue, threads
 *   fnn_gemm_ftz.h          flush-to-zero for the duration of a call
 *   fnn_gemm_sparse.h       the zero-skipping path for a sparse A (type-generic, in the driver)
 *   fnn_gemm_ukr_sparse.h   its kernels: reference and AVX2 + FMA
 *   this file               the driver instantiated per element type; the kernel descriptors and
 *                           the dispatch on the SIMD level; the process-wide blocking settings
 * It is the one translation unit of the GEMM, compiled into the fastnn.kernels._gemm extension
 * only; other extensions call it through that module (fastnn/kernels/_gemm.pxd).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fnn_gemm.h"
#include "fnn_cpu.h"
#include "fnn_cache.h"
#include "fnn_openmp.h"
#include "fnn_gemm_ftz.h"
#include "fnn_gemm_ukr.h"
#include "fnn_gemm_pack.h"
#include "fnn_gemm_blocking.h"
#include "fnn_gemm_ukr_generic.h"
#include "fnn_gemm_ukr_sparse.h"
#if FNN_X86
#include "fnn_gemm_ukr_avx2.h"
#include "fnn_gemm_ukr_avx2_column.h"
#include "fnn_gemm_ukr_avx512.h"
#endif

/* ------------------------------------------------------------------ the zero-skipping path
 * When fnn_gemm_sparse.h takes a product (its header says why these values): at least 32 rows and
 * 32 columns, 2^20 multiply-adds, a sampled density of A at most 0.45 -- when op(A)'s rows are
 * built by the column scan (A^T @ B), at least 256 columns and a density at most 0.30 -- and its
 * row lists within 64 MiB.  The mode is process-wide, like the blocking (fnn_gemm_set_sparse_a);
 * the counter counts the calls that took the path (tests read it). */
#define FNN_SPARSE_MIN_M 32
#define FNN_SPARSE_MIN_N 32
#define FNN_SPARSE_MIN_WORK 1048576.0
#define FNN_SPARSE_DENSITY 0.45
#define FNN_SPARSE_SCAN_MIN_N 256
#define FNN_SPARSE_SCAN_DENSITY 0.30
#define FNN_SPARSE_MAX_SCRATCH ((size_t)64 << 20)
#define FNN_SPARSE_ROWS 256
#ifndef FNN_SPARSE_TILE_BYTES
#define FNN_SPARSE_TILE_BYTES 32768
#endif
#define FNN_SPARSE_TILE_ROW_BYTES 256     /* a full tile's row: sparse_nw elements at every level */
#define FNN_SPARSE_CNT_BYTES(M) ((((size_t)(M) * sizeof(int32_t)) + 63) & ~(size_t)63)
static volatile int fnn_gemm_sparse_mode = FNN_SPARSE_AUTO;
static int64_t fnn_gemm_sparse_calls = 0;   /* atomic: calls from several threads at once */

void fnn_gemm_set_sparse_a(int mode)
{
    fnn_gemm_sparse_mode = mode;
}

int fnn_gemm_get_sparse_a(void)
{
    return fnn_gemm_sparse_mode;
}

int64_t fnn_gemm_sparse_a_calls(void)
{
    return __atomic_load_n(&fnn_gemm_sparse_calls, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ split threshold
 * How many multiply-adds an in-place product needs before a second thread pays: waking a team
 * and joining it costs several times more on some machines than on others, and the kernels'
 * speed differs too (docs/kernels/gemm.md, "The in-place paths' split threshold"), so no
 * constant suits every machine: the driver measures it once per kernel, mode and thread count
 * (fnn_gemm_driver.h, ip_split_min).  A caller may set it instead (>= 0; < 0 measures again
 * from then on: tests force the split with 0); process-wide, like the blocking. */
static volatile double fnn_gemm_ip_split_set = -1.0;

void fnn_gemm_set_ip_split_min(double v)
{
    fnn_gemm_ip_split_set = v >= 0 ? v : -1.0;
}

#if FNN_HAVE_SPIN_CLOCK
/* The median of n timings (sorted in place; insertion sort: a few dozen values), for the
 * driver's measurement of the threshold; one copy for both element types. */
static double fnn_gemm_median(double *v, int n)
{
    int i, j;
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
            const double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}
#endif

/* ------------------------------------------------------------------ float */
#define FNN_T float
#define FNN_F(name) fnn_s_##name
#define FNN_KERNEL_T fnn_skernel_t
#define FNN_EXP expf
#define FNN_EXPM1 expm1f
#define FNN_TANH tanhf
#define FNN_FABS fabsf
#define FNN_TMIN FLT_MIN
#define FNN_TMAX FLT_MAX
#include "fnn_gemm_driver.h"
#undef FNN_T
#undef FNN_F
#undef FNN_KERNEL_T
#undef FNN_EXP
#undef FNN_EXPM1
#undef FNN_TANH
#undef FNN_FABS
#undef FNN_TMIN
#undef FNN_TMAX

/* ------------------------------------------------------------------ double */
#define FNN_T double
#define FNN_F(name) fnn_d_##name
#define FNN_KERNEL_T fnn_dkernel_t
#define FNN_EXP exp
#define FNN_EXPM1 expm1
#define FNN_TANH tanh
#define FNN_FABS fabs
#define FNN_TMIN DBL_MIN
#define FNN_TMAX DBL_MAX
#include "fnn_gemm_driver.h"
#undef FNN_T
#undef FNN_F
#undef FNN_KERNEL_T
#undef FNN_EXP
#undef FNN_EXPM1
#undef FNN_TANH
#undef FNN_FABS
#undef FNN_TMIN
#undef FNN_TMAX

/* ------------------------------------------------------------------ the micro-kernels
 * One descriptor per SIMD level and element type: the tile, the micro-kernels, the packing
 * routines for its MR and NR, and its FMA lanes per cycle for the cost models (nominal: two FMA
 * ports of the vector width; a Zen 4 core runs a 512-bit FMA as two 256-bit halves, which only
 * makes the models' thread grid slightly less apt, never a result different). */
static const fnn_skernel_t fnn_s_kernel_generic = {
    .name = "generic", .simd = FNN_SIMD_GENERIC, .mr = 6, .nr = 16,
    .ukr = fnn_sgemm_ukr_generic_6x16, .ukr_direct = fnn_sgemm_ukr_generic_direct_6x16,
    .pack_mr = fnn_s_pack_6, .pack_nr = fnn_s_pack_16, .fma_lanes = 16.0,
    .rows = {NULL, fnn_sgemm_ukr_generic_rows1, fnn_sgemm_ukr_generic_rows2,
             fnn_sgemm_ukr_generic_rows3, fnn_sgemm_ukr_generic_rows4}, .rows_n = 16,
    .sparse = fnn_sgemm_sparse_generic_64, .sparse_nw = 64};
static const fnn_dkernel_t fnn_d_kernel_generic = {
    .name = "generic", .simd = FNN_SIMD_GENERIC, .mr = 6, .nr = 8,
    .ukr = fnn_dgemm_ukr_generic_6x8, .ukr_direct = fnn_dgemm_ukr_generic_direct_6x8,
    .pack_mr = fnn_d_pack_6, .pack_nr = fnn_d_pack_8, .fma_lanes = 8.0,
    .rows = {NULL, fnn_dgemm_ukr_generic_rows1, fnn_dgemm_ukr_generic_rows2,
             fnn_dgemm_ukr_generic_rows3, fnn_dgemm_ukr_generic_rows4}, .rows_n = 16,
    .sparse = fnn_dgemm_sparse_generic_32, .sparse_nw = 32};
#if FNN_X86
/* The AVX2 edge kernels compute 2, 4 or 6 rows (fnn_gemm_ukr_avx2.h): rows 1-2 of a tile go
 * to the 2-row kernel, 3-4 to the 4-row one, 5 (left half only) to the 6-row one. */
#define FNN_AVX2_EDGES(P)                                                                         \
    .ukr_top = {NULL, P##top2, P##top2, P##top4, P##top4},                                        \
    .ukr_left = {NULL, P##top2_left, P##top2_left, P##top4_left, P##top4_left, P##left, P##left}, \
    .edge_rows = {0, 2, 2, 4, 4, 6, 6}
static const fnn_skernel_t fnn_s_kernel_avx2 = {
    .name = "avx2", .simd = FNN_SIMD_AVX2, .mr = 6, .nr = 16,
    .ukr = fnn_sgemm_ukr_avx2_6x16, .ukr_direct = fnn_sgemm_ukr_avx2_direct_6x16,
    FNN_AVX2_EDGES(fnn_sgemm_ukr_avx2_6x16_),
    .pack_mr = fnn_s_pack_6, .pack_nr = fnn_s_pack_16, .fma_lanes = 16.0,
    .rows = {NULL, fnn_sgemm_ukr_avx2_rows1, fnn_sgemm_ukr_avx2_rows2, fnn_sgemm_ukr_avx2_rows3,
             fnn_sgemm_ukr_avx2_rows4}, .rows_n = 32,
    .narrow = fnn_sgemm_ukr_avx2_narrow6,
    .narrow_tail = {NULL, fnn_sgemm_ukr_avx2_narrow1, fnn_sgemm_ukr_avx2_narrow2,
                    fnn_sgemm_ukr_avx2_narrow3, fnn_sgemm_ukr_avx2_narrow4},
    .narrow_m = 6, .narrow_n = 16, .column = fnn_sgemm_ukr_avx2_column,
    .column_rows = fnn_sgemm_ukr_avx2_column_rows,
    .sparse = fnn_sgemm_sparse_avx2_64, .sparse_nw = 64, .direct_a_rows = 1};
static const fnn_dkernel_t fnn_d_kernel_avx2 = {
    .name = "avx2", .simd = FNN_SIMD_AVX2, .mr = 6, .nr = 8,
    .ukr = fnn_dgemm_ukr_avx2_6x8, .ukr_direct = fnn_dgemm_ukr_avx2_direct_6x8,
    FNN_AVX2_EDGES(fnn_dgemm_ukr_avx2_6x8_),
    .pack_mr = fnn_d_pack_6, .pack_nr = fnn_d_pack_8, .fma_lanes = 8.0,
    .rows = {NULL, fnn_dgemm_ukr_avx2_rows1, fnn_dgemm_ukr_avx2_rows2, fnn_dgemm_ukr_avx2_rows3,
             fnn_dgemm_ukr_avx2_rows4}, .rows_n = 16,
    .narrow = fnn_dgemm_ukr_avx2_narrow6,
    .narrow_tail = {NULL, fnn_dgemm_ukr_avx2_narrow1, fnn_dgemm_ukr_avx2_narrow2,
                    fnn_dgemm_ukr_avx2_narrow3, fnn_dgemm_ukr_avx2_narrow4},
    .narrow_m = 6, .narrow_n = 8, .column = fnn_dgemm_ukr_avx2_column,
    .sparse = fnn_dgemm_sparse_avx2_32, .sparse_nw = 32, .direct_a_rows = 1};
/* The AVX-512 edge kernels compute 4, 8 or 12 rows (fnn_gemm_ukr_avx512.h): rows 1-4 of a tile
 * go to the 4-row kernel, 5-8 to the 8-row one, 9-12 (left half only) to the 12-row one.
 * The AVX-512 level's sparse kernels are the AVX2 ones: a fused multiply-add gives the same bits
 * at any vector width, and the sparse kernel is bound by its loads (fnn_gemm_ukr_sparse.h).  It
 * has no column kernel (N = 1 takes its narrow kernels): the AVX2 one was measured on an AVX2
 * machine only. */
#define FNN_AVX512_EDGE_ROWS {0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12}
static const fnn_skernel_t fnn_s_kernel_avx512 = {
    .name = "avx512", .simd = FNN_SIMD_AVX512, .mr = 12, .nr = 32,
    .ukr = fnn_sgemm_ukr_avx512_12x32, .ukr_direct = fnn_sgemm_ukr_avx512_direct_12x32,
    .ukr_top = {NULL, fnn_sgemm_ukr_avx512_12x32_top4, fnn_sgemm_ukr_avx512_12x32_top4,
                fnn_sgemm_ukr_avx512_12x32_top4, fnn_sgemm_ukr_avx512_12x32_top4,
                fnn_sgemm_ukr_avx512_12x32_top8, fnn_sgemm_ukr_avx512_12x32_top8,
                fnn_sgemm_ukr_avx512_12x32_top8, fnn_sgemm_ukr_avx512_12x32_top8},
    .ukr_left = {NULL, fnn_sgemm_ukr_avx512_12x32_top4_left, fnn_sgemm_ukr_avx512_12x32_top4_left,
                 fnn_sgemm_ukr_avx512_12x32_top4_left, fnn_sgemm_ukr_avx512_12x32_top4_left,
                 fnn_sgemm_ukr_avx512_12x32_top8_left, fnn_sgemm_ukr_avx512_12x32_top8_left,
                 fnn_sgemm_ukr_avx512_12x32_top8_left, fnn_sgemm_ukr_avx512_12x32_top8_left,
                 fnn_sgemm_ukr_avx512_12x32_left, fnn_sgemm_ukr_avx512_12x32_left,
                 fnn_sgemm_ukr_avx512_12x32_left, fnn_sgemm_ukr_avx512_12x32_left},
    .edge_rows = FNN_AVX512_EDGE_ROWS,
    .pack_mr = fnn_s_pack_12, .pack_nr = fnn_s_pack_32, .fma_lanes = 32.0,
    .rows = {NULL, fnn_sgemm_ukr_avx512_rows1, fnn_sgemm_ukr_avx512_rows2,
             fnn_sgemm_ukr_avx512_rows3, fnn_sgemm_ukr_avx512_rows4}, .rows_n = 64,
    .narrow = fnn_sgemm_ukr_avx512_narrow12,
    .narrow_tail = {NULL, fnn_sgemm_ukr_avx512_narrow1, fnn_sgemm_ukr_avx512_narrow2,
                    fnn_sgemm_ukr_avx512_narrow3, fnn_sgemm_ukr_avx512_narrow4},
    .narrow_m = 12, .narrow_n = 16,
    .sparse = fnn_sgemm_sparse_avx2_64, .sparse_nw = 64};
static const fnn_dkernel_t fnn_d_kernel_avx512 = {
    .name = "avx512", .simd = FNN_SIMD_AVX512, .mr = 12, .nr = 16,
    .ukr = fnn_dgemm_ukr_avx512_12x16, .ukr_direct = fnn_dgemm_ukr_avx512_direct_12x16,
    .ukr_top = {NULL, fnn_dgemm_ukr_avx512_12x16_top4, fnn_dgemm_ukr_avx512_12x16_top4,
                fnn_dgemm_ukr_avx512_12x16_top4, fnn_dgemm_ukr_avx512_12x16_top4,
                fnn_dgemm_ukr_avx512_12x16_top8, fnn_dgemm_ukr_avx512_12x16_top8,
                fnn_dgemm_ukr_avx512_12x16_top8, fnn_dgemm_ukr_avx512_12x16_top8},
    .ukr_left = {NULL, fnn_dgemm_ukr_avx512_12x16_top4_left, fnn_dgemm_ukr_avx512_12x16_top4_left,
                 fnn_dgemm_ukr_avx512_12x16_top4_left, fnn_dgemm_ukr_avx512_12x16_top4_left,
                 fnn_dgemm_ukr_avx512_12x16_top8_left, fnn_dgemm_ukr_avx512_12x16_top8_left,
                 fnn_dgemm_ukr_avx512_12x16_top8_left, fnn_dgemm_ukr_avx512_12x16_top8_left,
                 fnn_dgemm_ukr_avx512_12x16_left, fnn_dgemm_ukr_avx512_12x16_left,
                 fnn_dgemm_ukr_avx512_12x16_left, fnn_dgemm_ukr_avx512_12x16_left},
    .edge_rows = FNN_AVX512_EDGE_ROWS,
    .pack_mr = fnn_d_pack_12, .pack_nr = fnn_d_pack_16, .fma_lanes = 16.0,
    .rows = {NULL, fnn_dgemm_ukr_avx512_rows1, fnn_dgemm_ukr_avx512_rows2,
             fnn_dgemm_ukr_avx512_rows3, fnn_dgemm_ukr_avx512_rows4}, .rows_n = 32,
    .narrow = fnn_dgemm_ukr_avx512_narrow12,
    .narrow_tail = {NULL, fnn_dgemm_ukr_avx512_narrow1, fnn_dgemm_ukr_avx512_narrow2,
                    fnn_dgemm_ukr_avx512_narrow3, fnn_dgemm_ukr_avx512_narrow4},
    .narrow_m = 12, .narrow_n = 8,
    .sparse = fnn_dgemm_sparse_avx2_32, .sparse_nw = 32};
#endif

/* The best micro-kernel at or below the level the caller passes (fastnn's process-wide setting,
 * FASTNN_SIMD / fastnn.set_simd, checked against the CPU when it is set). */
static const fnn_skernel_t *fnn_s_kernel(int simd)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512)
        return &fnn_s_kernel_avx512;
    if (simd >= FNN_SIMD_AVX2)
        return &fnn_s_kernel_avx2;
#endif
    (void)simd;
    return &fnn_s_kernel_generic;
}

static const fnn_dkernel_t *fnn_d_kernel(int simd)
{
#if FNN_X86
    if (simd >= FNN_SIMD_AVX512)
        return &fnn_d_kernel_avx512;
    if (simd >= FNN_SIMD_AVX2)
        return &fnn_d_kernel_avx2;
#endif
    (void)simd;
    return &fnn_d_kernel_generic;
}

/* The split threshold an in-place path (skinny_n: the narrow one, else small M) uses at this
 * level, element size and thread count (measured now if it was not yet): what
 * fastnn.kernels.gemm_config reports. */
double fnn_gemm_ip_split_min(int simd, int elsize, int skinny_n, int nthreads)
{
    const int mode = skinny_n ? FNN_IP_NARROW : FNN_IP_ROWS;
    if (nthreads < 2)
        return 0.0;
    if (elsize == (int)sizeof(double))
        return fnn_d_ip_split_min(fnn_d_kernel(simd), mode, nthreads);
    return fnn_s_ip_split_min(fnn_s_kernel(simd), mode, nthreads);
}

const char *fnn_gemm_ukr_name(int simd)
{
    return fnn_s_kernel(simd)->name;
}

/* ------------------------------------------------------------------ blocking
 * The cache sizes are read once (fnn_gemm_init, called when fastnn.kernels._gemm is imported,
 * and again harmlessly by the first GEMM if it was not).  Caller-set values (0 = derive) are
 * process-wide, like the SIMD level; a call reads them once at its start. */
static fnn_cache_info fnn_gemm_cache;
static volatile int fnn_gemm_cache_ready = 0;
static volatile int64_t fnn_gemm_set_mc = 0, fnn_gemm_set_kc = 0, fnn_gemm_set_nc = 0;

void fnn_gemm_init(void)
{
    if (!fnn_gemm_cache_ready) {
        fnn_cache_info info;
        fnn_cache_detect(&info);
        fnn_gemm_cache = info;
        fnn_gemm_cache_ready = 1;
    }
}

void fnn_gemm_set_blocking(int64_t mc, int64_t kc, int64_t nc)
{
    fnn_gemm_set_mc = mc > 0 ? mc : 0;
    fnn_gemm_set_kc = kc > 0 ? kc : 0;
    fnn_gemm_set_nc = nc > 0 ? nc : 0;
}

void fnn_gemm_get_blocking(int64_t *mc, int64_t *kc, int64_t *nc)
{
    *mc = fnn_gemm_set_mc;
    *kc = fnn_gemm_set_kc;
    *nc = fnn_gemm_set_nc;
}

void fnn_gemm_blocking_model(long l1d, long l2, long l3_per_core, int mr, int nr, int elsize,
                             int64_t set_mc, int64_t set_kc, int64_t set_nc, int64_t *mc,
                             int64_t *kc, int64_t *nc)
{
    fnn_gemm_derive_blocking(l1d, l2, l3_per_core, mr, nr, elsize, set_kc, mc, kc, nc);
    if (set_mc > 0)
        *mc = fnn_gemm_round_to(set_mc, mr);
    if (set_nc > 0)
        *nc = fnn_gemm_round_to(set_nc, nr);
}

/* The blocking one call runs with, for a kernel of tile mr x nr and elements of elsize bytes. */
static void fnn_gemm_blocking_now(int mr, int nr, int elsize, int64_t *mc, int64_t *kc,
                                  int64_t *nc)
{
    fnn_gemm_init();
    fnn_gemm_blocking_model(fnn_gemm_cache.l1d, fnn_gemm_cache.l2, fnn_gemm_cache.l3_per_core,
                            mr, nr, elsize, fnn_gemm_set_mc, fnn_gemm_set_kc, fnn_gemm_set_nc,
                            mc, kc, nc);
}

void fnn_gemm_config(int simd, int elsize, fnn_gemm_config_t *out)
{
    int mr, nr;
    memset(out, 0, sizeof *out);
    if (elsize == (int)sizeof(double)) {
        const fnn_dkernel_t *k = fnn_d_kernel(simd);
        out->ukr = k->name;
        out->simd = k->simd;
        mr = k->mr;
        nr = k->nr;
    } else {
        const fnn_skernel_t *k = fnn_s_kernel(simd);
        out->ukr = k->name;
        out->simd = k->simd;
        mr = k->mr;
        nr = k->nr;
    }
    out->mr = mr;
    out->nr = nr;
    fnn_gemm_blocking_now(mr, nr, elsize, &out->mc, &out->kc, &out->nc);
    out->l1d = fnn_gemm_cache.l1d;
    out->l2 = fnn_gemm_cache.l2;
    out->l3 = fnn_gemm_cache.l3;
    out->l3_per_core = fnn_gemm_cache.l3_per_core;
    out->cache_source = fnn_gemm_cache.source;
}

/* The float and double entry points stay written out: each is the C API's declaration for its
 * type (fnn_gemm.h) and a short forward to the typed driver. */
/* ------------------------------------------------------------------ entry points */
int fnn_sgemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                  const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                  const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                  float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                  const float *bias, int bias_mode, int act, float elu_alpha, int nthreads,
                  int simd, const fnn_gemm_src *a_src, const fnn_gemm_src *b_src)
{
    const fnn_skernel_t *kern = fnn_s_kernel(simd);
    int64_t mc, kc, nc;
    fnn_gemm_blocking_now(kern->mr, kern->nr, (int)sizeof(float), &mc, &kc, &nc);
    return fnn_s_gemm(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                      c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, kern, mc, kc, nc,
                      fnn_gemm_cache.l2, a_src, b_src);
}

int fnn_dgemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                  const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                  const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                  double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                  const double *bias, int bias_mode, int act, double elu_alpha, int nthreads,
                  int simd, const fnn_gemm_src *a_src, const fnn_gemm_src *b_src)
{
    const fnn_dkernel_t *kern = fnn_d_kernel(simd);
    int64_t mc, kc, nc;
    fnn_gemm_blocking_now(kern->mr, kern->nr, (int)sizeof(double), &mc, &kc, &nc);
    return fnn_d_gemm(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                      c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, kern, mc, kc, nc,
                      fnn_gemm_cache.l2, a_src, b_src);
}

void fnn_sgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const float *bias, int bias_mode, int act, float elu_alpha, int nthreads,
               int simd)
{
    (void)fnn_sgemm_src(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                        c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, simd, NULL, NULL);
}

void fnn_dgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const double *bias, int bias_mode, int act, double elu_alpha, int nthreads,
               int simd)
{
    (void)fnn_dgemm_src(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                        c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, simd, NULL, NULL);
}
