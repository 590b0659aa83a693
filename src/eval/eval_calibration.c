/* Calibration of the ensemble's preference probabilities on within-prompt test pairs, and
 * the error of the mean's preferred side by member disagreement (see rm_eval_calibration
 * in include/rmens/eval/eval.h; the per-pair terms are in src/eval/metrics_calibration.c).
 *
 * The pairs are drawn up front from the counter-based generator and listed by prompt, so
 * each prompt's pairs are summed into that prompt's delta with its other figures: the
 * figures are then bitwise the same for any rank and thread count, like the rest. */
#include "rmens/store/h5util.h"
#include "rmens/eval/eval_calibration.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "eval_slots.h"
#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/base/rng.h"

/* The responses (a, b) of calibration pair i: two distinct ones of the K. */
static void pair_responses(uint64_t seed, uint64_t i, size_t K, size_t *a, size_t *b)
{
    *a = (size_t)rm_rand_below(seed, RM_STREAM_CALIBRATION_PAIRS, 3 * i + 1, (uint64_t)K);
    *b = (size_t)rm_rand_below(seed, RM_STREAM_CALIBRATION_PAIRS, 3 * i + 2, (uint64_t)K - 1);
    *b += *b >= *a;
}

static size_t pair_prompt(uint64_t seed, uint64_t i, size_t n_prompts)
{
    return (size_t)rm_rand_below(seed, RM_STREAM_CALIBRATION_PAIRS, 3 * i, (uint64_t)n_prompts);
}

int rm_eval_plan_calibration(rm_eval_plan *p, const rm_settings *cfg, size_t n_prompts, double reward_scale,
                             const double *member_scale)
{
    rm_eval_calibration *c = &p->calibration;
    if (cfg->eval_calibration_pairs <= 0 || n_prompts == 0) return 0;
    if (c->n_pairs > 0) return rm_errorf("eval.calibration_pairs: the plan has its calibration pairs already");
    if (rm_annotator_from_settings(&c->annotator, cfg, reward_scale) != 0)
        return rm_error_context("eval.calibration_pairs: the annotator of the outcomes");
    /* the outcomes have their own streams: independent of the training labels */
    c->annotator.label_stream = RM_STREAM_CALIBRATION_LABELS;
    c->annotator.flip_stream = RM_STREAM_CALIBRATION_FLIPS;
    uint64_t n_pairs = (uint64_t)cfg->eval_calibration_pairs, seed = (uint64_t)cfg->seed;
    c->prompt_first = rm_calloc(n_prompts + 1, sizeof(size_t), "calibration pairs");
    c->pair_index = rm_alloc((size_t)n_pairs, sizeof(uint64_t), "calibration pairs (lower eval.calibration_pairs)");
    c->member_scale = rm_alloc((size_t)p->n_members, sizeof(double), "calibration pairs");
    if (!c->prompt_first || !c->pair_index || !c->member_scale) {
        free(c->prompt_first), free(c->pair_index), free(c->member_scale);
        memset(c, 0, sizeof *c);
        return -1;
    }
    memcpy(c->member_scale, member_scale, (size_t)p->n_members * sizeof(double));
    /* counting sort of the pair indices by prompt: ascending within each prompt */
    for (uint64_t i = 0; i < n_pairs; i++) c->prompt_first[pair_prompt(seed, i, n_prompts) + 1]++;
    for (size_t q = 0; q < n_prompts; q++) c->prompt_first[q + 1] += c->prompt_first[q];
    size_t *next = rm_alloc(n_prompts, sizeof(size_t), "calibration pairs");
    if (!next) {
        free(c->prompt_first), free(c->pair_index), free(c->member_scale);
        memset(c, 0, sizeof *c);
        return -1;
    }
    memcpy(next, c->prompt_first, n_prompts * sizeof(size_t));
    for (uint64_t i = 0; i < n_pairs; i++) c->pair_index[next[pair_prompt(seed, i, n_prompts)]++] = i;
    free(next);
    c->n_pairs = n_pairs;
    c->n_prompts = n_prompts;
    c->offset = p->n_slots;
    p->n_slots += calibration_slots(p->n_members);
    return 0;
}

