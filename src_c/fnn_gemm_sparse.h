/* Private to fnn_gemm.c (included by fnn_gemm_driver.h, once per element type): the zero-skipping
 * path for a sparse A.
 *
 * Why: a network's first layer multiplies its input, and MNIST's images are ~80% zero pixels.
 * Both products of that layer that read the input (forward x @ W, weight gradient x^T @ dz) then
 * spend four FMAs in five on zeros.  Here each row of op(A) is compressed to its nonzero entries
 * (k, value) and each C row is the chain over those entries only: the dense chain minus steps that
 * add +-0, hence the same bits (fnn_gemm_ukr_sparse.h says exactly when, and the one exception:
 * the sign of a zero result).  docs/kernels/gemm.md, "Zero-skipping", has the measurements.
 *
 * When (FNN_F(sparse_try), all of it, else the dense path runs):
 *   - explicit operands (no packing source), beta == 0, rows of B and of C contiguous;
 *   - the level's kernel has a sparse kernel (every level does);
 *   - mode FNN_SPARSE_ALWAYS, or mode FNN_SPARSE_AUTO with a product large enough
 *     (M >= FNN_SPARSE_MIN_M, N >= FNN_SPARSE_MIN_N, M*N*K >= FNN_SPARSE_MIN_WORK) and a sample of
 *     A's rows at most FNN_SPARSE_DENSITY nonzero, half that at the AVX-512 level (a few rows,
 *     ~4096 elements: cheap next to the product, and representative of a batch of images; a
 *     wrong guess costs speed, never bits).  The column scan (A's columns contiguous, x^T @ dz)
 *     reads all of A to build the lists whatever its density, a cost the C row's width must
 *     repay: it needs N >= FNN_SPARSE_SCAN_MIN_N and at most FNN_SPARSE_SCAN_DENSITY nonzero
 *     (half at AVX-512); where each path breaks even is measured by bench/ab_sparse_a.py
 *     --sweep (docs/kernels/gemm.md, "Zero-skipping");
 *   - every element of B finite (a skipped 0 * inf would have made a NaN: then dense, which
 *     writes all of C again; the test rides on the copies of B's tiles, so B is read once);
 *   - the calling thread's scratch (M*K entries per batch item at most) could be had.
 * Zero means |a| < the smallest normal number: the GEMM runs with denormals-are-zero, so the
 * dense kernels read a denormal A value as 0 too.
 *
 * Work: rows of op(A) in blocks (at most FNN_SPARSE_ROWS rows, the blocks split evenly between
 * the threads); a block compresses its rows, then runs the kernel over C's columns in tiles of
 * the kernel's width and over k in blocks whose B tile (copied contiguous, 32 KB) stays in L1 or
 * close while every row of the block goes through it; each C tile's epilogue (bias, activation)
 * right after its last k-block, as on the dense path.  The tile is as large as that allows
 * because each row ends its chain through a k-block on a mispredicted loop exit: fewer, longer
 * k-blocks, fewer of those.
 * A row's list is built in ascending k whichever way A is laid out: row by row when A's rows are
 * contiguous (x @ W), column by column when its columns are (x^T @ dz: a column of op(A) is a row
 * of x), so the input is always read in memory order.
 */

/* The calling thread's scratch: row lists (k and value) and their lengths.  Grow-only, as the
 * packing buffers, for the same reason (a fresh allocation faults its pages in on every call). */
static _Thread_local void *FNN_F(tl_sparse) = NULL;
static _Thread_local size_t FNN_F(tl_sparse_cap) = 0;

static void *FNN_F(sparse_scratch)(size_t bytes)
{
    if (bytes > FNN_F(tl_sparse_cap)) {
        void *p = NULL;
        free(FNN_F(tl_sparse));
        FNN_F(tl_sparse) = NULL;
        FNN_F(tl_sparse_cap) = 0;
        if (posix_memalign(&p, 64, bytes) != 0)
            return NULL;
        FNN_F(tl_sparse) = p;
        FNN_F(tl_sparse_cap) = bytes;
    }
    return FNN_F(tl_sparse);
}

static inline int FNN_F(is_zero)(FNN_T a)
{
    /* zero or denormal (read as zero under DAZ); NaN is not zero */
    return FNN_FABS(a) < FNN_TMIN;
}

#ifndef FNN_GEMM_SPARSE_ONCE
#define FNN_GEMM_SPARSE_ONCE
#if FNN_X86
/* 8 contiguous values at once with SSE2 (in every x86-64): bit t set when x[t] is not zero, i.e.
 * !(|x[t]| < smallest normal), which keeps NaN nonzero as is_zero does. */
