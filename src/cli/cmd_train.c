/* rmens train CONFIG: train an ensemble over the ranks of the job. */
#include "cli.h"
#include "rmens/store/lock.h"
#include "rmens/base/common.h"
#include "rmens/ensemble/checkpoint.h"
#include "rmens/ensemble/ensemble.h"

static const char TRAIN_DETAILS[] =
    "Trains ensemble.members reward models on the train split of `store` and writes\n"
    "<output>/members.h5. Ranks form groups of parallel.ranks_per_member ranks; members are\n"
    "dealt to the groups round-robin, and a group of more than one rank trains each member\n"
    "data-parallel. Every node reads the train split once into shared memory.\n"
    "With parallel.ranks_per_member = 1 the members are bitwise identical for any rank count.\n\n"
    "options:\n"
    "  --set KEY=VALUE   override a config key (libconfig syntax; repeatable)\n"
    "  --force           overwrite an existing members.h5 (and any checkpoint)\n"
    "  --resume          continue from <output>/checkpoint.h5 (finished members are not\n"
    "                    retrained; the result is bitwise identical to an uninterrupted run);\n"
    "                    without a checkpoint, train from the start\n\n"
    "checkpoints: every train.checkpoint_minutes, and on SIGTERM or SIGUSR1 (what Slurm sends\n"
    "before a kill; under mpirun send SIGUSR1 to mpirun, which forwards it), every rank saves\n"
    "its members' full state at its next step boundary into <output>/checkpoint.h5 (written\n"
    "atomically). After a signal the job exits with status 75 (EX_TEMPFAIL) for requeueing.\n\n"
    "config keys:\n";

int cmd_train(int argc, char **argv)
{
    cli_args a;
    int prc = cli_parse_config_args(argc, argv, &VERB_TRAIN, 1, &a);
    if (prc == 1) {
        if (cli_rank(MPI_COMM_WORLD) == 0) rm_settings_print_keys(stdout);
        return 0;
    }
    if (prc != 0) return cli_fail("train", MPI_COMM_WORLD);
    rm_settings cfg;
    if (cli_load_settings(&a, &cfg, MPI_COMM_WORLD) != 0) return cli_fail("train", MPI_COMM_WORLD);
    rm_output_lock lock;
    if (rm_output_lock_acquire(&lock, cfg.output, 1, "train", MPI_COMM_WORLD) != 0) {
        rm_settings_free(&cfg);
        return cli_fail("train", MPI_COMM_WORLD);
    }
    int rc = rm_ensemble_train(&cfg, MPI_COMM_WORLD, a.force, a.resume);
    rm_output_lock_release(&lock, rc == 0 || rc == RM_EXIT_CHECKPOINTED);
    rm_settings_free(&cfg);
    if (rc == RM_EXIT_CHECKPOINTED) return RM_EXIT_CHECKPOINTED;
    return rc == 0 ? 0 : cli_fail("train", MPI_COMM_WORLD);
}



const cli_verb VERB_TRAIN = {"train", "train an ensemble of reward models over MPI ranks",
                             "mpirun -n P rmens train CONFIG [--set KEY=VALUE]... [--force] [--resume]", TRAIN_DETAILS, cmd_train};
