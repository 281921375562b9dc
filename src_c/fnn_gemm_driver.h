/* Size: over ~500 lines, kept whole: BLIS's five loops around the micro-kernel and the in-place
 * paths for small and skinny products share one context and one thread split.
 *
 * Private to fnn_gemm.c: the type-generic GEMM driver, included once per element type with
 *   FNN_T (float/double), FNN_F(name) (name mangling),
 *   FNN_KERNEL_T (the micro-kernel descriptor type, fnn_gemm_ukr.h),
 *   FNN_EXP, FNN_EXPM1, FNN_TANH (the epilogue's libm functions).
 * The micro-kernel (with its MR, NR and packing routines) and the cache blocking (MC, KC, NC)
 * are chosen by the caller (fnn_gemm.c) and passed in at run time; nothing here depends on the
 * SIMD level or on the machine.
 *
 * Loop nest of one output task (rows [m0, m1) x cols [n0, n1) of one batch item): BLIS's five
 * loops around the micro-kernel, with the roles of A and B exchanged relative to BLIS's Intel
 * configurations, because fastnn's micro-kernels broadcast A and load B as vectors (BLIS's
 * broadcast B): the operand re-read from L1 is the A micro-panel.
 *   for ic in rows, step MC            A block (MC x KC) lives in L3
 *     for pc in 0..K, step kb (<= KC)  fixed k-blocks: the same for every task and thread count
 *       for jc in cols, step NC        B block (KC x NC) lives in L2
 *         for ir in mc, step MR        one A micro-panel (MR x KC) stays in L1 ...
 *           (first jc: pack A[ic+ir:ic+ir+MR, pc:pc+kb], an MR-row micro-panel)
 *           for jr in nc, step NR      ... while the B micro-panels stream past it from L2
 *             (first ir: pack B[pc:pc+kb, jc+jr:jc+jr+NR], an NR-column micro-panel)
 *             micro-kernel on the MR x NR tile; after the last k-block, the epilogue on it
 * fnn_gemm_blocking.h derives MC, KC, NC from the cache sizes for this nest.
 */

typedef struct {
    int64_t M, N, K;
    const FNN_T *A; int64_t a_bs, a_rs, a_cs;
    const FNN_T *B; int64_t b_bs, b_rs, b_cs;
    FNN_T beta;
    FNN_T *C; int64_t c_bs, c_rs, c_cs;
    const FNN_T *bias; int bias_mode, act; FNN_T elu_alpha;
    const FNN_KERNEL_T *kern;           /* micro-kernel, MR, NR, packing routines */
    int64_t mr, nr;                     /* kern->mr, kern->nr */
    int64_t mc, nc;                     /* cache blocking: multiples of mr / nr */
    const fnn_gemm_src *a_src, *b_src;  /* caller's packing routines, or NULL (fnn_gemm.h) */
    int direct_a;   /* read full A micro-panels in place instead of packing them */
    int whole_b;    /* pack each B block whole, row by row, up front, not lazily per panel */
    int failed;     /* set when a packing buffer could not be allocated with a source given */
    int64_t kb;     /* k-block length (<= KC): depends on K and KC only, never on the threads */
} FNN_F(args_t);

/* Thread-local, persistent, grow-only packing buffers: allocating them per call would fault in
 * their pages on every call (docs/kernels/gemm.md gives the cost), so each thread allocates them
 * once and reuses them. */
static _Thread_local FNN_T *FNN_F(tl_bufA) = NULL;
static _Thread_local size_t FNN_F(tl_capA) = 0;
static _Thread_local FNN_T *FNN_F(tl_bufB) = NULL;
static _Thread_local size_t FNN_F(tl_capB) = 0;

static FNN_T *FNN_F(grow)(FNN_T **buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        void *p = NULL;
        size_t bytes = (n * sizeof(FNN_T) + 63) & ~(size_t)63;
        free(*buf);
        *buf = NULL;
        *cap = 0;
        if (posix_memalign(&p, 64, bytes) != 0)
            return NULL;
        *buf = (FNN_T *)p;
        *cap = n;
    }
    return *buf;
}

static inline FNN_T FNN_F(sigmoid)(FNN_T v)
{
    /* exp of a non-positive number only: never overflows. */
    if (v >= 0)
        return 1 / (1 + FNN_EXP(-v));
    else {
        FNN_T e = FNN_EXP(v);
        return e / (1 + e);
    }
}

/* Fused epilogue on an m x n tile of C whose top-left element is C(row0, col0): bias, then the
 * activation.  Called right after the tile's last k-block, while it is still in L1. */
static void FNN_F(epilogue)(const FNN_F(args_t) *g, FNN_T *c, int64_t m, int64_t n,
                            int64_t row0, int64_t col0)
{
    const int64_t rs = g->c_rs, cs = g->c_cs;
    const FNN_T alpha = g->elu_alpha;
    int64_t i, j;
    if (g->bias_mode == FNN_BIAS_COL) {
        const FNN_T *bias = g->bias + col0;
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++)
                c[i * rs + j * cs] += bias[j];
    } else if (g->bias_mode == FNN_BIAS_ROW) {
        const FNN_T *bias = g->bias + row0;
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++)
                c[i * rs + j * cs] += bias[i];
    }
    switch (g->act) {
    case FNN_ACT_RELU:
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) {
                FNN_T v = c[i * rs + j * cs];
                /* `v < 0` keeps NaN as NaN, like np.maximum(v, 0). */
                c[i * rs + j * cs] = v < 0 ? (FNN_T)0 : v;
            }
        break;
    case FNN_ACT_SIGMOID:
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++)
                c[i * rs + j * cs] = FNN_F(sigmoid)(c[i * rs + j * cs]);
        break;
    case FNN_ACT_TANH:
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++)
                c[i * rs + j * cs] = FNN_TANH(c[i * rs + j * cs]);
        break;
    case FNN_ACT_ELU:
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) {
                FNN_T v = c[i * rs + j * cs];
                /* expm1 keeps full relative precision for small |v|. */
                c[i * rs + j * cs] = v > 0 ? v : alpha * FNN_EXPM1(v);
            }
        break;
    default:
        break;
    }
}

