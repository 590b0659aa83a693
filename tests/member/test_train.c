/* Training one member on an in-memory synthetic split (one rank):
 *  - pairs: determinism, no self pairs, within-prompt pairs stay in one prompt, perfect
 *    and noisy annotators, the validation split;
 *  - a trained member ranks held-out test responses better than a single annotator of the
 *    same beta would (BT and clf), and beats chance by far;
 *  - two trainings give bitwise-identical members, also with a different BLAS thread
 *    count (the any-number-of-ranks guarantee rests on it); members differ by index;
 *  - early stopping keeps the best epoch's weights; bootstrap changes the member;
 *  - standardisation statistics match a direct scoring;
 *  - bad values each get an error naming the key; a NaN embedding stops training. */
#include <cblas.h>
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "../common/settings.h"
#include "rmens/member/train_lists.h"
#include "rmens/member/family.h"
#include "rmens/base/common.h"
#include "rmens/base/config.h"
#include "rmens/member/pairs.h"
#include "rmens/member/train.h"
#include "rmens/member/member_scoring.h"
#include "../common/synthetic.h"

/* The test's settings, then a case's extra overrides (exits 2 if they do not load). */
static rm_settings settings(const char *const *extra, int n_extra)
{
    static const char *const base[] = {"model.hidden=[32, 16]", "train.epochs=12", "train.batch_size=64",
                                       "train.learning_rate=0.003", "train.patience=3", "seed=5",
                                       "pairs.annotator_beta=1.0"};
    return test_settings(base, 7, extra, n_extra);
}

/* Fraction of within-prompt test pairs (distinct golden rewards) the member orders like
 * the golden rewards, and the accuracy a beta-annotator has on the same pairs on average. */
static void test_accuracy(const rm_member *m, const synth_split *test, double beta, double scale,
                          double *model_acc, double *annotator_acc)
{
    size_t n = test->n_prompts * test->n_responses;
    float *scores = malloc(sizeof(float) * n);
    CHECK(rm_member_score(&m->mlp, test->embeddings, test->dim, NULL, n, scores) == 0);
    double right = 0, expected = 0, total = 0;
    for (size_t p = 0; p < test->n_prompts; p++)
        for (size_t a = 0; a < test->n_responses; a++)
            for (size_t b = a + 1; b < test->n_responses; b++) {
                size_t ia = p * test->n_responses + a, ib = p * test->n_responses + b;
                double dg = (double)test->rewards[ia] - test->rewards[ib];
                if (dg == 0) continue;
                total++;
                right += (dg > 0) == (scores[ia] > scores[ib]);
                expected += 1.0 / (1.0 + exp(-beta * fabs(dg) / scale));
            }
    *model_acc = right / total;
    *annotator_acc = expected / total;
    free(scores);
}

