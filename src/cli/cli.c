/* The skeleton of the verbs that run a configuration, and failure reporting (see cli.h). */
#include "cli.h"

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/ensemble/checkpoint.h"
#include "rmens/store/lock.h"

int cli_rank(MPI_Comm comm)
{
    int r = 0;
    MPI_Comm_rank(comm, &r);
    return r;
}

int cli_fail(const char *verb, MPI_Comm comm)
{
    if (cli_rank(comm) == 0) {
        fprintf(stderr, "rmens %s: error: %s\n", verb, rm_last_error());
        fflush(stderr);
    }
    return 1;
}

int cli_load_config(const cli_verb *verb, int argc, char **argv, cli_config_args *args, rm_settings *cfg,
                    MPI_Comm comm)
{
    int parsed = cli_parse(verb, argc, argv, args);
    if (parsed != CLI_PARSED) return parsed;
    /* Every rank parses the same file; rm_all_ok makes them agree on the first error. */
    int rc = rm_settings_load(cfg, args->config_path, args->sets.items, args->sets.count);
    return rm_all_ok(comm, rc) == 0 ? CLI_PARSED : -1;
}

int cli_run_locked(const cli_verb *verb, int argc, char **argv, cli_lock_mode mode, cli_locked_work work,
                   cli_dry_run_work dry_run)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    cli_config_args args;
    rm_settings cfg;
    int loaded = cli_load_config(verb, argc, argv, &args, &cfg, comm);
    if (loaded == CLI_HELP_SHOWN) return 0;
    if (loaded != CLI_PARSED) return cli_fail(verb->name, comm);
    if (args.dry_run && dry_run) {
        /* no lock: a dry run writes nothing, not even <output>/rmens.lock */
        int rc = dry_run(verb, &cfg, &args, comm);
        rm_settings_free(&cfg);
        return rc == 0 ? 0 : cli_fail(verb->name, comm);
    }
    rm_output_lock lock;
    if (rm_output_lock_acquire(&lock, cfg.output, mode == CLI_LOCK_EXCLUSIVE, verb->name, comm) != 0) {
        rm_settings_free(&cfg);
        return cli_fail(verb->name, comm);
    }
    int rc = work(&cfg, &args, comm);
    /* A checkpointed run did not fail: nothing of its output is tidied away, --resume needs it. */
    rm_output_lock_release(&lock, rc == 0 || rc == RM_EXIT_CHECKPOINTED);
    rm_settings_free(&cfg);
    if (rc == RM_EXIT_CHECKPOINTED) return RM_EXIT_CHECKPOINTED;
    return rc == 0 ? 0 : cli_fail(verb->name, comm);
}
