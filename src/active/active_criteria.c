/* The selection criteria of rmens active and the global top-k (see include/rmens/active/active.h).
 *
 * Everything here is a function of the candidates' scores and features alone, so a
 * candidate's criterion does not depend on which rank holds it; the D-optimal initial
 * gains' products run in blocks fixed by the pool position, and the greedy's updates are
 * computed the same way wherever and whenever they are (dots), for the same reason. */
#include "rmens/active/active_criteria.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/base/rng.h"
#include "rmens/kernels/tiled_blas.h"

static const char *const NAMES[] = {"random", "entropy", "disagreement", "bald", "levelset", "dopt", "past_dopt"};
#define N_STRATEGIES (int)(sizeof NAMES / sizeof NAMES[0])

int rm_active_strategy_parse(const char *name, rm_active_strategy *out)
{
    for (int i = 0; i < N_STRATEGIES; i++)
        if (strcmp(name, NAMES[i]) == 0) {
            *out = (rm_active_strategy)i;
            return 0;
        }
    return rm_errorf("active.strategy = \"%s\": expected random, entropy, disagreement, bald, levelset, dopt or past_dopt",
                     name);
}

const char *rm_active_strategy_name(rm_active_strategy s) { return NAMES[s]; }

static double sigmoid(double d) { return 1.0 / (1.0 + exp(-d)); }

/* Binary entropy in nats; 0 at p = 0 or 1. */
static double entropy(double p)
{
    double h = 0;
    if (p > 0) h -= p * log(p);
    if (p < 1) h -= (1 - p) * log1p(-p);
    return h;
}

void rm_active_pointwise(rm_active_strategy s, const float *d, size_t stride, int E, size_t n, const uint32_t *ids,
                         uint64_t seed, int round, double *crit)
{
    for (size_t i = 0; i < n; i++) {
        if (s == RM_ACTIVE_RANDOM) {
            crit[i] = rm_rand_uniform(seed, RM_STREAM_ACTIVE, ((uint64_t)round << 32) | ids[i]);
            continue;
        }
        double mean_p = 0, mean_d = 0, mean_h = 0;
        for (int m = 0; m < E; m++) {
            double dm = d[(size_t)m * stride + i], p = sigmoid(dm);
            mean_d += dm;
            mean_p += p;
            mean_h += entropy(p);
        }
        mean_p /= E, mean_d /= E, mean_h /= E;
        double c = 0;
        switch (s) {
        case RM_ACTIVE_ENTROPY: c = entropy(mean_p); break;
        case RM_ACTIVE_BALD: c = entropy(mean_p) - mean_h; break;
        case RM_ACTIVE_LEVELSET: c = -fabs(mean_d); break;
        case RM_ACTIVE_DISAGREEMENT:
            for (int m = 0; m < E; m++) {
                double e = sigmoid(d[(size_t)m * stride + i]) - mean_p;
                c += e * e;
            }
            c /= E;
            break;
        default: break;
        }
        crit[i] = c;
    }
}

void rm_dopt_weights(const float *d, size_t stride, int E, size_t n, double *w)
{
    for (int m = 0; m < E; m++)
        for (size_t i = 0; i < n; i++) {
            double p = sigmoid(d[(size_t)m * stride + i]);
            w[(size_t)m * stride + i] = p * (1 - p);
        }
}

/* ---- the global top-k ---- */

static int pick_before(const rm_active_pick *a, const rm_active_pick *b)
{
    if (a->crit != b->crit) return a->crit > b->crit;
    return a->id < b->id;
}

static int pick_cmp(const void *pa, const void *pb)
{
    const rm_active_pick *a = pa, *b = pb;
    return pick_before(a, b) ? -1 : pick_before(b, a) ? 1 : 0;
}