static void check_pairs(const synth_split *train)
{
    rm_pairs a, b, c;
    CHECK(test_pairs_build(&a, train->rewards, train->n_prompts, train->n_responses, "cross_prompt", 3000, 1.0, 0.2, 9) == 0);
    CHECK(test_pairs_build(&b, train->rewards, train->n_prompts, train->n_responses, "cross_prompt", 1000, 1.0, 0.2, 9) == 0);
    CHECK(a.n_train == 2400 && b.n_train == 800);
    /* a longer list starts with the shorter one: pairs depend on (seed, index) only */
    CHECK(memcmp(a.winner, b.winner, 1000 * sizeof(uint32_t)) == 0);
    CHECK(memcmp(a.loser, b.loser, 1000 * sizeof(uint32_t)) == 0);
    size_t n_items = train->n_prompts * train->n_responses, self = 0;
    int *seen = calloc(a.n, sizeof(int));
    for (size_t i = 0; i < a.n; i++) {
        self += a.winner[i] == a.loser[i];
        CHECK(a.winner[i] < n_items && a.loser[i] < n_items);
        seen[a.order[i]]++;
    }
    CHECK(self == 0);
    size_t once = 0;
    for (size_t i = 0; i < a.n; i++) once += seen[i] == 1;
    CHECK(once == a.n); /* order is a permutation */
    free(seen);

    /* The noisy annotator's agreement is what beta predicts (binomial, 4 sigma). */
    double s = a.reward_scale, expected = 0;
    size_t untied = 0;
    for (size_t i = 0; i < a.n; i++) {
        double dg = (double)train->rewards[a.winner[i]] - train->rewards[a.loser[i]];
        if (dg == 0) continue;
        untied++;
        expected += 1.0 / (1.0 + exp(-fabs(dg) / s));
    }
    expected /= (double)untied;
    printf("cross-prompt beta=1: label agreement %.4f, expected %.4f\n", a.label_agreement, expected);
    CHECK(fabs(a.label_agreement - expected) < 4 * sqrt(expected * (1 - expected) / (double)untied));
    CHECK(a.label_agreement < 0.95);

    /* reward scale: population std */
    double mean = 0, ss = 0;
    for (size_t i = 0; i < n_items; i++) mean += train->rewards[i];
    mean /= (double)n_items;
    for (size_t i = 0; i < n_items; i++) ss += (train->rewards[i] - mean) * (train->rewards[i] - mean);
    CHECK_CLOSE(a.reward_scale, sqrt(ss / (double)n_items), 1e-9);

    /* perfect annotator, within-prompt pairs */
    CHECK(test_pairs_build(&c, train->rewards, train->n_prompts, train->n_responses, "within_prompt", 2000, -1.0, 0.0, 9) == 0);
    CHECK(c.n_train == 2000);
    CHECK(c.label_agreement == 1.0);
    size_t cross = 0, wrong = 0;
    for (size_t i = 0; i < c.n; i++) {
        cross += c.winner[i] / train->n_responses != c.loser[i] / train->n_responses || c.winner[i] == c.loser[i];
        wrong += train->rewards[c.winner[i]] < train->rewards[c.loser[i]];
    }
    CHECK(cross == 0 && wrong == 0);
    rm_pairs_free(&a);
    rm_pairs_free(&b);
    rm_pairs_free(&c);

    /* errors */
    CHECK(test_pairs_build(&a, train->rewards, train->n_prompts, train->n_responses, "within", 10, 1.0, 0.2, 9) == -1);
    CHECK(strstr(rm_last_error(), "pairs.mode") != NULL);
    CHECK(test_pairs_build(&a, train->rewards, train->n_prompts * train->n_responses, 1, "within_prompt", 10, 1.0, 0.2, 9) == -1);
    CHECK(strstr(rm_last_error(), "2 responses") != NULL);
    CHECK(test_pairs_build(&a, train->rewards, train->n_prompts, train->n_responses, "cross_prompt", 1, 1.0, 0.5, 9) == 0);
    rm_pairs_free(&a);
    CHECK(test_pairs_build(&a, train->rewards, train->n_prompts, train->n_responses, "cross_prompt", 0, 1.0, 0.5, 9) == -1);
}

static int train(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index, rm_member *out)
{
    int rc = rm_train_member(cfg, data, pairs, index, MPI_COMM_SELF, out, NULL, NULL);
    if (rc != 0) fprintf(stderr, "train: %s\n", rm_last_error());
    return rc;
}

static int same_member(const rm_member *a, const rm_member *b)
{
    return a->mlp.n_params == b->mlp.n_params &&
           memcmp(a->mlp.params, b->mlp.params, a->mlp.n_params * sizeof(float)) == 0 &&
           a->epochs_run == b->epochs_run && a->best_epoch == b->best_epoch && a->score_mean == b->score_mean &&
           a->score_std == b->score_std &&
           memcmp(a->val_loss, b->val_loss, (size_t)a->epochs_run * sizeof(double)) == 0;
}

static int progress_calls = 0;
static void count_progress(const rm_member *m, int epoch, int epochs, double train_loss, double val_loss,
                           double val_accuracy, double pairs_per_second, double eta, void *ctx)
{
    (void)m; (void)epochs; (void)pairs_per_second; (void)eta; (void)ctx;
    progress_calls++;
    CHECK(epoch == progress_calls);
    CHECK(isfinite(train_loss) && isfinite(val_loss) && val_accuracy >= 0 && val_accuracy <= 1);
}

/* Under BT the output bias has no gradient: it keeps its initial value exactly. */
static void check_output_bias_kept(const rm_settings *cfg, const rm_train_data *data, const rm_member *m0)
{
    rm_mlp init;
    CHECK(rm_mlp_create(&init, (int)data->dim, cfg->model_hidden, cfg->model_n_hidden) == 0);
    rm_mlp_init_uniform(&init, m0->seed, RM_STREAM_MEMBER(0, RM_MEMBER_INIT));
    size_t out_bias = init.bias_offset[init.n_layers - 1];
    CHECK(init.params[out_bias] == m0->mlp.params[out_bias]);
    CHECK(init.params[0] != m0->mlp.params[0]);
    rm_mlp_free(&init);
}

