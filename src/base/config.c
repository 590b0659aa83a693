/* Configuration schema, loading and validation (see include/rmens/base/config.h). */
#define _GNU_SOURCE
#include "rmens/base/config.h"
#include "rmens/base/common.h"

#include <ctype.h>
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

/* T_SCALE: a positive number, or the word in `choices` (stored as 0). */
typedef enum { T_INT, T_FLOAT, T_STRING, T_BOOL, T_INT_LIST, T_FLOAT_LIST, T_SCALE, T_STRING_LIST } key_type;

typedef struct {
    const char *key;
    key_type type;
    size_t offset;       /* field in rm_settings */
    size_t count_offset; /* int count field for lists */
    size_t capacity;     /* string buffer size or list capacity */
    const char *default_text; /* libconfig syntax */
    double min, max;     /* inclusive bounds for numbers and list elements */
    const char *choices; /* "a|b|c" for strings, NULL for any */
    const char *doc;
} key_spec;

#define OFF(f) offsetof(rm_settings, f)
#define STR(f) OFF(f), 0, sizeof(((rm_settings *)0)->f)
#define LIST(f, n, cap) OFF(f), OFF(n), cap
#define NUM(f) OFF(f), 0, 0
#define BIG 1e18

static const key_spec SCHEMA[] = {
    {"store", T_STRING, STR(store), "\"\"", 0, 0, NULL, "path of the embedding store (HDF5)"},
    {"output", T_STRING, STR(output), "\"\"", 0, 0, NULL, "run directory for members.h5, results.h5, results.json"},
    {"seed", T_INT, NUM(seed), "0", 0, BIG, NULL, "experiment seed: pairs, labels; member m uses seed*42+m"},

    {"synth.train_prompts", T_INT, NUM(synth_train_prompts), "2000", 1, 1e9, NULL, "train prompts N_train"},
    {"synth.train_responses", T_INT, NUM(synth_train_responses), "10", 2, 1e6, NULL, "responses per train prompt K_train"},
    {"synth.test_prompts", T_INT, NUM(synth_test_prompts), "200", 1, 1e9, NULL, "test prompts N_test"},
    {"synth.test_responses", T_INT, NUM(synth_test_responses), "50", 2, 1e6, NULL, "responses per test prompt K_test"},
    {"synth.dim", T_INT, NUM(synth_dim), "64", 1, 1e6, NULL, "embedding dimension D"},
    {"synth.topics", T_INT, NUM(synth_topics), "16", 1, 1e6, NULL, "prompt topics (clusters)"},
    {"synth.bench_pairs", T_INT, NUM(synth_bench_pairs), "500", 0, 1e9, NULL, "benchmark chosen/rejected pairs (0: no /bench)"},
    {"synth.dtype", T_STRING, STR(synth_dtype), "\"float32\"", 0, 0, "float32|float16", "stored embedding type"},
    {"synth.seed", T_INT, NUM(synth_seed), "1234", 0, BIG, NULL, "seed of the synthetic data"},
    {"synth.noise", T_FLOAT, NUM(synth_noise), "0.5", 0, 1e3, NULL, "response scatter around its prompt, relative to topic spread"},
    {"synth.views", T_INT, NUM(synth_views), "0", 0, RM_MAX_VIEWS - 1, NULL, "extra views view1, view2, ...: the same responses through random nonlinear maps (see rmens/store/synth.h)"},
    {"synth.view_dims", T_INT_LIST, LIST(synth_view_dims, synth_n_view_dims, RM_MAX_VIEWS), "[]", 1, 1e6, NULL, "D of each extra view ([]: view v has synth.dim + 8 (v - 1)); as many entries as synth.views"},

    {"pairs.mode", T_STRING, STR(pairs_mode), "\"cross_prompt\"", 0, 0, "cross_prompt|within_prompt", "how preference pairs are drawn from the train split"},
    {"pairs.count", T_INT, NUM(pairs_count), "10000", 0, 4e9, NULL, "total preference pairs (train + validation); 0 with sampling \"prompts\": every train prompt, pairs.per_prompt each"},
    {"pairs.annotator_beta", T_FLOAT, NUM(pairs_annotator_beta), "-1.0", -BIG, BIG, NULL, "annotator quality beta; < 0 is a perfect annotator"},
    {"pairs.label_flip", T_FLOAT, NUM(pairs_label_flip), "0.0", 0, 0.5, NULL, "probability of flipping each label after the annotator (Coste et al.: 0.25)"},
    {"pairs.reward_scale", T_SCALE, NUM(pairs_reward_scale), "\"std\"", 1e-300, BIG, "std", "s in P(a preferred) = sigmoid(beta (g_a - g_b) / s): \"std\" (of the train rewards) or a number > 0"},
    {"pairs.sampling", T_STRING, STR(pairs_sampling), "\"items\"", 0, 0, "items|prompts", "items: each pair's items drawn independently; prompts: count/per_prompt distinct prompts, per_prompt distinct pairs each"},
    {"pairs.per_prompt", T_INT, NUM(pairs_per_prompt), "1", 0, 1e9, NULL, "pairs per sampled prompt (pairs.sampling = \"prompts\"; must divide pairs.count); 0 with within_prompt: all distinct pairs of a prompt's candidates"},
    {"pairs.candidates", T_STRING, STR(pairs_candidates), "\"all\"", 0, 0, "all|random_two|middle_two|extremes", "responses of a prompt that may be compared: all; two random; the two beside the golden median; the golden best and worst"},
    {"pairs.source", T_STRING, STR(pairs_source), "\"golden\"", 0, 0, "golden|store", "golden: pairs drawn by the design below and labelled by the simulated annotator from golden rewards; store: the store's human-labelled /pairs/train (chosen preferred), all or a seeded subset of pairs.count (the design keys then take the values that mean 'each stored pair once')"},
    {"pairs.both_orders", T_BOOL, NUM(pairs_both_orders), "false", 0, 0, NULL, "train on every pair in both orders (labels 1 and 0), as the seed code: changes drawn minibatches only, at twice the work"},

    {"model.hidden", T_INT_LIST, LIST(model_hidden, model_n_hidden, RM_MAX_HIDDEN), "[1024, 512]", 1, 1e6, NULL, "hidden layer widths; [] is a linear reward model"},
    {"model.objective", T_STRING, STR(model_objective), "\"bt\"", 0, 0, "bt|clf", "bt: Bradley-Terry on pairs; clf: pointwise classification"},
    {"model.family", T_STRING, STR(model_family), "\"mlp\"", 0, 0, "mlp|gbdt", "mlp: the MLP of model.hidden; gbdt: gradient-boosted trees (XGBoost, gbdt.*)"},
    {"model.inputs", T_STRING_LIST, LIST(model_inputs, model_n_inputs, RM_MAX_VIEWS), "[]", 0, 0, NULL, "store views concatenated feature-wise into every member's input, each feature standardised by its train-split mean and std (recorded in members.h5 /inputs); e.g. [\"default\", \"length\"] ([]: each member's view as stored)"},
    {"model.precision", T_STRING, STR(model_precision), "\"fp32\"", 0, 0, "fp32|bf16|auto", "products of the verb that runs: fp32 (OpenBLAS); bf16 (bf16 operands, fp32 accumulation, oneDNN on AMX/AVX512-BF16, emulated on sgemm elsewhere); auto: bf16 where the CPU runs bf16 at full rate (AMX; AVX512_BF16 at 512-bit width, AMD family 26 and later), else fp32, decided from the CPU's identity and recorded with its reason"},

    {"train.epochs", T_INT, NUM(train_epochs), "30", 1, 1e6, NULL, "training epochs"},
    {"train.batch_size", T_INT, NUM(train_batch_size), "512", 1, 1e7, NULL, "pairs per minibatch"},
    {"train.learning_rate", T_FLOAT, NUM(train_learning_rate), "0.001", 1e-300, 1e3, NULL, "Adam learning rate (must be > 0)"},
    {"train.weight_decay", T_FLOAT, NUM(train_weight_decay), "0.0", 0, 1e3, NULL, "decoupled weight decay (AdamW), per step, times the learning rate"},
    {"train.l2", T_FLOAT, NUM(train_l2), "0.0", 0, 1e6, NULL, "L2 penalty (l2 / 2) |W|^2 on every weight matrix (not biases), added to the mean pair loss's gradient before Adam: a regulariser that acts at any step count (train.weight_decay shrinks by lr x wd per step only); with all N pairs of a data set in both orders, l2 = 1 / (C N) is scikit-learn LogisticRegression's C. MLP members; trees use gbdt.lambda"},
    {"train.val_fraction", T_FLOAT, NUM(train_val_fraction), "0.2", 0, 0.9, NULL, "fraction of pairs held out for validation"},
    {"train.standardise_responses", T_INT, NUM(train_standardise_responses), "0", 0, 4e9, NULL, "train responses a member's score mean and std (its standardisation) are computed on: 0 all N x K of them (one forward per response and member); N: N of them evenly spaced over the split (item floor(j N_items / N)), the same for every member"},
    {"train.patience", T_INT, NUM(train_patience), "3", 0, 1e6, NULL, "epochs without validation improvement before stopping (0: never stop early)"},
    {"train.checkpoint_minutes", T_FLOAT, NUM(train_checkpoint_minutes), "10.0", 0, 1e6, NULL, "minutes between periodic checkpoints (0: only on signal)"},
    {"train.restore_best", T_BOOL, NUM(train_restore_best), "true", 0, 0, NULL, "end with the weights of the lowest validation loss (false: the last weights, as the seed code)"},
    {"train.stop_rule", T_STRING, STR(train_stop_rule), "\"no_improvement\"", 0, 0, "no_improvement|rise", "early stop: after patience epochs without a new lowest validation loss; rise: when the latest is above each of the previous patience ones (the seed code)"},
    {"train.val_split", T_STRING, STR(train_val_split), "\"pairs\"", 0, 0, "pairs|entries|prompts", "pairs: validation pairs held out of every member's training; entries (the seed code): each member splits its list of entries (both orders) itself, so a pair's two orders may fall on both sides; prompts: a seeded train.val_fraction of the train prompts validates, and no training pair touches them (pairs with an item on each side are dropped), so validation measures new prompts"},
    {"train.minibatches", T_STRING, STR(train_minibatches), "\"epoch\"", 0, 0, "epoch|draw", "epoch: one permutation per epoch; draw: each step draws its minibatch afresh, ceil(n_train / batch) steps per epoch (the seed code)"},

    {"gbdt.rounds", T_INT, NUM(gbdt_rounds), "200", 1, 1e6, NULL, "gbdt: boosting rounds (at most; early stopping on the validation pairs after train.patience rounds without improvement)"},
    {"gbdt.eta", T_FLOAT, NUM(gbdt_eta), "0.1", 1e-6, 1, NULL, "gbdt: learning rate (XGBoost eta), in (0, 1]"},
    {"gbdt.max_depth", T_INT, NUM(gbdt_max_depth), "6", 1, 30, NULL, "gbdt: maximum tree depth"},
    {"gbdt.min_child_weight", T_FLOAT, NUM(gbdt_min_child_weight), "1.0", 0, 1e9, NULL, "gbdt: minimum Hessian sum in a leaf"},
    {"gbdt.subsample", T_FLOAT, NUM(gbdt_subsample), "0.8", 1e-6, 1, NULL, "gbdt: fraction of rows sampled per round (members differ through their seed)"},
    {"gbdt.colsample", T_FLOAT, NUM(gbdt_colsample), "0.8", 1e-6, 1, NULL, "gbdt: fraction of embedding columns sampled per tree (XGBoost colsample_bytree)"},
    {"gbdt.lambda", T_FLOAT, NUM(gbdt_lambda), "1.0", 0, 1e9, NULL, "gbdt: L2 regularisation of the leaf weights"},
    {"gbdt.tree_method", T_STRING, STR(gbdt_tree_method), "\"hist\"", 0, 0, "hist", "gbdt: XGBoost's tree construction (histograms)"},

    {"ensemble.members", T_INT, NUM(ensemble_members), "4", 1, 1e5, NULL, "ensemble size E"},
    {"ensemble.views", T_STRING_LIST, LIST(ensemble_views, ensemble_n_views, RM_MAX_VIEWS), "[]", 0, 0, NULL, "store views the members are dealt to round-robin: member m uses view m mod V ([]: the default view)"},
    {"ensemble.families", T_STRING_LIST, LIST(ensemble_families, ensemble_n_families, RM_MAX_FAMILIES), "[]", 0, 0, "mlp|gbdt", "families of a mixed ensemble, dealt round-robin: member m is families[m mod F] ([]: all model.family)"},
    {"ensemble.shared_init", T_BOOL, NUM(ensemble_shared_init), "false", 0, 0, NULL, "every member starts from member 0's initialisation (seed*42, member 0's init stream); member seeds still drive data order and bootstrap. Needed for eval's warm (weight-averaged) aggregator; MLP members on one view only"},
    {"ensemble.data", T_STRING, STR(ensemble_data), "\"full\"", 0, 0, "full|bootstrap", "full: all members see all pairs; bootstrap: each resamples them"},
    {"ensemble.kind", T_STRING, STR(ensemble_kind), "\"independent\"", 0, 0, "independent|shared_trunk", "independent: every member its own MLP; shared_trunk: one trunk (all hidden layers) trained jointly with E linear heads, one per member (its own initialisation and, with bootstrap, its own resample as pair weights)"},

    {"active.strategy", T_STRING, STR(active_strategy), "\"random\"", 0, 0, "random|entropy|disagreement|bald|levelset|dopt|past_dopt", "rmens active: the rule choosing each round's pairs to label"},
    {"active.pool", T_INT, NUM(active_pool), "100000", 2, 4e9, NULL, "rmens active: candidate pairs drawn by pairs.* (no validation split)"},
    {"active.initial", T_INT, NUM(active_initial), "1000", 1, 4e9, NULL, "rmens active: pairs labelled before round 1 (the pool's first pairs, a random subset)"},
    {"active.batch", T_INT, NUM(active_batch), "1000", 1, 4e9, NULL, "rmens active: pairs labelled per round"},
    {"active.rounds", T_INT, NUM(active_rounds), "10", 0, 1e6, NULL, "rmens active: selection rounds after the initial set (0: train on it only)"},
    {"active.warm_start", T_BOOL, NUM(active_warm_start), "false", 0, 0, NULL, "rmens active: each round's members start from the previous round's weights"},
    {"active.dopt_ridge", T_FLOAT, NUM(active_dopt_ridge), "1.0", 1e-12, 1e12, NULL, "rmens active: dopt's information starts at ridge * I (past_dopt adds the labelled pairs)"},

    {"parallel.ranks_per_member", T_INT, NUM(parallel_ranks_per_member), "1", 1, 1e6, NULL, "ranks training one member data-parallel (must divide the rank count)"},
    {"parallel.blas_threads", T_INT, NUM(parallel_blas_threads), "0", 0, 1024, NULL, "BLAS threads per rank (0: SLURM_CPUS_PER_TASK or node cores / node ranks)"},
    {"parallel.read_chunk_mb", T_INT, NUM(parallel_read_chunk_mb), "64", 1, 1e6, NULL, "MiB bound on one store read piece per rank"},

    {"eval.bon_n", T_INT_LIST, LIST(eval_bon_n, eval_n_bon, RM_MAX_LIST), "[1, 2, 5, 10, 30, 50, 100, 300, 500]", 1, 1e9, NULL, "best-of-n sizes (n > K_test are skipped)"},
    {"eval.uwo_lambda", T_FLOAT_LIST, LIST(eval_uwo_lambda, eval_n_uwo, RM_MAX_LIST), "[0.5]", 0, 1e6, NULL, "lambdas of uncertainty-weighted optimisation mean - lambda*var"},
    {"eval.ablation_sizes", T_INT_LIST, LIST(eval_ablation_sizes, eval_n_ablation, RM_MAX_LIST), "[]", 1, 1e5, NULL, "ensemble sizes for the ablation ([]: 1, 2, 4, ... up to E)"},
    {"eval.ablation_subsets", T_INT, NUM(eval_ablation_subsets), "10", 1, 1e6, NULL, "random member subsets averaged per ablation size"},
    {"eval.save_predictions", T_BOOL, NUM(eval_save_predictions), "false", 0, 0, NULL, "write per-member standardised test scores to results.h5"},
    {"eval.calibration_pairs", T_INT, NUM(eval_calibration_pairs), "100000", 0, 1e9, NULL, "within-prompt test pairs for the calibration of preference probabilities (0: none)"},
    {"eval.warm", T_STRING, STR(eval_warm), "\"auto\"", 0, 0, "auto|true|false", "the warm aggregator (the model with the members' mean weights, Rame et al. 2024): auto: when members.h5 has shared_init = 1; true: required (an error without it); false: never"},
    {"eval.bias_features", T_STRING_LIST, LIST(eval_bias_features, eval_n_bias_features, RM_MAX_VIEWS), "[]", 0, 0, NULL, "views (e.g. [\"length\"]) whose first feature is checked as a bias: results.json feature_bias.<view> gives its mean within-prompt Spearman with the golden reward and every aggregator, and the golden best-of-n of ranking by it alone"},
    {"select.grid", T_STRING_LIST, LIST(select_grid, select_n_grid, RM_MAX_SELECT_AXES), "[\"model.hidden: [] | [64] | [256, 64]\", \"train.weight_decay: 0.0 | 1.0 | 10.0\"]", 0, 0, NULL, "rmens select: the grid, one axis per entry \"key: v1 | v2 | ...\" (values in --set syntax); every combination is cross-validated"},
    {"select.folds", T_INT, NUM(select_folds), "5", 2, 100, NULL, "rmens select: folds of the train prompts (prompt-grouped k-fold cross-validation)"},
    {"select.members", T_INT, NUM(select_members), "1", 1, 1000, NULL, "rmens select: members trained per grid point and fold (their mean is scored)"},
    {"eval.chunk_prompts", T_INT, NUM(eval_chunk_prompts), "64", 1, 1e9, NULL, "test prompts read and scored per streamed piece"},
};
#define N_SCHEMA (sizeof SCHEMA / sizeof SCHEMA[0])

