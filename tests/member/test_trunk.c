/* Shared-trunk units (rmens/member/trunk.h) against references we did not write into them:
 *  - the gradient of the heads' weighted objective through an E-output MLP against
 *    central finite differences in double (the trunk receives the sum of the heads'
 *    gradients), for both objectives, with and without per-pair weights; the float
 *    training path (rm_trunk_heads_objective + backward) agrees with the double gradient;
 *  - the unit's initialisation: trunk = member 0's, head e = member e's output layer;
 *    rm_trunk_unit_head gives back exactly those layers;
 *  - the heads' bootstrap weights reproduce, as a multiset, the training list an
 *    independent member of the same index resamples (val_split pairs and entries,
 *    both_orders on and off). */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "../common/fd_grad.h"
#include "../common/settings.h"
#include "member_internal.h"
#include "mlp_fp32.h"
#include "rmens/member/train_lists.h"
#include "rmens/member/family.h"
#include "rmens/base/common.h"
#include "rmens/base/config.h"
#include "rmens/model/model.h"
#include "rmens/base/rng.h"
#include "rmens/member/train.h"
#include "rmens/member/trunk.h"

enum { N_PAIRS = 7, HEADS = 3, DIM = 6 };

/* The test's settings, then a case's extra overrides (exits 2 if they do not load). */
static rm_settings settings(const char *const *extra, int n_extra)
{
    static const char *const base[] = {"model.hidden=[5, 4]", "seed=11", "ensemble.members=3",
                                       "ensemble.kind=\"shared_trunk\""};
    return test_settings(base, 4, extra, n_extra);
}

/* The test's own double loss: sum over heads e and pairs i of w[e][i] x loss of head e's
 * scores on pair i, with its gradient in dscores [2n, E] (written by this test, not by
 * rm_trunk_heads_objective). */
static double weighted_loss64(const rm_mlp64 *m, rm_mlp64_workspace *ws, const double *X, int clf,
                              const double *w, double *scores, double *dscores)
{
    rm_mlp64_forward(m, ws, X, 2 * N_PAIRS, scores);
    double loss = 0;
    for (int e = 0; e < HEADS; e++)
        for (int i = 0; i < N_PAIRS; i++) {
            double sw = scores[i * HEADS + e], sl = scores[(N_PAIRS + i) * HEADS + e], d[2], two[2] = {sw, sl};
            double wi = w ? w[e * N_PAIRS + i] : 1.0, li;
            if (clf) {
                double labels[2] = {1.0, 0.0};
                li = rm_clf_loss64(two, labels, 2, d, NULL);
            } else {
                li = rm_bt_loss64(two, 1, d, NULL);
            }
            loss += wi * li;
            dscores[i * HEADS + e] = wi * d[0];
            dscores[(N_PAIRS + i) * HEADS + e] = wi * d[1];
        }
    return loss;
}

/* weighted_loss64's arguments, for the finite differences (tests/common/fd_grad.h). */
typedef struct {
    const rm_mlp64 *m;
    rm_mlp64_workspace *ws;
    const double *X;
    int clf;
    const double *w;
    double *scores, *dscores;
} loss_args;

static double loss_of(void *ctx)
{
    const loss_args *a = ctx;
    return weighted_loss64(a->m, a->ws, a->X, a->clf, a->w, a->scores, a->dscores);
}

