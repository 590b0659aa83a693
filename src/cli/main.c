/* rmens: train and evaluate ensembles of embedding-based reward models with MPI.
 * Verbs follow git's style: `rmens <verb> [options]`, `rmens <verb> --help`. */
#include <mpi.h>
#include <unistd.h>
#include "rmens/store/h5util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rmens/base/common.h"
#include "rmens/ensemble/ensemble.h"

static const cli_verb *const VERBS[] = {&VERB_SYNTH, &VERB_IMPORT, &VERB_INSPECT, &VERB_TRAIN, &VERB_EVAL, &VERB_RUN, &VERB_SELECT, &VERB_ACTIVE};
#define N_VERBS (int)(sizeof VERBS / sizeof VERBS[0])

/* The git commit the binary was built from: "<40 hex digits>", with "-dirty" when the tree
 * had uncommitted changes, or "unknown" (not built from a git checkout). Generated at build
 * time (CMakeLists.txt, cmake/build_info.cmake) into the build tree's rmens_build_info.c. */
extern const char rmens_build_commit[];

static void print_usage(FILE *out)
{
    fprintf(out, "usage: rmens <verb> [options]        (rmens <verb> --help for details)\n"
                 "       rmens --print-config CONFIG [--set KEY=VALUE]...\n"
                 "       rmens --version\n\n"
                 "Train and evaluate ensembles of embedding-based reward models with MPI.\n\nverbs:\n");
    for (int i = 0; i < N_VERBS; i++) fprintf(out, "  %-9s %s\n", VERBS[i]->name, VERBS[i]->summary);
    fprintf(out, "\noptions:\n"
                 "  --print-config CONFIG [--set KEY=VALUE]...\n"
                 "                 print the merged configuration (every key, defaults included) in\n"
                 "                 libconfig syntax, a config that loads to the same settings\n"
                 "  -V, --version  print the version and the git commit rmens was built from\n"
                 "  -h, --help     print this help\n"
                 "\nrmens %s\n", RMENS_VERSION);
}

/* Under mpirun every rank runs main: the process of rank 0 (or one started without a
 * launcher) is the one that prints what needs no MPI. */
static int launched_as_rank_zero(void)
{
    static const char *const rank_vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof rank_vars / sizeof rank_vars[0]; i++) {
        const char *v = getenv(rank_vars[i]);
        if (v && *v) return strcmp(v, "0") == 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    /* Help and version need no MPI, so they work on a login node without mpirun. */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "version") == 0) {
        printf("rmens %s (commit %s)\n", RMENS_VERSION, rmens_build_commit);
        return 0;
    }
    if (strcmp(argv[1], "--print-config") == 0) {
        /* no MPI: --help anywhere shows the help, as the parser would */
        for (int i = 2; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                cli_print_help(&VERB_PRINT_CONFIG, stdout);
                return 0;
            }
        return VERB_PRINT_CONFIG.run(argc - 1, argv + 1);
    }
    const cli_verb *verb = NULL;
    for (int i = 0; i < N_VERBS; i++)
        if (strcmp(argv[1], VERBS[i]->name) == 0) verb = VERBS[i];
    if (!verb) {
        fprintf(stderr, "rmens: '%s' is not a verb (see rmens --help)\n", argv[1]);
        return 2;
    }
    /* `rmens <verb> --help` alone needs no MPI either (login nodes; the man pages are
     * generated from it at build time); the parser prints the same text after MPI_Init. */
    if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        if (launched_as_rank_zero()) cli_print_help(verb, stdout);
        return 0;
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