static const key_spec *find_spec(const char *key)
{
    for (size_t i = 0; i < N_SCHEMA; i++)
        if (strcmp(SCHEMA[i].key, key) == 0) return &SCHEMA[i];
    return NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[256];
    if (lb >= 255) return (size_t)-1;
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *closest_key(const char *key)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < N_SCHEMA; i++) {
        size_t d = edit_distance(key, SCHEMA[i].key);
        if (d < best_d) { best_d = d; best = SCHEMA[i].key; }
    }
    return best;
}

static int unknown_key_error(const char *where, const char *key)
{
    return rm_errorf("%sunknown key '%s' (did you mean '%s'?)", where, key, closest_key(key));
}

/* "file:LINE: " for a setting that came from the file, "--set KEY: " for an override. */
static void describe_origin(const config_setting_t *st, const char *file, const char *key, char *buf, size_t n)
{
    unsigned line = st ? config_setting_source_line(st) : 0;
    if (line > 0) snprintf(buf, n, "%s:%u: ", file ? file : "config", line);
    else snprintf(buf, n, "--set %s: ", key);
}

/* ---- copying parsed values into the merged configuration ---- */

static int copy_setting_value(config_setting_t *dst, const config_setting_t *src)
{
    switch (config_setting_type(src)) {
    case CONFIG_TYPE_INT: return config_setting_set_int(dst, config_setting_get_int(src)) == CONFIG_TRUE ? 0 : -1;
    case CONFIG_TYPE_INT64: return config_setting_set_int64(dst, config_setting_get_int64(src)) == CONFIG_TRUE ? 0 : -1;
    case CONFIG_TYPE_FLOAT: return config_setting_set_float(dst, config_setting_get_float(src)) == CONFIG_TRUE ? 0 : -1;
    case CONFIG_TYPE_BOOL: return config_setting_set_bool(dst, config_setting_get_bool(src)) == CONFIG_TRUE ? 0 : -1;
    case CONFIG_TYPE_STRING: return config_setting_set_string(dst, config_setting_get_string(src)) == CONFIG_TRUE ? 0 : -1;
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST: {
        int n = config_setting_length(src);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
            config_setting_t *d = config_setting_add(dst, NULL, config_setting_type(e));
            if (!d || copy_setting_value(d, e) != 0) return -1;
        }
        return 0;
    }
    default: return -1; /* groups are not values */
    }
}

