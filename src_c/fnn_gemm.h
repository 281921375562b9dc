/* fastnn's own GEMM: C[b] = act(beta * C[b] + A[b] @ B[b] + bias) for b in [0, batch).
 *
 * Every matrix is addressed by element strides (batch stride, row stride, column stride), so
 * transposes, slices, Fortran order and any NumPy view are read in place: the packing routines
 * gather panels from whatever strides they are given.  Shapes: A[b] is M x K, B[b] is K x N,
 * C[b] is M x N.  beta must be 0 (C is write-only; its old contents, even NaN, are ignored) or
 * any finite value (C is read).  bias is applied per row (length M, FNN_BIAS_ROW, as a conv
 * bias per output channel) or per column (length N, FNN_BIAS_COL, as a dense-layer bias), then
 * the activation, while the output tile is still in cache.  K == 0 is allowed (C = beta*C+bias).
 *
 * Threads split the output into tiles (batch x row-blocks x column-blocks); the k loop of each
 * output element is always run by one thread in a fixed order, so results are bit-identical for
 * any nthreads.  Callers validate every argument before calling (no checks here: nogil code).
 *
 * simd is the SIMD level to run at (FNN_SIMD_GENERIC, FNN_SIMD_AVX2, FNN_SIMD_AVX512 from
 * fnn_cpu.h; the process-wide setting held by fastnn.kernels._runtime): the best micro-kernel at
 * or below it runs.  The caller guarantees the CPU can run that level.  For one level the results
 * never depend on nthreads; the generic micro-kernel rounds each multiply and add separately, the
 * SIMD ones fuse them, so results may differ between levels in the last bits.
 */
#ifndef FNN_GEMM_H
#define FNN_GEMM_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { FNN_ACT_NONE = 0, FNN_ACT_RELU = 1, FNN_ACT_SIGMOID = 2, FNN_ACT_TANH = 3, FNN_ACT_ELU = 4 };
enum { FNN_BIAS_NONE = 0, FNN_BIAS_ROW = 1, FNN_BIAS_COL = 2 };

/* One declaration per type (float, double): the C API as callers see it. */
void fnn_sgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const float *bias, int bias_mode, int act, float elu_alpha, int nthreads,
               int simd);

void fnn_dgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const double *bias, int bias_mode, int act, double elu_alpha, int nthreads,
               int simd);

/* ------------------------------------------------------------------ packing sources
 * A caller-supplied packing routine (BLIS's "packm" hook): the driver calls it instead of
 * gathering an operand's panels from memory, so an operand that exists only implicitly (the
 * im2col matrix of a convolution, read straight from the image) is never materialised.
 *
 * One type serves A and B (the packed formats are the same with rows and columns exchanged):
 *
 *   pack(ctx, bi, k0, kc, x0, xn, r, buf)
 *
 * writes the block of batch item bi that covers k in [k0, k0+kc) and, for B, the columns
 * j in [x0, x0+xn) of op(B) (for A: the rows i in [x0, x0+xn) of op(A)) into buf as
 * ceil(xn/r) micro-panels, one after the other: micro-panel p holds, for each k = 0..kc-1 in
 * turn, the r values of columns (rows) x0+p*r .. x0+p*r+r-1 at step k0+k, i.e.
 *
 *   buf[p*kc*r + k*r + t] = op(B)[k0+k, x0+p*r+t]      (B)
 *   buf[p*kc*r + k*r + t] = op(A)[x0+p*r+t, k0+k]      (A)
 *
 * and 0 where x0+p*r+t >= x0+xn (zero padding: the micro-kernel computes full tiles).
 * r is the micro-kernel's NR (B) or MR (A), known only at run time (it depends on the SIMD
 * level); it is at most FNN_GEMM_MAX_R.  buf is 64-byte aligned and holds ceil(xn/r)*r*kc
 * elements of the GEMM's type (float for fnn_sgemm_src, double for fnn_dgemm_src).
 * 0 <= bi < batch, 0 <= k0 < k0+kc <= K, 0 <= x0 < x0+xn <= N (B) or M (A).
 *
 * The routine is called from several threads at once (each with its own buf): it must only
 * read ctx and the memory ctx points to.  It must not call back into Python or raise.  The
 * values it writes are the operand: every other guarantee of the GEMM (one FMA chain per
 * element in ascending k, results independent of the thread count) holds as for a strided
 * operand.  Which blocks are requested, how often and in which order is the driver's choice
 * (it may, for instance, compute C^T = B^T A^T and then ask the B source for A's panels,
 * with r = MR): the routine must answer any valid request.
 */
#define FNN_GEMM_MAX_R 32

typedef struct fnn_gemm_src {
    void (*pack)(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0, int64_t xn,
                 int r, void *buf);
    const void *ctx;
} fnn_gemm_src;

