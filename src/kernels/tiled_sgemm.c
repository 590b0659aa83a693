/* The fp32 GEMM of the model on AVX-512: packing shared by the threads, any split of the
 * work giving the same bits (see rm_own_sgemm in include/rmens/kernels/tiled_blas.h).
 *
 * Why not OpenBLAS under tiles: each tile is its own sgemm call and packs the whole shared
 * operand again (a 256-row tile of the first layer re-packs all 8 MB of its weights), so
 * on AVX-512, where the multiply-adds take half the time they take on AVX2, packing was
 * 16% of a training step against 8% for whole products. Here each operand is packed once
 * per product and the threads share it.
 *
 * Why the bits do not depend on the threads: C (M,N) is cut into micro-tiles of MR rows x
 * NR columns, the depth K into blocks of KC (fixed: only K decides where they fall). For
 * every block, one micro-kernel call sums the block's products of an element in one fused
 * multiply-add chain, k in order, starting from zero, then adds the sum to C (the first
 * block to the initial value: bias, beta C or 0; the last one applies the epilogue).
 * Operands are packed with zeros past the matrix edges and edge tiles use masked loads
 * and stores, so an element at the edge takes the same instructions as any other.
 * Which thread computes which columns, and how many threads there are, change nothing.
 *
 * Loop structure (BLIS-like, row-major C): op(A) is packed whole into panels of MR rows
 * ("S", broadcast by the micro-kernel: one panel of a block, kc x SK, sits in L1), in
 * parallel, before the products start. The work units are column blocks of JC columns,
 * cut into row ranges too when the blocks do not share out evenly over the threads: a
 * unit packs its columns of op(B) per depth block ("V", kc x JC, in L2, vector loads),
 * then runs every row panel of its range against it. Two ways to pack less, for callers
 * that know more (rm_gemm_hints): op(B) packed ahead once (a scoring model's weights,
 * rm_own_sgemm_pack_b), and op(A)'s packing kept for the next product with the same A
 * (an ensemble's members scoring one block: rm_mlp_forward_again).
 *
 * Measured on a 2-core AVX-512 Xeon (AMX, AVX512_BF16) against OpenBLAS 0.3.21's
 * SkylakeX sgemm at the training step's shapes: 1 thread 0.98-1.02 of its rate, 2
 * threads 0.96-1.0 (its own threading). */
#include "rmens/kernels/tiled_sgemm.h"

#include "rmens/kernels/thread_pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>

#define MR 12   /* rows of C per micro-tile: 12 x 2 accumulators of 16 */
#define SK MR   /* floats per depth step of an S panel: unpadded (padded to 16 for aligned stores, the
                 * panels' extra third of memory traffic cost 2.5% of a training step) */
#define S_STORE(p, x) _mm512_mask_storeu_ps(p, 0x0FFF, x) /* MR = 12 lanes */
#define NR 32   /* columns per micro-tile: two vectors */
#define KC 384  /* depth block: S micro-panel 18 KB (L1), V micro-panel 48 KB (L2) */
#define JC 512  /* columns per work unit: V block 768 KB (L2), C block M x JC */
#define PREFETCH_K 8 /* depth steps the V loads are prefetched ahead */
#define PACK_AHEAD 4 /* source rows the row-wise packs prefetch ahead (transposing ones: 4 x 16 columns) */
#define S_TASK_PANELS 8 /* row panels per packing task */
#define MAX_WORKERS 256

enum { INIT_ADD, INIT_ZERO, INIT_BIAS, INIT_BETA };

typedef struct {
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc, ldg;
    const float *A, *B, *bias, *gate;
    float beta;
    int relu, init;
    float *C;
    float *S;          /* packed op(A): depth block kb at S + k0 * Mp, panel ip at + ip * SK * kc */
    float *const *V;   /* per worker: KC x JC */
    const float *packed_b; /* or all of op(B) packed ahead (rm_own_sgemm_pack_b): block kb at + k0 * Np */
    int Np;
    int Mp, m_panels, n_kb, n_jc, n_rr;
} sg_job;