static inline unsigned fnn_nonzero8_unit_f(const float *x)
{
    const __m128 mag = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
    const __m128 tiny = _mm_set1_ps(FLT_MIN);
    const __m128 lo = _mm_and_ps(_mm_loadu_ps(x), mag), hi = _mm_and_ps(_mm_loadu_ps(x + 4), mag);
    return (unsigned)_mm_movemask_ps(_mm_cmpnlt_ps(lo, tiny))
           | (unsigned)_mm_movemask_ps(_mm_cmpnlt_ps(hi, tiny)) << 4;
}
static inline unsigned fnn_nonzero8_unit_d(const double *x)
{
    const __m128d mag = _mm_castsi128_pd(_mm_set1_epi64x(0x7fffffffffffffffLL));
    const __m128d tiny = _mm_set1_pd(DBL_MIN);
    unsigned bits = 0;
    int q;
    for (q = 0; q < 4; q++)
        bits |= (unsigned)_mm_movemask_pd(_mm_cmpnlt_pd(_mm_and_pd(_mm_loadu_pd(x + 2 * q), mag),
                                                         tiny)) << (2 * q);
    return bits;
}
#define FNN_NONZERO8_UNIT(x) _Generic((x), const float *: fnn_nonzero8_unit_f, \
                                      const double *: fnn_nonzero8_unit_d)(x)

/* The entries of 8 contiguous values whose nonzero bits are `bits` (fnn_nonzero8_unit), appended
 * at ix/v in ascending k without a branch per entry: each half of 4 is moved together by a
 * permutation from a 16-entry table and stored whole (4 entries, of which popcount are kept; the
 * rest is overwritten by the next store or lies past the list's end).  A loop over the set bits
 * costs a mispredicted branch on most groups, since a group's count follows the image.  Writes
 * ix/v[0 .. 3 + popcount(bits & 15)] at most.  Returns popcount(bits). */
