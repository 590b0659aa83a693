/* The gbdt family's Bradley-Terry objective (rm_gbdt_bt_gradients) against outside references:
 *  - gradient and Hessian diagonal against central differences of the pair loss
 *    sum_p -log sigmoid(r_w - r_l), on pairs that share rows (sums over a row's pairs);
 *  - with one pair per row it is XGBoost's own binary:logistic: a round boosted from our
 *    gradients gives the tree XGBoost grows for labels 1 (winners) / 0 (losers) at base
 *    margins +-(r_w - r_l). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <xgboost/c_api.h>

#include "../common/check.h"
#include "rmens/member/family_gbdt.h"
#include "rmens/member/family.h"

#define XGB(call) do { if ((call) != 0) { fprintf(stderr, "%s: %s\n", #call, XGBGetLastError()); exit(2); } } while (0)

static double uniform(unsigned *state) { *state = *state * 1103515245u + 12345u; return ((*state >> 8) & 0xffffff) / 16777216.0; }

/* The definition, in double. */
static double pair_loss_sum(const double *r, const uint32_t *w, const uint32_t *l, size_t n)
{
    double s = 0;
    for (size_t p = 0; p < n; p++) s += -log(1.0 / (1.0 + exp(-(r[w[p]] - r[l[p]]))));
    return s;
}

static void check_numerical(void)
{
    enum { ROWS = 7, PAIRS = 15 };
    unsigned st = 7;
    uint32_t w[PAIRS], l[PAIRS];
    float scores[ROWS], grad[ROWS], hess[ROWS];
    double r[ROWS];
    for (int i = 0; i < ROWS; i++) r[i] = scores[i] = (float)(4 * uniform(&st) - 2);
    for (int p = 0; p < PAIRS; p++) {
        w[p] = (uint32_t)(uniform(&st) * ROWS);
        do l[p] = (uint32_t)(uniform(&st) * ROWS); while (l[p] == w[p]);
    }
    double loss = rm_gbdt_bt_gradients(scores, ROWS, w, l, PAIRS, grad, hess);
    CHECK_CLOSE(loss, pair_loss_sum(r, w, l, PAIRS), 1e-9);
    for (int i = 0; i < ROWS; i++) {
        const double h = 1e-4;
        double keep = r[i];
        r[i] = keep + h; double up = pair_loss_sum(r, w, l, PAIRS);
        r[i] = keep - h; double down = pair_loss_sum(r, w, l, PAIRS);
        r[i] = keep;     double mid = pair_loss_sum(r, w, l, PAIRS);
        CHECK_CLOSE(grad[i], (up - down) / (2 * h), 1e-6);
        CHECK_CLOSE(hess[i], (up - 2 * mid + down) / (h * h), 1e-4);
    }
}

static BoosterHandle booster(DMatrixHandle dm, const char *objective, const char *base_score)
{
    BoosterHandle b;
    XGB(XGBoosterCreate(&dm, 1, &b));
    const char *params[][2] = {{"objective", objective}, {"base_score", base_score}, {"tree_method", "hist"},
                               {"max_depth", "3"}, {"eta", "1"}, {"lambda", "1"}, {"min_child_weight", "0"},
                               {"nthread", "1"}, {"seed", "3"}};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) XGB(XGBoosterSetParam(b, params[i][0], params[i][1]));
    return b;
}

static const float *margins(BoosterHandle b, DMatrixHandle dm)
{
    const bst_ulong *shape;
    bst_ulong dims;
    const float *out;
    XGB(XGBoosterPredictFromDMatrix(b, dm, "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, "
                                    "\"iteration_end\": 0, \"strict_shape\": false}", &shape, &dims, &out));
    return out;
}

static void check_logistic(void)
{
    enum { PAIRS = 300, ROWS = 2 * PAIRS, D = 5 };
    unsigned st = 11;
    static float X[ROWS * D], r[ROWS], label[ROWS], base[ROWS], grad[ROWS], hess[ROWS], tree_ours[ROWS];
    uint32_t w[PAIRS], l[PAIRS];
    for (int i = 0; i < ROWS * D; i++) X[i] = (float)uniform(&st);
    for (int i = 0; i < ROWS; i++) r[i] = (float)(2 * uniform(&st) - 1);
    for (int p = 0; p < PAIRS; p++) {
        w[p] = 2 * p, l[p] = 2 * p + 1;
        label[2 * p] = 1, label[2 * p + 1] = 0;
        base[2 * p] = r[2 * p] - r[2 * p + 1];      /* the winner's logistic margin: r_w - r_l */
        base[2 * p + 1] = r[2 * p + 1] - r[2 * p];  /* the loser's: r_l - r_w, label 0 */
    }
    rm_gbdt_bt_gradients(r, ROWS, w, l, PAIRS, grad, hess);
    DMatrixHandle plain, logistic;
    XGB(XGDMatrixCreateFromMat(X, ROWS, D, NAN, &plain));
    XGB(XGDMatrixCreateFromMat(X, ROWS, D, NAN, &logistic));
    XGB(XGDMatrixSetFloatInfo(logistic, "label", label, ROWS));
    XGB(XGDMatrixSetFloatInfo(logistic, "base_margin", base, ROWS));
    BoosterHandle ours = booster(plain, "reg:squarederror", "0"), theirs = booster(logistic, "binary:logistic", "0.5");
    XGB(XGBoosterBoostOneIter(ours, plain, grad, hess, ROWS));
    XGB(XGBoosterUpdateOneIter(theirs, 0, logistic));
    const float *m = margins(ours, plain);
    for (int i = 0; i < ROWS; i++) tree_ours[i] = m[i];
    m = margins(theirs, logistic);
    double worst = 0, spread = 0;
    for (int i = 0; i < ROWS; i++) {
        double tree_theirs = (double)m[i] - base[i];
        worst = fmax(worst, fabs(tree_theirs - tree_ours[i]));
        spread = fmax(spread, fabs(tree_ours[i]));
    }
    printf("one pair per row: trees differ by at most %.3g (leaf values up to %.3g)\n", worst, spread);
    CHECK(spread > 0.05); /* a real tree, not a stump of zeros */
    CHECK(worst < 1e-5);
    XGBoosterFree(ours), XGBoosterFree(theirs);
    XGDMatrixFree(plain), XGDMatrixFree(logistic);
}

int main(void)
{
    check_numerical();
    check_logistic();
    return check_status("test_gbdt_objective");
}