/* ---- 16 x 16 transpose: r[i] lane j -> r[j] lane i ---- */
static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* r[4q + p] now holds, in each 128-bit lane L, elements (rows 4L'.., ) - combine lanes */
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* ---- packing (plain copies: any way of doing them gives the same bits) ---- */

/* S panels [ip0, ip1) of one depth block: panel ip at dst + ip * SK * kc, dst[k * SK + r] =
 * op(A)(ip * MR + r, k0 + k), zero for rows past M. Sources are read along their rows
 * (a strip of one panel per row would start a new page at every row: no prefetching). */
static void pack_s(const sg_job *j, int ip0, int ip1, int k0, int kc, float *dst)
{
    if (j->ta == CblasTrans) {
        /* op(A)(i, k) = A[k * lda + i]: row k of A holds the panels side by side */
        for (int k = 0; k < kc; k++) {
            const float *src = j->A + (size_t)(k0 + k) * j->lda;
            if (k + PACK_AHEAD < kc)
                for (int i = ip0 * MR; i < ip1 * MR && i < j->M; i += 16) _mm_prefetch((const char *)(src + (size_t)PACK_AHEAD * j->lda + i), _MM_HINT_T0);
            for (int ip = ip0; ip < ip1; ip++)
                S_STORE(dst + (size_t)ip * SK * kc + k * SK, _mm512_maskz_loadu_ps(lanes(j->M - ip * MR) & 0x0FFF, src + ip * MR));
        }
        return;
    }
    /* op(A)(i, k) = A[i * lda + k]: transposed in 16 x 16 blocks */
    for (int ip = ip0; ip < ip1; ip++) {
        const int i0 = ip * MR, rows = j->M - i0 < MR ? j->M - i0 : MR;
        const float *src = j->A + (size_t)i0 * j->lda + k0;
        float *d = dst + (size_t)ip * SK * kc;
        for (int kk = 0; kk < kc; kk += 16) {
            const int w = kc - kk < 16 ? kc - kk : 16;
            const __mmask16 m = lanes(w);
            __m512 r[16];
            if (kk + 64 < kc)
                for (int q = 0; q < rows; q++) _mm_prefetch((const char *)(src + (size_t)q * j->lda + kk + 64), _MM_HINT_T0);
            for (int q = 0; q < 16; q++) r[q] = q < rows ? _mm512_maskz_loadu_ps(m, src + (size_t)q * j->lda + kk) : _mm512_setzero_ps();
            transpose16(r);
            for (int t = 0; t < w; t++) S_STORE(d + (kk + t) * SK, r[t]); /* lanes MR.. are zero */
        }
    }
}

/* V panels of columns [j0, j0 + cols): panel p at dst + p * NR * kc, dst[k * NR + c] =
 * op(B)(k0 + k, j0 + p * NR + c), zero past N */
static void pack_v(const sg_job *j, int j0, int cols, int k0, int kc, float *dst)
{
    const int panels = (cols + NR - 1) / NR;
    if (j->tb == CblasNoTrans) {
        /* op(B)(k, j) = B[k * ldb + j]: row k of B holds the panels side by side */
        for (int k = 0; k < kc; k++) {
            const float *src = j->B + (size_t)(k0 + k) * j->ldb + j0;
            if (k + PACK_AHEAD < kc)
                for (int c = 0; c < cols; c += 16) _mm_prefetch((const char *)(src + (size_t)PACK_AHEAD * j->ldb + c), _MM_HINT_T0);
            for (int p = 0; p < panels; p++) {
                const int n = j->N - (j0 + p * NR);
                _mm512_store_ps(dst + (size_t)p * NR * kc + k * NR, _mm512_maskz_loadu_ps(lanes(n), src + p * NR));
                _mm512_store_ps(dst + (size_t)p * NR * kc + k * NR + 16, _mm512_maskz_loadu_ps(lanes(n - 16), src + p * NR + 16));
            }
        }
        return;
    }
    /* op(B)(k, j) = B[j * ldb + k]: transposed in 16 x 16 blocks */
    for (int p = 0; p < panels; p++, dst += NR * kc) {
        const int jb = j0 + p * NR, n = j->N - jb < NR ? j->N - jb : NR;
        for (int h = 0; h < 2; h++) {
            const int nh = n - 16 * h;
            const float *src = j->B + (size_t)(jb + 16 * h) * j->ldb + k0;
            for (int kk = 0; kk < kc; kk += 16) {
                const int w = kc - kk < 16 ? kc - kk : 16;
                const __mmask16 m = lanes(w);
                __m512 r[16];
                if (kk + 64 < kc)
                    for (int q = 0; q < nh && q < 16; q++) _mm_prefetch((const char *)(src + (size_t)q * j->ldb + kk + 64), _MM_HINT_T0);
                for (int q = 0; q < 16; q++) r[q] = q < nh ? _mm512_maskz_loadu_ps(m, src + (size_t)q * j->ldb + kk) : _mm512_setzero_ps();
                transpose16(r);
                for (int t = 0; t < w; t++) _mm512_store_ps(dst + (kk + t) * NR + 16 * h, r[t]);
            }
        }
    }
}

/* ---- the micro-kernel: C[i0.., j0..] (rows x cols of MR x NR) updated with the sum over
 * one depth block of s (kc x MR) times v (kc x NR) ---- */
static inline __attribute__((always_inline)) void update(__m512 acc, float *c, __mmask16 m, int mode, const float *bias,
                                                         float beta, int last, int relu, const float *gate)
{
    __m512 x;
    switch (mode) {
    case INIT_ZERO: x = acc; break;
    case INIT_BIAS: x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, bias), acc); break;
    case INIT_BETA: x = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, c)), acc); break;
    default: x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c), acc); break;
    }
    if (last) {
        /* max(0, x) returns x when x is NaN: a NaN passes, as in relu_forward */
        if (relu) x = _mm512_max_ps(_mm512_setzero_ps(), x);
        if (gate) x = _mm512_mask_mov_ps(x, _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, gate), _mm512_setzero_ps(), _CMP_LE_OQ),
                                         _mm512_setzero_ps());
    }
    _mm512_mask_storeu_ps(c, m, x);
}