static const int32_t fnn_pack4_lut[16][4] __attribute__((aligned(16))) = {
    {0, 0, 0, 0}, {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {2, 0, 0, 0}, {0, 2, 0, 0},
    {1, 2, 0, 0}, {0, 1, 2, 0}, {3, 0, 0, 0}, {0, 3, 0, 0}, {1, 3, 0, 0}, {0, 1, 3, 0},
    {2, 3, 0, 0}, {0, 2, 3, 0}, {1, 2, 3, 0}, {0, 1, 2, 3}};

__attribute__((target("avx2")))
static inline int fnn_pack8_avx2_f(const float *x, unsigned bits, int32_t k, int32_t *ix, float *v)
{
    const unsigned lo = bits & 15u, hi = bits >> 4;
    const int nlo = __builtin_popcount(lo);
    const __m128i plo = _mm_load_si128((const __m128i *)fnn_pack4_lut[lo]);
    const __m128i phi = _mm_load_si128((const __m128i *)fnn_pack4_lut[hi]);
    _mm_storeu_ps(v, _mm_permutevar_ps(_mm_loadu_ps(x), plo));
    _mm_storeu_si128((__m128i *)ix, _mm_add_epi32(plo, _mm_set1_epi32(k)));
    _mm_storeu_ps(v + nlo, _mm_permutevar_ps(_mm_loadu_ps(x + 4), phi));
    _mm_storeu_si128((__m128i *)(ix + nlo), _mm_add_epi32(phi, _mm_set1_epi32(k + 4)));
    return nlo + __builtin_popcount(hi);
}

/* double: a half of 4 is one 256-bit vector, moved as 8 32-bit lanes (lane pair 2p, 2p+1 for
 * value p) */
__attribute__((target("avx2")))
static inline __m256i fnn_pack4_pairs(__m128i p)
{
    const __m256i twice = _mm256_slli_epi32(_mm256_cvtepu32_epi64(p), 1);
    return _mm256_or_si256(twice, _mm256_slli_epi64(_mm256_add_epi32(twice,
                                                                     _mm256_set1_epi64x(1)), 32));
}

__attribute__((target("avx2")))
static inline int fnn_pack8_avx2_d(const double *x, unsigned bits, int32_t k, int32_t *ix,
                                   double *v)
{
    const unsigned lo = bits & 15u, hi = bits >> 4;
    const int nlo = __builtin_popcount(lo);
    const __m128i plo = _mm_load_si128((const __m128i *)fnn_pack4_lut[lo]);
    const __m128i phi = _mm_load_si128((const __m128i *)fnn_pack4_lut[hi]);
    _mm256_storeu_pd(v, _mm256_castps_pd(_mm256_permutevar8x32_ps(
        _mm256_castpd_ps(_mm256_loadu_pd(x)), fnn_pack4_pairs(plo))));
    _mm_storeu_si128((__m128i *)ix, _mm_add_epi32(plo, _mm_set1_epi32(k)));
    _mm256_storeu_pd(v + nlo, _mm256_castps_pd(_mm256_permutevar8x32_ps(
        _mm256_castpd_ps(_mm256_loadu_pd(x + 4)), fnn_pack4_pairs(phi))));
    _mm_storeu_si128((__m128i *)(ix + nlo), _mm_add_epi32(phi, _mm_set1_epi32(k + 4)));
    return nlo + __builtin_popcount(hi);
}
#define FNN_PACK8_AVX2(x, bits, k, ix, v) \
    _Generic((x), const float *: fnn_pack8_avx2_f, const double *: fnn_pack8_avx2_d)(x, bits, k, \
                                                                                   ix, v)


/* copy_tile's full tiles: 256-byte rows as 8 vectors each, the finiteness test (|x| <= max,
 * false for inf and NaN) ORed over the whole tile */
__attribute__((target("avx2")))
static int fnn_copy_tile_avx2_f(float *dst, int64_t nw, const float *src, int64_t src_rs,
                                int64_t rows)
{
    const __m256 mag = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 big = _mm256_set1_ps(FLT_MAX);
    __m256 bad = _mm256_setzero_ps();
    int64_t q;
    int t;
    for (q = 0; q < rows; q++)
        for (t = 0; t < 8; t++) {
            const __m256 v = _mm256_loadu_ps(src + q * src_rs + 8 * t);
            _mm256_storeu_ps(dst + q * nw + 8 * t, v);
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_and_ps(v, mag), big, _CMP_NLE_UQ));
        }
    return _mm256_movemask_ps(bad) == 0;
}
__attribute__((target("avx2")))
static int fnn_copy_tile_avx2_d(double *dst, int64_t nw, const double *src, int64_t src_rs,
                                int64_t rows)
{
    const __m256d mag = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d big = _mm256_set1_pd(DBL_MAX);
    __m256d bad = _mm256_setzero_pd();
    int64_t q;
    int t;
    for (q = 0; q < rows; q++)
        for (t = 0; t < 8; t++) {
            const __m256d v = _mm256_loadu_pd(src + q * src_rs + 4 * t);
            _mm256_storeu_pd(dst + q * nw + 4 * t, v);
            bad = _mm256_or_pd(bad, _mm256_cmp_pd(_mm256_and_pd(v, mag), big, _CMP_NLE_UQ));
        }
    return _mm256_movemask_pd(bad) == 0;
}
#define FNN_COPY_TILE_AVX2(dst, nw, src, rs, rows) \
    _Generic((dst), float *: fnn_copy_tile_avx2_f, double *: fnn_copy_tile_avx2_d)(dst, nw, src, \
                                                                                  rs, rows)
#endif
#endif

/* A k-block's B tile: rows [0, kn) of `n` columns copied from src (rows src_rs apart) to dst
 * (rows NW apart); returns whether every value copied is finite (the test rides on the copy, so
 * B is read once).  A full tile (n * sizeof = FNN_SPARSE_TILE_ROW_BYTES) at the AVX2 level and
 * above goes through the vector version (FNN_COPY_TILE_AVX2, above). */
static int FNN_F(copy_tile)(FNN_T *dst, int64_t NW, const FNN_T *src, int64_t src_rs, int64_t kn,
                            int64_t n, int avx2)
{
    int64_t q, j;
    int bad = 0;
#if FNN_X86
    if (avx2 && n * (int64_t)sizeof(FNN_T) == FNN_SPARSE_TILE_ROW_BYTES)
        return FNN_COPY_TILE_AVX2(dst, NW, src, src_rs, kn);
#else
    (void)avx2;
#endif
    for (q = 0; q < kn; q++)
        for (j = 0; j < n; j++) {
            const FNN_T v = src[q * src_rs + j];
            dst[q * NW + j] = v;
            bad |= !(FNN_FABS(v) <= FNN_TMAX);
        }
    return !bad;
}

