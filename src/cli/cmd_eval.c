/* rmens eval CONFIG: score the test split with every member and write the figures. */
#include "cli.h"

#include "rmens/eval/eval.h"

static int evaluate(const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm)
{
    return rm_evaluate(cfg, comm, args->force);
}

static int cmd_eval(int argc, char **argv)
{
    /* shared: eval reads the members, which no writer may change meanwhile (rmens/store/lock.h) */
    return cli_run_locked(&VERB_EVAL, argc, argv, CLI_LOCK_SHARED, evaluate, cli_dry_run_eval);
}

static const cli_option EVAL_OPTIONS[] = {
    {.name = "--set", .kind = CLI_TEXT_LIST, .offset = offsetof(cli_config_args, sets), .value_name = "KEY=VALUE",
     .help = "override a config key (libconfig syntax; repeatable)"},
    {.name = "--force", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, force),
     .help = "overwrite existing results.h5 / results.json"},
    {.name = "--dry-run", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, dry_run),
     .help = "check the store, members.h5 (dim, store_uuid) and the figures' plan,\n"
             "estimate memory and print the plan; score and write nothing"},
};

const cli_verb VERB_EVAL = {
    .name = "eval",
    .summary = "evaluate an ensemble on the test split (best-of-n, Spearman, agreement, ...)",
    .usage = "mpirun -n P rmens eval CONFIG [--set KEY=VALUE]... [--force] [--dry-run]",
    .args_size = sizeof(cli_config_args),
    .positional = "CONFIG",
    .positional_offset = offsetof(cli_config_args, config_path),
    .options = EVAL_OPTIONS,
    .n_options = CLI_COUNT(EVAL_OPTIONS),
    .description =
        "Scores every test response of <store> with every member of <output>/members.h5 and\n"
        "reduces the predictions to the figures of an ensemble study, written to\n"
        "<output>/results.h5 (all figures, provenance, optional /predictions [E, N, K]) and\n"
        "<output>/results.json, with a table on standard output.\n\n"
        "Each member's scores are standardised by its train mean and deviation. Aggregators per\n"
        "response: single (each member alone; mean and spread over members), mean, min,\n"
        "median, uwo_<lambda> = mean - lambda * population variance (eval.uwo_lambda).\n"
        "For each: exact expected golden reward of best-of-n (eval.bon_n; ties in score share\n"
        "their win probability), Spearman with golden reward within a prompt, pairwise accuracy\n"
        "over within-prompt pairs (golden ties excluded, score ties count 1/2), benchmark\n"
        "accuracy on /bench. Agreement (member Spearman, member pairs ordering a response pair\n"
        "alike, members picking the mean ensemble's best response), uncertainty (mean member\n"
        "deviation, its Spearman with the mean's absolute rank error, AUROC of the member pairs\n"
        "disagreeing on a response pair as a predictor of the mean ordering it wrongly), and\n"
        "the ensemble-size ablation (eval.ablation_sizes, eval.ablation_subsets random subsets).\n\n"
        "Parallel: mpirun -n P. The test split is read once in total, each rank streaming its\n"
        "own prompts in pieces of eval.chunk_prompts (rounded up to whole blocks of 8 prompts);\n"
        "figures are identical for any P.\n\n",
    .help_column = 20,
    .lists_config_keys = 1,
    .run = cmd_eval,
};