int rm_active_top(MPI_Comm comm, const double *crit, const uint32_t *ids, const unsigned char *eligible, size_t n,
                  size_t k, rm_active_pick *out)
{
    int size;
    MPI_Comm_size(comm, &size);
    /* each rank's own best k (NaN criteria rank last: they are never above anything) */
    rm_active_pick *local = rm_alloc(n > k ? n : k ? k : 1, sizeof *local, "selection candidates"); /* padded to k */
    rm_active_pick *all = rm_alloc((size_t)size * k, sizeof *all, "selection candidates");
    int rc = local && all ? 0 : -1;
    size_t m = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!eligible || eligible[i]) local[m++] = (rm_active_pick){isnan(crit[i]) ? -INFINITY : crit[i], ids[i]};
    if (rc == 0) qsort(local, m, sizeof *local, pick_cmp);
    /* pad to k with "nothing" entries so that every rank sends k */
    for (size_t i = m; rc == 0 && i < k; i++) local[i] = (rm_active_pick){NAN, UINT32_MAX};
    if (rm_all_ok(comm, rc) != 0) {
        free(local), free(all);
        return -1;
    }
    MPI_Datatype t;
    MPI_Type_contiguous((int)sizeof(rm_active_pick), MPI_BYTE, &t);
    MPI_Type_commit(&t);
    MPI_Allgather(local, (int)k, t, all, (int)k, t, comm);
    MPI_Type_free(&t);
    size_t valid = 0;
    for (size_t i = 0; i < (size_t)size * k; i++)
        if (all[i].id != UINT32_MAX) all[valid++] = all[i];
    qsort(all, valid, sizeof *all, pick_cmp);
    if (valid < k) rc = rm_errorf("selection: %zu eligible candidates for a batch of %zu", valid, k);
    else memcpy(out, all, k * sizeof *out);
    free(local), free(all);
    return rc;
}

/* ---- D-optimal ---- */

/* In-place inverse of the symmetric positive definite a[H*H] through its Cholesky
 * factor (double; H^3 / 2 once per member and round). */
static int spd_inverse(double *a, int H)
{
    for (int j = 0; j < H; j++) { /* a = L L^T, L in the lower triangle */
        double s = a[(size_t)j * H + j];
        for (int k = 0; k < j; k++) s -= a[(size_t)j * H + k] * a[(size_t)j * H + k];
        if (!(s > 0)) return rm_errorf("active.dopt_ridge: the information matrix is not positive definite (pivot %d)", j);
        double l = sqrt(s);
        a[(size_t)j * H + j] = l;
        for (int i = j + 1; i < H; i++) {
            double t = a[(size_t)i * H + j];
            for (int k = 0; k < j; k++) t -= a[(size_t)i * H + k] * a[(size_t)j * H + k];
            a[(size_t)i * H + j] = t / l;
        }
    }
    /* L^-1 into the lower triangle, then a = L^-T L^-1 */
    for (int j = 0; j < H; j++) {
        a[(size_t)j * H + j] = 1.0 / a[(size_t)j * H + j];
        for (int i = j + 1; i < H; i++) {
            double t = 0;
            for (int k = j; k < i; k++) t -= a[(size_t)i * H + k] * a[(size_t)k * H + j];
            a[(size_t)i * H + j] = t / a[(size_t)i * H + i];
        }
    }
    for (int i = 0; i < H; i++)
        for (int j = 0; j <= i; j++) {
            double t = 0;
            for (int k = i; k < H; k++) t += a[(size_t)k * H + i] * a[(size_t)k * H + j];
            a[(size_t)j * H + i] = t; /* upper triangle first: the lower one is still read */
        }
    for (int i = 0; i < H; i++)
        for (int j = 0; j < i; j++) a[(size_t)i * H + j] = a[(size_t)j * H + i];
    return 0;
}

int rm_dopt_start(int E, int H, size_t n_lab, const float *x_lab, const double *w_lab, double ridge, double *minv)
{
    const size_t HH = (size_t)H * H, rows = 256;
    double *scaled = rm_alloc(rows * (size_t)H, sizeof(double), "scaled features");
    if (!scaled) return -1;
    int rc = 0;
    for (int m = 0; m < E && rc == 0; m++) {
        double *a = minv + (size_t)m * HH;
        memset(a, 0, HH * sizeof(double));
        for (int h = 0; h < H; h++) a[(size_t)h * H + h] = n_lab ? ridge : 1.0 / ridge; /* dopt: no inverse to take */
        if (!n_lab) continue;
        /* M += X^T W X in blocks of rows: sqrt(w) x rows, one rank-k update each */
        for (size_t j0 = 0; j0 < n_lab; j0 += rows) {
            size_t nb = n_lab - j0 < rows ? n_lab - j0 : rows;
            for (size_t j = 0; j < nb; j++) {
                double s = sqrt(w_lab[(size_t)m * n_lab + j0 + j]);
                const float *x = x_lab + ((size_t)m * n_lab + j0 + j) * (size_t)H;
                for (int h = 0; h < H; h++) scaled[j * (size_t)H + h] = s * x[h];
            }
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, H, (int)nb, 1.0, scaled, H, 1.0, a, H);
        }
        for (int i = 0; i < H; i++) /* dsyrk filled the lower triangle */
            for (int j = i + 1; j < H; j++) a[(size_t)i * H + j] = a[(size_t)j * H + i];
        rc = spd_inverse(a, H);
    }
    free(scaled);
    return rc;
}