/* Which of the 8 values x[0], x[s], ..., x[7s] are nonzero, as bits. */
static inline unsigned FNN_F(nonzero8)(const FNN_T *x, int64_t s)
{
    unsigned bits = 0;
    int t;
#if FNN_X86
    if (s == 1)
        return FNN_NONZERO8_UNIT(x);
#endif
    for (t = 0; t < 8; t++)
        bits |= (unsigned)!FNN_F(is_zero)(x[t * s]) << t;
    return bits;
}

/* Whether a sample of op(A)'s rows (spread over all batch items) is at most `density` nonzero
 * (FNN_SPARSE_DENSITY, below where the AVX2 paths break even; half of it for the AVX-512
 * kernels, whose dense FMAs can be twice as wide while the sparse kernel's loads are not).
 * Stops after the row where the sample passes the limit: a dense A costs a row or two. */
static int FNN_F(sparse_sample)(int64_t batch, int64_t M, int64_t K, const FNN_T *A, int64_t a_bs,
                                int64_t a_rs, int64_t a_cs, double density)
{
    const int64_t rows = batch * M;
    int64_t s, k, nz = 0, ns = 4096 / K;
    if (ns < 1) ns = 1;
    if (ns > 16) ns = 16;
    if (ns > rows) ns = rows;
    const int64_t limit = (int64_t)(density * (double)(ns * K));
    for (s = 0; s < ns; s++) {
        const int64_t r = (2 * s + 1) * rows / (2 * ns);
        const FNN_T *a = A + (r / M) * a_bs + (r % M) * a_rs;
        k = 0;
        if (a_cs == 1)
            for (; k + 8 <= K; k += 8)
                nz += __builtin_popcount(FNN_F(nonzero8)(a + k, 1));
        for (; k < K; k++)
            nz += !FNN_F(is_zero)(a[k * a_cs]);
        if (nz > limit)
            return 0;
    }
    return 1;
}

/* Rows [i0, i1) of op(A) of one batch item into lists: row i's entries at idx/val + (i-i0)*K.
 * Eight values are tested at a time.  Along a contiguous row at the AVX2 level and above, each
 * group's nonzero entries are moved in by permutation (FNN_PACK8_AVX2: no branch per group; its
 * stores reach at most 7 entries past the count, which is at most k, so they stay inside the
 * row's K); elsewhere only the set bits are visited. */
static void FNN_F(sparse_rows)(const FNN_T *A, int64_t a_rs, int64_t a_cs, int64_t K, int64_t i0,
                               int64_t i1, int32_t *cnt, int32_t *idx, FNN_T *val, int avx2)
{
    int64_t i, k;
    if ((a_cs < 0 ? -a_cs : a_cs) <= (a_rs < 0 ? -a_rs : a_rs)) {
        /* row by row: each row of op(A) is read along its k */
        for (i = i0; i < i1; i++) {
            const FNN_T *a = A + i * a_rs;
            int32_t *ix = idx + (i - i0) * K;
            FNN_T *v = val + (i - i0) * K;
            int32_t n = 0;
            k = 0;
#if FNN_X86
            if (avx2 && a_cs == 1)
                for (; k + 8 <= K; k += 8)
                    n += FNN_PACK8_AVX2(a + k, FNN_NONZERO8_UNIT(a + k), (int32_t)k, ix + n, v + n);
#endif
            for (; k + 8 <= K; k += 8) {
                unsigned bits = FNN_F(nonzero8)(a + k * a_cs, a_cs);
                while (bits) {
                    const int t = __builtin_ctz(bits);
                    ix[n] = (int32_t)(k + t);
                    v[n] = a[(k + t) * a_cs];
                    n++;
                    bits &= bits - 1;
                }
            }
            for (; k < K; k++)
                if (!FNN_F(is_zero)(a[k * a_cs])) {
                    ix[n] = (int32_t)k;
                    v[n] = a[k * a_cs];
                    n++;
                }
            cnt[i - i0] = n;
        }
    } else {
        /* column by column: for each k the rows' values lie along a_rs (a row of x for x^T),
         * so every row's list still grows in ascending k */
        for (i = i0; i < i1; i++)
            cnt[i - i0] = 0;
        for (k = 0; k < K; k++) {
            const FNN_T *a = A + k * a_cs;
            for (i = i0; i + 8 <= i1; i += 8) {
                const unsigned bits = FNN_F(nonzero8)(a + i * a_rs, a_rs);
                int t;
                if (bits == 0)
                    continue;
                /* all 8 rows written, each list's count advanced by its bit: no branch per
                 * entry (a loop over the set bits mispredicts on most groups).  A zero's write
                 * lands at its row's count, past the list's end, inside its K entries (the
                 * count is at most k there) */
                for (t = 0; t < 8; t++) {
                    const int64_t r = i + t - i0, at = r * K + cnt[r];
                    idx[at] = (int32_t)k;
                    val[at] = a[(i + t) * a_rs];
                    cnt[r] += (int32_t)((bits >> t) & 1u);
                }
            }
            for (; i < i1; i++)
                if (!FNN_F(is_zero)(a[i * a_rs])) {
                    const int64_t r = i - i0, at = r * K + cnt[r];
                    idx[at] = (int32_t)k;
                    val[at] = a[i * a_rs];
                    cnt[r]++;
                }
        }
    }
}