/* The reward scale s of the calibration outcomes: the one the members' training labels
 * were drawn with, members.h5's root attribute reward_scale. Files written before it
 * existed fall back to rm_annotator_scale of the test rewards (pairs.reward_scale when a
 * number, else their standard deviation), with a warning. Collective. */
static int calibration_reward_scale(const rm_settings *cfg, const char *members_path, rm_store *store, MPI_Comm comm,
                                    double *scale)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    double found[2] = {0.0, 0.0}; /* present, value */
    int rc = 0;
    if (rank == 0) {
        hid_t f = rm_h5_open_read(members_path, MPI_COMM_NULL);
        htri_t exists = f < 0 ? -1 : H5Aexists(f, "reward_scale");
        if (f < 0) rc = rm_error_context("reading the reward scale for the calibration pairs");
        else if (exists < 0) rc = rm_errorf("%s: cannot look up the root attribute 'reward_scale'", members_path);
        else if (exists > 0 && (rc = rm_h5_read_attr_double(f, "reward_scale", &found[1], members_path)) == 0) found[0] = 1;
        if (f >= 0) H5Fclose(f);
        if (rc == 0 && found[0] && !(found[1] >= 0 && isfinite(found[1])))
            rc = rm_errorf("%s: reward_scale = %g is not a scale (>= 0)", members_path, found[1]);
    }
    if (rm_all_ok(comm, rc) != 0) return -1;
    MPI_Bcast(found, 2, MPI_DOUBLE, 0, comm);
    if (found[0]) {
        *scale = found[1];
        return 0;
    }
    const rm_split_info *test = &store->split[RM_SPLIT_TEST];
    size_t n = cfg->pairs_reward_scale > 0 ? 0 : test->n_prompts * test->n_responses;
    float *rewards = n ? rm_alloc(n, sizeof(float), "test rewards for the reward scale") : NULL;
    rc = n && !rewards ? -1 : 0;
    if (rm_all_ok(comm, rc) != 0) return -1;
    if (n) rc = rm_store_read_rewards(store, RM_SPLIT_TEST, 0, test->n_prompts, rewards); /* collective */
    if (rc == 0) *scale = rm_annotator_scale(cfg, rewards, n);
    free(rewards);
    if (rm_all_ok(comm, rc) != 0) return -1;
    if (rank == 0)
        rm_warnf("%s has no reward_scale attribute (trained before it was recorded): the calibration outcomes use "
                 "reward scale %g (%s)", members_path, *scale, n ? "the std of the test rewards" : "pairs.reward_scale");
    return 0;
}

/* Switch the plan's calibration pairs on (eval.calibration_pairs > 0). Collective. */
/* The annotator the members learnt from, members.h5's annotator_beta and label_flip: the
 * calibration outcomes follow it, and a config that says otherwise gets one warning naming
 * both. Files from before the attributes keep the config's. Collective. */
static int trained_annotator(const rm_settings *cfg, const char *members_path, MPI_Comm comm, rm_settings *used)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    double found[3] = {0.0, cfg->pairs_annotator_beta, cfg->pairs_label_flip}; /* present, beta, flip */
    int rc = 0;
    if (rank == 0) {
        hid_t f = rm_h5_open_read(members_path, MPI_COMM_NULL);
        htri_t exists = f < 0 ? -1 : H5Aexists(f, "annotator_beta");
        if (f < 0) rc = rm_error_context("reading the members' annotator for the calibration pairs");
        else if (exists < 0) rc = rm_errorf("%s: cannot look up the root attribute 'annotator_beta'", members_path);
        else if (exists > 0) {
            rc = rm_h5_read_attr_double(f, "annotator_beta", &found[1], members_path);
            if (rc == 0) rc = rm_h5_read_attr_double(f, "label_flip", &found[2], members_path);
            found[0] = rc == 0;
        }
        if (f >= 0) H5Fclose(f);
    }
    if (rm_all_ok(comm, rc) != 0) return -1;
    MPI_Bcast(found, 3, MPI_DOUBLE, 0, comm);
    *used = *cfg; /* shallow: only the two numbers differ, and `used` frees nothing */
    if (!found[0]) return 0;
    if (rank == 0 && (found[1] != cfg->pairs_annotator_beta || found[2] != cfg->pairs_label_flip))
        rm_warnf("calibration: the members were trained with pairs.annotator_beta = %g, pairs.label_flip = %g (%s); the "
                 "config has %g, %g: the calibration outcomes use the members' annotator", found[1], found[2],
                 members_path, cfg->pairs_annotator_beta, cfg->pairs_label_flip);
    used->pairs_annotator_beta = found[1];
    used->pairs_label_flip = found[2];
    return 0;
}

