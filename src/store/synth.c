/* The synthetic store (see include/rmens/store/synth.h for the model). */
#include "rmens/store/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/base/progress.h"
#include "rmens/base/rng.h"
#include "rmens/store/store.h"

#define SYNTH_HIDDEN 16
#define SYNTH_PROMPT_SCATTER 0.5
#define SYNTH_OFFSET_SCALE 0.4
#define SYNTH_TANH_GAIN 2.0
#define SYNTH_INTERACTION 0.7
#define SYNTH_PIECE_BYTES ((size_t)32 << 20) /* generated per rank per collective write */

/* Sub-streams of RM_STREAM_SYNTH_TOPIC (the hidden parameters), in the stream's high half. */
#define SUB(stream, sub) ((uint64_t)(stream) | ((uint64_t)(sub) << 32))
enum { HIDDEN_CENTRES = 0, HIDDEN_W = 1, HIDDEN_B = 2, HIDDEN_A = 3, HIDDEN_U = 4 };

typedef struct {
    uint64_t seed;
    size_t dim, topics;
    double noise, norm; /* norm = 1 / sqrt(D * s2) */
    double *centres;    /* [topics, D] */
    double *w;          /* [H, D] */
    double *u;          /* [2, D] */
    double a[SYNTH_HIDDEN], b[SYNTH_HIDDEN];
} synth_model;

static void synth_model_free(synth_model *m)
{
    free(m->centres);
    free(m->w);
    free(m->u);
    memset(m, 0, sizeof *m);
}

static int synth_model_init(synth_model *m, const rm_settings *cfg)
{
    memset(m, 0, sizeof *m);
    m->seed = (uint64_t)cfg->synth_seed;
    m->dim = (size_t)cfg->synth_dim;
    m->topics = (size_t)cfg->synth_topics;
    m->noise = cfg->synth_noise;
    m->norm = 1.0 / sqrt((double)m->dim * (1.0 + SYNTH_PROMPT_SCATTER * SYNTH_PROMPT_SCATTER + m->noise * m->noise));
    if (!(m->centres = rm_alloc(m->topics * m->dim, sizeof(double), "synthetic topic centres")) ||
        !(m->w = rm_alloc((size_t)SYNTH_HIDDEN * m->dim, sizeof(double), "synthetic reward weights")) ||
        !(m->u = rm_alloc(2 * m->dim, sizeof(double), "synthetic reward weights"))) {
        synth_model_free(m);
        return -1;
    }
    const uint64_t topic = RM_STREAM_SYNTH_TOPIC;
    for (size_t i = 0; i < m->topics * m->dim; i++) m->centres[i] = rm_rand_normal(m->seed, SUB(topic, HIDDEN_CENTRES), i);
    for (size_t i = 0; i < (size_t)SYNTH_HIDDEN * m->dim; i++) m->w[i] = rm_rand_normal(m->seed, SUB(topic, HIDDEN_W), i);
    for (size_t i = 0; i < 2 * m->dim; i++) m->u[i] = rm_rand_normal(m->seed, SUB(topic, HIDDEN_U), i);
    for (int j = 0; j < SYNTH_HIDDEN; j++) {
        m->a[j] = rm_rand_normal(m->seed, SUB(topic, HIDDEN_A), (uint64_t)j);
        m->b[j] = 0.5 * rm_rand_normal(m->seed, SUB(topic, HIDDEN_B), (uint64_t)j);
    }
    return 0;
}

/* Prompt `global_prompt` (train, then test, then benchmark numbering): its vector and
 * its reward offset. Draws: index global_prompt * (D + 2) + {0: topic, 1: offset, 2+d}. */
static double synth_prompt(const synth_model *m, uint64_t global_prompt, double *x)
{
    uint64_t base = global_prompt * (uint64_t)(m->dim + 2);
    size_t t = (size_t)rm_rand_below(m->seed, RM_STREAM_SYNTH_PROMPT, base, m->topics);
    double offset = SYNTH_OFFSET_SCALE * rm_rand_normal(m->seed, RM_STREAM_SYNTH_PROMPT, base + 1);
    const double *c = m->centres + t * m->dim;
    for (size_t d = 0; d < m->dim; d++)
        x[d] = c[d] + SYNTH_PROMPT_SCATTER * rm_rand_normal(m->seed, RM_STREAM_SYNTH_PROMPT, base + 2 + d);
    return offset;
}

