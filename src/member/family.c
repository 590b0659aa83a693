/* The family registry (include/rmens/member/family.h): which family a member of a run
 * is, the settings checks that depend on it, and training a member of any family. A new
 * family is one row of `families` below and nowhere else. */
#define _GNU_SOURCE
#include "rmens/member/family.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/member/family_gbdt.h"
#include "rmens/member/family_mlp.h"
#include "rmens/member/train.h"
#include "rmens/member/trunk.h"

/* Every family, in id order (the id is what ranks exchange and checkpoints store; 0 is
 * the MLP), with its trainer (rm_train_member_controlled's contract). A new family is one
 * row here. */
static const struct {
    const rm_family *family;
    int (*train)(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index, MPI_Comm group,
                 rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *control);
} families[] = {
    {&rm_family_mlp, rm_train_mlp_member},
    {&rm_family_gbdt, rm_gbdt_train_member},
};
#define N_FAMILIES ((int)(sizeof families / sizeof families[0]))

const rm_family *rm_family_named(const char *name, const char *key)
{
    for (int id = 0; id < N_FAMILIES; id++)
        if (strcmp(name, families[id].family->name) == 0) return families[id].family;
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

int rm_settings_use_family(const rm_settings *cfg, const rm_family *f)
{
    long long n = cfg->ensemble_n_families > 0 ? cfg->ensemble_n_families : 1;
    for (long long m = 0; m < n && m < cfg->ensemble_members; m++)
        if (rm_family_of_member(cfg, (int)m) == f) return 1;
    return 0;
}

int rm_family_id(const rm_family *f)
{
    for (int id = 0; id < N_FAMILIES; id++)
        if (families[id].family == f) return id;
    return 0; /* members zeroed by calloc are MLPs */
}

/* An id out of range reads as the MLP's, as members zeroed by calloc are. */
const rm_family *rm_family_from_id(int id) { return id > 0 && id < N_FAMILIES ? families[id].family : &rm_family_mlp; }
int rm_family_count(void) { return N_FAMILIES; }

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

int rm_shared_init_check(const rm_settings *cfg)
{
    if (!cfg->ensemble_shared_init) return 0;
    if (rm_settings_use_family(cfg, &rm_family_gbdt))
        return rm_errorf("ensemble.shared_init = true: tree members (gbdt) have no initial weights to share; use MLP members only");
    for (int v = 1; v < cfg->ensemble_n_views; v++)
        if (strcmp(cfg->ensemble_views[v], cfg->ensemble_views[0]) != 0)
            return rm_errorf("ensemble.shared_init = true: members on different views (ensemble.views \"%s\" and \"%s\") "
                             "cannot share one initialisation", cfg->ensemble_views[0], cfg->ensemble_views[v]);
    return 0;
}

int rm_ensemble_kind_check(const rm_settings *cfg)
{
    if (strcmp(cfg->ensemble_kind, "independent") != 0 && !rm_settings_shared_trunk(cfg))
        return rm_errorf("ensemble.kind = \"%s\": expected \"independent\" or \"shared_trunk\"", cfg->ensemble_kind);
    if (!rm_settings_shared_trunk(cfg)) return 0;
    if (cfg->model_n_hidden < 1)
        return rm_errorf("ensemble.kind = \"shared_trunk\" needs a trunk: model.hidden has no hidden layer");
    for (int m = 0; m < (int)cfg->ensemble_members && m < RM_MAX_FAMILIES; m++)
        if (rm_family_of_member(cfg, m) != &rm_family_mlp)
            return rm_errorf("ensemble.kind = \"shared_trunk\": its heads are linear layers on an MLP trunk, and %s has "
                             "\"gbdt\"", cfg->ensemble_n_families > 0 ? "ensemble.families" : "model.family");
    if (cfg->ensemble_n_views > 1)
        return rm_errorf("ensemble.kind = \"shared_trunk\": one trunk reads one embedding, and ensemble.views has %d "
                         "views", cfg->ensemble_n_views);
    if (cfg->ensemble_shared_init)
        return rm_errorf("ensemble.shared_init: a shared trunk's heads share the trunk already, and each head's own "
                         "initialisation is what makes them differ (ensemble.kind = \"shared_trunk\")");
    if (cfg->active_warm_start)
        return rm_errorf("active.warm_start: a shared trunk's heads cannot continue from the previous round's weights "
                         "(ensemble.kind = \"shared_trunk\")");
    return 0;
}

int rm_train_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs,
                    int index, MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx)
{
    return rm_train_member_controlled(cfg, data, pairs, index, group, out, progress, ctx, NULL);
}

int rm_train_member_controlled(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                               MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx,
                               rm_train_control *control)
{
    memset(out, 0, sizeof *out);
    const rm_family *family = rm_family_of_member(cfg, index);
    if (!family || rm_family_check_settings(cfg, 0) != 0) return rm_error_context("member %d", index);
    return families[rm_family_id(family)].train(cfg, data, pairs, index, group, out, progress, ctx, control);
}