/* One MR x NR tile: accumulate this k-block, then (last block) the epilogue.  `first` marks the
 * first k-block, where beta == 0 means C is never read and beta != 0 means C is scaled by beta and
 * the FMA chain continues from it. */
static void FNN_F(tile)(const FNN_F(args_t) *g, int64_t kc, const FNN_T *ap, const FNN_T *ad,
                        const FNN_T *bp, FNN_T *c, int64_t mr, int64_t nr, int first, int last,
                        int64_t row0, int64_t col0)
{
    const int64_t rs = g->c_rs, cs = g->c_cs, MR = g->mr, NR = g->nr;
    int load = 1;
    int64_t i, j;
    if (first) {
        if (g->beta == 0) {
            load = 0;
        } else if (g->beta != 1) {
            for (i = 0; i < mr; i++)
                for (j = 0; j < nr; j++)
                    c[i * rs + j * cs] *= g->beta;
        }
    }
    if (mr == MR && nr == NR && cs == 1) {
        if (ad != NULL)
            g->kern->ukr_direct(kc, ad, g->a_rs, g->a_cs, bp, c, rs, load);
        else
            g->kern->ukr(kc, ap, bp, c, rs, load);
    } else if (cs == 1 && ad == NULL && g->kern->edge_rows[mr] == mr
               && ((nr == NR && mr < MR && g->kern->ukr_top[mr] != NULL)
                   || (2 * nr == NR && g->kern->ukr_left[mr] != NULL))) {
        /* An edge tile that an edge kernel covers exactly (the last row panel of an M that
         * leaves 4 or 8 rows, full width; or exactly the left half of the columns): computed
         * on C itself, with no round trip through tmp.  The same kernel and the same chain per
         * element as below, so the same bits. */
        if (nr == NR)
            g->kern->ukr_top[mr](kc, ap, bp, c, rs, load);
        else
            g->kern->ukr_left[mr](kc, ap, bp, c, rs, load);
    } else {
        FNN_T tmp[FNN_GEMM_MAX_MR * FNN_GEMM_MAX_NR] __attribute__((aligned(64)));
        if (load)
            for (i = 0; i < MR; i++)
                for (j = 0; j < NR; j++)
                    tmp[i * NR + j] = (i < mr && j < nr) ? c[i * rs + j * cs] : (FNN_T)0;
        if (ad != NULL)
            g->kern->ukr_direct(kc, ad, g->a_rs, g->a_cs, bp, tmp, NR, load);
        else if (2 * nr <= NR && g->kern->ukr_left[mr] != NULL)
            g->kern->ukr_left[mr](kc, ap, bp, tmp, NR, load);  /* skip the padding columns */
        else if (mr < MR && g->kern->ukr_top[mr] != NULL)
            g->kern->ukr_top[mr](kc, ap, bp, tmp, NR, load);   /* skip the padding rows */
        else
            g->kern->ukr(kc, ap, bp, tmp, NR, load);
        for (i = 0; i < mr; i++)
            for (j = 0; j < nr; j++)
                c[i * rs + j * cs] = tmp[i * NR + j];
    }
    if (last)
        FNN_F(epilogue)(g, c, mr, nr, row0, col0);
}

/* Prefetch (for writing) the rows x cols tile of C at c when its rows are contiguous.  Only a
 * hint: it never changes a value.  Only the tile's own rows and columns: a last row panel of 4
 * rows used to be fetched as 12, naming rows past the end of C (possibly unmapped pages, where a
 * hint can cost a page walk that finds nothing). */
static inline void FNN_F(prefetch_tile)(const FNN_F(args_t) *g, const FNN_T *c, int64_t rows,
                                        int64_t cols)
{
    int64_t r, off;
    const int64_t bytes = cols * (int64_t)sizeof(FNN_T);
    if (g->c_cs != 1 || cols <= 0)
        return;
    for (r = 0; r < rows; r++) {
        const char *row = (const char *)(c + r * g->c_rs);
        for (off = 0; off < bytes; off += 64)
            __builtin_prefetch(row + off, 1, 3);
        __builtin_prefetch(row + bytes - 1, 1, 3);
    }
}

/* Prefetch rows [k0, k1) of B's columns [col, col + cols) (row-major B, rows b_rs apart): the
 * next whole-B block, fetched a slice before each micro-kernel call while this block computes,
 * so that its packing finds the rows in cache.  Each row is a short run a page or more from the
 * next, which the hardware prefetcher does not follow.  Only a hint: it never changes a value. */
static inline void FNN_F(prefetch_b_rows)(const FNN_F(args_t) *g, const FNN_T *B, int64_t k0,
                                          int64_t k1, int64_t col, int64_t cols)
{
    int64_t k, off;
    const int64_t bytes = cols * (int64_t)sizeof(FNN_T);
    for (k = k0; k < k1; k++) {
        const char *row = (const char *)(B + k * g->b_rs + col);
        for (off = 0; off < bytes; off += 64)
            __builtin_prefetch(row + off, 0, 2);
        __builtin_prefetch(row + bytes - 1, 0, 2);
    }
}

