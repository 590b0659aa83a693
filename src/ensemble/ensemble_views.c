/* Views in an ensemble (ensemble.views, see include/rmens/ensemble/ensemble_views.h): which store view
 * each member reads. Member m uses configured view m mod V, so views are dealt
 * round-robin like members to rank groups; the deal itself is unchanged. */
#include "rmens/ensemble/ensemble_views.h"

#include <string.h>

#include "rmens/base/common.h"
#include "rmens/model/model.h"

int rm_view_plan_resolve(rm_view_plan *vp, const rm_settings *cfg, const rm_store *store)
{
    memset(vp, 0, sizeof *vp);
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