/* Put `value` (a parsed libconfig setting) at dotted path `key` in cfg, creating groups. */
static int set_path(config_t *cfg, const char *key, const config_setting_t *value)
{
    char path[256];
    snprintf(path, sizeof path, "%s", key);
    config_setting_t *parent = config_root_setting(cfg);
    char *save = NULL;
    char *part = strtok_r(path, ".", &save);
    while (part) {
        char *next = strtok_r(NULL, ".", &save);
        config_setting_t *child = config_setting_get_member(parent, part);
        if (next) {
            if (child && config_setting_type(child) != CONFIG_TYPE_GROUP)
                return rm_errorf("--set %s: '%s' is not a group", key, part);
            if (!child) child = config_setting_add(parent, part, CONFIG_TYPE_GROUP);
            if (!child) return rm_errorf("--set %s: cannot create group '%s'", key, part);
            parent = child;
        } else {
            if (child) config_setting_remove(parent, part);
            child = config_setting_add(parent, part, config_setting_type(value));
            if (!child || copy_setting_value(child, value) != 0)
                return rm_errorf("--set %s: cannot store the value", key);
        }
        part = next;
    }
    return 0;
}

/* Parse `text` as a libconfig value. A bare word that is not valid libconfig becomes a
 * string, so that `--set store=/tmp/s.h5` needs no shell quoting. */
