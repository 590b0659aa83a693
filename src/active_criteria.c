/* The selection criteria of rmens active and the global top-k (see include/rmens/active.h).
 *
 * Everything here is a function of the candidates' scores and features alone, so a
 * candidate's criterion does not depend on which rank holds it; the D-optimal products
 * run in blocks fixed by the pool position for the same reason. */
#include "rmens/active.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/common.h"
#include "rmens/parallel.h"
#include "rmens/rng.h"

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
        for (int h = 0; h < H; h++) a[(size_t)h * H + h] = ridge;
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

/* g[m * n + i] = w x^T minv x for every candidate: Y = X minv per block (sgemm on a
 * float copy of minv), then each row's dot product with its features. */
static int initial_gains(const rm_dopt_pool *p, const double *minv, double *g)
{
    const int H = p->H;
    const size_t HH = (size_t)H * H;
    float *mf = rm_alloc(HH, sizeof(float), "inverse information"), *y = rm_alloc((size_t)RM_DOPT_BLOCK * H, sizeof(float), "gains");
    if (!mf || !y) {
        free(mf), free(y);
        return -1;
    }
    for (int m = 0; m < p->E; m++) {
        for (size_t e = 0; e < HH; e++) mf[e] = (float)minv[(size_t)m * HH + e];
        for (size_t i0 = 0; i0 < p->n; i0 += RM_DOPT_BLOCK) {
            size_t nb = p->n - i0 < RM_DOPT_BLOCK ? p->n - i0 : RM_DOPT_BLOCK;
            const float *x = p->x + ((size_t)m * p->n + i0) * (size_t)H;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, H, H, 1.0f, x, H, mf, H, 0.0f, y, H);
            for (size_t i = 0; i < nb; i++) {
                double s = 0;
                for (int h = 0; h < H; h++) s += (double)y[i * (size_t)H + h] * x[i * (size_t)H + h];
                g[(size_t)m * p->n + i0 + i] = p->w[(size_t)m * p->n + i0 + i] * s;
            }
        }
    }
    free(mf), free(y);
    return 0;
}

/* After picking the candidate with features xj (per member) and weights wj: every gain's
 * rank-1 update, g_i -= w_i wj (x_i^T u)^2 / (1 + wj xj^T u) with u = minv xj (before
 * the pick), then minv's Sherman-Morrison update. */
static void update_after_pick(const rm_dopt_pool *p, double *minv, double *g, const float *xj, const double *wj,
                              double *u, float *uf, float *v)
{
    const int H = p->H;
    const size_t HH = (size_t)H * H;
    for (int m = 0; m < p->E; m++) {
        double *a = minv + (size_t)m * HH;
        const float *x = xj + (size_t)m * H;
        double q = 0;
        for (int r = 0; r < H; r++) {
            double s = 0;
            for (int c = 0; c < H; c++) s += a[(size_t)r * H + c] * x[c];
            u[r] = s;
            uf[r] = (float)s;
            q += s * x[r];
        }
        const double scale = wj[m] / (1 + wj[m] * q);
        for (size_t i0 = 0; i0 < p->n; i0 += RM_DOPT_BLOCK) {
            size_t nb = p->n - i0 < RM_DOPT_BLOCK ? p->n - i0 : RM_DOPT_BLOCK;
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nb, H, 1.0f, p->x + ((size_t)m * p->n + i0) * (size_t)H, H, uf, 1,
                        0.0f, v, 1);
            for (size_t i = 0; i < nb; i++)
                g[(size_t)m * p->n + i0 + i] -= p->w[(size_t)m * p->n + i0 + i] * scale * (double)v[i] * (double)v[i];
        }
        cblas_dger(CblasRowMajor, H, H, -scale, u, 1, u, 1, a, H);
    }
}

int rm_dopt_greedy(MPI_Comm comm, const rm_dopt_pool *p, double *minv, size_t k, rm_active_pick *out)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const int E = p->E, H = p->H;
    double *g = rm_alloc((size_t)E * (p->n ? p->n : 1), sizeof(double), "D-optimal gains");
    double *mean = rm_alloc(p->n ? p->n : 1, sizeof(double), "D-optimal gains");
    unsigned char *open = rm_alloc(p->n ? p->n : 1, 1, "D-optimal candidates");
    double *u = rm_alloc((size_t)H + (size_t)E, sizeof(double), "D-optimal update");
    float *uf = rm_alloc((size_t)H * 2 + RM_DOPT_BLOCK + (size_t)E * H, sizeof(float), "D-optimal update");
    int rc = g && mean && open && u && uf ? 0 : -1;
    if (rc == 0) rc = initial_gains(p, minv, g);
    for (size_t i = 0; rc == 0 && i < p->n; i++) open[i] = !p->eligible || p->eligible[i];
    rc = rm_all_ok(comm, rc);
    float *v = uf + H, *xj = uf + H + RM_DOPT_BLOCK;
    double *wj = u + H;
    for (size_t pick = 0; rc == 0 && pick < k; pick++) {
        for (size_t i = 0; i < p->n; i++) {
            double s = 0;
            for (int m = 0; m < E; m++) s += g[(size_t)m * p->n + i];
            mean[i] = s / E;
        }
        rm_active_pick best;
        if ((rc = rm_active_top(comm, mean, p->ids, open, p->n, 1, &best)) != 0) break;
        out[pick] = best;
        /* its owner: the rank holding that id; it sends the features and weights */
        size_t local = p->n;
        for (size_t i = 0; i < p->n; i++)
            if (p->ids[i] == best.id && open[i]) local = i;
        int owner = local < p->n ? rank : size;
        MPI_Allreduce(MPI_IN_PLACE, &owner, 1, MPI_INT, MPI_MIN, comm);
        if (rank == owner) {
            open[local] = 0;
            for (int m = 0; m < E; m++) {
                memcpy(xj + (size_t)m * H, p->x + ((size_t)m * p->n + local) * (size_t)H, (size_t)H * sizeof(float));
                wj[m] = p->w[(size_t)m * p->n + local];
            }
        }
        MPI_Bcast(xj, E * H, MPI_FLOAT, owner, comm);
        MPI_Bcast(wj, E, MPI_DOUBLE, owner, comm);
        update_after_pick(p, minv, g, xj, wj, u, uf, v);
    }
    free(g), free(mean), free(open), free(u), free(uf);
    return rc;
}
