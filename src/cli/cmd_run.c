/* rmens run CONFIG: train, then evaluate, in one job. */
#include "cli.h"
#include "rmens/store/lock.h"
#include "rmens/base/common.h"
#include "rmens/ensemble/checkpoint.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/eval/eval.h"

static const char RUN_DETAILS[] =
    "Runs `rmens train` and then `rmens eval` with the same configuration in one MPI job:\n"
    "<output>/members.h5, then <output>/results.h5 and results.json, and the report.\n\n"
    "options:\n"
    "  --set KEY=VALUE   override a config key (libconfig syntax; repeatable)\n"
    "  --force           overwrite existing members and results\n"
    "  --resume          continue training from <output>/checkpoint.h5 (see rmens train --help)\n\n"
    "config keys:\n";

int cmd_run(int argc, char **argv)
{
    cli_args a;
    int prc = cli_parse_config_args(argc, argv, &VERB_RUN, 1, &a);
    if (prc == 1) {
        if (cli_rank(MPI_COMM_WORLD) == 0) rm_settings_print_keys(stdout);
        return 0;
    }
    if (prc != 0) return cli_fail("run", MPI_COMM_WORLD);
    rm_settings cfg;
    if (cli_load_settings(&a, &cfg, MPI_COMM_WORLD) != 0) return cli_fail("run", MPI_COMM_WORLD);
    /* one exclusive lock for both steps: eval here reads what this job wrote */
    rm_output_lock lock;
    if (rm_output_lock_acquire(&lock, cfg.output, 1, "run", MPI_COMM_WORLD) != 0) {
        rm_settings_free(&cfg);
        return cli_fail("run", MPI_COMM_WORLD);
    }
    int rc = rm_ensemble_train(&cfg, MPI_COMM_WORLD, a.force, a.resume);
    /* A resumed run re-evaluates whatever results an interrupted one may have left. */
    if (rc == 0) rc = rm_evaluate(&cfg, MPI_COMM_WORLD, a.force || a.resume);
    rm_output_lock_release(&lock, rc == 0 || rc == RM_EXIT_CHECKPOINTED);
    rm_settings_free(&cfg);
    if (rc == RM_EXIT_CHECKPOINTED) return RM_EXIT_CHECKPOINTED;
    return rc == 0 ? 0 : cli_fail("run", MPI_COMM_WORLD);
}

const cli_verb VERB_RUN = {"run", "train then evaluate an ensemble in one job",
                           "mpirun -n P rmens run CONFIG [--set KEY=VALUE]... [--force] [--resume]", RUN_DETAILS, cmd_run};