/* a . b of floats in double, eight partial sums (the compiler keeps them in a register). */
static double dot_fd(const float *a, const float *b, int H)
{
    double acc[8] = {0};
    int h = 0;
    for (; h + 8 <= H; h += 8)
        for (int l = 0; l < 8; l++) acc[l] += (double)a[h + l] * b[h + l];
    for (; h < H; h++) acc[h % 8] += (double)a[h] * b[h];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* c when a[H*H] is c times the identity (dopt's start), else NaN. */
static double scaled_identity(const double *a, int H)
{
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++)
            if (a[(size_t)i * H + j] != (i == j ? a[0] : 0.0)) return NAN;
    return a[0];
}

#define GAIN_CHUNK (16 * RM_DOPT_BLOCK) /* rows of Y = X minv at a time (4 MB at H = 512) */

/* g[m * n + i] = w x^T minv x for every candidate. With minv = c I only the squared
 * norms; otherwise Y = X minv (a float copy of minv) in chunks of whole RM_DOPT_BLOCKs
 * by rm_tiled_sgemm (the threads), whose tiles then fall on the same pool rows for any
 * rank count, and each row's dot product with its features. */
static int initial_gains(const rm_dopt_pool *p, const double *minv, double *g)
{
    const int H = p->H;
    const size_t HH = (size_t)H * H;
    float *mf = rm_alloc(HH, sizeof(float), "inverse information"), *y = rm_alloc((size_t)GAIN_CHUNK * H, sizeof(float), "gains");
    if (!mf || !y) {
        free(mf), free(y);
        return -1;
    }
    for (int m = 0; m < p->E; m++) {
        const float *xm = p->x + (size_t)m * p->n * H;
        const double *wm = p->w + (size_t)m * p->n, c = scaled_identity(minv + (size_t)m * HH, H);
        if (!isnan(c)) {
            for (size_t i = 0; i < p->n; i++) g[(size_t)m * p->n + i] = wm[i] * (c * dot_fd(xm + i * H, xm + i * H, H));
            continue;
        }
        for (size_t e = 0; e < HH; e++) mf[e] = (float)minv[(size_t)m * HH + e];
        for (size_t i0 = 0; i0 < p->n; i0 += GAIN_CHUNK) {
            size_t nb = p->n - i0 < GAIN_CHUNK ? p->n - i0 : GAIN_CHUNK;
            const float *x = xm + i0 * H;
            rm_tiled_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, H, H, 1.0f, x, H, mf, H, 0.0f, y, H);
            for (size_t i = 0; i < nb; i++) g[(size_t)m * p->n + i0 + i] = wm[i0 + i] * dot_fd(y + i * H, x + i * H, H);
        }
    }
    free(mf), free(y);
    return 0;
}

/* The greedy picks, lazily with periodic syncs. Picking j changes every gain by a rank-1
 * update, g_mi -= w_mi s_mt (x_mi . u_mt)^2 with u_mt = M_m^-1 x_mj before the pick t
 * and s_mt = w_mj / (1 + w_mj x_mj . u_mt), so gains only decrease. A candidate keeps
 * its gains as of the pick it was last brought up to date at (`done`), and their mean
 * over members bounds its current mean gain from above: a max-heap by that bound (ties:
 * pair index) needs only its top brought up to date until the top is current, which is
 * then the rank's exact best (Minoux's lazy greedy). Every DOPT_SYNC picks all open
 * candidates are brought up to date together: the pool's features are read once for
 * DOPT_SYNC picks, in 8 x 2 blocks of candidates x picks (the O(batch x pool x H) of the
 * greedy, at the rate of a matrix product, over the threads), and the catch-ups between
 * syncs stay short. Bringing a candidate up to date replays the missed updates from the
 * history of (u, s) in pick order, with products that are the same bits however they are
 * computed (dots), so the gains, and so the picks, are those of an eager update after
 * every pick, bit for bit, for any rank or thread count and any schedule. Floating-point
 * subtraction of a non-negative term never increases a gain, and sums are monotone, so
 * the bounds hold in floating point too. */