static void kernel(int kc, const float *restrict s, const float *restrict v, float *c, int ldc, int rows, int cols,
                   int mode, int last, const sg_job *j, int i0, int j0)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    __m512 c80 = c00, c81 = c00, c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00;
    /* C's rows are a row stride apart (4-8 KB: the same L1 set): fetched while the sums run */
    if (mode != INIT_ZERO && mode != INIT_BIAS)
        for (int r = 0; r < rows; r++) {
            _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + (size_t)r * ldc + 16), _MM_HINT_T0);
        }
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        const __m512 a0 = _mm512_load_ps(v), a1 = _mm512_load_ps(v + 16);
        __m512 b;
#define RM_FMA(r, x0, x1)             \
    b = _mm512_set1_ps(s[r]);         \
    x0 = _mm512_fmadd_ps(a0, b, x0);  \
    x1 = _mm512_fmadd_ps(a1, b, x1);
        RM_FMA(0, c00, c01) RM_FMA(1, c10, c11) RM_FMA(2, c20, c21) RM_FMA(3, c30, c31)
        RM_FMA(4, c40, c41) RM_FMA(5, c50, c51) RM_FMA(6, c60, c61) RM_FMA(7, c70, c71)
        RM_FMA(8, c80, c81) RM_FMA(9, c90, c91) RM_FMA(10, ca0, ca1) RM_FMA(11, cb0, cb1)
#undef RM_FMA
        _mm_prefetch((const char *)(v + PREFETCH_K * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(v + PREFETCH_K * NR + 16), _MM_HINT_T0);
        v += NR;
        s += SK;
    }
    const __mmask16 m0 = lanes(cols), m1 = lanes(cols - 16);
    const float *bias = j->bias ? j->bias + j0 : NULL;
    const int g = last && j->gate;
#define RM_STORE(r, x0, x1)                                                                                              \
    if (r < rows) {                                                                                                      \
        float *cr = c + (size_t)(r) * ldc;                                                                               \
        const float *gr = g ? j->gate + (size_t)(i0 + r) * j->ldg + j0 : NULL;                                          \
        update(x0, cr, m0, mode, bias, j->beta, last, j->relu, gr);                                                      \
        if (m1) update(x1, cr + 16, m1, mode, bias ? bias + 16 : NULL, j->beta, last, j->relu, gr ? gr + 16 : NULL);    \
    }
    RM_STORE(0, c00, c01) RM_STORE(1, c10, c11) RM_STORE(2, c20, c21) RM_STORE(3, c30, c31)
    RM_STORE(4, c40, c41) RM_STORE(5, c50, c51) RM_STORE(6, c60, c61) RM_STORE(7, c70, c71)
    RM_STORE(8, c80, c81) RM_STORE(9, c90, c91) RM_STORE(10, ca0, ca1) RM_STORE(11, cb0, cb1)
#undef RM_STORE
}

