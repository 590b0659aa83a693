/* rmens train CONFIG: train an ensemble over the ranks of the job. */
#include "cli.h"

#include "rmens/ensemble/ensemble.h"

static int train(const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm)
{
    return rm_ensemble_train(cfg, comm, args->force, args->resume);
}

static int cmd_train(int argc, char **argv)
{
    /* exclusive: train writes members.h5 and checkpoint.h5 */
    return cli_run_locked(&VERB_TRAIN, argc, argv, CLI_LOCK_EXCLUSIVE, train, cli_dry_run_train);
}

static const cli_option TRAIN_OPTIONS[] = {
    {.name = "--set", .kind = CLI_TEXT_LIST, .offset = offsetof(cli_config_args, sets), .value_name = "KEY=VALUE",
     .help = "override a config key (libconfig syntax; repeatable)"},
    {.name = "--force", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, force),
     .help = "overwrite an existing members.h5 (and any checkpoint)"},
    {.name = "--resume", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, resume),
     .help = "continue from <output>/checkpoint.h5 (finished members are not\n"
             "retrained; the result is bitwise identical to an uninterrupted run);\n"
             "without a checkpoint, train from the start"},
    {.name = "--dry-run", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, dry_run),
     .help = "check everything that needs no computing (store, views, ranks, the\n"
             "deal of members, memory, existing files) and print the plan; write\n"
             "nothing"},
};

const cli_verb VERB_TRAIN = {
    .name = "train",
    .summary = "train an ensemble of reward models over MPI ranks",
    .usage = "mpirun -n P rmens train CONFIG [--set KEY=VALUE]... [--force] [--resume] [--dry-run]",
    .args_size = sizeof(cli_config_args),
    .positional = "CONFIG",
    .positional_offset = offsetof(cli_config_args, config_path),
    .options = TRAIN_OPTIONS,
    .n_options = CLI_COUNT(TRAIN_OPTIONS),
    .description =
        "Trains ensemble.members reward models on the train split of `store` and writes\n"
        "<output>/members.h5. Ranks form groups of parallel.ranks_per_member ranks; members are\n"
        "dealt to the groups round-robin, and a group of more than one rank trains each member\n"
        "data-parallel. Every node reads the train split once into shared memory.\n"
        "With parallel.ranks_per_member = 1 the members are bitwise identical for any rank count.\n\n",
    .help_column = 20,
    .epilogue =
        "checkpoints: every train.checkpoint_minutes, and on SIGTERM or SIGUSR1 (what Slurm sends\n"
        "before a kill; under mpirun send SIGUSR1 to mpirun, which forwards it), every rank saves\n"
        "its members' full state at its next step boundary into <output>/checkpoint.h5 (written\n"
        "atomically). After a signal the job exits with status 75 (EX_TEMPFAIL) for requeueing.\n",
    .lists_config_keys = 1,
    .run = cmd_train,
};