/* Golden reward of a stored (float32-rounded) response vector, without the offset. */
static double synth_golden(const synth_model *m, const float *e)
{
    double reward = 0;
    for (int j = 0; j < SYNTH_HIDDEN; j++) {
        const double *w = m->w + (size_t)j * m->dim;
        double z = 0;
        for (size_t d = 0; d < m->dim; d++) z += w[d] * e[d];
        reward += m->a[j] * tanh(SYNTH_TANH_GAIN * z * m->norm + m->b[j]);
    }
    reward /= sqrt((double)SYNTH_HIDDEN);
    double u0 = 0, u1 = 0;
    for (size_t d = 0; d < m->dim; d++) {
        u0 += m->u[d] * e[d];
        u1 += m->u[m->dim + d] * e[d];
    }
    return reward + SYNTH_INTERACTION * (u0 * m->norm) * (u1 * m->norm);
}

/* Two standard normals from one Philox block (Box-Muller's cosine and sine halves):
 * responses are most of the data, and this halves their generator cost. */
static inline void normal_pair(uint64_t seed, uint64_t stream, uint64_t block, double *z0, double *z1)
{
    rm_philox_block b = rm_philox(seed, stream, block);
    double u1 = (double)(((uint64_t)b.w[0] << 32 | b.w[1]) >> 11) * (1.0 / 9007199254740992.0);
    double u2 = (double)(((uint64_t)b.w[2] << 32 | b.w[3]) >> 11) * (1.0 / 9007199254740992.0);
    double r = sqrt(-2.0 * log(1.0 - u1)), angle = 6.283185307179586 * u2;
    *z0 = r * cos(angle);
    *z1 = r * sin(angle);
}

/* One response: e = x + noise * N(0, I). Response `response_index` of a stream uses the
 * Philox blocks response_index * ceil(D / 2) + d / 2. */
static void synth_response(const synth_model *m, const double *x, uint64_t stream, uint64_t response_index, float *e)
{
    uint64_t first_block = response_index * (uint64_t)((m->dim + 1) / 2);
    for (size_t d = 0; d < m->dim; d += 2) {
        double z0, z1;
        normal_pair(m->seed, stream, first_block + d / 2, &z0, &z1);
        e[d] = (float)(x[d] + m->noise * z0);
        if (d + 1 < m->dim) e[d + 1] = (float)(x[d + 1] + m->noise * z1);
    }
}

/* Generate prompts [p0, p1) of a split into emb/rewards, counting responses on `progress`
 * (a piece can take seconds: the meter sees every prompt). */
static void synth_split_rows(const synth_model *m, uint64_t first_global_prompt, uint64_t response_base, size_t k_count,
                             size_t p0, size_t p1, double *x, float *emb, float *rewards, rm_progress_meter *progress)
{
    for (size_t p = p0; p < p1; p++) {
        double offset = synth_prompt(m, first_global_prompt + p, x);
        for (size_t k = 0; k < k_count; k++) {
            float *e = emb + ((p - p0) * k_count + k) * m->dim;
            synth_response(m, x, RM_STREAM_SYNTH_RESPONSE, response_base + (uint64_t)p * k_count + k, e);
            rewards[(p - p0) * k_count + k] = (float)(offset + synth_golden(m, e));
        }
        rm_progress_advance(progress, (double)k_count);
    }
}

/* ---- extra views: y = tanh(1.5 M_v e / sqrt(D s2) + c_v), M_v [D_v, D] and c_v [D_v] drawn
 * from RM_STREAM_SYNTH_TOPIC sub-streams 16 + 2v and 17 + 2v: the same latent response
 * (and so the same golden reward) seen through a different random nonlinear map per view. */
#define SYNTH_VIEW_GAIN 1.5
#define SYNTH_VIEW_BIAS 0.3

typedef struct {
    int n;                      /* extra views */
    size_t dim[RM_MAX_VIEWS];   /* [v - 1] */
    double *map[RM_MAX_VIEWS];  /* [v - 1]: [D_v, D] */
    double *bias[RM_MAX_VIEWS]; /* [v - 1]: [D_v] */
    char name[RM_MAX_VIEWS][16];
} synth_views;

static void synth_views_free(synth_views *v)
{
    for (int i = 0; i < v->n; i++) free(v->map[i]), free(v->bias[i]);
    memset(v, 0, sizeof *v);
}

/* D of extra view v >= 1: synth.view_dims[v - 1], else synth.dim + 8 (v - 1). */
static size_t synth_view_dim(const rm_settings *cfg, int v)
{
    return cfg->synth_n_view_dims > 0 ? (size_t)cfg->synth_view_dims[v - 1] : (size_t)cfg->synth_dim + 8u * (size_t)(v - 1);
}