/* Last-resort path when a packing buffer cannot be allocated: a plain strided loop, so an
 * out-of-memory condition degrades speed, never correctness or safety. */
static void FNN_F(task_naive)(const FNN_F(args_t) *g, int64_t bi, int64_t m0, int64_t m1,
                              int64_t n0, int64_t n1)
{
    const FNN_T *A = g->A + bi * g->a_bs, *B = g->B + bi * g->b_bs;
    FNN_T *C = g->C + bi * g->c_bs;
    int64_t i, j, k;
    for (i = m0; i < m1; i++)
        for (j = n0; j < n1; j++) {
            FNN_T acc = g->beta == 0 ? (FNN_T)0 : g->beta * C[i * g->c_rs + j * g->c_cs];
            for (k = 0; k < g->K; k++)
                acc += A[i * g->a_rs + k * g->a_cs] * B[k * g->b_rs + j * g->b_cs];
            C[i * g->c_rs + j * g->c_cs] = acc;
        }
    FNN_F(epilogue)(g, C + m0 * g->c_rs + n0 * g->c_cs, m1 - m0, n1 - n0, m0, n0);
}

/* K == 0: C = act(beta*C + bias); A and B are never touched. */
static void FNN_F(task_k0)(const FNN_F(args_t) *g, int64_t bi, int64_t m0, int64_t m1,
                           int64_t n0, int64_t n1)
{
    FNN_T *C = g->C + bi * g->c_bs;
    int64_t i, j;
    for (i = m0; i < m1; i++)
        for (j = n0; j < n1; j++) {
            FNN_T *c = C + i * g->c_rs + j * g->c_cs;
            *c = g->beta == 0 ? (FNN_T)0 : g->beta * *c;
        }
    FNN_F(epilogue)(g, C + m0 * g->c_rs + n0 * g->c_cs, m1 - m0, n1 - n0, m0, n0);
}

/* What a thread's A buffer holds from an earlier task of the same call: rows [m0, m1) of an A
 * shared by every batch item (a_bs == 0), packed for the whole K (m0 = -1: nothing).  A task
 * with the same rows then skips packing them: the convolution's per-image products share their
 * weights, so a thread packs W once per call instead of once per image.  Valid within one call
 * only (A cannot change during it) and while the buffer is not replaced (task() clears it
 * when the buffer grows). */
typedef struct {
    int64_t m0, m1;
} FNN_F(a_held_t);