/* Thread `me` of `nt`'s share of the sparse path: its row blocks of each batch item, a barrier
 * after each item (the scratch holds one item's lists).  Called by every thread of the parallel
 * region, or directly with nt = 1, where it meets no OpenMP construct at all (a region of one
 * thread would still end on a futex wake, docs/threads.md, "One thread: no region"; an orphaned
 * barrier would bind to any region the caller is in).  B's finiteness is tested as its tiles are
 * copied: a thread that meets a non-finite value clears *finite, and every thread then skips
 * what is left (still passing each barrier). */
static void FNN_F(sparse_team)(const FNN_F(args_t) *g, int64_t batch, int nt, int me,
                               int caller_cpu, int64_t rb, int64_t nblocks, char *scratch,
                               int *finite)
{
    const int64_t M = g->M, N = g->N, K = g->K, NW = g->kern->sparse_nw;
    const int64_t KB = FNN_SPARSE_TILE_BYTES / (NW * (int64_t)sizeof(FNN_T));
    const int avx2 = g->kern->simd >= FNN_SIMD_AVX2;
    int32_t *cnt_all = (int32_t *)scratch;
    int32_t *idx_all = (int32_t *)(scratch + FNN_SPARSE_CNT_BYTES(M));
    FNN_T *val_all = (FNN_T *)(scratch + FNN_SPARSE_CNT_BYTES(M)
                               + (size_t)M * (size_t)K * sizeof(int32_t));
    unsigned csr = fnn_ftz_enter();
    int64_t bi;
#if FNN_HAVE_OPENMP
    if (nt > 1 && me != 0)
        (void)fnn_omp_unstack(caller_cpu);   /* fnn_openmp.h: a worker on our CPU */
#else
    (void)caller_cpu;
#endif
    for (bi = 0; bi < batch; bi++) {
        const FNN_T *A = g->A + bi * g->a_bs, *B = g->B + bi * g->b_bs;
        FNN_T *C = g->C + bi * g->c_bs;
        int64_t blk;
        for (blk = nblocks * me / nt; blk < nblocks * (me + 1) / nt; blk++) {
            const int64_t i0 = blk * rb, i1 = i0 + rb < M ? i0 + rb : M;
            int32_t *cnt = cnt_all + i0, *idx = idx_all + i0 * K;
            FNN_T *val = val_all + i0 * K;
            int32_t pos[FNN_SPARSE_ROWS];
            FNN_T tile[FNN_SPARSE_TILE_BYTES / sizeof(FNN_T)] __attribute__((aligned(64)));
            int64_t j0, k0, r;
            int ok;
#if FNN_HAVE_OPENMP
            #pragma omp atomic read
#endif
            ok = *finite;
            if (!ok)
                break;
            FNN_F(sparse_rows)(A, g->a_rs, g->a_cs, K, i0, i1, cnt, idx, val, avx2);
            for (j0 = 0; ok && j0 < N; j0 += NW) {
                const int64_t n = N - j0 < NW ? N - j0 : NW;
                FNN_T *c = C + i0 * g->c_rs + j0;
                for (r = 0; r < i1 - i0; r++)
                    pos[r] = 0;
                for (k0 = 0; k0 < K; k0 += KB) {
                    /* the k-block's B tile copied contiguous: B's rows are often a power
                     * of two apart (1 KB for 256 floats), which maps a tile read in place
                     * onto a quarter of L1's sets */
                    const int64_t kn = K - k0 < KB ? K - k0 : KB;
                    if (!FNN_F(copy_tile)(tile, NW, B + k0 * g->b_rs + j0, g->b_rs, kn, n,
                                          avx2)) {
                        ok = 0;
                        break;
                    }
                    g->kern->sparse(i1 - i0, cnt, pos, idx, val, K, k0, k0 + KB, tile, NW,
                                    c, g->c_rs, n, k0 > 0);
                }
                if (ok)
                    FNN_F(epilogue)(g, c, i1 - i0, n, i0, j0);
            }
            if (!ok) {
#if FNN_HAVE_OPENMP
                #pragma omp atomic write
#endif
                *finite = 0;
                break;
            }
        }
#if FNN_HAVE_OPENMP
        if (nt > 1) {
            #pragma omp barrier
        }
#endif
    }
    fnn_ftz_leave(csr);
}