/* ---- the two parallel phases ---- */

static void pack_s_task(const void *p, int t)
{
    const sg_job *j = p;
    const int first = t * S_TASK_PANELS, last = first + S_TASK_PANELS < j->m_panels ? first + S_TASK_PANELS : j->m_panels;
    /* transposing: panel by panel, each reading its rows start to end; copying: row by row */
    const int step = j->ta == CblasTrans ? last - first : 1;
    for (int ip = first; ip < last; ip += step)
        for (int kb = 0; kb < j->n_kb; kb++) {
            const int k0 = kb * KC, kc = j->K - k0 < KC ? j->K - k0 : KC;
            pack_s(j, ip, ip + step, k0, kc, j->S + (size_t)k0 * j->Mp);
        }
}

static void unit_task(const void *p, int u, int worker)
{
    const sg_job *j = p;
    const int jc = u % j->n_jc, rr = u / j->n_jc;
    const int j0 = jc * JC, cols = j->N - j0 < JC ? j->N - j0 : JC;
    const int ip0 = (int)((long long)j->m_panels * rr / j->n_rr), ip1 = (int)((long long)j->m_panels * (rr + 1) / j->n_rr);
    for (int kb = 0; kb < j->n_kb; kb++) {
        const int k0 = kb * KC, kc = j->K - k0 < KC ? j->K - k0 : KC;
        const int mode = kb == 0 ? j->init : INIT_ADD, last = kb == j->n_kb - 1;
        const float *V = j->packed_b ? j->packed_b + (size_t)k0 * j->Np + (size_t)j0 * kc : j->V[worker];
        if (!j->packed_b) pack_v(j, j0, cols, k0, kc, j->V[worker]);
        const float *S = j->S + (size_t)k0 * j->Mp;
        for (int ip = ip0; ip < ip1; ip++) {
            const int i0 = ip * MR, rows = j->M - i0 < MR ? j->M - i0 : MR;
            for (int jp = 0; jp * NR < cols; jp++) {
                const int jb = j0 + jp * NR;
                kernel(kc, S + (size_t)ip * SK * kc, V + (size_t)jp * NR * kc, j->C + (size_t)i0 * j->ldc + jb, j->ldc, rows,
                       j->N - jb < NR ? j->N - jb : NR, mode, last, j, i0, jb);
            }
        }
    }
}

/* ---- buffers: kept between products (an 8 MB allocation per product would fault its
 * pages in every time); one product at a time uses them, others get their own ---- */
static pthread_mutex_t buffers_mu = PTHREAD_MUTEX_INITIALIZER;
static float *s_buffer, *v_buffers[MAX_WORKERS];
static size_t s_capacity;
/* op(A) of the last RM_A_KEEP product, packed: the first layer's input of a forward, which
 * rm_mlp_forward_again scores with the next member without packing it again */
static float *kept_buffer;
static size_t kept_capacity;
static struct {
    const float *A;
    CBLAS_TRANSPOSE ta;
    int M, K, lda, valid;
} kept;

static float *grow(float **buffer, size_t *capacity, size_t n)
{
    if (n <= *capacity) return *buffer;
    free(*buffer);
    *buffer = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    *capacity = *buffer ? n : 0;
    return *buffer;
}

size_t rm_own_sgemm_packed_b_size(int N, int K)
{
    return N > 0 && K > 0 ? (size_t)((N + NR - 1) / NR * NR) * (size_t)K : 0;
}

int rm_own_sgemm_pack_b(CBLAS_TRANSPOSE tb, int N, int K, const float *B, int ldb, float *packed)
{
    if (N <= 0 || K <= 0 || ((uintptr_t)packed & 63)) return -1;
    sg_job j = {.tb = tb, .N = N, .K = K, .ldb = ldb, .B = B};
    const size_t Np = (size_t)(N + NR - 1) / NR * NR;
    for (int k0 = 0; k0 < K; k0 += KC) pack_v(&j, 0, N, k0, K - k0 < KC ? K - k0 : KC, packed + (size_t)k0 * Np);
    return 0;
}