int rm_eval_setup_calibration(const rm_settings *cfg_given, const char *members_path, rm_store *store,
                             const rm_ensemble *ensemble, rm_eval_plan *plan, MPI_Comm comm)
{
    if (cfg_given->eval_calibration_pairs <= 0) return 0;
    rm_settings used;
    if (trained_annotator(cfg_given, members_path, comm, &used) != 0) return -1;
    const rm_settings *cfg = &used;
    double scale = 0.0;
    if (calibration_reward_scale(cfg, members_path, store, comm, &scale) != 0) return -1;
    double *member_scale = rm_alloc((size_t)ensemble->n_members, sizeof(double), "member score scales");
    int rc = member_scale ? 0 : -1;
    for (int m = 0; rc == 0 && m < ensemble->n_members; m++) member_scale[m] = ensemble->members[m].score_std;
    if (rc == 0) rc = rm_eval_plan_calibration(plan, cfg, store->split[RM_SPLIT_TEST].n_prompts, scale, member_scale);
    free(member_scale);
    return rm_all_ok(comm, rc);
}

/* One probability p of outcome y into a predictor's slots. */
static void add_prediction(double *slots, double p, int y)
{
    slots[CAL_BRIER] += rm_brier_term(p, y);
    slots[CAL_LOG_LOSS] += rm_log_loss_term(p, y);
    slots[CAL_PAIRS] += 1.0;
    double *bin = slots + CAL_BINS + 3 * rm_uniform_bin(p, 0.0, 1.0, RM_CALIBRATION_BINS);
    bin[0] += 1.0;
    bin[1] += p;
    bin[2] += y ? 1.0 : 0.0;
}

void rm_eval_calibration_prompt(const rm_eval_plan *p, double *member_probability, const float *z, size_t member_stride,
                                const float *golden, size_t prompt, double *d)
{
    const rm_eval_calibration *c = &p->calibration;
    if (c->n_pairs == 0 || prompt >= c->n_prompts) return;
    size_t K = p->n_responses;
    int E = p->n_members;
    double *cal = d + c->offset, *by_disagreement = cal + (size_t)(E + 1) * CAL_PREDICTOR_SLOTS;
    double *prob = member_probability;
    for (size_t t = c->prompt_first[prompt]; t < c->prompt_first[prompt + 1]; t++) {
        uint64_t i = c->pair_index[t];
        size_t a, b;
        pair_responses(c->annotator.seed, i, K, &a, &b);
        double golden_a = golden[a], golden_b = golden[b];
        int y = rm_annotator_label(&c->annotator, i, golden_a, golden_b, NULL);
        double mean = 0.0;
        for (int m = 0; m < E; m++) {
            /* raw_a - raw_b = (z_a - z_b) score_std: the member's own preference scale */
            double diff = ((double)z[(size_t)m * member_stride + a] - (double)z[(size_t)m * member_stride + b]) *
                          c->member_scale[m];
            prob[m] = rm_sigmoid(diff);
            mean += prob[m];
            add_prediction(cal + (size_t)(1 + m) * CAL_PREDICTOR_SLOTS, prob[m], y);
        }
        mean /= E;
        add_prediction(cal, mean, y);
        double ss = 0.0; /* population std of the P_m, two-pass */
        for (int m = 0; m < E; m++) ss += (prob[m] - mean) * (prob[m] - mean);
        double spread = sqrt(ss / E), error = rm_preference_error(mean, golden_a, golden_b);
        if (isnan(error)) continue; /* a golden tie has no order to err against */
        double *bin = by_disagreement + 3 * rm_disagreement_bin(spread);
        bin[0] += 1.0;
        bin[1] += spread;
        bin[2] += error;
    }
}

/* A predictor's figures from its slots (pooled over `n_sources` predictors' slots, at a
 * stride of CAL_PREDICTOR_SLOTS; the Brier and log loss are then the pooled means). */
