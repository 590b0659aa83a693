/* rmens active CONFIG: active reward modelling, the ensemble choosing the pairs to label. */
#include "cli.h"

#include "rmens/active/active.h"

static int active_learning(const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm)
{
    return rm_active_run(cfg, comm, args->force, args->resume);
}

static int cmd_active(int argc, char **argv)
{
    /* exclusive: every round rewrites members.h5, active.h5 and the checkpoints */
    return cli_run_locked(&VERB_ACTIVE, argc, argv, CLI_LOCK_EXCLUSIVE, active_learning, cli_dry_run_active);
}

static const cli_option ACTIVE_OPTIONS[] = {
    {.name = "--set", .kind = CLI_TEXT_LIST, .offset = offsetof(cli_config_args, sets), .value_name = "KEY=VALUE",
     .help = "override a config key (libconfig syntax; repeatable)"},
    {.name = "--force", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, force),
     .help = "overwrite an existing active.h5 (and any checkpoint)"},
    {.name = "--resume", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, resume),
     .help = "continue an interrupted run (after a round from active_state.h5,\n"
             "inside a round's training from checkpoint.h5): bitwise the same\n"
             "active.h5 (outside /run) as an uninterrupted run"},
    {.name = "--dry-run", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, dry_run),
     .help = "check the settings, the pool against the store, ranks and the deal,\n"
             "estimate memory and print the plan; write nothing"},
};

const cli_verb VERB_ACTIVE = {
    .name = "active",
    .summary = "active reward modelling: the ensemble chooses the pairs to label",
    .usage = "mpirun -n P rmens active CONFIG [--set KEY=VALUE]... [--force] [--resume] [--dry-run]",
    .args_size = sizeof(cli_config_args),
    .positional = "CONFIG",
    .positional_offset = offsetof(cli_config_args, config_path),
    .options = ACTIVE_OPTIONS,
    .n_options = CLI_COUNT(ACTIVE_OPTIONS),
    .description =
        "Draws a pool of active.pool pairs from the train split (pairs.*; labels hidden until a\n"
        "pair is selected), labels the pool's first active.initial pairs, then for active.rounds\n"
        "rounds: trains the ensemble on the labelled pairs (exactly as rmens train, members over\n"
        "the ranks; active.warm_start continues from the last round's weights), evaluates it on\n"
        "the test split (as rmens eval), scores every pool pair with every member, and labels\n"
        "the active.batch best by active.strategy:\n"
        "  random        uniform draws\n"
        "  entropy       binary entropy of the ensemble-mean preference probability\n"
        "  disagreement  variance over members of P(a preferred)\n"
        "  bald          mutual information H(mean p) - mean H(p_m)\n"
        "  levelset      smallest |ensemble-mean score difference|\n"
        "  dopt          greedy log det of the last layer's Fisher information (ARM-FI), from\n"
        "                active.dopt_ridge * I\n"
        "  past_dopt     the same, from the information of the pairs labelled so far\n"
        "Selections and every figure are identical for any rank count (ties by pair index).\n"
        "Writes <output>/active.h5 and active.json (per round: labels, selected pair indices,\n"
        "criterion, training summary, aggregators' best-of-n / Spearman / pair accuracy,\n"
        "agreement, uncertainty) and members.h5 of the last round.\n\n",
    .help_column = 20,
    .epilogue =
        "checkpoints: after every round, every train.checkpoint_minutes, and on SIGTERM/SIGUSR1\n"
        "(at the next step boundary of training, or the end of the round); then exit 75.\n",
    .lists_config_keys = 1,
    .run = cmd_active,
};
