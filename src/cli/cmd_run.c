/* rmens run CONFIG: train, then evaluate, in one job. */
#include "cli.h"

#include "rmens/ensemble/ensemble.h"
#include "rmens/eval/eval.h"

static int train_then_evaluate(const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm)
{
    int rc = rm_ensemble_train(cfg, comm, args->force, args->resume);
    if (rc != 0) return rc; /* RM_EXIT_CHECKPOINTED included: eval waits for the resumed run */
    /* A resumed run re-evaluates whatever results an interrupted one may have left. */
    return rm_evaluate(cfg, comm, args->force || args->resume);
}

static int cmd_run(int argc, char **argv)
{
    /* one exclusive lock for both steps: eval here reads what this job wrote */
    return cli_run_locked(&VERB_RUN, argc, argv, CLI_LOCK_EXCLUSIVE, train_then_evaluate, cli_dry_run_run);
}

static const cli_option RUN_OPTIONS[] = {
    {.name = "--set", .kind = CLI_TEXT_LIST, .offset = offsetof(cli_config_args, sets), .value_name = "KEY=VALUE",
     .help = "override a config key (libconfig syntax; repeatable)"},
    {.name = "--force", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, force),
     .help = "overwrite existing members and results"},
    {.name = "--resume", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, resume),
     .help = "continue training from <output>/checkpoint.h5 (see rmens train --help)"},
    {.name = "--dry-run", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, dry_run),
     .help = "check what train and eval can check without computing and print\n"
             "the plan (see rmens train --help); write nothing"},
};

const cli_verb VERB_RUN = {
    .name = "run",
    .summary = "train then evaluate an ensemble in one job",
    .usage = "mpirun -n P rmens run CONFIG [--set KEY=VALUE]... [--force] [--resume] [--dry-run]",
    .args_size = sizeof(cli_config_args),
    .positional = "CONFIG",
    .positional_offset = offsetof(cli_config_args, config_path),
    .options = RUN_OPTIONS,
    .n_options = CLI_COUNT(RUN_OPTIONS),
    .description =
        "Runs `rmens train` and then `rmens eval` with the same configuration in one MPI job:\n"
        "<output>/members.h5, then <output>/results.h5 and results.json, and the report.\n\n",
    .help_column = 20,
    .lists_config_keys = 1,
    .run = cmd_run,
};