static void finish_predictor(const double *slots, int n_sources, rm_calibration_figures *out)
{
    double count[RM_CALIBRATION_BINS] = {0}, probability[RM_CALIBRATION_BINS] = {0}, positive[RM_CALIBRATION_BINS] = {0};
    double brier = 0.0, log_loss = 0.0, pairs = 0.0;
    for (int s = 0; s < n_sources; s++) {
        const double *src = slots + (size_t)s * CAL_PREDICTOR_SLOTS;
        brier += src[CAL_BRIER];
        log_loss += src[CAL_LOG_LOSS];
        pairs += src[CAL_PAIRS];
        for (int b = 0; b < RM_CALIBRATION_BINS; b++) {
            count[b] += src[CAL_BINS + 3 * b];
            probability[b] += src[CAL_BINS + 3 * b + 1];
            positive[b] += src[CAL_BINS + 3 * b + 2];
        }
    }
    out->brier = pairs > 0 ? brier / pairs : NAN;
    out->log_loss = pairs > 0 ? log_loss / pairs : NAN;
    out->ece = rm_expected_calibration_error(count, probability, positive, RM_CALIBRATION_BINS);
    for (int b = 0; b < RM_CALIBRATION_BINS; b++) {
        out->lower[b] = rm_uniform_edge(0.0, 1.0, RM_CALIBRATION_BINS, b);
        out->upper[b] = rm_uniform_edge(0.0, 1.0, RM_CALIBRATION_BINS, b + 1);
        out->count[b] = count[b];
        out->mean_probability[b] = count[b] > 0 ? probability[b] / count[b] : NAN;
        out->fraction_preferred[b] = count[b] > 0 ? positive[b] / count[b] : NAN;
    }
}

static double mean_over_members(const rm_calibration_figures *members, int E, size_t field)
{
    double sum = 0.0;
    for (int m = 0; m < E; m++) sum += *(const double *)((const char *)&members[m] + field);
    return sum / E;
}

int rm_eval_calibration_finish(const rm_eval_plan *p, const double *total, rm_eval_results *out)
{
    int E = p->n_members;
    const rm_eval_calibration *c = &p->calibration;
    static const double zeros[CAL_PREDICTOR_SLOTS * 2] = {0}; /* "no pairs": every figure NaN */
    out->calibration_pairs = c->n_pairs;
    out->calibration_member = rm_calloc((size_t)E, sizeof *out->calibration_member, "calibration figures");
    if (!out->calibration_member) return -1;
    const double *cal = c->n_pairs > 0 ? total + c->offset : NULL;
    finish_predictor(cal ? cal : zeros, 1, &out->calibration_mean);
    for (int m = 0; m < E; m++)
        finish_predictor(cal ? cal + (size_t)(1 + m) * CAL_PREDICTOR_SLOTS : zeros, 1, &out->calibration_member[m]);
    /* single members: the mean of each member's own figure, the bins pooled over members */
    if (cal) finish_predictor(cal + CAL_PREDICTOR_SLOTS, E, &out->calibration_single);
    else finish_predictor(zeros, 1, &out->calibration_single);
    out->calibration_single.ece = mean_over_members(out->calibration_member, E, offsetof(rm_calibration_figures, ece));
    out->calibration_single.brier = mean_over_members(out->calibration_member, E, offsetof(rm_calibration_figures, brier));
    out->calibration_single.log_loss =
        mean_over_members(out->calibration_member, E, offsetof(rm_calibration_figures, log_loss));

    rm_disagreement_figures *d = &out->error_by_disagreement;
    const double *bins = cal ? cal + (size_t)(E + 1) * CAL_PREDICTOR_SLOTS : zeros;
    for (int b = 0; b < RM_DISAGREEMENT_BINS; b++) {
        d->lower[b] = RM_DISAGREEMENT_EDGES[b];
        d->upper[b] = RM_DISAGREEMENT_EDGES[b + 1];
        d->count[b] = bins[3 * b];
        d->disagreement[b] = d->count[b] > 0 ? bins[3 * b + 1] / d->count[b] : NAN;
        d->error_rate[b] = d->count[b] > 0 ? bins[3 * b + 2] / d->count[b] : NAN;
    }
    return 0;
}

/* ---- output ---- */