#define DOPT_SYNC 64
typedef struct {
    const rm_dopt_pool *p;
    size_t k, t;          /* capacity of the history, picks so far */
    double *g;            /* [E][n] gains as of done[i] picks */
    double *bound;        /* [n] mean over members of g (NaN as -inf) */
    size_t *done;         /* [n] */
    size_t *heap, n_heap; /* open candidates, max-heap by (bound, -id) */
    unsigned char *open;  /* [n] eligible and not picked */
    float *uh;            /* [E][k][H] u_mt in float (the history) */
    double *sh;           /* [E][k] s_mt */
    float *v;             /* [threads][DOTS_NX][DOPT_SYNC] scratch: x . u over the missed picks */
} dopt_lazy;

/* ---- x . u, the same bits wherever it is computed ----
 * Every product x_mi . u_mt is a float sum of single-rounding multiply-adds into 16 lanes
 * (h mod 16, in h order, the tail zero-padded), then the fixed tree (l, l+8), (l, l+4),
 * (l, l+2), (l, l+1). Candidates brought up to date alone, or all of them after a sync,
 * on any rank or thread, get the same products and so the same gains. Blocks of NX
 * candidates x NU picks share the loads (8 x 2: 16 accumulators in registers). */
#ifdef __AVX512F__
#include <immintrin.h>
static inline float lane_tree(__m512 v)
{
    __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 a4 = _mm_add_ps(_mm256_castps256_ps128(a8), _mm256_extractf128_ps(a8, 1));
    __m128 a2 = _mm_add_ps(a4, _mm_movehl_ps(a4, a4));
    return _mm_cvtss_f32(_mm_add_ss(a2, _mm_shuffle_ps(a2, a2, 1)));
}

/* The tree of sixteen accumulators at once (a transposed reduction: the same additions
 * as lane_tree's, 15 adds and 30 shuffles for 16 sums): out[i] = lane_tree(v[i]). */
static inline void lane_tree16(const __m512 *v, float *out)
{
    __m512 r8[8], r4[4], r2[2], r1, t, u;
    for (int i = 0; i < 8; i++) /* (l, l+8): v[2i] in lanes 0-7, v[2i+1] in 8-15 */
        r8[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xee));
    for (int i = 0; i < 4; i++) /* (l, l+4): 128-bit block q holds v[4i+q] */
        r4[i] = _mm512_add_ps(_mm512_shuffle_f32x4(r8[2 * i], r8[2 * i + 1], 0x88), _mm512_shuffle_f32x4(r8[2 * i], r8[2 * i + 1], 0xdd));
    for (int i = 0; i < 2; i++) { /* (l, l+2) in each block */
        t = _mm512_shuffle_ps(r4[2 * i], r4[2 * i + 1], 0x44), u = _mm512_shuffle_ps(r4[2 * i], r4[2 * i + 1], 0xee);
        r2[i] = _mm512_add_ps(t, u);
    }
    /* (l, l+1): lane 4q + j is v[4j + q] */
    r1 = _mm512_add_ps(_mm512_shuffle_ps(r2[0], r2[1], 0x88), _mm512_shuffle_ps(r2[0], r2[1], 0xdd));
    float lanes[16];
    _mm512_storeu_ps(lanes, r1);
    for (int q = 0; q < 4; q++)
        for (int j = 0; j < 4; j++) out[4 * j + q] = lanes[4 * q + j];
}