static void FNN_F(task)(const FNN_F(args_t) *g, int64_t bi, int64_t m0, int64_t m1,
                        int64_t n0, int64_t n1, FNN_F(a_held_t) *held)
{
    const FNN_T *A = g->A + bi * g->a_bs, *B = g->B + bi * g->b_bs;
    FNN_T *C = g->C + bi * g->c_bs;
    const int64_t K = g->K, kb = g->kb, MR = g->mr, NR = g->nr, MC = g->mc, NC = g->nc;
    const int64_t ncap = n1 - n0 < NC ? n1 - n0 : NC;
    const int64_t mcap = m1 - m0 < MC ? m1 - m0 : MC;
    FNN_T *bufA, *bufB;
    int64_t jc, pc, ic, jr, ir;
    int reuse_a = 0;
    size_t capA0;
    if (m0 >= m1 || n0 >= n1)
        return;
    if (K == 0) {
        FNN_F(task_k0)(g, bi, m0, m1, n0, n1);
        return;
    }
    capA0 = FNN_F(tl_capA);
    bufA = FNN_F(grow)(&FNN_F(tl_bufA), &FNN_F(tl_capA),
                       (size_t)kb * (size_t)((mcap + MR - 1) / MR * MR));
    if (FNN_F(tl_capA) != capA0)
        held->m0 = -1;             /* a new buffer (possibly at the old address): nothing held */
    bufB = FNN_F(grow)(&FNN_F(tl_bufB), &FNN_F(tl_capB),
                       (size_t)kb * (size_t)((ncap + NR - 1) / NR * NR));
    if (bufA == NULL || bufB == NULL) {
        if (g->a_src != NULL || g->b_src != NULL) {
            /* no strided operand to fall back on: report it (fnn_gemm.h) */
#if FNN_HAVE_OPENMP
            #pragma omp atomic write
#endif
            ((FNN_F(args_t) *)g)->failed = 1;
            return;
        }
        FNN_F(task_naive)(g, bi, m0, m1, n0, n1);
        return;
    }
    /* A is packed whole (one row block, one k-block) and shared: reuse it when this thread
     * holds it already, else record what this task leaves in the buffer */
    if (g->a_bs == 0 && g->a_src == NULL && !g->direct_a && K <= kb && m1 - m0 <= MC) {
        reuse_a = held->m0 == m0 && held->m1 == m1;
        held->m0 = m0;
        held->m1 = m1;
    } else {
        held->m0 = -1;
    }
    for (ic = m0; ic < m1; ic += MC) {
        const int64_t mc = m1 - ic < MC ? m1 - ic : MC;
        for (pc = 0; pc < K; pc += kb) {
            const int64_t kc = K - pc < kb ? K - pc : kb;
            const int first = pc == 0, last = pc + kc >= K;
            /* Packing is lazy: each A micro-panel is packed just before its first use (in
             * the first column block) and each B micro-panel just before its first use (by
             * the first row panel), so the loads of packing overlap the micro-kernel's FMAs
             * instead of forming a memory-bound phase of their own.  Same panels, same
             * values: only the order of the copies changes.  A packing source is asked for
             * whole blocks, up front (its contract: 64-byte aligned buffers, few calls). */
            if (g->a_src != NULL)
                g->a_src->pack(g->a_src->ctx, bi, pc, kc, ic, mc, (int)MR, bufA);
            for (jc = n0; jc < n1; jc += NC) {
                const int64_t nc = n1 - jc < NC ? n1 - jc : NC;
                /* whole B: the next block's rows, prefetched in one slice per micro-kernel call
                 * of this block (slots of them) */
                const int64_t next_nc = g->whole_b && jc + NC < n1
                                        ? (n1 - jc - NC < NC ? n1 - jc - NC : NC) : 0;
                const int64_t njr = (nc + NR - 1) / NR, slots = (mc + MR - 1) / MR * njr;
                if (g->b_src != NULL)
                    g->b_src->pack(g->b_src->ctx, bi, pc, kc, jc, nc, (int)NR, bufB);
                else if (g->whole_b)
                    g->kern->pack_nr(nc, kc, B + pc * g->b_rs + jc, 1, g->b_rs, bufB);
                for (ir = 0; ir < mc; ir += MR) {
                    const int64_t mr = mc - ir < MR ? mc - ir : MR;
                    const FNN_T *ad = (g->direct_a && mr == MR)
                        ? A + (ic + ir) * g->a_rs + pc * g->a_cs : NULL;
                    if (jc == n0 && g->a_src == NULL && ad == NULL && !reuse_a)
                        /* (direct A: only a partial panel is packed) */
                        g->kern->pack_mr(mr, kc, A + (ic + ir) * g->a_rs + pc * g->a_cs,
                                         g->a_rs, g->a_cs, bufA + ir * kc);
                    for (jr = 0; jr < nc; jr += NR) {
                        const int64_t nr = nc - jr < NR ? nc - jr : NR;
                        if (next_nc > 0) {
                            const int64_t slot = ir / MR * njr + jr / NR;
                            FNN_F(prefetch_b_rows)(g, B + pc * g->b_rs, kc * slot / slots,
                                                   kc * (slot + 1) / slots, jc + NC, next_nc);
                        }
                        if (ir == 0 && g->b_src == NULL && !g->whole_b)
                            g->kern->pack_nr(nr, kc, B + pc * g->b_rs + (jc + jr) * g->b_cs,
                                             g->b_cs, g->b_rs, bufB + jr * kc);
                        /* fetch the next tile of C into L1 while this one computes: the
                         * micro-kernel's first FMAs wait for the C values they continue */
                        if (jr + NR < nc)
                            FNN_F(prefetch_tile)(g, C + (ic + ir) * g->c_rs
                                                        + (jc + jr + NR) * g->c_cs, mr,
                                                 nc - jr - NR < NR ? nc - jr - NR : NR);
                        else if (ir + MR < mc)
                            FNN_F(prefetch_tile)(g, C + (ic + ir + MR) * g->c_rs + jc * g->c_cs,
                                                 mc - ir - MR < MR ? mc - ir - MR : MR,
                                                 nc < NR ? nc : NR);
                        FNN_F(tile)(g, kc, bufA + ir * kc, ad, bufB + jr * kc,
                                    C + (ic + ir) * g->c_rs + (jc + jr) * g->c_cs,
                                    mr, nr, first, last, ic + ir, jc + jr);
                    }
                }
            }
        }
    }
}

/* Split each matrix into gm x gn output tasks (aligned to MR rows / NR columns) so that the
 * slowest thread's estimated time is smallest: compute (tile flops) plus packing (every task
 * packs its own rows of A and columns of B, so thin tasks re-pack more).  Only the partition of
 * the output depends on nthreads; the arithmetic of each element does not. */
static void FNN_F(grid)(const FNN_F(args_t) *g, int64_t batch, int nthreads, int64_t *gm_out,
                        int64_t *gn_out)
{
    const int64_t M = g->M, N = g->N, K = g->K, MR = g->mr, NR = g->nr;
    const double lanes = g->kern->fma_lanes;
    const int64_t pm = (M + MR - 1) / MR, pn = (N + NR - 1) / NR;
    const int64_t lim = 4 * (int64_t)nthreads;
    int64_t gm, gn, best_gm = 1, best_gn = 1;
    double best = -1;
    for (gm = 1; gm <= pm && gm <= lim; gm++)
        for (gn = 1; gn <= pn && gn <= lim; gn++) {
            const int64_t tasks = batch * gm * gn;
            const int64_t rounds = (tasks + nthreads - 1) / nthreads;
            const double mt = (double)((pm + gm - 1) / gm * MR);
            const double nt = (double)((pn + gn - 1) / gn * NR);
            /* cycles: FMAs at the kernel's lanes/cycle, ~1 cycle per packed element, plus a
             * fixed per-task cost so ties go to fewer tasks. */
            const double cost = (double)rounds *
                (mt * nt * (double)K / lanes + (mt + nt) * (double)K + 2000.0);
            if (best < 0 || cost < best) {
                best = cost;
                best_gm = gm;
                best_gn = gn;
            }
        }
    *gm_out = best_gm;
    *gn_out = best_gn;
}

