/* rmens eval CONFIG: score the test split with every member and write the figures. */
#include "cli.h"
#include "rmens/ensemble/checkpoint.h"
#include "rmens/store/lock.h"
#include "rmens/base/common.h"
#include "rmens/eval/eval.h"

static const char EVAL_DETAILS[] =
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
    "figures are identical for any P.\n\n"
    "options:\n"
    "  --set KEY=VALUE   override a config key (libconfig syntax; repeatable)\n"
    "  --force           overwrite existing results.h5 / results.json\n\n"
    "config keys:\n";

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    int prc = cli_parse_config_args(argc, argv, &VERB_EVAL, 0, &a);
    if (prc == 1) {
        if (cli_rank(MPI_COMM_WORLD) == 0) rm_settings_print_keys(stdout);
        return 0;
    }
    if (prc != 0) return cli_fail("eval", MPI_COMM_WORLD);
    rm_settings cfg;
    if (cli_load_settings(&a, &cfg, MPI_COMM_WORLD) != 0) return cli_fail("eval", MPI_COMM_WORLD);
    rm_output_lock lock;
    if (rm_output_lock_acquire(&lock, cfg.output, 0, "eval", MPI_COMM_WORLD) != 0) {
        rm_settings_free(&cfg);
        return cli_fail("eval", MPI_COMM_WORLD);
    }
    int rc = rm_evaluate(&cfg, MPI_COMM_WORLD, a.force);
    rm_output_lock_release(&lock, rc == 0 || rc == RM_EXIT_CHECKPOINTED);
    rm_settings_free(&cfg);
    return rc == 0 ? 0 : cli_fail("eval", MPI_COMM_WORLD);
}

const cli_verb VERB_EVAL = {"eval", "evaluate an ensemble on the test split (best-of-n, Spearman, agreement, ...)",
                            "mpirun -n P rmens eval CONFIG [--set KEY=VALUE]... [--force]", EVAL_DETAILS, cmd_eval};