static int parse_value(config_t *tmp, const char *text, const char *key)
{
    size_t n = strlen(text) + 16;
    char *doc = rm_alloc(n, 1, "override");
    if (!doc) return -1;
    snprintf(doc, n, "v = %s;", text);
    config_init(tmp);
    int ok = config_read_string(tmp, doc) == CONFIG_TRUE;
    if (!ok && text[0] == '[' && text[strlen(text) - 1] == ']') {
        /* libconfig arrays hold one type only; [0.1, 1] is valid as the list (0.1, 1). */
        config_destroy(tmp);
        config_init(tmp);
        snprintf(doc, n, "v = (%.*s);", (int)strlen(text) - 2, text + 1);
        ok = config_read_string(tmp, doc) == CONFIG_TRUE;
    }
    free(doc);
    if (ok) return 0;
    config_destroy(tmp);
    config_init(tmp);
    /* On failure tmp is destroyed here; on success the caller destroys it. */
    if (strpbrk(text, "[](){};\"") != NULL) {
        config_destroy(tmp);
        return rm_errorf("--set %s=%s: not a valid value (libconfig syntax: 64, 0.001, true, [1, 2], \"text\")", key, text);
    }
    config_setting_t *s = config_setting_add(config_root_setting(tmp), "v", CONFIG_TYPE_STRING);
    if (!s || config_setting_set_string(s, text) != CONFIG_TRUE) {
        config_destroy(tmp);
        return rm_errorf("--set %s: cannot store the value", key);
    }
    return 0;
}