static void check_gradients(int clf, int weighted)
{
    rm_settings cfg = settings(NULL, 0);
    const int rows = 2 * N_PAIRS;
    rm_mlp unit;
    CHECK(rm_trunk_unit_create(&unit, &cfg, DIM, HEADS) == 0);
    CHECK(unit.dims[unit.n_layers] == HEADS);
    rm_mlp64 m;
    CHECK(rm_mlp64_from_float(&m, &unit) == 0);
    rm_mlp64_workspace ws;
    CHECK(rm_mlp64_workspace_create(&ws, &m, rows) == 0);
    double X[2 * N_PAIRS * DIM], w[HEADS * N_PAIRS], scores[2 * N_PAIRS * HEADS], dscores[2 * N_PAIRS * HEADS];
    for (int i = 0; i < rows * DIM; i++) X[i] = rm_rand_normal(3, 5, (uint64_t)i);
    for (int i = 0; i < HEADS * N_PAIRS; i++) w[i] = (double)rm_rand_below(4, 6, (uint64_t)i, 4); /* counts 0..3 */
    const double *wp = weighted ? w : NULL;

    double *grads = calloc(m.n_params, sizeof(double));
    weighted_loss64(&m, &ws, X, clf, wp, scores, dscores);
    rm_mlp64_backward(&m, &ws, X, rows, dscores, grads);
    /* every parameter: (L(p+h) - L(p-h)) / 2h, h = 1e-5, relative error at most 1e-6 */
    loss_args args = {&m, &ws, X, clf, wp, scores, dscores};
    double worst;
    int bad = test_fd_check(m.params, m.n_params, grads, 1e-5, 1e-6, loss_of, &args, &worst);
    printf("shared trunk %d heads, %s%s: %zu params, worst relative error against finite differences %.3g\n", HEADS,
           clf ? "clf" : "bt", weighted ? ", bootstrap weights" : "", m.n_params, worst);
    CHECK(bad == 0);

    /* The float training path: forward, rm_trunk_heads_objective, paired backward. */
    float Xf[2 * N_PAIRS * DIM], wf[HEADS * N_PAIRS], sf[2 * N_PAIRS * HEADS], dsf[2 * N_PAIRS * HEADS];
    float head_loss[HEADS], column[2 * N_PAIRS], dcolumn[2 * N_PAIRS];
    for (int i = 0; i < rows * DIM; i++) Xf[i] = (float)X[i];
    for (int i = 0; i < HEADS * N_PAIRS; i++) wf[i] = (float)w[i];
    rm_mlp_workspace wsf;
    CHECK(rm_mlp_workspace_create(&wsf, &unit, rows) == 0);
    rm_mlp_forward(&unit, &wsf, Xf, rows, sf);
    double loss_f = rm_trunk_heads_objective(clf, sf, N_PAIRS, HEADS, weighted ? wf : NULL, 1.0f, dsf, head_loss,
                                             column, dcolumn);
    float *gf = calloc(unit.n_params, sizeof(float));
    rm_mlp_backward_pairs(&unit, &wsf, Xf, rows, dsf, gf);
    double loss_d = weighted_loss64(&m, &ws, X, clf, wp, scores, dscores), head_sum = 0;
    for (int e = 0; e < HEADS; e++) head_sum += head_loss[e];
    CHECK(fabs(loss_f - loss_d) <= 1e-5 * fmax(1.0, fabs(loss_d)));
    CHECK(fabs(head_sum - loss_d) <= 1e-4 * fmax(1.0, fabs(loss_d)));
    double worst_f = 0;
    for (size_t i = 0; i < unit.n_params; i++) {
        double err = fabs((double)gf[i] - grads[i]) / fmax(1e-2, fabs(grads[i]));
        if (err > worst_f) worst_f = err;
    }
    printf("  float path against the double gradient: worst relative error %.3g\n", worst_f);
    CHECK(worst_f < 1e-3);
    free(gf);
    free(grads);
    rm_mlp_workspace_free(&wsf);
    rm_mlp64_workspace_free(&ws);
    rm_mlp64_free(&m);
    rm_mlp_free(&unit);
    rm_settings_free(&cfg);
}