static inline __attribute__((always_inline)) void dots_kernel(const float *const *x, const float *u, size_t H, int NX, int NU,
                                                              float *out, size_t ldo)
{
    __m512 acc[8][4];
    for (int a = 0; a < NX; a++)
        for (int b = 0; b < NU; b++) acc[a][b] = _mm512_setzero_ps();
    size_t h = 0;
    for (; h + 16 <= H; h += 16) { /* unmasked: the masks' computation costs a third */
        __m512 uv[4];
        for (int b = 0; b < NU; b++) uv[b] = _mm512_loadu_ps(u + (size_t)b * H + h);
        for (int a = 0; a < NX; a++) {
            __m512 xv = _mm512_loadu_ps(x[a] + h);
            for (int b = 0; b < NU; b++) acc[a][b] = _mm512_fmadd_ps(xv, uv[b], acc[a][b]);
        }
    }
    if (h < H) { /* the tail, zero-padded */
        __mmask16 k = (__mmask16)((1u << (H - h)) - 1);
        __m512 uv[4];
        for (int b = 0; b < NU; b++) uv[b] = _mm512_maskz_loadu_ps(k, u + (size_t)b * H + h);
        for (int a = 0; a < NX; a++) {
            __m512 xv = _mm512_maskz_loadu_ps(k, x[a] + h);
            for (int b = 0; b < NU; b++) acc[a][b] = _mm512_fmadd_ps(xv, uv[b], acc[a][b]);
        }
    }
    if (NX * NU == 16) {
        __m512 v[16];
        float r[16];
        for (int a = 0; a < NX; a++)
            for (int b = 0; b < NU; b++) v[a * NU + b] = acc[a][b];
        lane_tree16(v, r);
        for (int a = 0; a < NX; a++)
            for (int b = 0; b < NU; b++) out[(size_t)a * ldo + b] = r[a * NU + b];
        return;
    }
    for (int a = 0; a < NX; a++)
        for (int b = 0; b < NU; b++) out[(size_t)a * ldo + b] = lane_tree(acc[a][b]);
}
#else
static inline void dots_kernel(const float *const *x, const float *u, size_t H, int NX, int NU, float *out, size_t ldo)
{
    for (int a = 0; a < NX; a++)
        for (int b = 0; b < NU; b++) {
            float acc[16] = {0};
            for (size_t h = 0; h < H; h += 16)
                for (size_t l = 0; l < 16; l++)
                    acc[l] = fmaf(h + l < H ? x[a][h + l] : 0.0f, h + l < H ? u[(size_t)b * H + h + l] : 0.0f, acc[l]);
            for (int w = 8; w > 0; w /= 2)
                for (int l = 0; l < w; l++) acc[l] += acc[l + w];
            out[(size_t)a * ldo + b] = acc[0];
        }
}
#endif

/* out[a * ldo + j] = x[a] . u_j for nx (1 or DOTS_NX) candidates and the n_u consecutive
 * u. 8 candidates x 2 picks a block: the u (the larger stream) are loaded once for 8
 * candidates' multiply-adds. */
#define DOTS_NX 8
static void dots(const float *const *x, int nx, const float *u, size_t H, size_t n_u, float *out, size_t ldo)
{
    size_t j = 0;
    if (nx == DOTS_NX) {
        for (; j + 2 <= n_u; j += 2) dots_kernel(x, u + j * H, H, DOTS_NX, 2, out + j, ldo);
        for (; j < n_u; j++) dots_kernel(x, u + j * H, H, DOTS_NX, 1, out + j, ldo);
        return;
    }
    for (; j + 4 <= n_u; j += 4) dots_kernel(x, u + j * H, H, 1, 4, out + j, ldo);
    for (; j < n_u; j++) dots_kernel(x, u + j * H, H, 1, 1, out + j, ldo);
}

/* Member m's missed updates of candidates c[0 .. nx) (nx <= DOTS_NX), each from its done to
 * s->t - 1, with v[a * DOPT_SYNC + t - t0] = x_m,c[a] . u_mt; the candidates interleaved
 * (independent chains), the updates of each in pick order. fma: a single rounding, so no
 * compiler's contraction can make the same update differ between callers. */
static void apply_updates(dopt_lazy *s, int m, const size_t *c, size_t nx, size_t t0, const float *v)
{
    const size_t n = s->p->n;
    const double *sh = s->sh + (size_t)m * s->k;
    double g[DOTS_NX], w[DOTS_NX];
    size_t from[DOTS_NX];
    for (size_t a = 0; a < nx; a++)
        g[a] = s->g[(size_t)m * n + c[a]], w[a] = s->p->w[(size_t)m * n + c[a]], from[a] = s->done[c[a]];
    for (size_t t = t0; t < s->t; t++)
        for (size_t a = 0; a < nx; a++) {
            const double vv = v[a * DOPT_SYNC + t - t0];
            if (t >= from[a]) g[a] = fma(-(w[a] * sh[t] * vv), vv, g[a]);
        }
    for (size_t a = 0; a < nx; a++) s->g[(size_t)m * n + c[a]] = g[a];
}