/* The sparse path on g (already filled as for the dense path, in the caller's orientation).
 * Returns 0 when B has a non-finite element, C then partly written: the caller's dense path
 * writes all of it again (beta == 0 here, and C never overlaps A or B). */
static int FNN_F(sparse_run)(const FNN_F(args_t) *g, int64_t batch, int nthreads, char *scratch)
{
    const int64_t M = g->M, N = g->N, K = g->K;
    int64_t per, nb_per, rb, nblocks, ntasks;
    int finite = 1;
    if (nthreads > 1 && (double)batch * (double)M * (double)N * (double)K < FNN_GEMM_MT_MIN)
        nthreads = 1;
    /* blocks of at most FNN_SPARSE_ROWS rows, the same number for every thread */
    per = (M + nthreads - 1) / nthreads;
    nb_per = (per + FNN_SPARSE_ROWS - 1) / FNN_SPARSE_ROWS;
    rb = (per + nb_per - 1) / nb_per;
    nblocks = (M + rb - 1) / rb;
    ntasks = batch * nblocks;
    if (nthreads > ntasks)
        nthreads = (int)ntasks;
#if FNN_HAVE_OPENMP
    if (nthreads > 1) {
        const int caller_cpu = fnn_current_cpu();
        #pragma omp parallel num_threads(nthreads)
        FNN_F(sparse_team)(g, batch, fnn_omp_num_threads(), fnn_omp_thread_num(), caller_cpu, rb,
                           nblocks, scratch, &finite);
        return finite;
    }
#endif
    FNN_F(sparse_team)(g, batch, 1, 0, -1, rb, nblocks, scratch, &finite);
    return finite;
}

/* Runs the sparse path and returns 1 when it applies (see the top of this file), else returns 0:
 * having written nothing, or, when B holds a non-finite value, with C partly written (the
 * caller's dense path then writes all of it). */
static int FNN_F(sparse_try)(FNN_F(args_t) *g, int64_t batch, int nthreads)
{
    const int mode = fnn_gemm_sparse_mode;
    const int64_t M = g->M, N = g->N, K = g->K;
    size_t bytes;
    char *scratch;
    if (mode == FNN_SPARSE_OFF || g->kern->sparse == NULL || g->a_src != NULL
        || g->b_src != NULL || g->beta != 0 || g->b_cs != 1 || g->c_cs != 1 || K <= 0
        || K > INT32_MAX)
        return 0;
    if ((double)M * (double)K * (double)(sizeof(int32_t) + sizeof(FNN_T))
            > (double)FNN_SPARSE_MAX_SCRATCH)
        return 0;
    if (mode == FNN_SPARSE_AUTO) {
        const int scan = g->a_cs != 1;              /* lists built by the column scan */
        double density = scan ? FNN_SPARSE_SCAN_DENSITY : FNN_SPARSE_DENSITY;
        if (g->kern->simd >= FNN_SIMD_AVX512)
            density /= 2;
        if (M < FNN_SPARSE_MIN_M || N < (scan ? FNN_SPARSE_SCAN_MIN_N : FNN_SPARSE_MIN_N)
            || (double)M * (double)N * (double)K < FNN_SPARSE_MIN_WORK
            || !FNN_F(sparse_sample)(batch, M, K, g->A, g->a_bs, g->a_rs, g->a_cs, density))
            return 0;
    }
    bytes = FNN_SPARSE_CNT_BYTES(M) + (size_t)M * (size_t)K * (sizeof(int32_t) + sizeof(FNN_T));
    scratch = (char *)FNN_F(sparse_scratch)(bytes);
    if (scratch == NULL)
        return 0;
    if (!FNN_F(sparse_run)(g, batch, nthreads, scratch))
        return 0;
    __atomic_fetch_add(&fnn_gemm_sparse_calls, 1, __ATOMIC_RELAXED);
    return 1;
}
