/* Model families (include/rmens/family.h): choosing a member's family, the calls that
 * dispatch on it, and the MLP family's operations. */
#define _GNU_SOURCE
#include "rmens/family.h"
#include "rmens/trunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family_internal.h"
#include "rmens/common.h"
#include "rmens/h5util.h"
#include "rmens/parallel.h"
#include "rmens/warm.h"

/* Rows scored per call when scoring a list of items (as in training's standardisation). */
#define ITEM_BLOCK_ROWS 1024

const rm_family *rm_family_named(const char *name, const char *key)
{
    if (strcmp(name, "mlp") == 0) return &rm_family_mlp;
    if (strcmp(name, "gbdt") == 0) return &rm_family_gbdt;
    rm_errorf("%s = \"%s\": expected \"mlp\" or \"gbdt\"", key, name);
    return NULL;
}

const rm_family *rm_family_of_member(const rm_settings *cfg, int m)
{
    const char *name = cfg->ensemble_n_families > 0 ? cfg->ensemble_families[m % cfg->ensemble_n_families]
                                                    : cfg->model_family;
    if (!name[0]) return &rm_family_mlp; /* settings filled by hand */
    return rm_family_named(name, cfg->ensemble_n_families > 0 ? "ensemble.families" : "model.family");
}

const rm_family *rm_member_family(const rm_member *m) { return m->family ? m->family : &rm_family_mlp; }

int rm_settings_use_family(const rm_settings *cfg, const rm_family *f)
{
    long long n = cfg->ensemble_n_families > 0 ? cfg->ensemble_n_families : 1;
    for (long long m = 0; m < n && m < cfg->ensemble_members; m++)
        if (rm_family_of_member(cfg, (int)m) == f) return 1;
    return 0;
}

int rm_family_id(const rm_family *f) { return f == &rm_family_gbdt ? 1 : 0; }
const rm_family *rm_family_from_id(int id) { return id == 1 ? &rm_family_gbdt : &rm_family_mlp; }

char *rm_family_fingerprint(const rm_settings *c, char *text)
{
    if (!text || (c->ensemble_n_families == 0 && !rm_settings_use_family(c, &rm_family_gbdt))) return text;
    char families[RM_MAX_FAMILIES * 8 + 8] = "";
    for (int i = 0; i < c->ensemble_n_families; i++)
        snprintf(families + strlen(families), sizeof families - strlen(families), "%s%s", i ? "," : "", c->ensemble_families[i]);
    char *out = NULL;
    int n = asprintf(&out, "%s model.family=%s ensemble.families=[%s] gbdt.rounds=%lld gbdt.eta=%.17g gbdt.max_depth=%lld "
                     "gbdt.min_child_weight=%.17g gbdt.subsample=%.17g gbdt.colsample=%.17g gbdt.lambda=%.17g gbdt.tree_method=%s",
                     text, c->model_family, families, c->gbdt_rounds, c->gbdt_eta, c->gbdt_max_depth, c->gbdt_min_child_weight,
                     c->gbdt_subsample, c->gbdt_colsample, c->gbdt_lambda, c->gbdt_tree_method);
    free(text);
    if (n < 0) {
        rm_errorf("out of memory");
        return NULL;
    }
    return out;
}

int rm_settings_max_epochs(const rm_settings *cfg)
{
    long long n = cfg->train_epochs;
    if (rm_settings_use_family(cfg, &rm_family_gbdt) && cfg->gbdt_rounds > n) n = cfg->gbdt_rounds;
    return (int)n;
}

/* Whether any gbdt.* setting differs from its default (given for nothing, with MLPs only). */
static int gbdt_keys_given(const rm_settings *c)
{
    return c->gbdt_rounds != 200 || c->gbdt_max_depth != 6 || c->gbdt_eta != 0.1 || c->gbdt_min_child_weight != 1.0 ||
           c->gbdt_subsample != 0.8 || c->gbdt_colsample != 0.8 || c->gbdt_lambda != 1.0;
}