static int synth_views_init(synth_views *out, const synth_model *m, const rm_settings *cfg)
{
    memset(out, 0, sizeof *out);
    if (cfg->synth_n_view_dims > 0 && cfg->synth_n_view_dims != cfg->synth_views)
        return rm_errorf("synth.view_dims has %d entries but synth.views = %lld (give one D per extra view, or [])",
                         cfg->synth_n_view_dims, cfg->synth_views);
    double scale = SYNTH_VIEW_GAIN * m->norm; /* gain / sqrt(D s2): each z_j about unit variance */
    for (int i = 0; i < (int)cfg->synth_views; i++) {
        int v = i + 1;
        size_t dv = synth_view_dim(cfg, v);
        snprintf(out->name[i], sizeof out->name[i], "view%d", v);
        out->dim[i] = dv;
        out->n = v;
        if (!(out->map[i] = rm_alloc(dv * m->dim, sizeof(double), "synthetic view map")) ||
            !(out->bias[i] = rm_alloc(dv, sizeof(double), "synthetic view map")))
            return -1;
        for (size_t j = 0; j < dv * m->dim; j++)
            out->map[i][j] = scale * rm_rand_normal(m->seed, SUB(RM_STREAM_SYNTH_TOPIC, 16 + 2 * v), j);
        for (size_t j = 0; j < dv; j++)
            out->bias[i][j] = SYNTH_VIEW_BIAS * rm_rand_normal(m->seed, SUB(RM_STREAM_SYNTH_TOPIC, 17 + 2 * v), j);
    }
    return 0;
}

/* rows latent responses e[rows, D] (as stored) into view i's y[rows, D_v]. */
static void synth_view_map(const synth_views *v, int i, const float *e, size_t D, size_t rows, float *y)
{
    size_t dv = v->dim[i];
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < dv; j++) {
            const double *row = v->map[i] + j * D;
            double z = v->bias[i][j];
            for (size_t d = 0; d < D; d++) z += row[d] * e[r * D + d];
            y[r * dv + j] = (float)tanh(z);
        }
}

/* Collective: write rows of every extra view from the default view's piece e. */
static int synth_write_views(rm_store_writer *w, const synth_views *v, int bench, rm_split sp, size_t p0, size_t p1,
                             size_t rows, const float *e, const float *e2, size_t D, float *y, float *y2)
{
    for (int i = 0; i < v->n; i++) {
        synth_view_map(v, i, e, D, rows, y);
        if (bench) synth_view_map(v, i, e2, D, rows, y2);
        int rc = bench ? rm_store_write_view_bench(w, i + 1, p0, p1, y, y2) : rm_store_write_view_split(w, i + 1, sp, p0, p1, y);
        if (rc != 0) return -1;
    }
    return 0;
}

static size_t rows_per_piece(size_t row_floats)
{
    size_t rows = SYNTH_PIECE_BYTES / (row_floats * sizeof(float));
    return rows ? rows : 1;
}

/* Collective: number of pieces every rank must take part in. */
static int agree_pieces(MPI_Comm comm, size_t mine, size_t *most)
{
    unsigned long long m = mine, all = 0;
    if (rm_all_ok(comm, rm_mpi_check(MPI_Allreduce(&m, &all, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm), "MPI_Allreduce")) != 0)
        return -1;
    *most = (size_t)all;
    return 0;
}

/* What synth_write_contents shares with its parts: the piece buffers and the meter. */
typedef struct {
    rm_store_writer *w;
    const synth_model *m;
    const synth_views *views;
    MPI_Comm comm;
    int rank, size;
    float *emb, *rewards, *view_piece;
    double *x;
    size_t widest; /* the widest view's D: a row's room in view_piece */
    rm_progress_meter progress;
} synth_job;

/* Collective: the benchmark pairs, each rank its range in pieces of bench_rows pairs. emb
 * holds [rows, 2, D]: chosen rows copied to the front half, rejected after. */