/* Trains member 0 under the test's settings into *m0 (the reference the later checks
 * compare with): progress reported once per epoch, it ranks the test split better than
 * its annotator and than its own training labels, its pair count and seed. */
static void train_first_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs,
                               const synth_split *test, rm_member *m0)
{
    CHECK(rm_train_member(cfg, data, pairs, 0, MPI_COMM_SELF, m0, count_progress, NULL) == 0);
    CHECK(progress_calls == m0->epochs_run);
    double model_acc, annotator_acc;
    test_accuracy(m0, test, cfg->pairs_annotator_beta, pairs->reward_scale, &model_acc, &annotator_acc);
    printf("bt member: %d epochs (best %d), val acc %.4f, test pairwise acc %.4f vs annotator %.4f "
           "(train label agreement %.4f)\n", m0->epochs_run, m0->best_epoch, m0->val_accuracy[m0->best_epoch - 1],
           model_acc, annotator_acc, pairs->label_agreement);
    CHECK(model_acc > annotator_acc + 0.05);
    CHECK(model_acc > pairs->label_agreement);
    CHECK(m0->pairs_trained == (long long)m0->epochs_run * (long long)pairs->n_train);
    CHECK(m0->seed == rm_member_seed(5, 0));
    check_output_bias_kept(cfg, data, m0);
}

/* The kept weights are the best epoch's: their validation loss is the minimum of the
 * history, and rescoring the validation pairs with them gives that loss again. */
static void check_best_epoch_kept(const rm_train_data *data, const rm_pairs *pairs, const rm_member *m0)
{
    double best = INFINITY;
    for (int e = 0; e < m0->epochs_run; e++) best = fmin(best, m0->val_loss[e]);
    CHECK(m0->val_loss[m0->best_epoch - 1] == best);

    size_t n_val = pairs->n - pairs->n_train;
    float *sw = malloc(sizeof(float) * n_val), *sl = malloc(sizeof(float) * n_val);
    uint32_t *w = malloc(sizeof(uint32_t) * n_val), *l = malloc(sizeof(uint32_t) * n_val);
    for (size_t i = 0; i < n_val; i++) {
        w[i] = pairs->winner[pairs->order[pairs->n_train + i]];
        l[i] = pairs->loser[pairs->order[pairs->n_train + i]];
    }
    CHECK(rm_member_score(&m0->mlp, data->embeddings, data->dim, w, n_val, sw) == 0);
    CHECK(rm_member_score(&m0->mlp, data->embeddings, data->dim, l, n_val, sl) == 0);
    double loss = 0;
    for (size_t i = 0; i < n_val; i++) loss += log1p(exp(-((double)sw[i] - sl[i])));
    CHECK_CLOSE(loss / (double)n_val, best, 1e-5);
    free(sw); free(sl); free(w); free(l);
}

/* Standardisation: mean and population std of the scores of all train items. */
static void check_standardisation(const rm_train_data *data, const rm_member *m0)
{
    size_t n = data->n_prompts * data->n_responses;
    float *s = malloc(sizeof(float) * n);
    CHECK(rm_member_score(&m0->mlp, data->embeddings, data->dim, NULL, n, s) == 0);
    double mean = 0, ss = 0;
    for (size_t i = 0; i < n; i++) mean += s[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) ss += (s[i] - mean) * (s[i] - mean);
    CHECK_CLOSE(m0->score_mean, mean, 1e-9 * fmax(1, fabs(mean)));
    CHECK_CLOSE(m0->score_std, sqrt(ss / (double)n), 1e-9);
    free(s);
}

/* train.standardise_responses = k: the statistics of the k evenly spaced items
 * floor(j n / k), and k >= n the statistics of all of them, bit for bit. */
