/* Private to fnn_gemm.c: what a GEMM micro-kernel is (the interface every fnn_gemm_ukr_*.h
 * implements), its function-pointer types and the descriptor the driver runs from.
 *
 * A micro-kernel computes one MR x NR tile of C from a packed A micro-panel (kc steps of MR
 * values) and a packed B micro-panel (kc steps of NR values):
 *     C[r][j] (+)= sum_k a[k*MR + r] * b[k*NR + j]        (k ascending, one FMA chain per element)
 * `load` = 0 starts the accumulators at zero (C is write-only), `load` = 1 continues the chain
 * from the values already in C (the previous k-block, or beta*C).  C is addressed as c[r*rs_c + j]
 * (unit column stride); the driver gives a private MR x NR scratch tile when the real C tile is
 * partial or not row-contiguous.  The packed B panel is 64-byte aligned and NR*sizeof(T) is a
 * multiple of 32 bytes, so B rows may be loaded with aligned vector loads.
 *
 * Every element's k loop runs in the same order in every tile, edge or not (edges are
 * zero-padded, never a different kernel), so where a tile starts never changes a result; nor
 * does where a k-block ends, since the chain continues through C exactly (a float stored and
 * reloaded is the same float).
 *
 * The "direct" variants read A in place (element (r, k) at a[r*a_rs + k*a_cs]) instead of from a
 * packed panel.  The driver uses them when each A micro-panel would meet only one or two B
 * micro-panels (a skinny output, N <= 2*NR), where packing A would cost as much as the
 * arithmetic.  Same FMA chain per element as the packed kernels, so the same bits.
 *
 * Tile shapes differ between SIMD levels (the register file differs: 16 ymm for AVX2, 32 zmm
 * for AVX-512), and the packing format follows MR and NR, so the driver takes MR, NR and the
 * packing routines from the selected kernel's descriptor at run time (fnn_gemm.c picks it).
 */
#ifndef FNN_GEMM_UKR_H
#define FNN_GEMM_UKR_H
#include <stdint.h>

/* The largest MR and NR of any kernel: the size of the driver's scratch tile.  (fnn_gemm.h's
 * FNN_GEMM_MAX_R, the bound promised to packing sources, is the larger of the two.) */
#define FNN_GEMM_MAX_MR 16
#define FNN_GEMM_MAX_NR 32

typedef void (*fnn_sukr_t)(int64_t kc, const float *a, const float *b, float *c, int64_t rs_c,
                           int load);
typedef void (*fnn_dukr_t)(int64_t kc, const double *a, const double *b, double *c, int64_t rs_c,
                           int load);
typedef void (*fnn_sukr_direct_t)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                                  const float *b, float *c, int64_t rs_c, int load);
typedef void (*fnn_dukr_direct_t)(int64_t kc, const double *a, int64_t a_rs, int64_t a_cs,
                                  const double *b, double *c, int64_t rs_c, int load);

/* The in-place kernels: no packing at all, for the shapes where packing costs as much as the
 * arithmetic it feeds (each operand element is used only a few times).  A kernel computes, for
 * R rows (fixed per kernel) and n <= its width columns (the rest masked off), over all kc steps:
 *     C[r][j] (+)= sum_k A(r, k) * B(k, j)      (k ascending, one FMA chain per element)
 * with A(r, k) at a[r*a_rs + k*a_cs], B(k, j) at b[k*b_rs + j] (rows of B contiguous) and C(r, j)
 * at c[r*rs_c + j].  The same chain as the packed micro-kernels of the same level, so the same
 * bits.  `rows` serve a small M (R = 1..4: a batch-1 dense layer), `narrow` a skinny N (fewer
 * columns than the packed tile's NR would waste). */
typedef void (*fnn_sukr_inplace_t)(int64_t n, int64_t kc, const float *a, int64_t a_rs,
                                   int64_t a_cs, const float *b, int64_t b_rs, float *c,
                                   int64_t rs_c, int load);
typedef void (*fnn_dukr_inplace_t)(int64_t n, int64_t kc, const double *a, int64_t a_rs,
                                   int64_t a_cs, const double *b, int64_t b_rs, double *c,
                                   int64_t rs_c, int load);

/* The column kernels (fnn_gemm_ukr_avx2_column.h): a product with one column, m rows of C, each
 * a lane:  C(i) (+)= sum_k A(i, k) * B(k), A(i, k) at a[i*a_rs + k*a_cs], B(k) at b[k*b_rs],
 * C(i) at c[i] (contiguous).  `column` takes a_rs == 1, `column_rows` a_cs == 1 (the caller
 * checks). */
typedef void (*fnn_sukr_column_t)(int64_t m, int64_t kc, const float *a, int64_t a_rs,
                                  int64_t a_cs, const float *b, int64_t b_rs, float *c, int load);
