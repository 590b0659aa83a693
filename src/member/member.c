/* A trained member: scoring it with its MLP, its standardisation over the train
 * responses, its history and the divergence check (see include/rmens/member/train.h). */
#include "rmens/member/member.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "member_internal.h"
#include "rmens/base/common.h"
#include "rmens/base/parallel.h"

/* Rows scored per BLAS call when scoring: large enough for sgemm to run at full rate,
 * small enough that the activations stay a few MB. */
#define RM_SCORE_ROWS 1024

int rm_train_data_require(const rm_train_data *data, const uint32_t *items, size_t n, const char *what)
{
    if (!data->loaded) return 0;
    for (size_t i = 0; i < n; i++)
        if (!data->loaded[items[i]])
            return rm_errorf("%s: train response %u (prompt %zu) was not read from the store (rm_member_items_read "
                             "leaves it out): an internal error",
                             what, items[i], (size_t)items[i] / data->n_responses);
    return 0;
}

int rm_member_score(const rm_mlp *mlp, const float *embeddings, size_t dim, const uint32_t *items,
                    size_t n, float *scores)
{
    if (dim != (size_t)mlp->dims[0])
        return rm_errorf("scoring: embeddings have dimension %zu, the model expects %d", dim, mlp->dims[0]);
    if (n == 0) return 0;
    int rows = n < RM_SCORE_ROWS ? (int)n : RM_SCORE_ROWS;
    rm_mlp_workspace ws;
    if (rm_mlp_workspace_create(&ws, mlp, rows) != 0) return rm_error_context("scoring");
    if (n > (size_t)rows && rm_mlp_workspace_pack(&ws, mlp) != 0) { /* weights packed once for all the blocks */
        rm_mlp_workspace_free(&ws);
        return rm_error_context("scoring");
    }
    float *X = NULL;
    if (items) {
        X = rm_alloc((size_t)rows * dim, sizeof(float), "scoring rows");
        if (!X) {
            rm_mlp_workspace_free(&ws);
            return rm_error_context("scoring");
        }
    }
    for (size_t start = 0; start < n; start += (size_t)rows) {
        size_t count = n - start < (size_t)rows ? n - start : (size_t)rows;
        const float *block = rm_scoring_block(X, embeddings, dim, items, start, count);
        /* scores [n, outputs]: a shared-trunk unit scores every head at once */
        rm_mlp_forward_frozen(mlp, &ws, block, NULL, (int)count, scores + start * (size_t)mlp->dims[mlp->n_layers]);
    }
    free(X);
    rm_mlp_workspace_free(&ws);
    return 0;
}

void rm_member_history_rows(const rm_member *m, double *rows, int stride)
{
    for (int e = 0; e < m->epochs_run && e < stride; e++) {
        rows[e] = m->train_loss[e];
        rows[stride + e] = m->val_loss[e];
        rows[2 * stride + e] = m->val_accuracy[e];
    }
}

void rm_member_free(rm_member *m)
{
    if (m->family) m->family->free_model(m);
    else rm_mlp_free(&m->mlp); /* members zeroed by calloc are MLPs */
    free(m->train_loss);
    free(m->val_loss);
    free(m->val_accuracy);
    memset(m, 0, sizeof *m);
}

int rm_member_divergence(const rm_member *m, char *why, size_t n)
{
    if (m->epochs_run < 1) return 0;
    const int last = m->epochs_run - 1, kept = m->best_epoch > 0 ? m->best_epoch - 1 : last;
    double first_train = m->train_loss[0], lowest_val = INFINITY;
    for (int e = 0; e <= last; e++)
        if (m->val_loss[e] < lowest_val) lowest_val = m->val_loss[e];
    if (m->val_accuracy[kept] < 0.5) {
        snprintf(why, n, "validation accuracy %.4f < 0.5 at its kept epoch %d", m->val_accuracy[kept], kept + 1);
        return 1;
    }
    if (m->train_loss[last] > 10 * first_train) {
        snprintf(why, n, "training loss grew from %.4g (epoch 1) to %.4g (epoch %d)", first_train, m->train_loss[last],
                 last + 1);
        return 1;
    }
    if (isfinite(lowest_val) && m->val_loss[kept] > 10 * lowest_val) {
        snprintf(why, n, "validation loss grew from %.4g (lowest) to %.4g (epoch %d)", lowest_val, m->val_loss[kept],
                 kept + 1);
        return 1;
    }
    return 0;
}
