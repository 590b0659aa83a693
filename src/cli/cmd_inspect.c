/* rmens inspect: describe and validate a store. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/common.h"
#include "rmens/parallel.h"
#include "rmens/store.h"

static int parse_inspect_args(int argc, char **argv, const char **path, size_t *chunk_bytes)
{
    *path = NULL;
    *chunk_bytes = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (cli_rank(MPI_COMM_WORLD) == 0) cli_print_help(&VERB_INSPECT, stdout);
            return 1;
        } else if (strcmp(a, "--read-chunk-mb") == 0 || strncmp(a, "--read-chunk-mb=", 16) == 0) {
            const char *v = a[15] == '=' ? a + 16 : (i + 1 < argc ? argv[++i] : NULL);
            char *end = NULL;
            long mb = v ? strtol(v, &end, 10) : 0;
            if (!v || !end || *end || mb < 1 || mb > 1 << 20)
                return rm_errorf("--read-chunk-mb needs an integer in [1, 1048576]");
            *chunk_bytes = (size_t)mb << 20;
        } else if (a[0] == '-' && a[1] != '\0') {
            return rm_errorf("unknown option '%s' (see rmens inspect --help)", a);
        } else if (!*path) {
            *path = a;
        } else {
            return rm_errorf("unexpected argument '%s' (see rmens inspect --help)", a);
        }
    }
    if (!*path) return rm_errorf("missing STORE (see rmens inspect --help)");
    return 0;
}

static void chunk_text(rm_store *s, const char *dataset, char *buf, size_t n)
{
    int rank = 0;
    unsigned long long dims[3];
    if (rm_store_chunk_dims(s, dataset, &rank, dims) != 0) snprintf(buf, n, "?");
    else if (rank == 0) snprintf(buf, n, "contiguous");
    else if (rank == 2) snprintf(buf, n, "[%llu, %llu]", dims[0], dims[1]);
    else snprintf(buf, n, "[%llu, %llu, %llu]", dims[0], dims[1], dims[2]);
}

int cmd_inspect(int argc, char **argv)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    const char *path;
    size_t chunk_bytes;
    int parsed = parse_inspect_args(argc, argv, &path, &chunk_bytes);
    if (parsed == 1) return 0;
    if (parsed != 0) return cli_fail("inspect", comm);
    rm_store s;
    if (rm_store_open(&s, path, comm) != 0) return cli_fail("inspect", comm);
    if (chunk_bytes) s.read_chunk_bytes = chunk_bytes;
    int root = cli_rank(comm) == 0;
    if (root) {
        printf("store           %s\n", s.path);
        printf("format          %s, version %d\n", RM_STORE_FORMAT, RM_STORE_FORMAT_VERSION);
        printf("store_uuid      %s\n", s.uuid[0] ? s.uuid : "(none)");
        printf("embed_model     %s\nresponse_model  %s\ntask            %s\n", s.embed_model, s.response_model, s.task);
        printf("\n%-6s %10s %10s %7s %-8s %-20s %-16s\n", "split", "prompts", "responses", "dim", "dtype",
               "embedding chunks", "reward chunks");
    }
    static const char *const emb_names[2] = {"/train/embeddings", "/test/embeddings"};
    static const char *const rew_names[2] = {"/train/rewards", "/test/rewards"};
    for (int sp = 0; sp < 2; sp++) {
        char ce[64], cr[64];
        chunk_text(&s, emb_names[sp], ce, sizeof ce);
        chunk_text(&s, rew_names[sp], cr, sizeof cr);
        if (root)
            printf("%-6s %10zu %10zu %7zu %-8s %-20s %-16s\n", rm_split_name((rm_split)sp), s.split[sp].n_prompts,
                   s.split[sp].n_responses, s.dim, rm_dtype_name(s.split[sp].dtype), ce, cr);
    }
    size_t bad_total = 0;
    char first_bad[256] = "";
    rm_split_stats st[2];
    for (int sp = 0; sp < 2; sp++) {
        if (rm_store_scan_split(&s, (rm_split)sp, &st[sp]) != 0) {
            rm_store_close(&s);
            return cli_fail("inspect", comm);
        }
        if (st[sp].embedding_nonfinite && !first_bad[0])
            snprintf(first_bad, sizeof first_bad, "%zu NaN/Inf values in %s", st[sp].embedding_nonfinite, emb_names[sp]);
        if (st[sp].reward_nonfinite && !first_bad[0])
            snprintf(first_bad, sizeof first_bad, "%zu NaN/Inf values in %s", st[sp].reward_nonfinite, rew_names[sp]);
        bad_total += st[sp].embedding_nonfinite + st[sp].reward_nonfinite;
    }
    if (root) {
        printf("\n%-6s %11s %11s %11s %11s %13s %15s\n", "golden", "min", "max", "mean", "std", "NaN/Inf", "NaN/Inf emb");
        for (int sp = 0; sp < 2; sp++)
            printf("%-6s %11.5g %11.5g %11.5g %11.5g %6zu/%-6zu %7zu/%zu\n", rm_split_name((rm_split)sp), st[sp].reward_min,
                   st[sp].reward_max, st[sp].reward_mean, st[sp].reward_std, st[sp].reward_nonfinite, st[sp].reward_values,
                   st[sp].embedding_nonfinite, st[sp].embedding_values);
        printf("mean embedding L2 norm: train %.5g, test %.5g\n", st[0].embedding_mean_norm, st[1].embedding_mean_norm);
    }
    size_t bench_values = 0, bench_bad = 0;
    if (s.n_bench > 0) {
        char cb[64];
        chunk_text(&s, "/bench/chosen", cb, sizeof cb);
        if (rm_store_scan_bench(&s, &bench_values, &bench_bad) != 0) {
            rm_store_close(&s);
            return cli_fail("inspect", comm);
        }
        if (root)
            printf("\nbench           %zu chosen/rejected pairs, %s, chunks %s, NaN/Inf %zu/%zu\n", s.n_bench,
                   rm_dtype_name(s.bench_dtype), cb, bench_bad, bench_values);
        if (bench_bad && !first_bad[0]) snprintf(first_bad, sizeof first_bad, "%zu NaN/Inf values in /bench", bench_bad);
        bad_total += bench_bad;
    } else if (root) {
        printf("\nbench           absent\n");
    }
    rm_store_close(&s);
    if (bad_total > 0) {
        rm_errorf("%s: invalid store: %s (%zu non-finite values in all)", path, first_bad, bad_total);
        return cli_fail("inspect", comm);
    }
    if (root) printf("status          ok\n");
    return 0;
}

const cli_verb VERB_INSPECT = {
    "inspect",
    "describe a store: shapes, dtypes, chunks, golden reward statistics, NaN/Inf counts",
    "rmens inspect STORE [--read-chunk-mb N]",
    "Opens STORE, validates its layout (format attributes, dataset ranks, shapes, dtypes)\n"
    "and scans every value: prints the shapes, dtypes and chunking of each split, the\n"
    "golden reward statistics, the NaN/Inf counts and whether a /bench is present.\n"
    "Exits non-zero (with a one-line reason) when the store is invalid or holds any\n"
    "NaN/Inf. Under mpirun the ranks scan disjoint prompt ranges.\n"
    "\n"
    "options:\n"
    "  --read-chunk-mb N   bound on one read piece per rank, in MiB (default 64)\n",
    cmd_inspect,
};
