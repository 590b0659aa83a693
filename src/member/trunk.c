/* Shared-trunk ensembles: the settings they need, the unit's initialisation and its heads
 * as members (see include/rmens/member/trunk.h; the training loop is src/member/train.c's). */
#include "rmens/member/trunk.h"

#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/rng.h"

/* The classification objective on n pairs' 2n scores (winners labelled 1, losers 0). */
static double clf_pairs_loss(const float *scores, size_t n, float *dscores)
{
    double loss = 0;
    for (size_t i = 0; i < 2 * n; i++) {
        float label = i < n ? 1.0f : 0.0f;
        loss += rm_clf_loss(scores + i, &label, 1, dscores + i, NULL);
    }
    return loss;
}

int rm_settings_shared_trunk(const rm_settings *cfg) { return strcmp(cfg->ensemble_kind, "shared_trunk") == 0; }

int rm_trunk_unit_create(rm_mlp *unit, const rm_settings *cfg, int dim, int n_heads)
{
    if (rm_mlp_create_outputs(unit, dim, cfg->model_hidden, cfg->model_n_hidden, n_heads) != 0)
        return rm_error_context("shared trunk with %d heads", n_heads);
    /* The trunk's parameters sit at the same offsets as in a one-output member, so member
     * 0's initialisation draws them from the same counters. */
    const uint64_t seed0 = rm_member_seed((uint64_t)cfg->seed, 0);
    rm_mlp_init_uniform(unit, seed0, RM_STREAM_MEMBER(0, RM_MEMBER_INIT));
    /* Head e: member e's own output layer, drawn as an independent member e draws it. */
    rm_mlp member;
    if (rm_mlp_create(&member, dim, cfg->model_hidden, cfg->model_n_hidden) != 0) {
        rm_mlp_free(unit);
        return rm_error_context("shared trunk with %d heads", n_heads);
    }
    const int last = unit->n_layers - 1;
    const size_t width = (size_t)unit->dims[last];
    for (int e = 0; e < n_heads; e++) {
        rm_mlp_init_uniform_layer(&member, last, rm_member_seed((uint64_t)cfg->seed, e), RM_STREAM_MEMBER(e, RM_MEMBER_INIT));
        memcpy(unit->params + unit->weight_offset[last] + (size_t)e * width, member.params + member.weight_offset[last],
               width * sizeof(float));
        unit->params[unit->bias_offset[last] + (size_t)e] = member.params[member.bias_offset[last]];
    }
    rm_mlp_free(&member);
    return 0;
}

/* A one-output member's layout of the unit's last layer: its weight row right after the
 * trunk (the trunk keeps the same offsets), then its bias. */
size_t rm_trunk_head_params(const rm_mlp *unit)
{
    const int last = unit->n_layers - 1;
    return unit->weight_offset[last] + (size_t)unit->dims[last] + 1;
}

void rm_trunk_split(const rm_mlp *unit, const float *unit_vector, int e, float *head_vector)
{
    const int last = unit->n_layers - 1;
    const size_t trunk = unit->weight_offset[last], width = (size_t)unit->dims[last];
    memcpy(head_vector, unit_vector, trunk * sizeof(float));
    memcpy(head_vector + trunk, unit_vector + trunk + (size_t)e * width, width * sizeof(float));
    head_vector[trunk + width] = unit_vector[unit->bias_offset[last] + (size_t)e];
}

void rm_trunk_join(const rm_mlp *unit, float *unit_vector, int e, const float *head_vector)
{
    const int last = unit->n_layers - 1;
    const size_t trunk = unit->weight_offset[last], width = (size_t)unit->dims[last];
    memcpy(unit_vector, head_vector, trunk * sizeof(float));
    memcpy(unit_vector + trunk + (size_t)e * width, head_vector + trunk, width * sizeof(float));
    unit_vector[unit->bias_offset[last] + (size_t)e] = head_vector[trunk + width];
}

int rm_trunk_unit_head(const rm_mlp *unit, int e, rm_mlp *head)
{
    const int last = unit->n_layers - 1;
    if (e < 0 || e >= unit->dims[last + 1]) return rm_errorf("shared trunk: no head %d of %d", e, unit->dims[last + 1]);
    if (rm_mlp_create(head, unit->dims[0], unit->dims + 1, last) != 0) return -1;
    rm_trunk_split(unit, unit->params, e, head->params);
    return 0;
}

double rm_trunk_heads_objective(int clf, const float *scores, size_t n, int E, const float *weights, float scale,
                                float *dscores, float *head_loss, float *column, float *dcolumn)
{
    double total = 0;
    for (int e = 0; e < E; e++) {
        // column (2n) = head e's scores; dcolumn (2n) its gradient
        for (size_t i = 0; i < 2 * n; i++) column[i] = scores[i * (size_t)E + (size_t)e];
        double loss = 0;
        if (!weights) {
            loss = clf ? clf_pairs_loss(column, n, dcolumn) : rm_bt_loss(column, (int)n, dcolumn, NULL);
        } else {
            /* pair by pair: its loss and gradient times its count in head e's resample */
            const float *w = weights + (size_t)e * n;
            for (size_t i = 0; i < n; i++) {
                float two[2] = {column[i], column[n + i]}, dtwo[2];
                loss += (double)w[i] * (clf ? clf_pairs_loss(two, 1, dtwo) : rm_bt_loss(two, 1, dtwo, NULL));
                dcolumn[i] = w[i] * dtwo[0];
                dcolumn[n + i] = w[i] * dtwo[1];
            }
        }
        for (size_t i = 0; i < 2 * n; i++) dscores[i * (size_t)E + (size_t)e] = dcolumn[i] * scale;
        head_loss[e] = (float)loss;
        total += loss;
    }
    return total;
}

int rm_trunk_unit_from_heads(rm_mlp *unit, const rm_member *heads, int E)
{
    const rm_mlp *h0 = &heads[0].mlp;
    const int last = h0->n_layers - 1;
    if (last < 1) return 0; /* no trunk: linear heads */
    const size_t trunk = h0->weight_offset[last];
    for (int e = 0; e < E; e++) {
        const rm_mlp *h = &heads[e].mlp;
        if (h->n_layers != h0->n_layers || h->n_params != h0->n_params ||
            memcmp(h->dims, h0->dims, sizeof h->dims) != 0 || memcmp(h->params, h0->params, trunk * sizeof(float)) != 0)
            return 0;
    }
    if (rm_mlp_create_outputs(unit, h0->dims[0], h0->dims + 1, last, E) != 0) return -1;
    for (int e = 0; e < E; e++) rm_trunk_join(unit, unit->params, e, heads[e].mlp.params);
    return 1;
}