/* ---- validation: every leaf must be a schema key ---- */

static int is_group_prefix(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < N_SCHEMA; i++)
        if (strncmp(SCHEMA[i].key, path, n) == 0 && SCHEMA[i].key[n] == '.') return 1;
    return 0;
}

static int check_known_keys(const config_setting_t *group, const char *prefix, const char *file)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *st = config_setting_get_elem(group, (unsigned)i);
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", config_setting_name(st));
        char where[1200];
        describe_origin(st, file, path, where, sizeof where);
        if (config_setting_type(st) == CONFIG_TYPE_GROUP) {
            if (find_spec(path)) return rm_errorf("%skey '%s' must be a value, not a group", where, path);
            if (!is_group_prefix(path)) return unknown_key_error(where, path);
            if (check_known_keys(st, path, file) != 0) return -1;
        } else if (!find_spec(path)) {
            return unknown_key_error(where, path);
        }
    }
    return 0;
}

/* ---- typed assignment into rm_settings ---- */

static const char *type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a float";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: case CONFIG_TYPE_LIST: return "a list";
    default: return "a group";
    }
}

static int check_range(const key_spec *k, double v, const char *where)
{
    if (v < k->min || v > k->max) {
        if (k->min == 1e-300) {
            if (k->max >= BIG) return rm_errorf("%s'%s' = %g is out of range: must be > 0", where, k->key, v);
            return rm_errorf("%s'%s' = %g is out of range (0, %g]", where, k->key, v, k->max);
        }
        return rm_errorf("%s'%s' = %g is out of range [%g, %g]", where, k->key, v, k->min, k->max);
    }
    return 0;
}