static void check_initialisation(void)
{
    rm_settings cfg = settings(NULL, 0);
    rm_mlp unit;
    CHECK(rm_trunk_unit_create(&unit, &cfg, DIM, HEADS) == 0);
    for (int e = 0; e < HEADS; e++) {
        rm_mlp head, member, member0;
        CHECK(rm_trunk_unit_head(&unit, e, &head) == 0);
        CHECK(rm_mlp_create(&member, DIM, cfg.model_hidden, cfg.model_n_hidden) == 0);
        CHECK(rm_mlp_create(&member0, DIM, cfg.model_hidden, cfg.model_n_hidden) == 0);
        rm_mlp_init_uniform(&member, rm_member_seed((uint64_t)cfg.seed, e), RM_STREAM_MEMBER(e, RM_MEMBER_INIT));
        rm_mlp_init_uniform(&member0, rm_member_seed((uint64_t)cfg.seed, 0), RM_STREAM_MEMBER(0, RM_MEMBER_INIT));
        CHECK(head.n_params == member.n_params && head.dims[head.n_layers] == 1);
        const size_t trunk = member.weight_offset[member.n_layers - 1];
        CHECK(memcmp(head.params, member0.params, trunk * sizeof(float)) == 0);
        CHECK(memcmp(head.params + trunk, member.params + trunk, (member.n_params - trunk) * sizeof(float)) == 0);
        CHECK(e == 0 || memcmp(head.params + trunk, member0.params + trunk, (member.n_params - trunk) * sizeof(float)) != 0);
        rm_mlp_free(&head);
        rm_mlp_free(&member);
        rm_mlp_free(&member0);
    }
    CHECK(rm_trunk_unit_head(&unit, HEADS, &(rm_mlp){0}) != 0);
    rm_mlp_free(&unit);
    rm_settings_free(&cfg);
    printf("initialisation: trunk = member 0's, head e = member e's output layer (%d heads)\n", HEADS);
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The multiset of pair ids that head e's weights put on the unit's list equals the list
 * an independent member e resamples. */
static void check_head_weights(const char *val_split, const char *both_orders)
{
    char split[48], orders[48];
    snprintf(split, sizeof split, "train.val_split=\"%s\"", val_split);
    snprintf(orders, sizeof orders, "pairs.both_orders=%s", both_orders);
    const char *extra[3] = {"ensemble.data=\"bootstrap\"", split, orders};
    rm_settings cfg = settings(extra, 3);
    enum { N = 40 };
    uint32_t winner[N], loser[N], order[N];
    for (uint32_t i = 0; i < N; i++) winner[i] = 2 * i, loser[i] = 2 * i + 1;
    rm_permutation(9, 9, order, N);
    rm_pairs pairs = {.n = N, .winner = winner, .loser = loser, .n_train = 31, .order = order};
    size_t n_val, n_list = rm_member_list_sizes(&cfg, &pairs, &n_val);
    uint32_t *unit_list = malloc(sizeof(uint32_t) * n_list), *member_list = malloc(sizeof(uint32_t) * n_list);
    uint32_t *expanded = malloc(sizeof(uint32_t) * n_list * 8), *val = malloc(sizeof(uint32_t) * (n_val + 1));
    float *w = malloc(sizeof(float) * n_list);
    CHECK(rm_member_lists_of(&cfg, &pairs, 0, 0, unit_list, val) == 0);
    for (int e = 0; e < HEADS; e++) {
        CHECK(rm_trunk_head_weights(&cfg, &pairs, e, w, n_list) == 0);
        /* entries mode: an independent member e splits by its own permutation; the unit
         * uses member 0's, so only head 0 has the same sources to compare with */
        if (strcmp(val_split, "entries") == 0 && e > 0) continue;
        CHECK(rm_member_lists(&cfg, &pairs, e, member_list, val) == 0);
        size_t n = 0;
        double total = 0;
        for (size_t j = 0; j < n_list; j++) {
            total += w[j];
            for (int c = 0; c < (int)w[j]; c++) expanded[n++] = unit_list[j];
        }
        CHECK(total == (double)n_list && n == n_list);
        qsort(expanded, n, sizeof(uint32_t), compare_u32);
        qsort(member_list, n_list, sizeof(uint32_t), compare_u32);
        CHECK(memcmp(expanded, member_list, n_list * sizeof(uint32_t)) == 0);
    }
    printf("bootstrap weights (val_split %s, both_orders %s): the heads' resamples as multisets of %zu entries\n",
           val_split, both_orders, n_list);
    free(unit_list);
    free(member_list);
    free(expanded);
    free(val);
    free(w);
    rm_settings_free(&cfg);
}

static void check_settings_refused(void)
{
    const char *linear[1] = {"model.hidden=[]"};
    rm_settings s = settings(linear, 1);
    CHECK(rm_ensemble_kind_check(&s) != 0 && strstr(rm_last_error(), "model.hidden"));
    rm_settings_free(&s);
    const char *gbdt[1] = {"ensemble.families=[\"mlp\", \"gbdt\"]"};
    s = settings(gbdt, 1);
    CHECK(rm_ensemble_kind_check(&s) != 0 && strstr(rm_last_error(), "ensemble.families"));
    rm_settings_free(&s);
    const char *warm[1] = {"active.warm_start=true"};
    s = settings(warm, 1);
    CHECK(rm_ensemble_kind_check(&s) != 0 && strstr(rm_last_error(), "active.warm_start"));
    rm_settings_free(&s);
    s = settings(NULL, 0);
    CHECK(rm_ensemble_kind_check(&s) == 0);
    rm_settings_free(&s);
    printf("settings a shared trunk cannot have are refused, naming the key\n");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    for (int clf = 0; clf < 2; clf++)
        for (int weighted = 0; weighted < 2; weighted++) check_gradients(clf, weighted);
    check_initialisation();
    check_head_weights("pairs", "false");
    check_head_weights("pairs", "true");
    check_head_weights("entries", "true");
    check_settings_refused();
    MPI_Finalize();
    return check_status("test_trunk");
}