static void FNN_F(run)(const FNN_F(args_t) *g, int64_t batch, int nthreads)
{
    const int64_t M = g->M, N = g->N, MR = g->mr, NR = g->nr;
    int64_t gm = 1, gn = 1, ntasks;
    if (nthreads > 1 && (double)batch * (double)M * (double)N * (double)(g->K > 0 ? g->K : 1)
                            < FNN_GEMM_MT_MIN)
        nthreads = 1;
    if (nthreads > 1)
        FNN_F(grid)(g, batch, nthreads, &gm, &gn);
    ntasks = batch * gm * gn;
    if (nthreads > ntasks)
        nthreads = (int)ntasks;
#if FNN_HAVE_OPENMP
    if (nthreads > 1) {
        const int64_t pm = (M + MR - 1) / MR, pn = (N + NR - 1) / NR;
        const int caller_cpu = fnn_current_cpu();
        #pragma omp parallel num_threads(nthreads)
        {
            unsigned csr = fnn_ftz_enter();
            if (fnn_omp_thread_num() != 0)
                (void)fnn_omp_unstack(caller_cpu);   /* fnn_openmp.h: a worker on our CPU */
            FNN_F(a_held_t) held = {-1, -1};
            int64_t t;
            #pragma omp for schedule(static)
            for (t = 0; t < ntasks; t++) {
                const int64_t bi = t / (gm * gn), r = t % (gm * gn);
                const int64_t ti = r / gn, tj = r % gn;
                const int64_t p0 = ti * pm / gm, p1 = (ti + 1) * pm / gm;
                const int64_t q0 = tj * pn / gn, q1 = (tj + 1) * pn / gn;
                FNN_F(task)(g, bi, p0 * MR, p1 * MR < M ? p1 * MR : M,
                            q0 * NR, q1 * NR < N ? q1 * NR : N, &held);
            }
            fnn_ftz_leave(csr);
        }
        return;
    }
#endif
    {
        unsigned csr = fnn_ftz_enter();
        FNN_F(a_held_t) held = {-1, -1};
        int64_t bi;
        for (bi = 0; bi < batch; bi++)
            FNN_F(task)(g, bi, 0, M, 0, N, &held);
        fnn_ftz_leave(csr);
    }
}

/* ------------------------------------------------------------------ the in-place paths
 * No packing (fnn_gemm_ukr.h, "in-place kernels"): for a small M (rows of B are read once per
 * four rows of A, so packing B would cost as much as the FMAs) and for a skinny N (fewer columns
 * than the packed tile's NR would waste).  Both need B's rows and C's rows contiguous.  Each
 * element is the same FMA chain over ascending k as in the packed path. */
#ifndef FNN_GEMM_IP_MODES
#define FNN_GEMM_IP_MODES
enum { FNN_IP_NONE = 0, FNN_IP_ROWS = 1, FNN_IP_NARROW = 2 };
#endif

/* Rows [m0, m1) x columns [n0, n1) of batch item bi, the whole k range, then the epilogue. */
static void FNN_F(ip_task)(const FNN_F(args_t) *g, int mode, int64_t bi, int64_t m0, int64_t m1,
                           int64_t n0, int64_t n1)
{
    const FNN_KERNEL_T *kern = g->kern;
    const FNN_T *A = g->A + bi * g->a_bs, *B = g->B + bi * g->b_bs;
    FNN_T *C = g->C + bi * g->c_bs;
    const int64_t K = g->K, a_rs = g->a_rs, a_cs = g->a_cs, b_rs = g->b_rs, c_rs = g->c_rs;
    /* a one-column product's kernel for A's layout, where the level has one */
    const __typeof__(kern->column) column = n1 - n0 != 1 || c_rs != 1 ? NULL
                                            : a_rs == 1 ? kern->column
                                            : a_cs == 1 ? kern->column_rows : NULL;
    int load = 1;
    int64_t i, j;
    if (g->beta == 0) {
        load = 0;
    } else if (g->beta != 1) {
        for (i = m0; i < m1; i++)
            for (j = n0; j < n1; j++)
                C[i * c_rs + j] *= g->beta;
    }
    if (mode == FNN_IP_ROWS) {
        const int64_t w = kern->rows_n;
        for (j = n0; j < n1; j += w) {
            const int64_t n = n1 - j < w ? n1 - j : w;
            for (i = m0; i < m1; i += 4) {
                const int r = (int)(m1 - i < 4 ? m1 - i : 4);
                kern->rows[r](n, K, A + i * a_rs, a_rs, a_cs, B + j, b_rs, C + i * c_rs + j,
                              c_rs, load);
            }
        }
    } else if (column != NULL) {
        /* one column: a lane per row of C (fnn_gemm_ukr_avx2_column.h) */
        column(m1 - m0, K, A + m0 * a_rs, a_rs, a_cs, B + n0, b_rs, C + m0 + n0, load);
    } else {
        const int64_t w = kern->narrow_n, R = kern->narrow_m;
        for (j = n0; j < n1; j += w) {
            const int64_t n = n1 - j < w ? n1 - j : w;
            for (i = m0; i + R <= m1; i += R)
                kern->narrow(n, K, A + i * a_rs, a_rs, a_cs, B + j, b_rs, C + i * c_rs + j, c_rs,
                             load);
            for (; i < m1; i += 4) {
                const int r = (int)(m1 - i < 4 ? m1 - i : 4);
                kern->narrow_tail[r](n, K, A + i * a_rs, a_rs, a_cs, B + j, b_rs,
                                     C + i * c_rs + j, c_rs, load);
            }
        }
    }
    FNN_F(epilogue)(g, C + m0 * c_rs + n0, m1 - m0, n1 - n0, m0, n0);
}

/* Threads over units of columns (rows mode: rows_n wide) or of rows (narrow: narrow_m tall),
 * one unit per loop step, static schedule: as in the packed path, only the partition depends on
 * the thread count.  A single narrow product is cut into one run of rows per thread instead
 * (multiples of 4, the tail kernels' height): 128 rows in units of 12 would give one thread 72
 * rows and the other 56.  Any cut gives the same bits, as every row's chain is the same. */
