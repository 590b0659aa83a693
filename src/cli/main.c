/* rmens: train and evaluate ensembles of embedding-based reward models with MPI.
 * Verbs follow git's style: `rmens <verb> [options]`, `rmens <verb> --help`. */
#include <mpi.h>
#include <unistd.h>
#include "rmens/store/h5util.h"
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rmens/base/common.h"
#include "rmens/ensemble/ensemble.h"

static const cli_verb *const VERBS[] = {&VERB_SYNTH, &VERB_IMPORT, &VERB_INSPECT, &VERB_TRAIN, &VERB_EVAL, &VERB_RUN, &VERB_SELECT, &VERB_ACTIVE};
#define N_VERBS (int)(sizeof VERBS / sizeof VERBS[0])

static void print_usage(FILE *out)
{
    fprintf(out, "usage: rmens <verb> [options]        (rmens <verb> --help for details)\n\n"
                 "Train and evaluate ensembles of embedding-based reward models with MPI.\n\nverbs:\n");
    for (int i = 0; i < N_VERBS; i++) fprintf(out, "  %-9s %s\n", VERBS[i]->name, VERBS[i]->summary);
    fprintf(out, "\nrmens %s\n", RMENS_VERSION);
}

int main(int argc, char **argv)
{
    /* Help and version need no MPI, so they work on a login node without mpirun. */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("rmens %s\n", RMENS_VERSION);
        return 0;
    }
    const cli_verb *verb = NULL;
    for (int i = 0; i < N_VERBS; i++)
        if (strcmp(argv[1], VERBS[i]->name) == 0) verb = VERBS[i];
    if (!verb) {
        fprintf(stderr, "rmens: '%s' is not a verb (see rmens --help)\n", argv[1]);
        return 2;
    }
    if (verb == &VERB_TRAIN || verb == &VERB_RUN || verb == &VERB_SELECT || verb == &VERB_ACTIVE) rm_catch_stop_signals();
    MPI_Init(&argc, &argv);
    int status = verb->run(argc - 1, argv + 1);
    if (rm_h5_files_left_open()) {
        /* see rmens/store/h5util.h: the failure is reported already; mpirun ends the job */
        fflush(stdout);
        fflush(stderr);
        _exit(status ? status : 1);
    }
    MPI_Finalize();
    return status;
}