static int synth_write_bench(synth_job *j, uint64_t first_prompt, size_t n_bench, size_t bench_rows)
{
    const synth_model *m = j->m;
    const size_t D = m->dim;
    size_t begin, end, most = 0;
    rm_partition(n_bench, j->size, j->rank, &begin, &end);
    size_t mine = (end - begin + bench_rows - 1) / bench_rows;
    if (agree_pieces(j->comm, mine, &most) != 0) return -1;
    float *pair = rm_alloc(2 * D, sizeof(float), "benchmark pair");
    int rc = rm_all_ok(j->comm, pair ? 0 : -1);
    for (size_t i = 0; i < most && rc == 0; i++) {
        size_t i0 = begin + i * bench_rows, i1 = i0 + bench_rows;
        if (i0 > end) i0 = end;
        if (i1 > end) i1 = end;
        float *chosen = j->emb, *rejected = j->emb + (i1 - i0) * D;
        for (size_t b = i0; b < i1; b++) {
            synth_prompt(m, first_prompt + b, j->x); /* the offset is shared: it cancels */
            double g[2];
            for (int r = 0; r < 2; r++) {
                synth_response(m, j->x, RM_STREAM_SYNTH_BENCH, (uint64_t)b * 2 + (uint64_t)r, pair + (size_t)r * D);
                g[r] = synth_golden(m, pair + (size_t)r * D);
            }
            int best = g[1] > g[0];
            memcpy(chosen + (b - i0) * D, pair + (size_t)best * D, D * sizeof(float));
            memcpy(rejected + (b - i0) * D, pair + (size_t)(1 - best) * D, D * sizeof(float));
            rm_progress_advance(&j->progress, 2);
        }
        rc = rm_store_write_bench(j->w, i0, i1, chosen, rejected);
        if (rc == 0)
            rc = synth_write_views(j->w, j->views, 1, RM_SPLIT_TRAIN, i0, i1, i1 - i0, chosen, rejected, D, j->view_piece,
                                   j->view_piece ? j->view_piece + (i1 - i0) * j->widest : NULL); /* NULL: no views */
    }
    free(pair);
    return rc;
}

/* Responses this rank generates: its prompts' of each split and both sides of its bench pairs. */
static double synth_share(const size_t n[2], const size_t k[2], size_t n_bench, int size, int rank)
{
    size_t begin, end;
    double responses = 0;
    for (int sp = 0; sp < 2; sp++) {
        rm_partition(n[sp], size, rank, &begin, &end);
        responses += (double)(end - begin) * (double)k[sp];
    }
    rm_partition(n_bench, size, rank, &begin, &end);
    return responses + 2.0 * (double)(end - begin);
}

static int synth_write_contents(rm_store_writer *w, const synth_model *m, const synth_views *views, const rm_settings *cfg,
                                MPI_Comm comm)
{
    synth_job j = {.w = w, .m = m, .views = views, .comm = comm};
    MPI_Comm_rank(comm, &j.rank);
    MPI_Comm_size(comm, &j.size);
    const size_t n[2] = {(size_t)cfg->synth_train_prompts, (size_t)cfg->synth_test_prompts};
    const size_t k[2] = {(size_t)cfg->synth_train_responses, (size_t)cfg->synth_test_responses};
    const size_t n_bench = (size_t)cfg->synth_bench_pairs;
    const size_t D = m->dim;
    /* Global prompt numbering and response-draw offsets: train, test, then benchmark. */
    const uint64_t first_prompt[2] = {0, n[0]};
    const uint64_t response_base[2] = {0, (uint64_t)n[0] * k[0]}; /* response numbering: train, then test */

    size_t piece_rows[2] = {rows_per_piece(k[0] * D), rows_per_piece(k[1] * D)};
    size_t bench_rows = rows_per_piece(2 * D);
    size_t max_floats = bench_rows * 2 * D;
    for (int sp = 0; sp < 2; sp++)
        if (piece_rows[sp] * k[sp] * D > max_floats) max_floats = piece_rows[sp] * k[sp] * D;
    j.widest = D;
    for (int i = 0; i < views->n; i++) j.widest = views->dim[i] > j.widest ? views->dim[i] : j.widest;
    int rc = 0;
    if (!(j.emb = rm_alloc(max_floats, sizeof(float), "synthetic embeddings piece")) ||
        !(j.rewards = rm_alloc(max_floats / D + 2 * bench_rows, sizeof(float), "synthetic rewards piece")) ||
        !(j.x = rm_alloc(D, sizeof(double), "synthetic prompt vector")) ||
        /* a view's piece: as many rows as the default view's, at the view's D (bench: two halves) */
        (views->n && !(j.view_piece = rm_alloc(max_floats / D * j.widest, sizeof(float), "synthetic view piece"))))
        rc = -1;
    if ((rc = rm_all_ok(comm, rc)) != 0) goto done;
    rm_progress_begin(&j.progress, "synth", "responses", synth_share(n, k, n_bench, j.size, j.rank), j.rank, j.size);

    for (int sp = 0; sp < 2 && rc == 0; sp++) {
        size_t begin, end, most = 0;
        rm_partition(n[sp], j.size, j.rank, &begin, &end);
        size_t mine = (end - begin + piece_rows[sp] - 1) / piece_rows[sp];
        if ((rc = agree_pieces(comm, mine, &most)) != 0) break;
        for (size_t i = 0; i < most && rc == 0; i++) {
            size_t p0 = begin + i * piece_rows[sp], p1 = p0 + piece_rows[sp];
            if (p0 > end) p0 = end;
            if (p1 > end) p1 = end;
            synth_split_rows(m, first_prompt[sp], response_base[sp], k[sp], p0, p1, j.x, j.emb, j.rewards, &j.progress);
            rc = rm_store_write_split(w, (rm_split)sp, p0, p1, j.emb, j.rewards);
            if (rc == 0)
                rc = synth_write_views(w, views, 0, (rm_split)sp, p0, p1, (p1 - p0) * k[sp], j.emb, NULL, D, j.view_piece, NULL);
        }
    }
    if (rc == 0 && n_bench > 0) rc = synth_write_bench(&j, (uint64_t)n[0] + n[1], n_bench, bench_rows);
done:
    free(j.emb);
    free(j.rewards);
    free(j.x);
    free(j.view_piece);
    return rc;
}

