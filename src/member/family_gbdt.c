/* The gbdt family's operations (include/rmens/member/family.h): members.h5 and checkpoint
 * storage as XGBoost's JSON model, broadcasting and scoring. Training: src/member/gbdt_train.c.
 * Without XGBoost at build time every operation refuses with one message. */
#define _GNU_SOURCE
#include "rmens/member/family_gbdt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "member_internal.h"
#include "rmens/base/common.h"
#include "rmens/store/h5util.h"
#include "rmens/base/parallel.h"

#ifdef RMENS_HAVE_XGBOOST
#include "gbdt_internal.h"
#include "rmens/kernels/tiled_blas.h"

int rm_family_have_xgboost(void) { return 1; }

/* XGBoost's last error on one line: its messages carry a "[hh:mm:ss] file:line: " prefix
 * and, for parse errors, a stack trace on the following lines. */
static const char *xgb_error(char *buf, size_t n)
{
    const char *e = XGBGetLastError();
    const char *start = e[0] == '[' && strstr(e, "] ") ? strstr(e, "] ") + 2 : e;
    size_t len = strcspn(start, "\n");
    snprintf(buf, n, "%.*s", (int)len, start);
    return buf;
}

int rm_xgb_check(int rc, const char *what)
{
    if (rc == 0) return 0;
    char buf[512];
    return rm_errorf("%s: XGBoost: %s", what, xgb_error(buf, sizeof buf));
}

int rm_gbdt_threads(void) { return rm_tiled_threads() > 0 ? rm_tiled_threads() : 1; }

int rm_gbdt_model_load(rm_member *m, const char *json, size_t len, const char *name)
{
    rm_gbdt_model *g = rm_calloc(1, sizeof *g, "tree model");
    if (!g) return -1;
    g->json = rm_alloc(len + 1, 1, "tree model JSON");
    int rc = g->json ? 0 : -1;
    if (rc == 0) {
        memcpy(g->json, json, len);
        g->json[len] = 0;
        g->len = len;
        rc = rm_xgb_check(XGBoosterCreate(NULL, 0, &g->booster), name);
    }
    /* XGBoost accepts some damaged JSON models and fails only when predicting: a model
     * must parse and know its features to be a member */
    bst_ulong features = 0;
    char why[512];
    if (rc == 0 && XGBoosterLoadModelFromBuffer(g->booster, g->json, (bst_ulong)len) != 0)
        rc = rm_errorf("%s: corrupt xgboost_json (%zu bytes): XGBoost: %s", name, len, xgb_error(why, sizeof why));
    if (rc == 0 && (XGBoosterGetNumFeature(g->booster, &features) != 0 || features == 0))
        rc = rm_errorf("%s: corrupt xgboost_json: the model has no features", name);
    char threads[16];
    snprintf(threads, sizeof threads, "%d", rm_gbdt_threads());
    if (rc == 0) rc = rm_xgb_check(XGBoosterSetParam(g->booster, "nthread", threads), name);
    if (rc != 0) {
        if (g->booster) XGBoosterFree(g->booster);
        free(g->json);
        free(g);
        return -1;
    }
    m->family = &rm_family_gbdt;
    m->model = g;
    return 0;
}

int rm_gbdt_predict_rows(BoosterHandle booster, const float *X, size_t B, size_t D, float *raw)
{
    DMatrixHandle dm = NULL;
    if (rm_xgb_check(XGDMatrixCreateFromMat_omp(X, (bst_ulong)B, (bst_ulong)D, NAN, &dm, rm_gbdt_threads()), "scoring rows") != 0)
        return -1;
    /* type 1: margins, the tree model's r(x) (a logit under clf), as the MLP's output */
    static const char *config = "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
                                "\"strict_shape\": false}";
    const bst_ulong *shape = NULL;
    bst_ulong dims = 0;
    const float *out = NULL;
    int rc = rm_xgb_check(XGBoosterPredictFromDMatrix(booster, dm, config, &shape, &dims, &out), "predicting");
    if (rc == 0 && (dims < 1 || shape[0] != B)) rc = rm_errorf("predicting: XGBoost returned %llu rows for %zu", dims ? (unsigned long long)shape[0] : 0ULL, B);
    if (rc == 0) memcpy(raw, out, B * sizeof(float));
    XGDMatrixFree(dm);
    return rc;
}

static size_t gbdt_model_bytes(const rm_member *m) { return ((const rm_gbdt_model *)m->model)->len; }

