/* Run configuration: a libconfig file, command-line overrides, and a schema.
 *
 * Every key rmens understands is in one schema table (src/base/config.c) with its type,
 * default, bounds and documentation. Loading merges the file with `--set key=value`
 * overrides (value in libconfig syntax; a bare word that parses as nothing else is a
 * string), rejects unknown keys with the closest valid one suggested, checks types and
 * ranges (errors name the key and the file line), and fills rm_settings. The merged
 * configuration text is kept for provenance in every result file. */
#ifndef RMENS_CONFIG_H
#define RMENS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define RM_MAX_HIDDEN 8
#define RM_MAX_LIST 64
#define RM_MAX_VIEWS 16 /* = RM_STORE_MAX_VIEWS */
#define RM_NAME_MAX 64
#define RM_MAX_FAMILIES 8
#define RM_MAX_SELECT_AXES 8
#define RM_SELECT_AXIS_MAX 256

typedef struct {
    /* top level */
    char store[1024];   /* path of the embedding store */
    char output[1024];  /* run directory (members.h5, results.h5, results.json) */
    long long seed;     /* experiment seed: pairs, labels, member seeds (seed*42+m) */

    /* synth.* : the synthetic store written by `rmens synth` */
    long long synth_train_prompts, synth_train_responses;
    long long synth_test_prompts, synth_test_responses;
    long long synth_dim, synth_topics, synth_bench_pairs;
    char synth_dtype[16]; /* "float32" | "float16" */
    long long synth_seed;
    double synth_noise;   /* response scatter around its prompt (relative) */
    long long synth_views; /* extra views beside the default one */
    int synth_n_view_dims;
    long long synth_view_dims[RM_MAX_VIEWS]; /* D of each extra view (empty: the rule in synth.h) */

    /* pairs.* */
    char pairs_mode[32];  /* "cross_prompt" | "within_prompt" */
    long long pairs_count;
    double pairs_annotator_beta; /* < 0: perfect annotator */
    double pairs_label_flip;     /* probability of flipping each label after the annotator */
    double pairs_reward_scale;   /* s of the BT annotator; 0: "std" (of the train rewards) */
    char pairs_sampling[16];     /* "items" | "prompts" */
    long long pairs_per_prompt;  /* pairs per sampled prompt (sampling = "prompts") */
    char pairs_candidates[16];   /* "all" | "random_two" | "middle_two" | "extremes" */
    int pairs_both_orders;       /* train on each pair in both orders (labels 1 and 0) */
    char pairs_source[16];       /* "golden" (simulated annotator) | "store" (the store's /pairs) */

    /* model.* */
    int model_n_hidden;
    int model_hidden[RM_MAX_HIDDEN];
    char model_objective[16]; /* "bt" | "clf" */
    char model_precision[8];  /* "fp32" | "bf16" | "auto" (rmens/kernels/precision.h) */
    char model_family[8];     /* "mlp" | "gbdt" (rmens/member/family.h) */
    int model_n_inputs;       /* 0: each member reads its view (ensemble.views) as stored */
    char model_inputs[RM_MAX_VIEWS][RM_NAME_MAX]; /* views concatenated feature-wise, standardised (rmens/store/store_inputs.h) */

    /* gbdt.* : gradient-boosted tree members (XGBoost) */
    long long gbdt_rounds, gbdt_max_depth;
    double gbdt_eta, gbdt_min_child_weight, gbdt_subsample, gbdt_colsample, gbdt_lambda;
    char gbdt_tree_method[8]; /* "hist" */

    /* train.* */
    long long train_epochs, train_batch_size, train_patience;
    long long train_standardise_responses; /* 0: standardise members over all train responses; N: N evenly spaced */
    double train_learning_rate, train_weight_decay, train_val_fraction;
    double train_l2;              /* L2 penalty l2/2 * |W|^2 on the weights, in the loss's gradient */
    double train_checkpoint_minutes;
    int train_restore_best;       /* keep the best-validation weights (else the last) */
    char train_stop_rule[24];     /* "no_improvement" | "rise" */
    char train_minibatches[8];    /* "epoch" (a permutation per epoch) | "draw" (each step afresh) */
    char train_val_split[8];      /* "pairs" (one split of the pairs) | "entries" (per member, of the list) |
                                   * "prompts" (validation pairs from prompts no training pair touches) */

    /* ensemble.* */
    long long ensemble_members;
    char ensemble_data[16]; /* "full" | "bootstrap" */
    char ensemble_kind[16]; /* "independent" | "shared_trunk" (include/rmens/member/trunk.h) */
    int ensemble_shared_init; /* every member starts from member 0's initialisation (rmens/member/shared_init.h) */
    int ensemble_n_views;   /* 0: every member on the default view */
    char ensemble_views[RM_MAX_VIEWS][RM_NAME_MAX]; /* member m uses view m mod n */
    int ensemble_n_families;  /* 0: every member is model.family */
    char ensemble_families[RM_MAX_FAMILIES][8]; /* member m is families[m mod n] */

    /* active.* (rmens active, include/rmens/active/active.h) */
    char active_strategy[16];    /* random|entropy|disagreement|bald|levelset|dopt|past_dopt */
    long long active_pool;       /* candidate pairs */
    long long active_initial;    /* labelled before round 1: the pool's first pairs */
    long long active_batch;      /* pairs labelled per round */
    long long active_rounds;     /* selection rounds (0: train on the initial set only) */
    int active_warm_start;       /* each round continues from the previous round's weights */
    double active_dopt_ridge;    /* dopt: M starts at ridge * I; past_dopt adds the labelled pairs */

    /* parallel.* */
    long long parallel_ranks_per_member;
    long long parallel_blas_threads; /* 0: automatic */
    long long parallel_read_chunk_mb; /* bound on one store read piece */

    /* eval.* */
    int eval_n_bon;
    long long eval_bon_n[RM_MAX_LIST];
    int eval_n_uwo;
    double eval_uwo_lambda[RM_MAX_LIST];
    int eval_n_ablation;
    long long eval_ablation_sizes[RM_MAX_LIST]; /* empty: 1, 2, 4, ... up to E */
    long long eval_ablation_subsets;
    int eval_save_predictions;
    char eval_warm[8];            /* "auto" | "true" | "false": the warm aggregator (rmens/eval/warm.h) */
    long long eval_chunk_prompts; /* test prompts scored per streamed piece */
    long long eval_calibration_pairs; /* within-prompt test pairs for calibration (0: none) */
    int eval_n_bias_features;
    char eval_bias_features[RM_MAX_VIEWS][RM_NAME_MAX]; /* views whose first feature is checked for bias (feature_bias) */

    /* select.* (rmens select: hyperparameters by prompt-grouped cross-validation) */
    int select_n_grid;
    char select_grid[RM_MAX_SELECT_AXES][RM_SELECT_AXIS_MAX]; /* "key: v1 | v2 | ..." per axis */
    long long select_folds;
    long long select_members; /* members per grid point and fold */

    /* provenance */
    char source_path[1024];  /* the config file loaded */
    char *config_text;       /* merged configuration, libconfig syntax (malloc'd) */
} rm_settings;

/* Load `path` (may be NULL: defaults only) with n_overrides "key=value" strings applied.
 * 0 on success; -1 with a one-line error (naming file, line and key) otherwise. */
int rm_settings_load(rm_settings *s, const char *path, const char *const *overrides, int n_overrides);
void rm_settings_free(rm_settings *s);

/* Print every key with its type, default and documentation (for `--help`). */
void rm_settings_print_keys(FILE *out);

#endif