static int get_number(const config_setting_t *st, const key_spec *k, int want_int, double *out, long long *iout, const char *where)
{
    int t = config_setting_type(st);
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
        long long v = config_setting_get_int64(st);
        *out = (double)v;
        if (iout) *iout = v;
        return 0;
    }
    if (t == CONFIG_TYPE_FLOAT && !want_int) {
        *out = config_setting_get_float(st);
        return 0;
    }
    return rm_errorf("%s'%s' expects %s, got %s", where, k->key, want_int ? "an integer" : "a number", type_name(t));
}

/* A string that must be one of k->choices ("a|b|c"; NULL: any). */
static int check_choice(const key_spec *k, const char *v, const char *where)
{
    if (!k->choices) return 0;
    size_t n = strlen(v);
    for (const char *c = k->choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0) return 0;
        c += len + (bar ? 1 : 0);
    }
    return rm_errorf("%s'%s' = \"%s\" is not one of %s", where, k->key, v, k->choices);
}

/* Bytes per entry of a string list: view names, grid axes and family names differ. */
static size_t string_list_width(const key_spec *k)
{
    if (k->offset == OFF(select_grid)) return RM_SELECT_AXIS_MAX;
    if (k->offset == OFF(ensemble_families)) return sizeof ((rm_settings *)0)->ensemble_families[0];
    return RM_NAME_MAX; /* view names: ensemble.views, model.inputs, eval.bias_features */
}

/* A list of strings, each one of k->choices (ensemble.families). */
static int assign_string_list(rm_settings *s, const key_spec *k, const config_setting_t *st, const char *where)
{
    int t = config_setting_type(st);
    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
        return rm_errorf("%s'%s' expects a list like [\"a\", \"b\"], got %s", where, k->key, type_name(t));
    int n = config_setting_length(st);
    if ((size_t)n > k->capacity) return rm_errorf("%s'%s' has %d entries, at most %zu allowed", where, k->key, n, k->capacity);
    /* bytes per entry: view names are longer than family names */
    const size_t width = string_list_width(k);
    char *out = (char *)s + k->offset;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(st, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return rm_errorf("%s'%s' entry %d expects a string, got %s", where, k->key, i, type_name(config_setting_type(e)));
        const char *v = config_setting_get_string(e);
        if (check_choice(k, v, where) != 0) return -1;
        if (!v[0] || strlen(v) >= width)
            return rm_errorf("%s'%s' entry %d must be 1 to %zu characters", where, k->key, i, width - 1);
        snprintf(out + (size_t)i * width, width, "%s", v);
    }
    *(int *)((char *)s + k->count_offset) = n;
    return 0;
}

