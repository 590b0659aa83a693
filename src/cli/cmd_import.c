/* rmens import: build a store from the paper's released .npy files (see include/rmens/import.h). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/store/import.h"

/* "--name VALUE" or "--name=VALUE": 1 matched (value set), 0 not this option, -1 missing value. */
static int option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return 0;
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0') return 0;
    if (*i + 1 >= argc) return rm_errorf("%s needs a value (see rmens import --help)", name);
    *value = argv[++*i];
    return 1;
}

static int parse_import_args(int argc, char **argv, rm_import_args *a)
{
    memset(a, 0, sizeof *a);
    struct { const char *name; const char **slot; } options[] = {
        {"--train-embeddings", &a->train_embeddings}, {"--train-rewards", &a->train_rewards},
        {"--test-embeddings", &a->test_embeddings},   {"--test-rewards", &a->test_rewards},
        {"--bench-chosen", &a->bench_chosen},         {"--bench-rejected", &a->bench_rejected},
        {"--output", &a->output},                     {"--embed-model", &a->embed_model},
        {"--response-model", &a->response_model},     {"--task", &a->task},
        {"--view", &a->view},
    };
    const int n_options = (int)(sizeof options / sizeof options[0]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (cli_rank(MPI_COMM_WORLD) == 0) cli_print_help(&VERB_IMPORT, stdout);
            return 1;
        }
        if (strcmp(argv[i], "--float16") == 0) { a->float16 = 1; continue; }
        if (strcmp(argv[i], "--force") == 0) { a->force = 1; continue; }
        const char *value = NULL;
        int matched = option_value(argc, argv, &i, "--chunk-mb", &value);
        if (matched < 0) return -1;
        if (matched) {
            char *end = NULL;
            long mb = strtol(value, &end, 10);
            if (!end || *end || mb < 1 || mb > 1 << 20) return rm_errorf("--chunk-mb must be an integer in [1, 1048576], got '%s'", value);
            a->chunk_bytes = (size_t)mb << 20;
            continue;
        }
        for (int o = 0; o < n_options && !matched; o++) {
            matched = option_value(argc, argv, &i, options[o].name, options[o].slot);
            if (matched < 0) return -1;
        }
        if (matched) continue;
        if (argv[i][0] == '-') return rm_errorf("unknown option '%s' (see rmens import --help)", argv[i]);
        return rm_errorf("unexpected argument '%s' (see rmens import --help)", argv[i]);
    }
    const char *required[] = {"--train-embeddings", "--train-rewards", "--test-embeddings", "--test-rewards", "--output"};
    const char *given[] = {a->train_embeddings, a->train_rewards, a->test_embeddings, a->test_rewards, a->output};
    for (int r = 0; r < 5; r++)
        if (!given[r] || !given[r][0]) return rm_errorf("missing %s (see rmens import --help)", required[r]);
    return 0;
}

int cmd_import(int argc, char **argv)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    rm_import_args args;
    int parsed = parse_import_args(argc, argv, &args);
    if (parsed == 1) return 0;
    if (parsed != 0) return cli_fail("import", comm);
    rm_import_result result;
    if (rm_import(&args, comm, &result) != 0) return cli_fail("import", comm);
    if (cli_rank(comm) == 0 && args.view) {
        double mb = (double)result.bytes_read / 1e6;
        printf("rmens import: added view '%s' (%s embeddings) to %s: read %.1f MB of .npy data in %.2f s\n", args.view,
               args.float16 ? "float16" : "float32", args.output, mb, result.seconds);
    } else if (cli_rank(comm) == 0) {
        double mb = (double)result.bytes_read / 1e6;
        printf("rmens import: wrote %s (%s embeddings): read %.1f MB of .npy data in %.2f s (%.1f MB/s)\n", args.output,
               args.float16 ? "float16" : "float32", mb, result.seconds, result.seconds > 0 ? mb / result.seconds : 0.0);
    }
    return 0;
}

const cli_verb VERB_IMPORT = {
    "import",
    "build a store from the paper's released .npy embeddings and golden rewards",
    "rmens import --train-embeddings F --train-rewards F --test-embeddings F --test-rewards F\n"
    "                    --output STORE [--bench-chosen F --bench-rejected F] [--float16] [--force]\n"
    "                    [--chunk-mb N] [--embed-model S] [--response-model S] [--task S] [--view NAME]",
    "Inputs are NumPy .npy files as released with the paper:\n"
    "  embd_<gen>_<embedder>_<task>_<split>.npy     (prompts, responses, D) float32 or float16\n"
    "  reward_<gen>_<embedder>_<task>_<split>.npy   (prompts, responses, 1) or (prompts, responses)\n"
    "  bench chosen/rejected (optional)             (pairs, D)\n"
    "Each header is parsed strictly (magic, version 1/2/3, little-endian float dtype, C\n"
    "order, shape, exact file size) and all shapes are cross-checked before anything is\n"
    "written. The data then streams through in pieces of --chunk-mb (default 64) MiB per\n"
    "rank, every value checked for NaN/Inf; under mpirun the ranks import disjoint prompt\n"
    "ranges. The store is written under a temporary name beside STORE and renamed when\n"
    "complete: on any error nothing is left behind.\n"
    "\n"
    "options:\n"
    "  --float16            store embeddings as IEEE half (rounded to nearest even)\n"
    "  --force              overwrite an existing STORE\n"
    "  --view NAME          add the files as view NAME of the existing STORE (format version 2):\n"
    "                       /views/NAME/{train,test}/embeddings (and /bench/... when STORE has a\n"
    "                       bench: then --bench-chosen/--bench-rejected are required). The files\n"
    "                       must have STORE's prompts and responses and its rewards exactly; the\n"
    "                       view goes into a copy renamed over STORE when complete\n"
    "  --chunk-mb N         bound on one piece per rank, in MiB\n"
    "  --embed-model S, --response-model S, --task S\n"
    "                       store attributes (default: <embedder>, <gen>, <task> parsed\n"
    "                       from the train embeddings' file name, else \"unknown\")\n",
    cmd_import,
};