static void finish_candidate(dopt_lazy *s, size_t i)
{
    double sum = 0;
    for (int m = 0; m < s->p->E; m++) sum += s->g[(size_t)m * s->p->n + i];
    s->done[i] = s->t;
    s->bound[i] = isnan(sum) ? -INFINITY : sum / s->p->E;
}

/* Candidate i's gains after all s->t picks (between syncs: fewer than DOPT_SYNC missed);
 * v: DOPT_SYNC floats of scratch. */
static void bring_up_to_date(dopt_lazy *s, size_t i, float *v)
{
    const rm_dopt_pool *p = s->p;
    const size_t H = (size_t)p->H, t0 = s->done[i];
    for (int m = 0; m < p->E; m++) {
        const float *x = p->x + ((size_t)m * p->n + i) * H;
        dots(&x, 1, s->uh + ((size_t)m * s->k + t0) * H, H, s->t - t0, v, DOPT_SYNC);
        apply_updates(s, m, &i, 1, t0, v);
    }
    finish_candidate(s, i);
}

/* A sync's tile: the open candidates of [tile * SYNC_TILE, ...) brought up to date, in
 * pool order (the features stream from memory), DOTS_NX at a time over the picks since
 * the oldest one's. */
#define SYNC_TILE 256
static void sync_tile(const void *job, int tile, int worker)
{
    dopt_lazy *s = (dopt_lazy *)job;
    const rm_dopt_pool *p = s->p;
    const size_t H = (size_t)p->H, i1 = (size_t)(tile + 1) * SYNC_TILE < p->n ? (size_t)(tile + 1) * SYNC_TILE : p->n;
    float *v = s->v + (size_t)worker * DOTS_NX * DOPT_SYNC;
    for (size_t i = (size_t)tile * SYNC_TILE; i < i1;) {
        size_t c[DOTS_NX], nx = 0, t0 = s->t;
        for (; nx < DOTS_NX && i < i1; i++)
            if (s->open[i] && s->done[i] < s->t) c[nx++] = i, t0 = s->done[i] < t0 ? s->done[i] : t0;
        for (int m = 0; nx > 0 && m < p->E; m++) {
            const float *x[DOTS_NX];
            for (size_t a = 0; a < nx; a++) x[a] = p->x + ((size_t)m * p->n + c[a]) * H;
            for (size_t a0 = 0; a0 < nx; a0 += nx == DOTS_NX ? DOTS_NX : 1) /* fewer left: one at a time */
                dots(x + a0, nx == DOTS_NX ? DOTS_NX : 1, s->uh + ((size_t)m * s->k + t0) * H, H, s->t - t0,
                     v + a0 * DOPT_SYNC, DOPT_SYNC);
            apply_updates(s, m, c, nx, t0, v);
        }
        for (size_t a = 0; a < nx; a++) finish_candidate(s, c[a]);
    }
}

/* ---- the heap of open candidates ---- */

static int lazy_before(const dopt_lazy *s, size_t a, size_t b)
{
    if (s->bound[a] != s->bound[b]) return s->bound[a] > s->bound[b];
    return s->p->ids[a] < s->p->ids[b];
}

static void sift_down(dopt_lazy *s, size_t pos)
{
    size_t *h = s->heap, x = h[pos];
    for (;;) {
        size_t c = 2 * pos + 1;
        if (c >= s->n_heap) break;
        if (c + 1 < s->n_heap && lazy_before(s, h[c + 1], h[c])) c++;
        if (!lazy_before(s, h[c], x)) break;
        h[pos] = h[c], pos = c;
    }
    h[pos] = x;
}

/* The rank's best open candidate by its current mean gain (SIZE_MAX: none). */
static size_t lazy_best(dopt_lazy *s)
{
    while (s->n_heap > 0 && s->done[s->heap[0]] != s->t) {
        bring_up_to_date(s, s->heap[0], s->v);
        sift_down(s, 0);
    }
    return s->n_heap > 0 ? s->heap[0] : SIZE_MAX;
}