int rm_family_check_settings(const rm_settings *cfg, int warn)
{
    if (rm_family_of_member(cfg, 0) == NULL) return -1;
    for (int i = 0; i < cfg->ensemble_n_families; i++)
        if (!rm_family_named(cfg->ensemble_families[i], "ensemble.families")) return -1;
    if (rm_shared_init_check(cfg) != 0) return -1;
    if (!rm_settings_use_family(cfg, &rm_family_gbdt)) {
        if (warn && gbdt_keys_given(cfg))
            fprintf(stderr, "warning: gbdt.* settings are given but no member is a tree model (model.family = \"%s\")\n",
                    cfg->model_family);
        return 0;
    }
    const char *key = cfg->ensemble_n_families > 0 ? "ensemble.families" : "model.family";
    if (!rm_family_have_xgboost())
        return rm_errorf("%s: \"gbdt\" needs XGBoost, and this rmens was built without it (Debian: libxgboost-dev; reconfigure)", key);
    if (strcmp(cfg->active_strategy, "dopt") == 0 || strcmp(cfg->active_strategy, "past_dopt") == 0)
        return rm_errorf("active.strategy = \"%s\": needs the MLP's last hidden layer, and %s has \"gbdt\"", cfg->active_strategy, key);
    if (cfg->active_warm_start) return rm_errorf("active.warm_start: tree members (%s has \"gbdt\") cannot continue from the previous round's trees", key);
    if (strcmp(cfg->gbdt_tree_method, "hist") != 0 && cfg->gbdt_tree_method[0])
        return rm_errorf("gbdt.tree_method = \"%s\": expected \"hist\"", cfg->gbdt_tree_method);
    if (cfg->gbdt_rounds < 1 || cfg->gbdt_rounds > 1000000) return rm_errorf("gbdt.rounds = %lld is out of range [1, 1000000]", cfg->gbdt_rounds);
    if (!(cfg->gbdt_eta > 0 && cfg->gbdt_eta <= 1)) return rm_errorf("gbdt.eta = %g is out of range (0, 1]", cfg->gbdt_eta);
    if (cfg->gbdt_max_depth < 1 || cfg->gbdt_max_depth > 30) return rm_errorf("gbdt.max_depth = %lld is out of range [1, 30]", cfg->gbdt_max_depth);
    if (!(cfg->gbdt_subsample > 0 && cfg->gbdt_subsample <= 1)) return rm_errorf("gbdt.subsample = %g is out of range (0, 1]", cfg->gbdt_subsample);
    if (!(cfg->gbdt_colsample > 0 && cfg->gbdt_colsample <= 1)) return rm_errorf("gbdt.colsample = %g is out of range (0, 1]", cfg->gbdt_colsample);
    if (!(cfg->gbdt_min_child_weight >= 0) || !(cfg->gbdt_lambda >= 0))
        return rm_errorf("gbdt.%s is negative", cfg->gbdt_lambda >= 0 ? "min_child_weight" : "lambda");
    return 0;
}

int rm_member_scorer_create(rm_member_scorer *s, const rm_member *m, int capacity)
{
    memset(s, 0, sizeof *s);
    s->member = m;
    return rm_member_family(m)->scorer_create(s, m, capacity);
}

int rm_member_scorer_score(rm_member_scorer *s, const float *X, rm_mlp_input *in, int B, float *raw)
{
    return rm_member_family(s->member)->score(s, X, in, B, raw);
}

void rm_member_scorer_free(rm_member_scorer *s)
{
    if (s->member) rm_member_family(s->member)->scorer_free(s);
    memset(s, 0, sizeof *s);
}

