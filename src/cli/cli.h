/* What the verbs share: the option tables' parser (cli_options.h), the skeleton of the
 * verbs that run a configuration, and the one way of reporting a failure. */
#ifndef RMENS_CLI_H
#define RMENS_CLI_H

#include <mpi.h>
#include <stddef.h>

#include "cli_options.h"
#include "rmens/base/config.h"

/* The command line of the verbs that run a configuration: synth, train, eval, run, active. */
typedef struct {
    const char *config_path; /* CONFIG */
    cli_text_list sets;      /* --set key=value, applied in order over the file */
    int force;               /* --force: overwrite what the verb would refuse to */
    int resume;              /* --resume (train, run, active): continue from the checkpoint */
    int dry_run;             /* --dry-run (train, eval, run, active): check and print the plan only */
} cli_config_args;

/* Parse CONFIG and its options, then load the settings on every rank (they agree on the
 * first error). CLI_PARSED: `cfg` is loaded (rm_settings_free it); CLI_HELP_SHOWN: exit
 * 0; -1: the message is set, nothing to free. */
int cli_load_config(const cli_verb *verb, int argc, char **argv, cli_config_args *args, rm_settings *cfg,
                    MPI_Comm comm);

/* A reader (eval) shares <output> with other readers; a writer (train, run, active) holds it alone. */
typedef enum { CLI_LOCK_SHARED = 0, CLI_LOCK_EXCLUSIVE = 1 } cli_lock_mode;

/* What a verb does with <output> locked: 0, RM_EXIT_CHECKPOINTED (stopped by a signal after
 * saving a checkpoint), or -1 with the message set. */
typedef int (*cli_locked_work)(const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm);

/* A verb's --dry-run: every check that needs no computing, then rank 0 prints the plan.
 * Writes nothing (no <output>, no lock). 0, or -1 with the message set on every rank. */
typedef int (*cli_dry_run_work)(const cli_verb *verb, const rm_settings *cfg, const cli_config_args *args,
                                MPI_Comm comm);

/* The whole of a verb working in <output>, over MPI_COMM_WORLD: parse, load the settings,
 * lock <output>, do the work, release the lock, and turn the outcome into the exit status
 * (0; 75 = RM_EXIT_CHECKPOINTED for requeueing; 1 after rank 0 printed the error). With
 * --dry-run (args.dry_run; `dry_run` not NULL) it runs `dry_run` instead of locking and
 * working: 0, or 1 after the error. */
int cli_run_locked(const cli_verb *verb, int argc, char **argv, cli_lock_mode mode, cli_locked_work work,
                   cli_dry_run_work dry_run);

/* The four dry runs (src/cli/dry_run.c): what `rmens <verb> CONFIG --dry-run` checks and
 * prints. train: the store, views (model.inputs, ensemble.views), rank layout and deal,
 * memory, members.h5 / checkpoint.h5 against --force / --resume. eval: the store, members.h5
 * (present, its dim against the store's views, its store_uuid, pairs.source, warm), the
 * plan of figures, memory of the streamed pieces, results.h5 / results.json. run: train's
 * checks and eval's that need no members. active: rm_active_check, the store's pool, the
 * deal, memory, active.h5 and its state files. */
int cli_dry_run_train(const cli_verb *verb, const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm);
int cli_dry_run_eval(const cli_verb *verb, const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm);
int cli_dry_run_run(const cli_verb *verb, const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm);
int cli_dry_run_active(const cli_verb *verb, const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm);

/* Print "rmens <verb>: error: <message>" from rank 0 and return the exit status 1. */
int cli_fail(const char *verb, MPI_Comm comm);
int cli_rank(MPI_Comm comm);

extern const cli_verb VERB_SYNTH, VERB_IMPORT, VERB_INSPECT, VERB_TRAIN, VERB_EVAL, VERB_RUN, VERB_ACTIVE, VERB_SELECT;
/* rmens --print-config: a global option with a verb's table (cmd_print_config.c; no MPI). */
extern const cli_verb VERB_PRINT_CONFIG;

#endif