/* Every open candidate up to date (over the threads), and the heap rebuilt. */
static void sync_all(dopt_lazy *s)
{
    rm_tiled_run_workers(sync_tile, s, (int)((s->p->n + SYNC_TILE - 1) / SYNC_TILE));
    for (size_t j = s->n_heap / 2; j-- > 0;) sift_down(s, j);
}

/* ---- the picks ---- */

/* After the pick t of features xj [E][H] and weights wj [E]: u_mt and s_mt into the
 * history. M_m^-1's Sherman-Morrison update of the previous pick (u_prev, s of t - 1)
 * is fused into the pass that multiplies by xj: one read and write of M^-1 a pick, in
 * tiles of PICK_ROWS rows over the threads (xd[m][0 .. H) = xj, xd[m][H + r] = u_r). */
#define PICK_ROWS 64
typedef struct {
    const dopt_lazy *s;
    double *minv, *xd;
    const double *u_prev;
} pick_job;

static void pick_rows(const void *job, int tile)
{
    const pick_job *j = job;
    const int H = j->s->p->H, per = (H + PICK_ROWS - 1) / PICK_ROWS, m = tile / per, r0 = tile % per * PICK_ROWS;
    const int r1 = r0 + PICK_ROWS < H ? r0 + PICK_ROWS : H;
    const double sp = j->s->t > 0 ? j->s->sh[(size_t)m * j->s->k + j->s->t - 1] : 0, *up = j->u_prev + (size_t)m * H;
    double *xd = j->xd + (size_t)m * 2 * H;
    for (int r = r0; r < r1; r++) {
        double *row = j->minv + ((size_t)m * H + r) * H, acc[8] = {0}, c = -sp * up[r];
        int h = 0;
        for (; h + 8 <= H; h += 8)
            for (int l = 0; l < 8; l++) {
                row[h + l] += c * up[h + l];
                acc[l] += row[h + l] * xd[h + l];
            }
        for (; h < H; h++) {
            row[h] += c * up[h];
            acc[h % 8] += row[h] * xd[h];
        }
        xd[H + r] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
}

static void record_pick(dopt_lazy *s, double *minv, const float *xj, const double *wj, double *u_prev, double *xd)
{
    const int H = s->p->H, E = s->p->E;
    for (size_t e = 0; e < (size_t)E * H; e++) xd[e / H * 2 * H + e % H] = xj[e];
    pick_job job = {s, minv, xd, u_prev};
    rm_tiled_run(pick_rows, &job, E * ((H + PICK_ROWS - 1) / PICK_ROWS));
    for (int m = 0; m < E; m++) { /* u_prev is read by every tile: replaced after them */
        const double *x = xd + (size_t)m * 2 * H, *u = x + H;
        double q = 0;
        float *uf = s->uh + ((size_t)m * s->k + s->t) * (size_t)H;
        for (int h = 0; h < H; h++) q += u[h] * x[h], u_prev[(size_t)m * H + h] = u[h], uf[h] = (float)u[h];
        s->sh[(size_t)m * s->k + s->t] = wj[m] / (1 + wj[m] * q);
    }
    s->t++;
}

/* minv after the last pick: the Sherman-Morrison update record_pick left pending. */
static void finish_minv(const dopt_lazy *s, double *minv, const double *u_prev)
{
    const int H = s->p->H;
    for (int m = 0; s->t > 0 && m < s->p->E; m++)
        cblas_dger(CblasRowMajor, H, H, -s->sh[(size_t)m * s->k + s->t - 1], u_prev + (size_t)m * H, 1,
                   u_prev + (size_t)m * H, 1, minv + (size_t)m * H * H, H);
}

/* Collective: the global best of the ranks' best (gathered in rank order, so every rank
 * takes the same) into *best; the owning rank into *owner (-1: no open candidate left). */
static void global_best(MPI_Comm comm, const dopt_lazy *s, size_t local, rm_active_pick *best, int *owner)
{
    int size;
    MPI_Comm_size(comm, &size);
    rm_active_pick mine = {NAN, UINT32_MAX}, all[size];
    if (local != SIZE_MAX) mine = (rm_active_pick){s->bound[local], s->p->ids[local]};
    MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, comm);
    *owner = -1;
    for (int r = 0; r < size; r++)
        if (all[r].id != UINT32_MAX && (*owner < 0 || pick_before(&all[r], best))) *best = all[r], *owner = r;
}