/* Its OpenMP loop has run's shape (ftz enter/leave, static schedule over tasks) but its own task
 * split and task function: the two paths are kept side by side, each readable alone. */
/* The units a product splits into on nthreads threads (unit: their size, per: per batch item). */
static int64_t FNN_F(ip_units)(const FNN_F(args_t) *g, int mode, int64_t batch, int nthreads,
                               int64_t *unit_out, int64_t *per_out)
{
    const int64_t M = g->M, N = g->N;
    int64_t unit = mode == FNN_IP_ROWS ? g->kern->rows_n : g->kern->narrow_m;
    int64_t per;
    if (mode == FNN_IP_NARROW && batch == 1 && nthreads > 1)
        unit = ((M + nthreads - 1) / nthreads + 3) / 4 * 4;
    per = mode == FNN_IP_ROWS ? (N + unit - 1) / unit : (M + unit - 1) / unit;
    *unit_out = unit;
    *per_out = per;
    return batch * per;
}

static void FNN_F(run_inplace_on)(const FNN_F(args_t) *g, int mode, int64_t batch, int nthreads)
{
    const int64_t M = g->M, N = g->N;
    int64_t unit, per;
    const int64_t nunits = FNN_F(ip_units)(g, mode, batch, nthreads, &unit, &per);
    if (nthreads > nunits)
        nthreads = (int)nunits;
#if FNN_HAVE_OPENMP
    if (nthreads > 1) {
        const int caller_cpu = fnn_current_cpu();
        #pragma omp parallel num_threads(nthreads)
        {
            unsigned csr = fnn_ftz_enter();
            int64_t t;
            if (fnn_omp_thread_num() != 0)
                (void)fnn_omp_unstack(caller_cpu);
            #pragma omp for schedule(static)
            for (t = 0; t < nunits; t++) {
                const int64_t bi = t / per, u = t % per;
                if (mode == FNN_IP_ROWS)
                    FNN_F(ip_task)(g, mode, bi, 0, M, u * unit,
                                   (u + 1) * unit < N ? (u + 1) * unit : N);
                else
                    FNN_F(ip_task)(g, mode, bi, u * unit, (u + 1) * unit < M ? (u + 1) * unit : M,
                                   0, N);
            }
            fnn_ftz_leave(csr);
        }
        return;
    }
#endif
    {
        unsigned csr = fnn_ftz_enter();
        int64_t bi;
        for (bi = 0; bi < batch; bi++)
            FNN_F(ip_task)(g, mode, bi, 0, M, 0, N);
        fnn_ftz_leave(csr);
    }
}

/* Estimated cycles for an M x N x K product in this orientation (b_cs: B's column stride,
 * c_cs: C's column stride in this orientation). */
static double FNN_F(orient_cost)(const FNN_KERNEL_T *kern, int64_t M, int64_t N, int64_t K,
                                 int64_t b_cs, int64_t c_cs, int a_src, int b_src)
{
    const int64_t MR = kern->mr, NR = kern->nr;
    const double mp = (double)((M + MR - 1) / MR * MR);
    const double np_ = (double)((N + NR - 1) / NR * NR);
    const int direct = N <= 2 * NR && !a_src;
    /* packing, in the model's units: 1 cycle per element gathered, a quarter of that for a
     * unit-stride B row (a plain copy) */
    const double pack_a = direct ? 0.0 : (double)M * (double)K;
    const double pack_b = (double)N * (double)K * (b_cs == 1 && !b_src ? 0.25 : 1.0);
    /* The micro-kernel stores NR-wide rows of each tile.  When those rows are not contiguous
     * (c_cs != 1) every tile touches NR cache lines (and, for a wide C, NR pages) to store
     * MR elements each: with small K that store dominates (docs/kernels/gemm.md, "Orientation"),
     * so charge ~1 cycle per stored element for it. */
    const double store = c_cs == 1 ? 0.0 : (double)M * (double)N;
    return mp * np_ * (double)K / kern->fma_lanes + pack_a + pack_b + store;
}

/* g's operands and epilogue, everything else zero (the paths below fill their own fields). */
static void FNN_F(set_operands)(FNN_F(args_t) *g, int64_t M, int64_t N, int64_t K,
                                const FNN_T *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                                const FNN_T *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                                FNN_T beta, FNN_T *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                                const FNN_T *bias, int bias_mode, int act, FNN_T elu_alpha,
                                const FNN_KERNEL_T *kern, const fnn_gemm_src *a_src,
                                const fnn_gemm_src *b_src)
{
    memset(g, 0, sizeof *g);
    g->M = M; g->N = N; g->K = K;
    g->A = A; g->a_bs = a_bs; g->a_rs = a_rs; g->a_cs = a_cs;
    g->B = B; g->b_bs = b_bs; g->b_rs = b_rs; g->b_cs = b_cs;
    g->beta = beta;
    g->C = C; g->c_bs = c_bs; g->c_rs = c_rs; g->c_cs = c_cs;
    g->bias = bias; g->bias_mode = bias_mode; g->act = act; g->elu_alpha = elu_alpha;
    g->kern = kern;
    g->a_src = a_src;
    g->b_src = b_src;
}

/* An in-place path's split threshold: the fewest multiply-adds for which nthreads threads beat
 * one (fnn_gemm.c, "split threshold", says why it is measured).  One product of the mode's
 * usual shape -- skinny N: 128 x 128 x the narrow width; small M: 1 x 512 x 8 column units, a
 * batch-1 layer -- is timed on one thread and on nthreads, alternating, FNN_IP_CAL_ROUNDS times
 * each after a few untimed pairs; the medians are taken, not the fastest, because what counts
 * is what a region costs a call typically (its fastest case is rare on a busy or virtual
 * machine).  With t1 = W / r on one thread and tn = W / (n r) + o on n, the split pays from
 * W* = o r n / (n - 1).  Returns -1 where there is no clock or no memory. */