int rm_member_score_items(const rm_member *m, const float *embeddings, size_t dim, const uint32_t *items, size_t n,
                          float *scores)
{
    if (rm_member_family(m) == &rm_family_mlp) /* the MLP's own path, bit for bit as before */
        return rm_member_score(&m->mlp, embeddings, dim, items, n, scores);
    if (n == 0) return 0;
    int rows = n < ITEM_BLOCK_ROWS ? (int)n : ITEM_BLOCK_ROWS;
    rm_member_scorer sc;
    float *X = items ? rm_alloc((size_t)rows * dim, sizeof(float), "scoring rows") : NULL;
    int rc = items && !X ? -1 : rm_member_scorer_create(&sc, m, rows);
    if (rc != 0) {
        free(X);
        return rm_error_context("scoring member %d", m->index);
    }
    for (size_t start = 0; start < n && rc == 0; start += (size_t)rows) {
        size_t count = n - start < (size_t)rows ? n - start : (size_t)rows;
        const float *block = rm_scoring_block(X, embeddings, dim, items, start, count);
        rc = rm_member_scorer_score(&sc, block, NULL, (int)count, scores + start);
    }
    rm_member_scorer_free(&sc);
    free(X);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* The MLP family                                                                       */

static size_t mlp_model_bytes(const rm_member *m) { (void)m; return 0; }

static int mlp_write_attrs(hid_t g, const rm_settings *cfg)
{
    int rc = rm_h5_attr_ints(g, "hidden", cfg->model_hidden, (size_t)cfg->model_n_hidden);
    rc |= rm_h5_attr_string(g, "objective", cfg->model_objective);
    rc |= rm_h5_attr_string(g, "activation", "relu");
    return rc;
}

/* /member_<m>/layer_<l>/weight [out, in] and bias [out], shapes from the settings. A
 * shared trunk's head holds its own layer only, with attribute `trunk` naming the group
 * of the others (rm_trunk_write). */
static int mlp_write(hid_t g, const rm_settings *cfg, const rm_member *m, int dim, size_t bytes, int writer,
                     const char *name)
{
    (void)bytes;
    int layers = cfg->model_n_hidden + 1, first = rm_settings_shared_trunk(cfg) ? layers - 1 : 0;
    if (first > 0 && rm_h5_attr_string(g, "trunk", RM_TRUNK_GROUP) != 0) return rm_error_context("/%s", name);
    return rm_mlp_layers_write(g, cfg, m, dim, first, layers, writer, name);
}

int rm_mlp_layers_write(hid_t g, const rm_settings *cfg, const rm_member *m, int dim, int first, int end, int writer,
                        const char *name)
{
    int rc = 0, layers = cfg->model_n_hidden + 1;
    for (int l = first; l < end && rc == 0; l++) {
        int in = l == 0 ? dim : cfg->model_hidden[l - 1];
        int out = l == layers - 1 ? 1 : cfg->model_hidden[l];
        char lname[32];
        snprintf(lname, sizeof lname, "layer_%d", l);
        hid_t lg = H5Gcreate2(g, lname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (lg < 0) { rc = rm_errorf("cannot create group /%s/%s", name, lname); break; }
        hsize_t wdims[2] = {(hsize_t)out, (hsize_t)in}, bdims[1] = {(hsize_t)out};
        const float *w = writer ? m->mlp.params + m->mlp.weight_offset[l] : NULL;
        const float *b = writer ? m->mlp.params + m->mlp.bias_offset[l] : NULL;
        rc = rm_h5_write_dataset(lg, "weight", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, wdims, w, writer, 1, name);
        if (rc == 0) rc = rm_h5_write_dataset(lg, "bias", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, bdims, b, writer, 1, name);
        H5Gclose(lg);
    }
    return rc;
}

static int mlp_read(hid_t g, rm_member *out, int dim, const char *name)
{
    int hidden[RM_MAX_HIDDEN + 1];
    size_t n_hidden = 0;
    int rc = rm_h5_read_attr_ints(g, "hidden", hidden, RM_MAX_HIDDEN, &n_hidden, name);
    if (rc == 0 && rm_mlp_create(&out->mlp, dim, hidden, (int)n_hidden) != 0) rc = rm_error_context("/%s", name);
    /* a shared trunk's head: every layer but its own from the trunk's group */
    char trunk[64] = "";
    htri_t has_trunk = rc == 0 ? H5Aexists(g, "trunk") : 0;
    if (has_trunk < 0) rc = rm_errorf("/%s: H5Aexists(trunk) failed", name);
    if (has_trunk > 0) rc = rm_h5_read_attr_string(g, "trunk", trunk, sizeof trunk, name);
    if (rc == 0 && has_trunk > 0 && trunk[0] != '/')
        rc = rm_errorf("/%s: attribute trunk = \"%s\" is not an absolute group path", name, trunk);
    for (int l = 0; rc == 0 && l < out->mlp.n_layers; l++) {
        char path[160];
        const char *from = trunk[0] && l < out->mlp.n_layers - 1 ? trunk : "";
        hsize_t wdims[2] = {(hsize_t)out->mlp.dims[l + 1], (hsize_t)out->mlp.dims[l]};
        hsize_t bdims[1] = {(hsize_t)out->mlp.dims[l + 1]};
        snprintf(path, sizeof path, "%s%slayer_%d/weight", from, from[0] ? "/" : "", l);
        rc = rm_h5_read_dataset(g, path, H5T_NATIVE_FLOAT, 2, wdims, out->mlp.params + out->mlp.weight_offset[l], name);
        snprintf(path, sizeof path, "%s%slayer_%d/bias", from, from[0] ? "/" : "", l);
        if (rc == 0) rc = rm_h5_read_dataset(g, path, H5T_NATIVE_FLOAT, 1, bdims, out->mlp.params + out->mlp.bias_offset[l], name);
    }
    return rc;
}

static int mlp_checkpoint_write(hid_t g, const rm_member *m, size_t n_params, size_t bytes, int writer, const char *name)
{
    (void)bytes;
    hsize_t np = n_params;
    return rm_h5_write_dataset(g, "params", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &np, writer ? m->mlp.params : NULL,
                               writer, 1, name);
}

static int mlp_checkpoint_read(hid_t g, rm_member *mm, const rm_settings *cfg, int dim, size_t n_params, const char *name)
{
    int rc = rm_mlp_create(&mm->mlp, dim, cfg->model_hidden, cfg->model_n_hidden);
    if (rc == 0 && mm->mlp.n_params != n_params) rc = rm_errorf("/%s: %zu parameters, expected %zu", name, n_params, mm->mlp.n_params);
    hsize_t np = n_params;
    if (rc == 0) rc = rm_h5_read_dataset(g, "params", H5T_NATIVE_FLOAT, 1, &np, mm->mlp.params, name);
    return rc;
}

/* Architecture first, then the parameter block. */
static int mlp_bcast(rm_member *m, MPI_Comm comm, int rank, int root)
{
    int arch[RM_MAX_LAYERS + 2] = {0};
    if (rank == root) {
        arch[0] = m->mlp.n_layers;
        for (int l = 0; l <= m->mlp.n_layers; l++) arch[1 + l] = m->mlp.dims[l];
    }
    MPI_Bcast(arch, RM_MAX_LAYERS + 2, MPI_INT, root, comm);
    int rc = 0;
    if (rank != root) {
        int hidden[RM_MAX_LAYERS];
        for (int l = 1; l < arch[0]; l++) hidden[l - 1] = arch[1 + l];
        rc = rm_mlp_create(&m->mlp, arch[1], hidden, arch[0] - 1);
    }
    if (rm_all_ok(comm, rc) != 0) return -1;
    /* Parameters can exceed INT_MAX floats only for absurd models; send in slices. */
    size_t done = 0;
    while (done < m->mlp.n_params) {
        size_t n = m->mlp.n_params - done;
        if (n > (1u << 30)) n = 1u << 30;
        MPI_Bcast(m->mlp.params + done, (int)n, MPI_FLOAT, root, comm);
        done += n;
    }
    return 0;
}

static int mlp_copy(rm_member *dst, const rm_member *src)
{
    if (rm_mlp_create(&dst->mlp, src->mlp.dims[0], src->mlp.dims + 1, src->mlp.n_layers - 1) != 0) return -1;
    memcpy(dst->mlp.params, src->mlp.params, src->mlp.n_params * sizeof(float));
    return 0;
}

/* The weights packed once for the products, not in every block's forward. */
static int mlp_scorer_create(rm_member_scorer *s, const rm_member *m, int capacity)
{
    int rc = rm_mlp_workspace_create(&s->ws, &m->mlp, capacity);
    if (rc == 0) rc = rm_mlp_workspace_pack(&s->ws, &m->mlp);
    return rc;
}

static int mlp_score(rm_member_scorer *s, const float *X, rm_mlp_input *in, int B, float *raw)
{
    rm_mlp_forward_frozen(&s->member->mlp, &s->ws, X, in, B, raw);
    return 0;
}

static void mlp_scorer_free(rm_member_scorer *s) { rm_mlp_workspace_free(&s->ws); }
static size_t mlp_n_params(const rm_member *m) { return m->mlp.n_params; }
static void mlp_free_model(rm_member *m) { rm_mlp_free(&m->mlp); }

const rm_family rm_family_mlp = {
    "mlp", rm_train_mlp_member, mlp_model_bytes, mlp_write_attrs, mlp_write, mlp_read, mlp_checkpoint_write, mlp_checkpoint_read,
    mlp_bcast, mlp_copy, mlp_scorer_create, mlp_score, mlp_scorer_free, mlp_n_params, mlp_free_model,
};