static int lazy_init(dopt_lazy *s, const rm_dopt_pool *p, size_t k)
{
    const size_t n1 = p->n ? p->n : 1;
    memset(s, 0, sizeof *s);
    s->p = p, s->k = k ? k : 1;
    s->g = rm_alloc((size_t)p->E * n1, sizeof(double), "D-optimal gains");
    s->bound = rm_alloc(n1, sizeof(double), "D-optimal gains");
    s->done = rm_calloc(n1, sizeof(size_t), "D-optimal candidates");
    s->heap = rm_alloc(n1, sizeof(size_t), "D-optimal candidates");
    s->open = rm_alloc(n1, 1, "D-optimal candidates");
    s->uh = rm_alloc((size_t)p->E * s->k * (size_t)p->H, sizeof(float), "D-optimal history");
    s->sh = rm_alloc((size_t)p->E * s->k, sizeof(double), "D-optimal history");
    s->v = rm_alloc((size_t)rm_tiled_threads() * DOTS_NX * DOPT_SYNC, sizeof(float), "D-optimal update");
    return s->g && s->bound && s->done && s->heap && s->open && s->uh && s->sh && s->v ? 0 : -1;
}

static void lazy_free(dopt_lazy *s) { free(s->g), free(s->bound), free(s->done), free(s->heap), free(s->open), free(s->uh), free(s->sh), free(s->v); }

/* The heap of the open candidates by their initial mean gains. */
static void lazy_start(dopt_lazy *s)
{
    const rm_dopt_pool *p = s->p;
    for (size_t i = 0; i < p->n; i++) {
        double sum = 0;
        for (int m = 0; m < p->E; m++) sum += s->g[(size_t)m * p->n + i];
        s->bound[i] = isnan(sum) ? -INFINITY : sum / p->E;
        s->open[i] = !p->eligible || p->eligible[i];
        if (s->open[i]) s->heap[s->n_heap++] = i;
    }
    for (size_t j = s->n_heap / 2; j-- > 0;) sift_down(s, j);
}

int rm_dopt_greedy(MPI_Comm comm, const rm_dopt_pool *p, double *minv, size_t k, rm_active_pick *out)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    const int E = p->E, H = p->H;
    dopt_lazy s;
    int rc = lazy_init(&s, p, k);
    float *xj = rm_alloc((size_t)E * H, sizeof(float), "D-optimal update");
    double *wj = rm_alloc((size_t)E, sizeof(double), "D-optimal update");
    double *u_prev = rm_calloc((size_t)E * H, sizeof(double), "D-optimal update");
    double *xd = rm_alloc((size_t)E * H * 2, sizeof(double), "D-optimal update");
    if (!xj || !wj || !u_prev || !xd) rc = -1;
    if (rc == 0) rc = initial_gains(p, minv, s.g);
    rc = rm_all_ok(comm, rc);
    if (rc == 0) lazy_start(&s);
    for (size_t pick = 0; rc == 0 && pick < k; pick++) {
        if (pick > 0 && (p->eager || pick % DOPT_SYNC == 0)) sync_all(&s);
        size_t local = lazy_best(&s);
        int owner;
        global_best(comm, &s, local, &out[pick], &owner);
        if (owner < 0) {
            rc = rm_errorf("selection: %zu eligible candidates for a batch of %zu", pick, k);
            break;
        }
        if (rank == owner) { /* it sends the features and weights, and closes the candidate */
            for (int m = 0; m < E; m++) {
                memcpy(xj + (size_t)m * H, p->x + ((size_t)m * p->n + local) * (size_t)H, (size_t)H * sizeof(float));
                wj[m] = p->w[(size_t)m * p->n + local];
            }
            s.open[local] = 0;
            s.heap[0] = s.heap[--s.n_heap];
            sift_down(&s, 0);
        }
        MPI_Bcast(xj, E * H, MPI_FLOAT, owner, comm);
        MPI_Bcast(wj, E, MPI_DOUBLE, owner, comm);
        record_pick(&s, minv, xj, wj, u_prev, xd);
    }
    if (rc == 0) finish_minv(&s, minv, u_prev);
    lazy_free(&s);
    free(xj), free(wj), free(u_prev), free(xd);
    return rc;
}