static int assign(rm_settings *s, const key_spec *k, const config_setting_t *st, const char *where)
{
    char *base = (char *)s;
    int t = config_setting_type(st);
    switch (k->type) {
    case T_INT: {
        double d = 0; long long v = 0;
        if (get_number(st, k, 1, &d, &v, where) != 0 || check_range(k, d, where) != 0) return -1;
        *(long long *)(base + k->offset) = v;
        return 0;
    }
    case T_FLOAT: {
        double d = 0;
        if (get_number(st, k, 0, &d, NULL, where) != 0) return -1;
        if (d != d) return rm_errorf("%s'%s' is NaN", where, k->key);
        if (check_range(k, d, where) != 0) return -1;
        *(double *)(base + k->offset) = d;
        return 0;
    }
    case T_SCALE: {
        if (t == CONFIG_TYPE_STRING) {
            const char *v = config_setting_get_string(st);
            if (strcmp(v, k->choices) != 0)
                return rm_errorf("%s'%s' = \"%s\": expected \"%s\" or a number > 0", where, k->key, v, k->choices);
            *(double *)(base + k->offset) = 0;
            return 0;
        }
        double d = 0;
        if (get_number(st, k, 0, &d, NULL, where) != 0) return -1;
        if (d != d) return rm_errorf("%s'%s' is NaN", where, k->key);
        if (check_range(k, d, where) != 0) return -1;
        *(double *)(base + k->offset) = d;
        return 0;
    }
    case T_BOOL:
        if (t != CONFIG_TYPE_BOOL) return rm_errorf("%s'%s' expects a boolean (true/false), got %s", where, k->key, type_name(t));
        *(int *)(base + k->offset) = config_setting_get_bool(st);
        return 0;
    case T_STRING: {
        /* eval.warm = true reads as libconfig's boolean: a key whose words include
         * true|false takes the boolean as that word */
        if (t == CONFIG_TYPE_BOOL && k->choices && strstr(k->choices, "true|false")) {
            snprintf(base + k->offset, k->capacity, "%s", config_setting_get_bool(st) ? "true" : "false");
            return 0;
        }
        if (t != CONFIG_TYPE_STRING) return rm_errorf("%s'%s' expects a string, got %s", where, k->key, type_name(t));
        const char *v = config_setting_get_string(st);
        if (strlen(v) >= k->capacity) return rm_errorf("%s'%s' is longer than %zu characters", where, k->key, k->capacity - 1);
        if (check_choice(k, v, where) != 0) return -1;
        snprintf(base + k->offset, k->capacity, "%s", v);
        return 0;
    }
    case T_STRING_LIST: return assign_string_list(s, k, st, where);
    case T_INT_LIST:
    case T_FLOAT_LIST: {
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return rm_errorf("%s'%s' expects a list like [1, 2], got %s", where, k->key, type_name(t));
        int n = config_setting_length(st);
        if ((size_t)n > k->capacity) return rm_errorf("%s'%s' has %d entries, at most %zu allowed", where, k->key, n, k->capacity);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(st, (unsigned)i);
            double d = 0; long long v = 0;
            if (get_number(e, k, k->type == T_INT_LIST, &d, &v, where) != 0) return -1;
            if (check_range(k, d, where) != 0) return -1;
            if (k->type == T_INT_LIST) {
                if (k->offset == OFF(model_hidden)) ((int *)(base + k->offset))[i] = (int)v;
                else ((long long *)(base + k->offset))[i] = v;
            } else {
                ((double *)(base + k->offset))[i] = d;
            }
        }
        *(int *)(base + k->count_offset) = n;
        return 0;
    }
    }
    return -1;
}

static int config_text(config_t *cfg, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return rm_errorf("cannot serialise the configuration");
    config_write(cfg, f);
    fclose(f);
    *out = buf;
    return 0;
}

/* pairs.source = "store": the pair design is "each stored pair once" (a pair is a prompt
 * of the chosen and the rejected reply: within_prompt, one pair per prompt, the human label
 * as a perfect annotator). Those values go into the configuration, so members.h5 and the
 * checkpoint fingerprint record what was used; a key the user set to something else is
 * refused, never overridden quietly. */
