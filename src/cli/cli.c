/* Shared command-line handling (see cli.h). */
#include "cli.h"

#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"

int cli_rank(MPI_Comm comm)
{
    int r = 0;
    MPI_Comm_rank(comm, &r);
    return r;
}

void cli_print_help(const cli_verb *verb, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s\n", verb->usage, verb->summary);
    if (verb->details) fprintf(out, "\n%s", verb->details);
}

int cli_parse_config_args(int argc, char **argv, const cli_verb *verb, int allow_resume, cli_args *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (cli_rank(MPI_COMM_WORLD) == 0) cli_print_help(verb, stdout);
            return 1;
        } else if (strcmp(a, "--set") == 0 || strncmp(a, "--set=", 6) == 0) {
            const char *kv = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (!kv) return rm_errorf("--set needs key=value");
            if (out->n_sets == CLI_MAX_SETS) return rm_errorf("too many --set options (at most %d)", CLI_MAX_SETS);
            out->sets[out->n_sets++] = kv;
        } else if (strcmp(a, "--force") == 0) {
            out->force = 1;
        } else if (allow_resume && strcmp(a, "--resume") == 0) {
            out->resume = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return rm_errorf("unknown option '%s' (see rmens %s --help)", a, verb->name);
        } else if (!out->config_path) {
            out->config_path = a;
        } else {
            return rm_errorf("unexpected argument '%s' (see rmens %s --help)", a, verb->name);
        }
    }
    if (!out->config_path) return rm_errorf("missing CONFIG (see rmens %s --help)", verb->name);
    return 0;
}

int cli_load_settings(const cli_args *a, rm_settings *s, MPI_Comm comm)
{
    /* Every rank parses the same file; rm_all_ok makes them agree on the first error. */
    int rc = rm_settings_load(s, a->config_path, a->sets, a->n_sets);
    return rm_all_ok(comm, rc);
}

int cli_fail(const char *verb, MPI_Comm comm)
{
    if (cli_rank(comm) == 0) {
        fprintf(stderr, "rmens %s: error: %s\n", verb, rm_last_error());
        fflush(stderr);
    }
    return 1;
}
