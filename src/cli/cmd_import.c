/* rmens import: build a store from the paper's released .npy files (see include/rmens/store/import.h). */
#include "cli.h"

#include "rmens/store/import.h"

static int cmd_import(int argc, char **argv)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    rm_import_args args; /* the options go straight into what rm_import takes */
    int parsed = cli_parse(&VERB_IMPORT, argc, argv, &args);
    if (parsed == CLI_HELP_SHOWN) return 0;
    if (parsed != CLI_PARSED) return cli_fail(VERB_IMPORT.name, comm);
    rm_import_result result;
    if (rm_import(&args, comm, &result) != 0) return cli_fail(VERB_IMPORT.name, comm);
    /* the stored precision and why: the "float16 stays float16 unless asked" */
    const char *precision = !result.float16   ? "float32 embeddings"
                            : args.float16    ? "float16 embeddings (--float16)"
                                              : "float16 embeddings, as the inputs; --float32 widens them";
    double mb = (double)result.bytes_read / 1e6;
    if (cli_rank(comm) == 0 && args.view)
        printf("rmens import: added view '%s' (%s) to %s: read %.1f MB of .npy data in %.2f s\n", args.view, precision,
               args.output, mb, result.seconds);
    else if (cli_rank(comm) == 0)
        printf("rmens import: wrote %s (%s): read %.1f MB of .npy data in %.2f s (%.1f MB/s)\n", args.output, precision,
               mb, result.seconds, result.seconds > 0 ? mb / result.seconds : 0.0);
    return 0;
}

/* Listed in --help in this order; the inputs and STORE are described by the usage line. */
static const cli_option IMPORT_OPTIONS[] = {
    {.name = "--float16", .kind = CLI_FLAG, .offset = offsetof(rm_import_args, float16),
     .help = "store embeddings as IEEE half (rounded to nearest even); default: half\n"
             "when every embedding input is float16 (and no --log1p), else float32"},
    {.name = "--float32", .kind = CLI_FLAG, .offset = offsetof(rm_import_args, float32),
     .help = "store embeddings as float32 even when the inputs are float16"},
    {.name = "--force", .kind = CLI_FLAG, .offset = offsetof(rm_import_args, force),
     .help = "overwrite an existing STORE"},
    {.name = "--view", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, view), .value_name = "NAME",
     .help = "add the files as view NAME of the existing STORE (format version 2):\n"
             "/views/NAME/{train,test}/embeddings (and /bench/... when STORE has a\n"
             "bench: then --bench-chosen/--bench-rejected are required). The files\n"
             "must have STORE's prompts and responses and its rewards exactly; the\n"
             "view goes into a copy renamed over STORE when complete. A store of\n"
             "pairs takes the view's --train-chosen ... --test-rejected instead (the\n"
             "store's N per split, no groups): /views/NAME/pairs/{train,test}/..."},
    {.name = "--log1p", .kind = CLI_FLAG, .offset = offsetof(rm_import_args, log1p),
     .help = "with --view: store log(1 + x) of every value (count features such as\n"
             "lengths; each x > -1); /views/NAME records transform = \"log1p\""},
    {.name = "--chunk-mb", .kind = CLI_MIB, .offset = offsetof(rm_import_args, chunk_bytes), .value_name = "N",
     .help = "bound on one piece per rank, in MiB"},
    {.name = "--embed-model", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, embed_model), .value_name = "S",
     .help = "store attributes (default: <embedder>, <gen>, <task> parsed\n"
             "from the train embeddings' file name, else \"unknown\")",
     .help_label = "--embed-model S, --response-model S, --task S"},
    {.name = "--response-model", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, response_model),
     .value_name = "S"},
    {.name = "--task", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, task), .value_name = "S"},
    {.name = "--train-embeddings", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, train_embeddings),
     .value_name = "F"},
    {.name = "--train-rewards", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, train_rewards),
     .value_name = "F"},
    {.name = "--test-embeddings", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, test_embeddings),
     .value_name = "F"},
    {.name = "--test-rewards", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, test_rewards),
     .value_name = "F"},
    {.name = "--output", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, output),
     .value_name = "STORE", .required = 1},
    /* both or neither: rm_import says so when one comes alone */
    {.name = "--bench-chosen", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, bench_chosen),
     .value_name = "F"},
    {.name = "--bench-rejected", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, bench_rejected),
     .value_name = "F"},
    /* human-labelled preference pairs: the four together, groups optional */
    {.name = "--train-chosen", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, train_chosen), .value_name = "F",
     .help = "preference pairs (n, D) of the preferred replies (float32/float16)"},
    {.name = "--train-rejected", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, train_rejected), .value_name = "F",
     .help = "the rejected replies of the same pairs (n, D)"},
    {.name = "--train-groups", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, train_groups), .value_name = "F",
     .help = "optional (n,) int64: the dialogue or prompt of each pair"},
    {.name = "--test-chosen", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, test_chosen), .value_name = "F",
     .help = "the held-out pairs, as the train ones"},
    {.name = "--test-rejected", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, test_rejected), .value_name = "F"},
    {.name = "--test-groups", .kind = CLI_TEXT, .offset = offsetof(rm_import_args, test_groups), .value_name = "F",
     .help = "optional; no group may be in both splits"},
};

const cli_verb VERB_IMPORT = {
    .name = "import",
    .summary = "build a store from the paper's released .npy embeddings and golden rewards",
    .usage = "rmens import --train-embeddings F --train-rewards F --test-embeddings F --test-rewards F\n"
             "                    --output STORE [--bench-chosen F --bench-rejected F] [--float16|--float32] [--force]\n"
             "   or: rmens import --train-chosen F --train-rejected F [--train-groups F]\n"
             "                    --test-chosen F --test-rejected F [--test-groups F] --output STORE [...]\n"
             "                    [--chunk-mb N] [--embed-model S] [--response-model S] [--task S] [--view NAME [--log1p]]",
    .args_size = sizeof(rm_import_args),
    .options = IMPORT_OPTIONS,
    .n_options = CLI_COUNT(IMPORT_OPTIONS),
    .description =
        "Inputs are NumPy .npy files as released with the paper:\n"
        "  embd_<gen>_<embedder>_<task>_<split>.npy     (prompts, responses, D) float32 or float16\n"
        "  reward_<gen>_<embedder>_<task>_<split>.npy   (prompts, responses, 1) or (prompts, responses)\n"
        "  bench chosen/rejected (optional)             (pairs, D)\n"
        "Human preference pairs (a store of pairs, or beside the golden rewards):\n"
        "  {train,test}_chosen.npy, {train,test}_rejected.npy   (pairs, D) float32 or float16\n"
        "  {train,test}_group.npy (optional)                    (pairs,) int64\n"
        "stored as /pairs/{train,test}/{chosen,rejected,group} (jobs/embed/embed.mjs pairs writes\n"
        "these files from JSONL); train with pairs.source = \"store\" (configs/pairs.cfg).\n"
        "Each header is parsed strictly (magic, version 1/2/3, little-endian float dtype, C\n"
        "order, shape, exact file size) and all shapes are cross-checked before anything is\n"
        "written. The data then streams through in pieces of --chunk-mb (default 64) MiB per\n"
        "rank, every value checked for NaN/Inf; under mpirun the ranks import disjoint prompt\n"
        "ranges. The store is written under a temporary name beside STORE and renamed when\n"
        "complete: on any error nothing is left behind.\n"
        "\n",
    .help_column = 23,
    .run = cmd_import,
};
