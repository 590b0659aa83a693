/* rmens synth: write a synthetic embedding store (see include/rmens/synth.h). */
#include "cli.h"

#include "rmens/base/common.h"
#include "rmens/store/synth.h"

int cmd_synth(int argc, char **argv)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    cli_args args;
    int parsed = cli_parse_config_args(argc, argv, &VERB_SYNTH, 0, &args);
    if (parsed == 1) return 0;
    if (parsed != 0) return cli_fail("synth", comm);
    rm_settings cfg;
    if (cli_load_settings(&args, &cfg, comm) != 0) return cli_fail("synth", comm);
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
    return rc == 0 ? 0 : cli_fail("synth", comm);
}

const cli_verb VERB_SYNTH = {
    "synth",
    "write a synthetic embedding store (topics, prompts, responses, hidden golden reward)",
    "rmens synth CONFIG [--set key=value]... [--force]",
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
    "       synth.dtype (float32|float16), synth.seed, synth.noise\n"
    "options:\n"
    "  --set key=value  override a configuration key (repeatable)\n"
    "  --force          overwrite an existing store\n"
    "\n"
    "example:  mpirun -n 2 rmens synth configs/demo.cfg --set store=/tmp/s.h5 --set synth.dim=64\n",
    cmd_synth,
};