static void check_standardisation_sample(const rm_train_data *data, const rm_member *m0)
{
    size_t n = data->n_prompts * data->n_responses, k = n / 3 + 1;
    uint32_t *items = malloc(sizeof(uint32_t) * k);
    float *s = malloc(sizeof(float) * k);
    for (size_t j = 0; j < k; j++) items[j] = (uint32_t)(j * n / k);
    CHECK(items[0] == 0 && items[k - 1] < n && items[1] > items[0]);
    CHECK(rm_member_score(&m0->mlp, data->embeddings, data->dim, items, k, s) == 0);
    double mean = 0, ss = 0;
    for (size_t i = 0; i < k; i++) mean += s[i];
    mean /= (double)k;
    for (size_t i = 0; i < k; i++) ss += (s[i] - mean) * (s[i] - mean);
    rm_member copy = *m0;
    CHECK(rm_member_standardise_train(&copy, data, k, MPI_COMM_SELF) == 0);
    CHECK(copy.score_mean == mean && copy.score_std == sqrt(ss / (double)k));
    CHECK(fabs(copy.score_mean - m0->score_mean) > 0); /* a sample, not all items */
    printf("standardisation on %zu of %zu items: mean %.6f (all: %.6f), std %.6f (all: %.6f)\n", k, n, mean,
           m0->score_mean, copy.score_std, m0->score_std);
    CHECK(rm_member_standardise_train(&copy, data, n, MPI_COMM_SELF) == 0);
    CHECK(copy.score_mean == m0->score_mean && copy.score_std == m0->score_std);
    free(items);
    free(s);
}

/* Deterministic and independent of the BLAS thread count (the any-number-of-ranks
 * guarantee rests on it); another member index gives another initialisation and order.
 * Leaves the BLAS at 2 threads, as main set it. */
static void check_deterministic(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs,
                                const rm_member *m0)
{
    rm_member again, other;
    rm_mlp_set_threads(1);
    CHECK(train(cfg, data, pairs, 0, &again) == 0);
    CHECK(same_member(m0, &again));
    rm_member_free(&again);
    rm_mlp_set_threads(2);
    CHECK(train(cfg, data, pairs, 0, &again) == 0);
    CHECK(same_member(m0, &again));
    rm_member_free(&again);

    CHECK(train(cfg, data, pairs, 1, &other) == 0);
    CHECK(!same_member(m0, &other));
    rm_member_free(&other);
}

/* Bootstrap: deterministic, and not the full-data member. */
static void check_bootstrap(const rm_train_data *data, const rm_pairs *pairs, const rm_member *m0)
{
    const char *extra[] = {"ensemble.data=\"bootstrap\""};
    rm_settings boot = settings(extra, 1);
    rm_member other, again;
    CHECK(train(&boot, data, pairs, 0, &other) == 0);
    CHECK(train(&boot, data, pairs, 0, &again) == 0);
    CHECK(same_member(&other, &again));
    CHECK(!same_member(m0, &other));
    rm_member_free(&other);
    rm_member_free(&again);
    rm_settings_free(&boot);
}

/* The classification objective also beats its annotator on the test split. */
static void check_clf_objective(const rm_train_data *data, const rm_pairs *pairs, const synth_split *test)
{
    const char *extra[] = {"model.objective=\"clf\""};
    rm_settings clf = settings(extra, 1);
    rm_member other;
    double model_acc, annotator_acc;
    CHECK(train(&clf, data, pairs, 0, &other) == 0);
    test_accuracy(&other, test, clf.pairs_annotator_beta, pairs->reward_scale, &model_acc, &annotator_acc);
    printf("clf member: %d epochs, test pairwise acc %.4f vs annotator %.4f\n", other.epochs_run, model_acc, annotator_acc);
    CHECK(model_acc > annotator_acc + 0.05);
    rm_member_free(&other);
    rm_settings_free(&clf);
}

/* No early stopping with patience 0, and none without validation pairs (validation
 * fraction 0): every epoch runs and the last is kept. */
static void check_without_early_stopping(const rm_train_data *data, const rm_pairs *pairs)
{
    const char *extra[] = {"train.patience=0", "train.epochs=3"};
    rm_settings s = settings(extra, 2);
    rm_member other;
    CHECK(train(&s, data, pairs, 0, &other) == 0);
    CHECK(other.epochs_run == 3);
    rm_member_free(&other);
    rm_pairs all;
    CHECK(test_pairs_build(&all, data->rewards, data->n_prompts, data->n_responses, "cross_prompt", 500, 1.0, 0.0, 5) == 0);
    CHECK(train(&s, data, &all, 0, &other) == 0);
    CHECK(other.epochs_run == 3 && other.best_epoch == 3 && isnan(other.val_loss[0]));
    rm_member_free(&other);
    rm_pairs_free(&all);
    rm_settings_free(&s);
}

/* Training one member end to end: the member 0 trained here is the reference every
 * other training is compared with. */