#define FNN_IP_CAL_ROUNDS 41

static double FNN_F(ip_calibrate)(const FNN_KERNEL_T *kern, int mode, int nthreads)
{
#if FNN_HAVE_SPIN_CLOCK
    const int64_t M = mode == FNN_IP_ROWS ? 1 : 128, K = mode == FNN_IP_ROWS ? 512 : 128;
    const int64_t N = mode == FNN_IP_ROWS ? 8 * (int64_t)kern->rows_n : kern->narrow_n;
    FNN_T *buf = (FNN_T *)malloc((size_t)(M * K + K * N + M * N) * sizeof(FNN_T));
    FNN_F(args_t) g;
    double one[FNN_IP_CAL_ROUNDS], many[FNN_IP_CAL_ROUNDS], t1, tn, o, w;
    int64_t i;
    int round, side;
    if (buf == NULL || (mode == FNN_IP_ROWS ? kern->rows[1] == NULL : kern->narrow == NULL)
        || nthreads < 2) {
        free(buf);
        return -1.0;
    }
    for (i = 0; i < M * K + K * N; i++)
        buf[i] = (FNN_T)((i % 7) - 3) * (FNN_T)0.25;     /* small, exact, never denormal */
    FNN_F(set_operands)(&g, M, N, K, buf, 0, K, 1, buf + M * K, 0, N, 1, 0, buf + M * K + K * N,
                        0, N, 1, NULL, FNN_BIAS_NONE, FNN_ACT_NONE, 0, kern, NULL, NULL);
    for (round = 0; round < 8; round++) {            /* wake the team, fault pages */
        FNN_F(run_inplace_on)(&g, mode, 1, nthreads);
        FNN_F(run_inplace_on)(&g, mode, 1, 1);
    }
    for (round = 0; round < FNN_IP_CAL_ROUNDS; round++)
        for (side = 0; side < 2; side++) {
            const int split = (side + round) % 2;
            const double t0 = fnn_now_ns();
            FNN_F(run_inplace_on)(&g, mode, 1, split ? nthreads : 1);
            (split ? many : one)[round] = fnn_now_ns() - t0;
        }
    free(buf);
    t1 = fnn_gemm_median(one, FNN_IP_CAL_ROUNDS);
    tn = fnn_gemm_median(many, FNN_IP_CAL_ROUNDS);
    if (!(t1 > 0))
        return -1.0;
    w = (double)M * (double)N * (double)K;
    o = tn - t1 / nthreads;
    return o <= 0 ? 0.0 : o * (w / t1) * nthreads / (nthreads - 1);
#else
    (void)kern;
    (void)mode;
    (void)nthreads;
    return -1.0;
#endif
}

/* The split threshold for this kernel, mode and thread count: the caller's value where one is
 * set (fnn_gemm_ip_split_set >= 0), else measured on first use and kept for the process (slot:
 * the thread count, the last slot shared by all counts from it on).  Never below
 * FNN_GEMM_IP_SPLIT_FLOOR; FNN_GEMM_IP_MT_MIN where it cannot be measured, or not now (inside
 * another parallel region, where a nested region would run on one thread and time nothing).
 * Two threads measuring at once store values alike; a thread count only ever changes speed,
 * never a bit. */
static double FNN_F(ip_split_table)[2][3][FNN_IP_SPLIT_SLOTS];

static double FNN_F(ip_split_min)(const FNN_KERNEL_T *kern, int mode, int nthreads)
{
    const double set = fnn_gemm_ip_split_set;
    const int level = kern->simd < 0 ? 0 : kern->simd > 2 ? 2 : kern->simd;
    const int slot = nthreads < FNN_IP_SPLIT_SLOTS ? nthreads : FNN_IP_SPLIT_SLOTS - 1;
    double *cell = &FNN_F(ip_split_table)[mode == FNN_IP_ROWS ? 0 : 1][level][slot];
    double v;
    if (set >= 0)
        return set;
    __atomic_load(cell, &v, __ATOMIC_RELAXED);
    if (v > 0)
        return v;
    if (fnn_omp_in_parallel())
        return FNN_GEMM_IP_MT_MIN;
    v = FNN_F(ip_calibrate)(kern, mode, nthreads);
    if (v < 0)
        v = FNN_GEMM_IP_MT_MIN;
    if (v < FNN_GEMM_IP_SPLIT_FLOOR)
        v = FNN_GEMM_IP_SPLIT_FLOOR;
    __atomic_store(cell, &v, __ATOMIC_RELAXED);
    return v;
}

/* Runs the in-place path on nthreads, or on one thread where the product is below the split
 * threshold for that many (fnn_gemm.c: measured once per kernel and thread count, or set).
 * A product that could not use a second thread (below the floor, or one unit of work) never
 * asks for the threshold: measuring it starts the thread team. */
static void FNN_F(run_inplace)(const FNN_F(args_t) *g, int mode, int64_t batch, int nthreads)
{
    const double work = (double)batch * (double)g->M * (double)g->N * (double)g->K;
    int64_t unit, per;
    if (nthreads > 1
        && (work < FNN_GEMM_IP_SPLIT_FLOOR
            || FNN_F(ip_units)(g, mode, batch, nthreads, &unit, &per) < 2
            || work < FNN_F(ip_split_min)(g->kern, mode, nthreads)))
        nthreads = 1;
    FNN_F(run_inplace_on)(g, mode, batch, nthreads);
}

