/* Views in an ensemble (ensemble.views, see include/rmens/ensemble/ensemble_views.h): which store view
 * each member reads. Member m uses configured view m mod V, so views are dealt
 * round-robin like members to rank groups; the deal itself is unchanged. */
#include "rmens/ensemble/ensemble_views.h"

#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/model/model.h"
#include "rmens/store/store_inputs.h"

/* model.inputs: the composite of the listed views, with the train split's moments, as
 * the one view every member uses. Collective over the store's communicator. */
static int plan_inputs(rm_view_plan *vp, const rm_settings *cfg, rm_store *store)
{
    if (rm_all_ok(store->comm, cfg->ensemble_n_views > 0
                                   ? rm_errorf("model.inputs and ensemble.views both set: a member's input is either "
                                               "one view (ensemble.views) or the composite of model.inputs")
                                   : 0) != 0)
        return -1;
    size_t dim = 0;
    if (rm_store_inputs_moments(store, cfg->model_inputs, cfg->model_n_inputs, NULL, NULL, &dim) != 0) return -1;
    /* added already on this open store (rmens select plans every grid point): the same moments */
    char name[64];
    if (rm_store_inputs_name(cfg->model_inputs, cfg->model_n_inputs, name, sizeof name) != 0) return -1;
    for (int v = 0; v < store->n_views; v++)
        if (strcmp(store->views[v].name, name) == 0 && store->views[v].ops) {
            vp->n = 1, vp->index[0] = v, vp->dim[0] = dim;
            return 0;
        }
    double *mean = rm_alloc(dim, sizeof(double), "model.inputs mean");
    double *std = rm_alloc(dim, sizeof(double), "model.inputs std");
    int rc = rm_all_ok(store->comm, mean && std ? 0 : -1);
    if (rc == 0) rc = rm_store_inputs_moments(store, cfg->model_inputs, cfg->model_n_inputs, mean, std, &dim);
    if (rc == 0) rc = rm_all_ok(store->comm, rm_store_inputs_add(store, cfg->model_inputs, cfg->model_n_inputs, mean, std, dim, &vp->index[0]));
    vp->n = 1;
    vp->dim[0] = dim;
    free(mean);
    free(std);
    return rc;
}

int rm_view_plan_resolve(rm_view_plan *vp, const rm_settings *cfg, rm_store *store)
{
    memset(vp, 0, sizeof *vp);
    if (cfg->model_n_inputs > 0) return plan_inputs(vp, cfg, store);
    vp->n = cfg->ensemble_n_views > 0 ? cfg->ensemble_n_views : 1;
    for (int i = 0; i < cfg->ensemble_n_views; i++) {
        int v = rm_store_find_view(store, cfg->ensemble_views[i]);
        if (v < 0) return rm_error_context("ensemble.views entry %d", i);
        vp->index[i] = v;
        vp->dim[i] = rm_store_view_dim(store, v);
    }
    if (cfg->ensemble_n_views == 0) vp->dim[0] = store->dim;
    return 0;
}

int rm_ensemble_inputs_prepare(const rm_ensemble *e, rm_store *store)
{
    if (e->n_inputs == 0) return 0;
    char name[64];
    if (rm_store_inputs_name(e->inputs, e->n_inputs, name, sizeof name) != 0) return -1;
    for (int v = 0; v < store->n_views; v++)
        if (strcmp(store->views[v].name, name) == 0) return 0; /* prepared already (one store, two loads) */
    int index;
    if (rm_store_inputs_add(store, e->inputs, e->n_inputs, e->inputs_mean, e->inputs_std, e->inputs_dim, &index) != 0)
        return rm_error_context("members.h5 /inputs");
    return 0;
}

int rm_ensemble_member_views(const rm_ensemble *e, const rm_store *store, int *view_of_member)
{
    for (int m = 0; m < e->n_members; m++) {
        const char *name = e->member_view ? e->member_view[m] : "";
        int v = name[0] ? rm_store_find_view(store, name) : 0;
        if (v < 0) return rm_error_context("member %d was trained on view '%s'", m, name);
        size_t want = rm_store_view_dim(store, v);
        /* an MLP member's input width is its dim (other families check their own input) */
        if (e->members[m].mlp.n_layers > 0 && (size_t)e->members[m].mlp.dims[0] != want)
            return rm_errorf("member %d has dim %d but view '%s' of %s has D %zu", m, e->members[m].mlp.dims[0],
                             store->views[v].name, store->path, want);
        view_of_member[m] = v;
    }
    return 0;
}