static void check_training(const synth_split *train_split, const synth_split *test)
{
    rm_settings cfg = settings(NULL, 0);
    rm_pairs pairs;
    CHECK(test_pairs_build(&pairs, train_split->rewards, train_split->n_prompts, train_split->n_responses,
                         cfg.pairs_mode, 3000, cfg.pairs_annotator_beta, cfg.train_val_fraction, (uint64_t)cfg.seed) == 0);
    rm_train_data data = {train_split->embeddings, train_split->rewards, train_split->n_prompts,
                          train_split->n_responses, train_split->dim, NULL};

    rm_member m0;
    train_first_member(&cfg, &data, &pairs, test, &m0);
    check_best_epoch_kept(&data, &pairs, &m0);
    check_standardisation(&data, &m0);
    check_standardisation_sample(&data, &m0);
    check_deterministic(&cfg, &data, &pairs, &m0);
    check_bootstrap(&data, &pairs, &m0);
    check_clf_objective(&data, &pairs, test);
    check_without_early_stopping(&data, &pairs);
    rm_member_free(&m0);
    rm_pairs_free(&pairs);
    rm_settings_free(&cfg);
}

/* One bad value: training refuses with a message containing `expect`. */
static void expect_error(rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, const char *expect)
{
    rm_member m;
    int rc = rm_train_member(cfg, data, pairs, 0, MPI_COMM_SELF, &m, NULL, NULL);
    if (rc != -1) fprintf(stderr, "expected an error with '%s', training succeeded\n", expect);
    CHECK(rc == -1);
    if (rc == -1 && !strstr(rm_last_error(), expect))
        fprintf(stderr, "expected an error with '%s', got: %s\n", expect, rm_last_error());
    CHECK(rc == -1 && strstr(rm_last_error(), expect) != NULL);
    if (rc == 0) rm_member_free(&m);
    CHECK(m.mlp.params == NULL); /* nothing left allocated */
}

static void check_errors(const synth_split *train_split)
{
    rm_settings cfg = settings(NULL, 0);
    rm_pairs pairs;
    CHECK(test_pairs_build(&pairs, train_split->rewards, train_split->n_prompts, train_split->n_responses,
                         "cross_prompt", 300, 1.0, 0.2, 1) == 0);
    rm_train_data data = {train_split->embeddings, train_split->rewards, train_split->n_prompts,
                          train_split->n_responses, train_split->dim, NULL};
    rm_settings bad = cfg;
    bad.train_batch_size = 241;
    expect_error(&bad, &data, &pairs, "train.batch_size = 241 is larger than the 240 training pairs");
    bad = cfg; bad.train_batch_size = -4;
    expect_error(&bad, &data, &pairs, "train.batch_size");
    bad = cfg; bad.train_learning_rate = 0;
    expect_error(&bad, &data, &pairs, "train.learning_rate");
    bad = cfg; bad.train_epochs = 0;
    expect_error(&bad, &data, &pairs, "train.epochs");
    bad = cfg; strcpy(bad.model_objective, "hinge");
    expect_error(&bad, &data, &pairs, "model.objective = \"hinge\"");
    bad = cfg; strcpy(bad.ensemble_data, "half");
    expect_error(&bad, &data, &pairs, "ensemble.data");
    bad = cfg; bad.model_hidden[0] = -3;
    expect_error(&bad, &data, &pairs, "model.hidden: width -3");
    bad = cfg; bad.model_n_hidden = 2; bad.model_hidden[0] = 1000000; bad.model_hidden[1] = 1000000;
    expect_error(&bad, &data, &pairs, "model.hidden");
    /* pairs from a bigger split than the data handed over */
    rm_train_data small = data;
    small.n_prompts = 2;
    expect_error(&cfg, &small, &pairs, "outside the");

    /* a NaN in the data surfaces as a training error, not as a NaN member */
    float *copy = malloc(sizeof(float) * data.n_prompts * data.n_responses * data.dim);
    memcpy(copy, data.embeddings, sizeof(float) * data.n_prompts * data.n_responses * data.dim);
    copy[(size_t)pairs.winner[pairs.order[0]] * data.dim + 3] = NAN;
    rm_train_data poisoned = data;
    poisoned.embeddings = copy;
    expect_error(&cfg, &poisoned, &pairs, "training loss is NaN");
    free(copy);
    rm_pairs_free(&pairs);
    rm_settings_free(&cfg);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    rm_mlp_set_threads(2);
    synth_split train_split, test;
    if (synth_make(&train_split, 300, 8, 16, 11) != 0 || synth_make(&test, 60, 12, 16, 12) != 0) return 2;
    check_pairs(&train_split);
    check_training(&train_split, &test);
    check_errors(&train_split);
    synth_free(&train_split);
    synth_free(&test);
    MPI_Finalize();
    return check_status("test_train");
}
