/* rmens active CONFIG: active reward modelling, the ensemble choosing the pairs to label. */
#include "cli.h"
#include "rmens/store/lock.h"
#include "rmens/active/active.h"
#include "rmens/ensemble/checkpoint.h"
#include "rmens/base/common.h"

static const char ACTIVE_DETAILS[] =
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
    "agreement, uncertainty) and members.h5 of the last round.\n\n"
    "options:\n"
    "  --set KEY=VALUE   override a config key (libconfig syntax; repeatable)\n"
    "  --force           overwrite an existing active.h5 (and any checkpoint)\n"
    "  --resume          continue an interrupted run (after a round from active_state.h5,\n"
    "                    inside a round's training from checkpoint.h5): bitwise the same\n"
    "                    active.h5 (outside /run) as an uninterrupted run\n\n"
    "checkpoints: after every round, every train.checkpoint_minutes, and on SIGTERM/SIGUSR1\n"
    "(at the next step boundary of training, or the end of the round); then exit 75.\n\n"
    "config keys:\n";

int cmd_active(int argc, char **argv)
{
    cli_args a;
    int prc = cli_parse_config_args(argc, argv, &VERB_ACTIVE, 1, &a);
    if (prc == 1) {
        if (cli_rank(MPI_COMM_WORLD) == 0) rm_settings_print_keys(stdout);
        return 0;
    }
    if (prc != 0) return cli_fail("active", MPI_COMM_WORLD);
    rm_settings cfg;
    if (cli_load_settings(&a, &cfg, MPI_COMM_WORLD) != 0) return cli_fail("active", MPI_COMM_WORLD);
    rm_output_lock lock;
    if (rm_output_lock_acquire(&lock, cfg.output, 1, "active", MPI_COMM_WORLD) != 0) {
        rm_settings_free(&cfg);
        return cli_fail("active", MPI_COMM_WORLD);
    }
    int rc = rm_active_run(&cfg, MPI_COMM_WORLD, a.force, a.resume);
    rm_output_lock_release(&lock, rc == 0 || rc == RM_EXIT_CHECKPOINTED);
    rm_settings_free(&cfg);
    if (rc == RM_EXIT_CHECKPOINTED) return RM_EXIT_CHECKPOINTED;
    return rc == 0 ? 0 : cli_fail("active", MPI_COMM_WORLD);
}

const cli_verb VERB_ACTIVE = {"active", "active reward modelling: the ensemble chooses the pairs to label",
                              "mpirun -n P rmens active CONFIG [--set KEY=VALUE]... [--force] [--resume]",
                              ACTIVE_DETAILS, cmd_active};