/* Where the MLP's architecture attributes go: the family and the tree settings. */
static int gbdt_write_attrs(hid_t g, const rm_settings *cfg)
{
    int rc = rm_h5_attr_string(g, "objective", cfg->model_objective);
    rc |= rm_h5_attr_string(g, "family", "gbdt");
    rc |= rm_h5_attr_string(g, "tree_method", cfg->gbdt_tree_method);
    rc |= rm_h5_attr_int(g, "max_depth", cfg->gbdt_max_depth);
    rc |= rm_h5_attr_double(g, "eta", cfg->gbdt_eta);
    return rc;
}

static int write_json(hid_t g, const rm_member *m, size_t bytes, int writer, const char *name)
{
    hsize_t n = bytes;
    const void *data = writer ? ((const rm_gbdt_model *)m->model)->json : NULL;
    return rm_h5_write_dataset(g, "xgboost_json", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, &n, data, writer, 1, name);
}

static int gbdt_write(hid_t g, const rm_settings *cfg, const rm_member *m, int dim, size_t bytes, int writer,
                      const char *name)
{
    (void)cfg, (void)dim;
    return write_json(g, m, bytes, writer, name);
}

/* /<name>/xgboost_json, whatever its length, into a booster. */
static int read_json(hid_t g, rm_member *out, const char *name)
{
    char what[96];
    snprintf(what, sizeof what, "/%s/xgboost_json", name);
    if (H5Lexists(g, "xgboost_json", H5P_DEFAULT) <= 0) return rm_errorf("%s is missing", what);
    hid_t ds = H5Dopen2(g, "xgboost_json", H5P_DEFAULT);
    if (ds < 0) return rm_errorf("cannot open %s", what);
    hid_t space = H5Dget_space(ds);
    hsize_t n = 0;
    int rc = space >= 0 && H5Sget_simple_extent_ndims(space) == 1 && H5Sget_simple_extent_dims(space, &n, NULL) == 1
                 ? 0 : rm_errorf("%s: expected a 1-d uint8 dataset", what);
    if (space >= 0) H5Sclose(space);
    if (rc == 0 && (n == 0 || n > ((hsize_t)1 << 34))) rc = rm_errorf("%s: %llu bytes is out of range", what, (unsigned long long)n);
    char *buf = rc == 0 ? rm_alloc((size_t)n, 1, "tree model JSON") : NULL;
    if (rc == 0 && !buf) rc = -1;
    if (rc == 0 && H5Dread(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) rc = rm_errorf("cannot read %s", what);
    H5Dclose(ds);
    char member[96];
    snprintf(member, sizeof member, "/%s", name);
    if (rc == 0) rc = rm_gbdt_model_load(out, buf, (size_t)n, member);
    free(buf);
    return rc;
}

static int gbdt_read(hid_t g, rm_member *out, int dim, const char *name)
{
    if (read_json(g, out, name) != 0) return -1;
    bst_ulong features = 0;
    rm_gbdt_model *gm = out->model;
    if (rm_xgb_check(XGBoosterGetNumFeature(gm->booster, &features), name) != 0) return -1;
    if ((int)features != dim) return rm_errorf("/%s: the tree model has %llu features, the member's dim is %d", name, (unsigned long long)features, dim);
    return 0;
}

static int gbdt_checkpoint_write(hid_t g, const rm_member *m, size_t n_params, size_t bytes, int writer, const char *name)
{
    (void)n_params;
    return write_json(g, m, bytes, writer, name);
}

static int gbdt_checkpoint_read(hid_t g, rm_member *m, const rm_settings *cfg, int dim, size_t n_params, const char *name)
{
    (void)cfg, (void)n_params;
    return gbdt_read(g, m, dim, name);
}

/* The JSON text from root, loaded into a booster on every other rank. */
static int gbdt_bcast(rm_member *m, MPI_Comm comm, int rank, int root)
{
    unsigned long long len = rank == root ? ((rm_gbdt_model *)m->model)->len : 0;
    MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, root, comm);
    char *buf = rank == root ? ((rm_gbdt_model *)m->model)->json : rm_alloc((size_t)len, 1, "tree model JSON");
    if (rm_all_ok(comm, buf ? 0 : -1) != 0) {
        if (rank != root) free(buf);
        return -1;
    }
    for (unsigned long long done = 0; done < len;) {
        unsigned long long n = len - done > (1ULL << 30) ? 1ULL << 30 : len - done;
        MPI_Bcast(buf + done, (int)n, MPI_CHAR, root, comm);
        done += n;
    }
    int rc = 0;
    if (rank != root) {
        char name[48];
        snprintf(name, sizeof name, "member %d", m->index);
        rc = rm_gbdt_model_load(m, buf, (size_t)len, name);
        free(buf);
    }
    return rm_all_ok(comm, rc);
}