/* fnn_sgemm / fnn_dgemm with optional packing sources: a_src (b_src) non-NULL replaces A (B),
 * whose pointer and strides are then ignored (pass NULL and 0).  Returns 0, or -1 when a
 * packing buffer could not be allocated while a source was given (C is then incomplete; the
 * caller raises MemoryError).  Without sources it behaves exactly as fnn_sgemm and returns 0. */
int fnn_sgemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                  const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                  const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                  float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                  const float *bias, int bias_mode, int act, float elu_alpha, int nthreads,
                  int simd, const fnn_gemm_src *a_src, const fnn_gemm_src *b_src);

int fnn_dgemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                  const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                  const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                  double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                  const double *bias, int bias_mode, int act, double elu_alpha, int nthreads,
                  int simd, const fnn_gemm_src *a_src, const fnn_gemm_src *b_src);

/* The micro-kernels fnn_sgemm/fnn_dgemm run at SIMD level simd: "generic", "avx2" or "avx512"
 * (the name of the best level at or below simd that has kernels). */
const char *fnn_gemm_ukr_name(int simd);

/* ------------------------------------------------------------------ blocking and its context
 * The cache blocking (MC, KC, NC) is derived at run time from the running CPU's cache sizes and
 * the micro-kernel's tile (src_c/fnn_gemm_blocking.h); a caller may replace any of the three
 * (process-wide, like the SIMD level; for experiments).  None of this changes a result. */
typedef struct {
    const char *ukr;              /* the micro-kernels' level name */
    int simd, mr, nr;             /* their level (FNN_SIMD_*) and tile */
    int64_t mc, kc, nc;           /* the blocking a call would run with now */
    long l1d, l2, l3, l3_per_core;  /* the cache sizes used, bytes */
    int cache_source;             /* 0 defaults, 1 Linux sysfs, 2 cpuid (fnn_cache.h) */
} fnn_gemm_config_t;

/* Bounds of caller-set values (fastnn.kernels.set_gemm_blocking checks them; the derived ones
 * stay inside too).  They keep the per-thread packing buffers (MC x KC, KC x NC elements) within
 * what an experiment may reasonably ask for: 256 MiB and 2 GiB of doubles at most. */
#define FNN_GEMM_KC_MIN 1
#define FNN_GEMM_KC_MAX 4096
#define FNN_GEMM_MC_MIN 1
#define FNN_GEMM_MC_MAX 8192
#define FNN_GEMM_NC_MIN 1
#define FNN_GEMM_NC_MAX 65536

/* Read the cache sizes (once; also done lazily by the first GEMM). */
void fnn_gemm_init(void);
/* The context of a GEMM at SIMD level simd with elements of elsize (4 or 8) bytes. */
void fnn_gemm_config(int simd, int elsize, fnn_gemm_config_t *out);
/* Replace MC, KC, NC (0: derive).  The caller checks the bounds (fnn_gemm_blocking.h); mc and nc
 * are rounded down to multiples of the kernel's MR and NR (at least one) where they are used. */
void fnn_gemm_set_blocking(int64_t mc, int64_t kc, int64_t nc);
void fnn_gemm_get_blocking(int64_t *mc, int64_t *kc, int64_t *nc);
/* The model itself, for any cache sizes and tile (tests): the blocking fnn_gemm_config reports
 * for those sizes with the given caller settings (0: derive). */
void fnn_gemm_blocking_model(long l1d, long l2, long l3_per_core, int mr, int nr, int elsize,
                             int64_t set_mc, int64_t set_kc, int64_t set_nc, int64_t *mc,
                             int64_t *kc, int64_t *nc);

/* ------------------------------------------------------------------ split threshold
 * The in-place paths (small M, skinny N) run on one thread below this many multiply-adds: measured
 * on first use per level and thread count (fnn_gemm.c says why), or set by the caller (v >= 0;
 * v < 0 goes back to measured).  fnn_gemm_ip_split_min reports the value in use (0 for one
 * thread).  Only speed depends on it, never a bit. */
void fnn_gemm_set_ip_split_min(double v);
double fnn_gemm_ip_split_min(int simd, int elsize, int skinny_n, int nthreads);

/* ------------------------------------------------------------------ zero-skipping
 * The path for a sparse A (fnn_gemm_sparse.h): same results (up to the sign of a zero), other
 * speed.  FNN_SPARSE_AUTO (the default) takes it when A looks sparse enough for it to pay,
 * FNN_SPARSE_ALWAYS whenever the call's layout allows it (tests: any shape), FNN_SPARSE_OFF never.
 * Process-wide; fnn_gemm_sparse_a_calls counts the calls that took it. */
enum { FNN_SPARSE_OFF = 0, FNN_SPARSE_AUTO = 1, FNN_SPARSE_ALWAYS = 2 };
void fnn_gemm_set_sparse_a(int mode);
int fnn_gemm_get_sparse_a(void);
int64_t fnn_gemm_sparse_a_calls(void);

#ifdef __cplusplus
}
#endif
#endif
