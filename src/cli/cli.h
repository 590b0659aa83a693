/* Shared command-line handling for the verbs. */
#ifndef RMENS_CLI_H
#define RMENS_CLI_H

#include <mpi.h>
#include <stdio.h>

#include "rmens/base/config.h"

#define CLI_MAX_SETS 256

typedef struct {
    const char *config_path;            /* positional CONFIG (may be NULL if optional) */
    const char *sets[CLI_MAX_SETS];     /* --set key=value, in order */
    int n_sets;
    int force, resume;
} cli_args;

typedef struct {
    const char *name;
    const char *summary;
    const char *usage;     /* lines after "usage: " */
    const char *details;   /* printed by --help */
    int (*run)(int argc, char **argv);
} cli_verb;

/* Parse "CONFIG [--set k=v]... [--force] [--resume]"; `allow_resume` enables --resume.
 * Returns 0, 1 when --help was printed (exit 0), -1 on a usage error (message set). */
int cli_parse_config_args(int argc, char **argv, const cli_verb *verb, int allow_resume, cli_args *out);
/* Load settings from parsed args; rank 0's message is shared so every rank agrees. */
int cli_load_settings(const cli_args *a, rm_settings *s, MPI_Comm comm);
/* Print the verb's help text. */
void cli_print_help(const cli_verb *verb, FILE *out);
/* Print "rmens <verb>: error: <message>" from rank 0 and return the exit status 1. */
int cli_fail(const char *verb, MPI_Comm comm);
int cli_rank(MPI_Comm comm);

int cmd_synth(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_active(int argc, char **argv);

extern const cli_verb VERB_SYNTH, VERB_IMPORT, VERB_INSPECT, VERB_TRAIN, VERB_EVAL, VERB_RUN, VERB_ACTIVE;

#endif
