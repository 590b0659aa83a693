/* Views (ensemble.views): which embedding of the store each member trains and is scored
 * on (src/ensemble/ensemble_views.c). */
#ifndef RMENS_ENSEMBLE_ENSEMBLE_VIEWS_H
#define RMENS_ENSEMBLE_ENSEMBLE_VIEWS_H

#include <stddef.h>

#include "rmens/base/config.h"
#include "rmens/ensemble/members_file.h"
#include "rmens/store/store.h"

/* The configured views as store view indexes: index[i], dim[i] for i < n; without
 * ensemble.views one entry, the default view. Local; an unknown name is an error. */
typedef struct {
    int n;
    int index[RM_MAX_VIEWS];
    size_t dim[RM_MAX_VIEWS];
} rm_view_plan;
int rm_view_plan_resolve(rm_view_plan *vp, const rm_settings *cfg, rm_store *store);
/* With model.inputs the plan is one view, the composite of the listed views with the train
 * split's moments, added to the store (collective: rmens/store/store_inputs.h). */

/* A loaded ensemble trained on model.inputs: add its composite view, with the moments
 * members.h5 recorded, to the open store (local; nothing without /inputs). Call before
 * rm_ensemble_member_views. */
int rm_ensemble_inputs_prepare(const rm_ensemble *e, rm_store *store);
/* view_of_member[m] = the store view member m of a loaded ensemble is scored on, with its
 * dim checked against the view's D (local). */
int rm_ensemble_member_views(const rm_ensemble *e, const rm_store *store, int *view_of_member);

#endif
