/* Feature-bias diagnostics (eval.bias_features, issue 28 item 5; src/eval/eval_bias.c).
 *
 * A store view can hold scalar features of each response instead of an embedding: a view
 * "length" of D_v = F >= 1 values per response (characters, tokens, ...). For every view
 * listed in eval.bias_features, evaluation compares the view's FIRST feature with
 *  - the golden reward ("golden"), each aggregator of the full ensemble (results.json's
 *    aggregator keys: mean, min, median, uwo_<lambda>, and warm when it is evaluated) and
 *    each member ("single": the mean over members of each member's own figure), by the
 *    within-prompt Spearman rank correlation (average ranks for ties) averaged over the
 *    test prompts. A prompt where the feature or the other side is constant has no
 *    Spearman and adds nothing to the mean (no prompt with one: null);
 *  - the golden best-of-n of ranking the responses by the feature alone, the highest value
 *    picked ("bon"): the "longer answer wins" baseline, with the aggregators' estimator
 *    (the exact expectation over all n-subsets, tied values sharing the pick), for the
 *    same n, so it compares directly with aggregators.<a>.bon.
 * The per-prompt figures go into the prompt's block of slots like every other figure, so
 * they are bitwise identical for any rank count. The feature is read per scored piece of
 * test prompts, with the same collective reads as the embeddings.
 *
 * Outputs: results.json top-level "feature_bias": {"<view>": {"golden": rho, "<aggregator>":
 * rho, ..., "single": rho, "bon": {"<n>": x, ...}}}; results.h5 group /feature_bias/<view>
 * with attributes golden, <aggregator> (each aggregator's key, warm included when
 * evaluated), single, feature_dim (F), and datasets bon [n] (for /bon_n) and members [E]
 * (each member's Spearman); and a "feature bias (<view>)" block in the table. With
 * eval.bias_features = [] nothing of this is computed or written. `rmens active` does not
 * compute them (its plan never calls rm_eval_plan_bias). */
#ifndef RMENS_EVAL_EVAL_BIAS_H
#define RMENS_EVAL_EVAL_BIAS_H

#include <stddef.h>

#include "rmens/base/config.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/eval/metrics.h"
#include "rmens/store/store.h"

/* Switch the figures on for cfg->eval_bias_features: each name must be a view of store
 * (else one error naming eval.bias_features and listing the store's views) whose test
 * split has the test split's N and K. Adds the slots to the plan, so it must come before
 * any work or team is created from it. Local; the same on every rank. No names: nothing. */
int rm_eval_plan_bias(rm_eval_plan *p, const rm_settings *cfg, const rm_store *store);

/* The largest F of the listed views, and the doubles of scratch rm_eval_bias_prompt needs. */
size_t rm_eval_bias_max_dim(const rm_eval_plan *p);
size_t rm_eval_bias_scratch_doubles(const rm_eval_plan *p);

/* Collective: each listed view's values of test prompts [q0, q1) (possibly empty on this
 * rank) read into buffer (room for (q1 - q0) K max_dim floats), feature 0 kept:
 * features[i * feature_stride + (q - q0) K + r] for view i, prompt q, response r. */
int rm_eval_bias_read(const rm_eval_plan *p, rm_store *store, size_t q0, size_t q1, float *buffer, float *features,
                      size_t feature_stride);

/* One prompt's figures into the delta d: features[i * feature_stride + r] is view i's first
 * feature of response r, z and member_stride as rm_eval_accumulate_prompt's, gold and bon
 * the prompt's golden order and win table, member_ranks[m K + r] the average ranks of
 * member m's scores. scratch: rm_eval_bias_scratch_doubles(p) doubles. */
void rm_eval_bias_prompt(const rm_eval_plan *p, const float *features, size_t feature_stride, const float *z,
                         size_t member_stride, const rm_golden_sorted *gold, const rm_bon_table *bon,
                         const double *member_ranks, double *scratch, rm_metric_scratch *s, double *d);

/* The figures from the reduced totals into out->bias (allocated here; warm NaN). */
int rm_eval_bias_finish(const rm_eval_plan *p, const double *total, rm_eval_results *out);

#endif