int rm_own_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc, const float *bias, int relu, const float *gate,
                 int ldg, const rm_gemm_hints *hints)
{
    if (alpha != 1 || K <= 0) return -1;
    const float *packed_b = hints ? hints->packed_b : NULL;
    const int a_reuse = hints ? hints->a_reuse : RM_A_NONE;
    if (M <= 0 || N <= 0) return 0;
    sg_job j = {ta, tb, M, N, K, lda, ldb, ldc, ldg, A, B, bias, gate, beta, relu, 0, C, NULL, NULL, packed_b,
                (N + NR - 1) / NR * NR, 0, 0, 0, 0, 0};
    j.init = bias ? INIT_BIAS : beta == 0 ? INIT_ZERO : beta == 1 ? INIT_ADD : INIT_BETA;
    j.m_panels = (M + MR - 1) / MR;
    j.Mp = j.m_panels * SK;
    j.n_kb = (K + KC - 1) / KC;
    j.n_jc = (N + JC - 1) / JC;
    /* work units: column blocks, cut into row ranges too when they do not share out evenly
     * over the threads (each range packs the block's V again); performance only: the bits
     * are the same for any cut */
    int threads = rm_tiled_threads(), g = j.n_jc, t = threads;
    while (t) { int r = g % t; g = t; t = r; } /* g = gcd(n_jc, threads) */
    j.n_rr = threads / g;
    if (j.n_rr > j.m_panels) j.n_rr = j.m_panels;
    const size_t s_size = (size_t)j.Mp * (size_t)K;

    if (pthread_mutex_trylock(&buffers_mu) == 0) {
        static size_t v_capacity[MAX_WORKERS];
        int ok = grow(&s_buffer, &s_capacity, s_size) != NULL;
        int workers = threads < MAX_WORKERS ? threads : MAX_WORKERS;
        for (int w = 0; ok && w < workers; w++) ok = grow(&v_buffers[w], &v_capacity[w], (size_t)KC * JC) != NULL;
        const int same = a_reuse == RM_A_AGAIN && kept.valid && kept.A == A && kept.ta == ta && kept.M == M &&
                         kept.K == K && kept.lda == lda;
        if (ok && a_reuse != RM_A_NONE && !same) {
            kept.valid = 0;
            ok = grow(&kept_buffer, &kept_capacity, s_size) != NULL;
        }
        if (ok) {
            j.S = a_reuse != RM_A_NONE ? kept_buffer : s_buffer;
            j.V = v_buffers;
            if (!same) rm_tiled_run(pack_s_task, &j, (j.m_panels + S_TASK_PANELS - 1) / S_TASK_PANELS);
            if (a_reuse != RM_A_NONE && !same) {
                kept.A = A, kept.ta = ta, kept.M = M, kept.K = K, kept.lda = lda;
                kept.valid = 1;
            }
            rm_tiled_run_workers(unit_task, &j, j.n_jc * j.n_rr);
        }
        pthread_mutex_unlock(&buffers_mu);
        return ok ? 0 : -1;
    }
    /* another product holds the shared buffers (a call from inside a tile): alone, on
     * buffers of its own */
    float *S = aligned_alloc(64, (s_size * sizeof(float) + 63) / 64 * 64), *V = aligned_alloc(64, (size_t)KC * JC * sizeof(float));
    int rc = -1;
    if (S && V) {
        j.S = S;
        j.V = &V;
        for (int t = 0; t < (j.m_panels + S_TASK_PANELS - 1) / S_TASK_PANELS; t++) pack_s_task(&j, t);
        for (int u = 0; u < j.n_jc * j.n_rr; u++) unit_task(&j, u, 0);
        rc = 0;
    }
    free(S);
    free(V);
    return rc;
}

const char *rm_own_sgemm_name(void) { return "rmens avx512 sgemm"; }

#else /* no AVX-512: OpenBLAS under tiles (src/kernels/tiled_blas.c) */

const char *rm_own_sgemm_name(void) { return "openblas sgemm"; }

size_t rm_own_sgemm_packed_b_size(int N, int K)
{
    (void)N; (void)K;
    return 0;
}

int rm_own_sgemm_pack_b(CBLAS_TRANSPOSE tb, int N, int K, const float *B, int ldb, float *packed)
{
    (void)tb; (void)N; (void)K; (void)B; (void)ldb; (void)packed;
    return -1;
}

int rm_own_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc, const float *bias, int relu, const float *gate,
                 int ldg, const rm_gemm_hints *hints)
{
    (void)ta; (void)tb; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda; (void)B; (void)ldb;
    (void)beta; (void)C; (void)ldc; (void)bias; (void)relu; (void)gate; (void)ldg; (void)hints;
    return -1;
}

#endif