#include "fnn_gemm_sparse.h"

static int FNN_F(gemm)(int64_t batch, int64_t M, int64_t N, int64_t K,
                        const FNN_T *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                        const FNN_T *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                        FNN_T beta, FNN_T *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                        const FNN_T *bias, int bias_mode, int act, FNN_T elu_alpha,
                        int nthreads, const FNN_KERNEL_T *kern, int64_t MC, int64_t KC,
                        int64_t NC, long l2_bytes, const fnn_gemm_src *a_src,
                        const fnn_gemm_src *b_src)
{
    FNN_F(args_t) g;
    int64_t nk;
    if (batch <= 0 || M <= 0 || N <= 0)
        return 0;
    if (K < 0)
        K = 0;
    if (nthreads < 1)
        nthreads = 1;
    if (bias == NULL)
        bias_mode = FNN_BIAS_NONE;
    FNN_F(set_operands)(&g, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                        c_rs, c_cs, bias, bias_mode, act, elu_alpha, kern, a_src, b_src);
    /* The zero-skipping path for a sparse A, when it applies (fnn_gemm_sparse.h). */
    if (FNN_F(sparse_try)(&g, batch, nthreads))
        return 0;
    /* The in-place paths, when they apply (no packing: small M or skinny N, see above). */
    if (a_src == NULL && b_src == NULL && K > 0 && b_cs == 1 && c_cs == 1) {
        int mode = FNN_IP_NONE;
        if (M <= 4 && kern->rows[1] != NULL)
            mode = FNN_IP_ROWS;
        else if (kern->narrow != NULL && N <= kern->narrow_n)
            mode = FNN_IP_NARROW;
        if (mode != FNN_IP_NONE) {
            FNN_F(run_inplace)(&g, mode, batch, nthreads);
            return 0;
        }
    }
    /* Orientation: C^T = B^T A^T swaps the roles of M and N.  Each element is still one FMA
     * chain over the same k order and fma(a, b, c) == fma(b, a, c), so the choice changes speed,
     * never bits; it depends on the shape and strides only, never on nthreads.
     * direct_a: when the output is skinny (N <= 2*NR) each A micro-panel meets at most two B
     * micro-panels, so packing A costs as much as its FMAs: read A in place instead.  At a
     * level whose kernel says so (direct_a_rows: AVX2, measured there, docs/kernels/gemm.md),
     * also for any N when A's rows are contiguous and the whole of A fits in L2: each k-step's
     * MR broadcasts then come from MR lines of L1 as they would from the packed panel, and
     * the pass that packs A is saved.
     * The orientation with the smaller estimated cost wins (cycles: padded FMAs + packing). */
    int swap, direct_a;
    {
        const double c0 = FNN_F(orient_cost)(kern, M, N, K, b_cs, c_cs, a_src != NULL,
                                             b_src != NULL);
        const double c1 = FNN_F(orient_cost)(kern, N, M, K, a_rs, c_rs, b_src != NULL,
                                             a_src != NULL);
        swap = c1 < 0.9 * c0;
        const int64_t am = swap ? N : M, an = swap ? M : N, acs = swap ? b_rs : a_cs;
        direct_a = (an <= 2 * kern->nr
                    || (kern->direct_a_rows && acs == 1
                        && (double)am * (double)K * (double)sizeof(FNN_T) <= (double)l2_bytes))
                   && (swap ? b_src : a_src) == NULL;
    }
    {
        if (swap) {
            int64_t t;
            const FNN_T *p = A;
            const fnn_gemm_src *s = a_src;
            /* a source's panels are the same in both roles (fnn_gemm.h) */
            a_src = b_src; b_src = s;
            t = M; M = N; N = t;
            A = B; B = p;
            t = a_bs; a_bs = b_bs; b_bs = t;
            t = a_rs; a_rs = b_cs; b_cs = t;
            t = a_cs; a_cs = b_rs; b_rs = t;
            t = c_rs; c_rs = c_cs; c_cs = t;
            if (bias_mode == FNN_BIAS_ROW) bias_mode = FNN_BIAS_COL;
            else if (bias_mode == FNN_BIAS_COL) bias_mode = FNN_BIAS_ROW;
        }
    }
    FNN_F(set_operands)(&g, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs,
                        c_rs, c_cs, bias, bias_mode, act, elu_alpha, kern, a_src, b_src);
    g.mr = kern->mr;
    g.nr = kern->nr;
    /* MC and NC are whole numbers of micro-panels (the caller rounds them: fnn_gemm.c) */
    g.mc = MC;
    g.nc = NC;
    g.direct_a = direct_a;
    /* B's rows a page or more apart: a lazily packed micro-panel would read each of its kc rows
     * on another page, a short strided stream per panel; pack the whole block row by row instead
     * (each row one contiguous read; fnn_gemm_pack.h). */
    g.whole_b = b_src == NULL && b_cs == 1
                && b_rs * (int64_t)sizeof(FNN_T) >= FNN_GEMM_WHOLE_B_ROW_BYTES;
    g.failed = 0;
    /* Equal k-blocks of at most KC (K = 257 with KC = 256 runs as 129 + 128, not 256 + 1).
     * Where the blocks end never changes a result (fnn_gemm_ukr.h). */
    nk = (K + KC - 1) / KC;
    g.kb = nk > 0 ? (K + nk - 1) / nk : 1;
    FNN_F(run)(&g, batch, nthreads);
    return g.failed ? -1 : 0;
}