int rm_synth_write(const rm_settings *cfg, MPI_Comm comm, int force)
{
    if (cfg->store[0] == '\0') return rm_all_ok(comm, rm_errorf("no store path: set the 'store' key (e.g. --set store=/tmp/s.h5)"));
    rm_dtype dtype = strcmp(cfg->synth_dtype, "float16") == 0 ? RM_DTYPE_FLOAT16 : RM_DTYPE_FLOAT32;
    /* The identity is a hash of everything that determines the data, so the same
     * configuration always gives the same store_uuid (and the same file). */
    char description[512], uuid[64];
    snprintf(description, sizeof description,
             "rmens synth|train=%lldx%lld|test=%lldx%lld|dim=%lld|topics=%lld|bench=%lld|dtype=%s|seed=%lld|noise=%.17g",
             cfg->synth_train_prompts, cfg->synth_train_responses, cfg->synth_test_prompts, cfg->synth_test_responses,
             cfg->synth_dim, cfg->synth_topics, cfg->synth_bench_pairs, rm_dtype_name(dtype), cfg->synth_seed,
             cfg->synth_noise);
    /* views are appended only when there are any: a store without keeps its identity */
    for (int v = 1; v <= (int)cfg->synth_views; v++) {
        size_t used = strlen(description);
        snprintf(description + used, sizeof description - used, "%sview%d=%zu", v == 1 ? "|views:" : ",", v,
                 synth_view_dim(cfg, v));
    }
    rm_store_uuid_from_text(description, uuid, sizeof uuid);
    char task[96];
    snprintf(task, sizeof task, "synthetic(topics=%lld,noise=%g,seed=%lld)", cfg->synth_topics, cfg->synth_noise,
             cfg->synth_seed);
    rm_store_layout layout = {
        .dim = (size_t)cfg->synth_dim,
        .split = {{(size_t)cfg->synth_train_prompts, (size_t)cfg->synth_train_responses, dtype},
                  {(size_t)cfg->synth_test_prompts, (size_t)cfg->synth_test_responses, dtype}},
        .n_bench = (size_t)cfg->synth_bench_pairs,
        .embed_model = "synthetic",
        .response_model = "synthetic",
        .task = task,
        .uuid = uuid,
        .provenance = description,
    };
    synth_model model;
    if (rm_all_ok(comm, synth_model_init(&model, cfg)) != 0) return -1;
    synth_views views;
    rm_store_view_layout view_layouts[RM_MAX_VIEWS];
    if (rm_all_ok(comm, synth_views_init(&views, &model, cfg)) != 0) {
        synth_views_free(&views);
        synth_model_free(&model);
        return -1;
    }
    for (int i = 0; i < views.n; i++) view_layouts[i] = (rm_store_view_layout){views.name[i], views.dim[i], dtype};
    layout.n_extra_views = views.n;
    layout.extra_views = view_layouts;
    rm_store_writer w;
    int rc = -1;
    if (rm_store_create(&w, cfg->store, comm, &layout, force) != 0) goto done; /* nothing to abandon */
    if (synth_write_contents(&w, &model, &views, cfg, comm) != 0) {
        rm_store_abandon(&w);
        goto done;
    }
    rc = rm_store_commit(&w);
done:
    synth_views_free(&views);
    synth_model_free(&model);
    return rc;
}
