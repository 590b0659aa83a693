/* rmens synth CONFIG: write a synthetic embedding store (see include/rmens/store/synth.h). */
#include "cli.h"

#include "rmens/base/common.h"
#include "rmens/store/synth.h"

static int cmd_synth(int argc, char **argv)
{
    /* No output lock: the store is one file, written under a temporary name and renamed. */
    MPI_Comm comm = MPI_COMM_WORLD;
    cli_config_args args;
    rm_settings cfg;
    int loaded = cli_load_config(&VERB_SYNTH, argc, argv, &args, &cfg, comm);
    if (loaded == CLI_HELP_SHOWN) return 0;
    if (loaded != CLI_PARSED) return cli_fail(VERB_SYNTH.name, comm);
    double start = rm_now();
    int rc = rm_synth_write(&cfg, comm, args.force);
    if (rc == 0 && cli_rank(comm) == 0) {
        int ranks = 1;
        MPI_Comm_size(comm, &ranks);
        printf("rmens synth: wrote %s: train %lld x %lld, test %lld x %lld, D = %lld, %s, bench %lld pairs "
               "(%d rank%s, %.2f s)\n",
               cfg.store, cfg.synth_train_prompts, cfg.synth_train_responses, cfg.synth_test_prompts,
               cfg.synth_test_responses, cfg.synth_dim, cfg.synth_dtype, cfg.synth_bench_pairs, ranks,
               ranks == 1 ? "" : "s", rm_now() - start);
    }
    rm_settings_free(&cfg);
    return rc == 0 ? 0 : cli_fail(VERB_SYNTH.name, comm);
}

static const cli_option SYNTH_OPTIONS[] = {
    {.name = "--set", .kind = CLI_TEXT_LIST, .offset = offsetof(cli_config_args, sets), .value_name = "key=value",
     .help = "override a configuration key (repeatable)"},
    {.name = "--force", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, force),
     .help = "overwrite an existing store"},
};

const cli_verb VERB_SYNTH = {
    .name = "synth",
    .summary = "write a synthetic embedding store (topics, prompts, responses, hidden golden reward)",
    .usage = "rmens synth CONFIG [--set key=value]... [--force]",
    .args_size = sizeof(cli_config_args),
    .positional = "CONFIG",
    .positional_offset = offsetof(cli_config_args, config_path),
    .options = SYNTH_OPTIONS,
    .n_options = CLI_COUNT(SYNTH_OPTIONS),
    .description =
        "Writes the store named by the `store` key: /train and /test embeddings with golden\n"
        "rewards, and a /bench of chosen/rejected pairs from held-out prompts. Prompts are\n"
        "drawn around topic centres, responses around their prompt, and the golden reward is\n"
        "a hidden nonlinear function of the response plus a per-prompt offset: learnable, but\n"
        "not by a linear model alone. Every value is a counter-based random number keyed by\n"
        "(synth.seed, index), so the file's data is the same for any number of MPI ranks;\n"
        "ranks write disjoint prompt ranges collectively. The file is written under a\n"
        "temporary name and renamed when complete.\n"
        "\n"
        "keys:  store, synth.train_prompts, synth.train_responses, synth.test_prompts,\n"
        "       synth.test_responses, synth.dim, synth.topics, synth.bench_pairs (0: no /bench),\n"
        "       synth.dtype (float32|float16), synth.seed, synth.noise\n",
    .help_column = 19,
    .epilogue = "example:  mpirun -n 2 rmens synth configs/demo.cfg --set store=/tmp/s.h5 --set synth.dim=64\n",
    .run = cmd_synth,
};