static int apply_pairs_source(config_t *cfg, const char *path)
{
    const char *source = NULL;
    if (config_lookup_string(cfg, "pairs.source", &source) != CONFIG_TRUE || strcmp(source, "store") != 0) return 0;
    static const struct { const char *key, *value, *why; } design[] = {
        {"pairs.mode", "\"within_prompt\"", "a stored pair compares its own two replies"},
        {"pairs.sampling", "\"prompts\"", "pairs.count selects stored pairs"},
        {"pairs.candidates", "\"all\"", "both replies of a stored pair are compared"},
        {"pairs.per_prompt", "1", "each stored pair is used once"},
        {"pairs.annotator_beta", "-1.0", "the labels are the store's human labels (pairs.label_flip adds noise)"},
    };
    for (size_t i = 0; i < sizeof design / sizeof design[0]; i++) {
        config_setting_t *given = config_lookup(cfg, design[i].key);
        config_t tmp;
        if (parse_value(&tmp, design[i].value, design[i].key) != 0) return -1;
        config_setting_t *want = config_lookup(&tmp, "v");
        int differs = 0;
        if (given) {
            int type = config_setting_type(given);
            if (type == CONFIG_TYPE_STRING)
                differs = config_setting_type(want) != CONFIG_TYPE_STRING ||
                          strcmp(config_setting_get_string(given), config_setting_get_string(want)) != 0;
            else if (strcmp(design[i].key, "pairs.annotator_beta") == 0)
                differs = (type == CONFIG_TYPE_FLOAT ? config_setting_get_float(given)
                                                     : (double)config_setting_get_int64(given)) >= 0;
            else
                differs = type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64 ? 1
                          : config_setting_get_int64(given) != config_setting_get_int64(want);
        }
        int rc = 0;
        if (differs) {
            char where[1200];
            describe_origin(given, path, design[i].key, where, sizeof where);
            rc = rm_errorf("%sdoes not apply with pairs.source = \"store\" (%s; leave it out or set %s)", where,
                           design[i].why, design[i].value);
        } else if (!given) {
            rc = set_path(cfg, design[i].key, want);
        }
        config_destroy(&tmp);
        if (rc != 0) return -1;
    }
    return 0;
}

int rm_settings_load(rm_settings *s, const char *path, const char *const *overrides, int n_overrides)
{
    memset(s, 0, sizeof *s);
    config_t cfg;
    config_init(&cfg);
    int rc = -1;
    if (path) {
        snprintf(s->source_path, sizeof s->source_path, "%s", path);
        if (config_read_file(&cfg, path) != CONFIG_TRUE) {
            if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
                rm_errorf("%s: cannot read config file", path);
            else
                rm_errorf("%s:%d: %s", path, config_error_line(&cfg), config_error_text(&cfg));
            goto done;
        }
        if (check_known_keys(config_root_setting(&cfg), "", path) != 0) goto done;
    }
    for (int i = 0; i < n_overrides; i++) {
        const char *eq = strchr(overrides[i], '=');
        if (!eq || eq == overrides[i]) {
            rm_errorf("--set %s: expected key=value", overrides[i]);
            goto done;
        }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - overrides[i]), overrides[i]);
        if (!find_spec(key)) { unknown_key_error("--set: ", key); goto done; }
        config_t tmp;
        if (parse_value(&tmp, eq + 1, key) != 0) goto done;
        int set_rc = set_path(&cfg, key, config_lookup(&tmp, "v"));
        config_destroy(&tmp);
        if (set_rc != 0) goto done;
    }
    if (apply_pairs_source(&cfg, path) != 0) goto done;
    /* Defaults go through the same typed assignment as user values, and into the merged
     * configuration so that the provenance text is complete. */
    for (size_t i = 0; i < N_SCHEMA; i++) {
        const key_spec *k = &SCHEMA[i];
        config_setting_t *st = config_lookup(&cfg, k->key);
        if (!st) {
            config_t tmp;
            if (parse_value(&tmp, k->default_text, k->key) != 0) goto done;
            int set_rc = set_path(&cfg, k->key, config_lookup(&tmp, "v"));
            config_destroy(&tmp);
            if (set_rc != 0) goto done;
            st = config_lookup(&cfg, k->key);
            if (assign(s, k, st, "default: ") != 0) goto done;
            continue;
        }
        char where[1200];
        describe_origin(st, path, k->key, where, sizeof where);
        if (assign(s, k, st, where) != 0) goto done;
    }
    if (config_text(&cfg, &s->config_text) != 0) goto done;
    rc = 0;
done:
    config_destroy(&cfg);
    return rc;
}

void rm_settings_free(rm_settings *s)
{
    free(s->config_text);
    s->config_text = NULL;
}

void rm_settings_print_keys(FILE *out)
{
    static const char *names[] = {"int", "float", "string", "bool", "int list", "float list", "number|word", "string list"};
    for (size_t i = 0; i < N_SCHEMA; i++) {
        const key_spec *k = &SCHEMA[i];
        fprintf(out, "  %-28s %-10s default %-12s %s", k->key, names[k->type], k->default_text, k->doc);
        if (k->choices) fprintf(out, " (%s)", k->choices);
        fputc('\n', out);
    }
}