typedef void (*fnn_dukr_column_t)(int64_t m, int64_t kc, const double *a, int64_t a_rs,
                                  int64_t a_cs, const double *b, int64_t b_rs, double *c,
                                  int load);

/* The sparse-A kernels (fnn_gemm_ukr_sparse.h, the zero-skipping path of fnn_gemm_sparse.h):
 * rows x n (n <= the kernel's width) of C from compressed rows of op(A), B read in place. */
typedef void (*fnn_ssparse_t)(int64_t rows, const int32_t *cnt, int32_t *pos, const int32_t *idx,
                              const float *val, int64_t cap, int64_t kbase, int64_t kend,
                              const float *b, int64_t b_rs, float *c, int64_t rs_c, int64_t n,
                              int load);
typedef void (*fnn_dsparse_t)(int64_t rows, const int32_t *cnt, int32_t *pos,
                              const int32_t *idx, const double *val, int64_t cap, int64_t kbase,
                              int64_t kend, const double *b, int64_t b_rs, double *c,
                              int64_t rs_c, int64_t n, int load);

/* A packing routine for panels of R values (fnn_gemm_pack.h): n x kc elements, element (x, k)
 * at X[x*xs + k*ks], into ceil(n/R) micro-panels of kc x R, zero-padded.  Packing A uses the
 * kernel's MR-routine with (xs, ks) = (A's row stride, column stride); packing B its NR-routine
 * with (B's column stride, row stride): the same format with rows and columns exchanged. */
typedef void (*fnn_spack_t)(int64_t n, int64_t kc, const float *X, int64_t xs, int64_t ks,
                            float *buf);
typedef void (*fnn_dpack_t)(int64_t n, int64_t kc, const double *X, int64_t xs, int64_t ks,
                            double *buf);

/* Everything the driver needs to know about one micro-kernel. */
typedef struct {
    const char *name;        /* the SIMD level it belongs to: "generic", "avx2", "avx512" */
    int simd;                /* FNN_SIMD_* */
    int mr, nr;              /* tile shape */
    fnn_sukr_t ukr;
    fnn_sukr_direct_t ukr_direct;
    fnn_sukr_t ukr_top[FNN_GEMM_MAX_MR + 1];  /* ukr_top[mr]: a kernel computing at least the top
                                               * mr < MR rows of a tile, or NULL (use ukr) */
    fnn_sukr_t ukr_left[FNN_GEMM_MAX_MR + 1]; /* ukr_left[mr]: at least the top mr <= MR rows of
                                               * the left NR/2 columns of a tile, or NULL */
    unsigned char edge_rows[FNN_GEMM_MAX_MR + 1]; /* how many rows ukr_top[mr] and ukr_left[mr]
                                                   * compute: where that is exactly mr, the
                                                   * driver runs them on C itself */
    fnn_spack_t pack_mr, pack_nr;
    double fma_lanes;        /* FMA lanes per cycle of one core: weighs compute against packing
                              * in the cost models, never changes a result */
    fnn_sukr_inplace_t rows[5];        /* rows[r]: r = 1..4 rows x up to rows_n columns */
    int rows_n;
    fnn_sukr_inplace_t narrow;         /* narrow_m rows x up to narrow_n columns, or NULL */
    fnn_sukr_inplace_t narrow_tail[5]; /* narrow_tail[r]: r = 1..4 rows x up to narrow_n */
    int narrow_m, narrow_n;
    fnn_sukr_column_t column;          /* N = 1 with a_rs == 1, or NULL (then narrow) */
    fnn_sukr_column_t column_rows;     /* N = 1 with a_cs == 1, or NULL (then narrow) */
    fnn_ssparse_t sparse;              /* the sparse-A kernel (fnn_gemm_ukr_sparse.h) */
    int sparse_nw;                     /* its tile width (columns) */
    int direct_a_rows;                 /* 1: read an A with contiguous rows in place whenever
                                        * it fits in L2, whatever N (fnn_gemm_driver.h) */
} fnn_skernel_t;

typedef struct {
    const char *name;
    int simd;
    int mr, nr;
    fnn_dukr_t ukr;
    fnn_dukr_direct_t ukr_direct;
    fnn_dukr_t ukr_top[FNN_GEMM_MAX_MR + 1];
    fnn_dukr_t ukr_left[FNN_GEMM_MAX_MR + 1];
    unsigned char edge_rows[FNN_GEMM_MAX_MR + 1];
    fnn_dpack_t pack_mr, pack_nr;
    double fma_lanes;
    fnn_dukr_inplace_t rows[5];
    int rows_n;
    fnn_dukr_inplace_t narrow;
    fnn_dukr_inplace_t narrow_tail[5];
    int narrow_m, narrow_n;
    fnn_dukr_column_t column;
    fnn_dukr_column_t column_rows;
    fnn_dsparse_t sparse;
    int sparse_nw;
    int direct_a_rows;
} fnn_dkernel_t;

#endif /* FNN_GEMM_UKR_H */