static int gbdt_copy(rm_member *dst, const rm_member *src)
{
    const rm_gbdt_model *g = src->model;
    char name[48];
    snprintf(name, sizeof name, "member %d", src->index);
    return rm_gbdt_model_load(dst, g->json, g->len, name);
}

static int gbdt_scorer_create(rm_member_scorer *s, const rm_member *m, int capacity)
{
    (void)s, (void)capacity;
    return m->model ? 0 : rm_errorf("member %d has no tree model", m->index);
}

static int gbdt_score(rm_member_scorer *s, const float *X, rm_mlp_input *in, int B, float *raw)
{
    (void)in;
    const rm_gbdt_model *g = s->member->model;
    bst_ulong D = 0;
    if (rm_xgb_check(XGBoosterGetNumFeature(g->booster, &D), "scoring") != 0) return -1;
    if (rm_gbdt_predict_rows(g->booster, X, (size_t)B, (size_t)D, raw) != 0)
        return rm_error_context("member %d", s->member->index);
    return 0;
}

static void gbdt_scorer_free(rm_member_scorer *s) { (void)s; }

static size_t gbdt_n_params(const rm_member *m)
{
    int rounds = 0;
    const rm_gbdt_model *g = m->model;
    return g && XGBoosterBoostedRounds(g->booster, &rounds) == 0 ? (size_t)rounds : 0;
}

static void gbdt_free_model(rm_member *m)
{
    rm_gbdt_model *g = m->model;
    if (g) {
        if (g->booster) XGBoosterFree(g->booster);
        free(g->json);
        free(g);
    }
    m->model = NULL;
}

const rm_family rm_family_gbdt = {
    "gbdt", "round", gbdt_model_bytes, gbdt_write_attrs, gbdt_write, gbdt_read, gbdt_checkpoint_write,
    gbdt_checkpoint_read, gbdt_bcast, gbdt_copy, gbdt_scorer_create, gbdt_score, gbdt_scorer_free, gbdt_n_params,
    gbdt_free_model,
};

#else /* no XGBoost: rm_family_check_settings refuses the family before any of these runs */

int rm_family_have_xgboost(void) { return 0; }

static int no_xgboost(void)
{
    return rm_errorf("model.family = \"gbdt\": this rmens was built without XGBoost (Debian: libxgboost-dev; reconfigure)");
}
static size_t nx_bytes(const rm_member *m) { (void)m; return 0; }
static int nx_attrs(hid_t g, const rm_settings *c) { (void)g, (void)c; return no_xgboost(); }
static int nx_write(hid_t g, const rm_settings *c, const rm_member *m, int d, size_t b, int w, const char *n)
{
    (void)g, (void)c, (void)m, (void)d, (void)b, (void)w, (void)n;
    return no_xgboost();
}
static int nx_read(hid_t g, rm_member *o, int d, const char *n)
{
    (void)g, (void)o, (void)d;
    return rm_errorf("/%s is a tree member (family gbdt), and this rmens was built without XGBoost (Debian: libxgboost-dev; reconfigure)", n);
}
static int nx_ckw(hid_t g, const rm_member *m, size_t p, size_t b, int w, const char *n)
{
    (void)g, (void)m, (void)p, (void)b, (void)w, (void)n;
    return no_xgboost();
}
static int nx_ckr(hid_t g, rm_member *m, const rm_settings *c, int d, size_t p, const char *n)
{
    (void)g, (void)m, (void)c, (void)d, (void)p, (void)n;
    return no_xgboost();
}
static int nx_bcast(rm_member *m, MPI_Comm c, int r, int root) { (void)m, (void)c, (void)r, (void)root; return no_xgboost(); }
static int nx_copy(rm_member *d, const rm_member *s) { (void)d, (void)s; return no_xgboost(); }
static int nx_sc(rm_member_scorer *s, const rm_member *m, int c) { (void)s, (void)m, (void)c; return no_xgboost(); }
static int nx_score(rm_member_scorer *s, const float *X, rm_mlp_input *in, int B, float *raw)
{
    (void)s, (void)X, (void)in, (void)B, (void)raw;
    return no_xgboost();
}
static void nx_scfree(rm_member_scorer *s) { (void)s; }
static size_t nx_np(const rm_member *m) { (void)m; return 0; }
static void nx_free(rm_member *m) { m->model = NULL; }

const rm_family rm_family_gbdt = {
    "gbdt", "round", nx_bytes, nx_attrs, nx_write, nx_read, nx_ckw, nx_ckr, nx_bcast, nx_copy, nx_sc, nx_score,
    nx_scfree, nx_np, nx_free,
};

#endif
