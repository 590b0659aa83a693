/* rmens inspect: describe and validate a store; --verify checks its integrity. */
#include "cli.h"

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/base/progress.h"
#include "rmens/store/store.h"
#include "rmens/store/store_pairs.h"

#include <stdlib.h>

static const char *const EMB_NAMES[2] = {"/train/embeddings", "/test/embeddings"};
static const char *const REW_NAMES[2] = {"/train/rewards", "/test/rewards"};
static const char *const GROUP_NAMES[3] = {"/train", "/test", "/bench"};
static const char *const PAIR_GROUP_NAMES[2] = {"/pairs/train", "/pairs/test"};
static const char *const PAIR_DATASETS[2][3] = {{"/pairs/train/chosen", "/pairs/train/rejected", "/pairs/train/group"},
                                                {"/pairs/test/chosen", "/pairs/test/rejected", "/pairs/test/group"}};

/* What the command line asks of inspect. */
typedef struct {
    const char *store_path;
    size_t read_chunk_bytes; /* 0: the store's default */
    int verify;
} inspect_args;

static void chunk_text(rm_store *s, const char *dataset, char *buf, size_t n)
{
    int rank = 0;
    unsigned long long dims[3];
    if (rm_store_chunk_dims(s, dataset, &rank, dims) != 0) snprintf(buf, n, "?");
    else if (rank == 0) snprintf(buf, n, "contiguous");
    else if (rank == 1) snprintf(buf, n, "[%llu]", dims[0]);
    else if (rank == 2) snprintf(buf, n, "[%llu, %llu]", dims[0], dims[1]);
    else snprintf(buf, n, "[%llu, %llu, %llu]", dims[0], dims[1], dims[2]);
}

/* Checksums and digests as recorded (no data read). "unprotected" is the word to look
 * for: reads of such a store cannot detect corruption. */
static void print_integrity(const rm_store *s)
{
    const char *without = NULL;
    int sums = rm_store_checksums(s, &without);
    if (sums == 1) printf("checksums       Fletcher-32 on every dataset (checked on every read)\n");
    else if (sums == 0)
        printf("checksums       none: unprotected (written before rmens checksummed stores, or by another tool); "
               "corruption is not detected on read\n");
    else printf("checksums       partial: unprotected datasets, the first %s\n", without);
    /* a store of pairs alone has no /train and /test (and so no bench) */
    int first = s->has_golden ? 0 : 2, groups = s->n_bench > 0 ? 3 : 2, recorded = 0;
    for (int g = first; g < groups; g++) recorded += s->digest[g][0] != '\0';
    for (int sp = 0; sp < 2; sp++) recorded += s->pairs[sp].n > 0 && s->pairs[sp].digest[0] != '\0';
    if (recorded == 0) {
        printf("digests         none recorded\n");
        return;
    }
    for (int g = first; g < groups; g++)
        printf("digest %-8s %s\n", GROUP_NAMES[g], s->digest[g][0] ? s->digest[g] : "(none recorded)");
    for (int v = 1; v < s->n_views; v++)
        for (int g = first; g < groups; g++)
            printf("digest %s%s %s\n", s->views[v].paths[4], GROUP_NAMES[g],
                   s->views[v].digest[g][0] ? s->views[v].digest[g] : "(none recorded)");
    for (int sp = 0; sp < 2; sp++)
        if (s->pairs[sp].n > 0)
            printf("digest %-12s %s\n", PAIR_GROUP_NAMES[sp], s->pairs[sp].digest[0] ? s->pairs[sp].digest : "(none recorded)");
    for (int v = 1; v < s->n_views; v++)
        for (int sp = 0; sp < 2; sp++)
            if (s->pairs[sp].n > 0)
                printf("digest %s %s\n", s->views[v].pairs_paths[sp][2],
                       s->views[v].pairs_digest[sp][0] ? s->views[v].pairs_digest[sp] : "(none recorded)");
}

/* The views' pairs (a store with /pairs and views): one line per view. Local. */
static void print_pair_views(rm_store *s)
{
    if (s->n_views < 2) return;
    printf("\npair views      %d:", s->n_views);
    for (int v = 0; v < s->n_views; v++) printf(" %s%s", s->views[v].name, v == 0 ? " (default)" : "");
    printf("\n");
    for (int v = 0; v < s->n_views; v++) {
        const rm_store_view *w = &s->views[v];
        char cc[64] = "-", dtypes[2][16] = {"absent", "absent"};
        int with = 0, datasets = 0;
        for (int sp = 0; sp < 2; sp++) {
            if (s->pairs[sp].n == 0) continue;
            snprintf(dtypes[sp], sizeof dtypes[sp], "%s", rm_dtype_name(v ? w->pairs_dtype[sp] : s->pairs[sp].dtype));
            for (int k = 0; k < 2; k++, datasets++) with += v ? w->checksum_pairs[sp][k] != 0 : s->pairs[sp].checksum[k] != 0;
        }
        int first = s->pairs[0].n > 0 ? 0 : 1;
        chunk_text(s, v ? w->pairs_paths[first][0] : PAIR_DATASETS[first][0], cc, sizeof cc);
        char at[192];
        if (v) snprintf(at, sizeof at, "/views/%s/pairs", w->name);
        else snprintf(at, sizeof at, "/pairs");
        printf("view %-10s D %-6zu train %-8s test %-8s chunks %-12s %-12s at %s\n", w->name, v ? w->dim : s->pairs_dim,
               dtypes[0], dtypes[1], cc,
               with == datasets ? "Fletcher-32" : with == 0 ? "unprotected" : "partial", at);
    }
}

/* The pair splits: shapes, dtype, group ids, chunks, checksums. Collective (every rank
 * reads the group ids to count the distinct groups); 0, or -1 with the message. */
static int print_pairs(rm_store *s, int root)
{
    if (root) {
        printf("\npairs           human-labelled preference pairs at /pairs%s\n",
               s->has_golden ? "" : "; a store of pairs alone: its splits are the pairs,\n"
                                    "                read as prompts of 2 responses (0 the chosen, 1 the rejected reply)");
        printf("%-10s %8s %7s %-8s %-32s %-16s %-12s %s\n", "pair split", "pairs", "dim", "dtype", "group ids",
               "chosen/rejected", "group chunks", "checksums");
    }
    int rc = 0;
    for (int sp = 0; sp < 2 && rc == 0; sp++) {
        const rm_store_pair_split *p = &s->pairs[sp];
        if (p->n == 0) {
            if (root) printf("%-10s absent\n", rm_split_name((rm_split)sp));
            continue;
        }
        char groups[64] = "none (each pair its own)", cc[64], cg[64] = "-";
        if (p->has_groups) {
            int64_t *ids = rm_alloc(p->n, sizeof *ids, "group ids");
            uint32_t *dense = rm_alloc(p->n, sizeof *dense, "group ids");
            size_t distinct = 0;
            int status = ids && dense ? rm_store_read_pair_groups(s, (rm_split)sp, ids) : -1;
            if (status == 0) status = rm_pair_groups_dense(ids, p->n, dense, &distinct);
            free(ids);
            free(dense);
            rc = rm_all_ok(s->comm, status);
            if (rc != 0) break;
            snprintf(groups, sizeof groups, "%zu ids, %zu distinct groups", p->n, distinct);
            chunk_text(s, PAIR_DATASETS[sp][2], cg, sizeof cg);
        }
        chunk_text(s, PAIR_DATASETS[sp][0], cc, sizeof cc);
        int datasets = p->has_groups ? 3 : 2, with = 0;
        for (int k = 0; k < datasets; k++) with += p->checksum[k] != 0;
        if (root)
            printf("%-10s %8zu %7zu %-8s %-32s %-16s %-12s %s\n", rm_split_name((rm_split)sp), p->n, s->pairs_dim,
                   rm_dtype_name(p->dtype), groups, cc, cg,
                   with == datasets ? "Fletcher-32" : with == 0 ? "none (unprotected)" : "partial (unprotected datasets)");
    }
    if (rc == 0 && root) print_pair_views(s);
    return rc;
}

static void print_views(const rm_store *s);

/* Collective; 0, or -1 with the message. */
static int print_header(rm_store *s, int root)
{
    if (root) {
        printf("store           %s\n", s->path);
        printf("format          %s, version %d\n", RM_STORE_FORMAT, s->format_version);
        printf("store_uuid      %s\n", s->uuid[0] ? s->uuid : "(none)");
        printf("embed_model     %s\nresponse_model  %s\ntask            %s\n", s->embed_model, s->response_model, s->task);
        print_integrity(s);
    }
    if (!s->has_golden) {
        if (root) printf("\ngolden          absent: no /train, /test (golden rewards) in this store\n");
        return print_pairs(s, root);
    }
    if (root)
        printf("\n%-6s %10s %10s %7s %-8s %-20s %-16s\n", "split", "prompts", "responses", "dim", "dtype",
               "embedding chunks", "reward chunks");
    for (int sp = 0; sp < 2; sp++) {
        char ce[64], cr[64];
        chunk_text(s, EMB_NAMES[sp], ce, sizeof ce);
        chunk_text(s, REW_NAMES[sp], cr, sizeof cr);
        if (root)
            printf("%-6s %10zu %10zu %7zu %-8s %-20s %-16s\n", rm_split_name((rm_split)sp), s->split[sp].n_prompts,
                   s->split[sp].n_responses, s->dim, rm_dtype_name(s->split[sp].dtype), ce, cr);
    }
    if (root) print_views(s);
    return s->has_pairs ? print_pairs(s, root) : 0;
}

/* One line per view (format_version 2 stores; a version 1 store has the default alone). */
static void print_views(const rm_store *s)
{
    printf("\nviews           %d:", s->n_views);
    for (int v = 0; v < s->n_views; v++) printf(" %s%s", s->views[v].name, v == 0 ? " (default)" : "");
    printf("\n");
    for (int v = 0; v < s->n_views; v++) {
        const rm_store_view *w = &s->views[v];
        printf("view %-10s D %-6zu train %-8s test %-8s bench %s", w->name, rm_store_view_dim(s, v),
               rm_dtype_name(v ? w->dtype[0] : s->split[0].dtype), rm_dtype_name(v ? w->dtype[1] : s->split[1].dtype),
               s->n_bench ? rm_dtype_name(v ? w->bench_dtype : s->bench_dtype) : "absent");
        if (v == 0) printf("  at /train, /test%s\n", s->n_bench ? ", /bench" : "");
        else printf("  at %s\n", w->paths[4]);
    }
}

/* The statistics pass. Collective; 0, or -1 with the message (invalid data included). */
static int inspect_pair_statistics(rm_store *s, int root, size_t *bad_total, char *first_bad, size_t n_first_bad);

static int inspect_statistics(rm_store *s, int root)
{
    size_t bad_total = 0;
    char first_bad[256] = "";
    rm_split_stats st[2];
    for (int sp = 0; sp < 2 && s->has_golden; sp++) {
        if (rm_store_scan_split(s, (rm_split)sp, &st[sp]) != 0) return -1;
        if (st[sp].embedding_nonfinite && !first_bad[0])
            snprintf(first_bad, sizeof first_bad, "%zu NaN/Inf values in %s", st[sp].embedding_nonfinite, EMB_NAMES[sp]);
        if (st[sp].reward_nonfinite && !first_bad[0])
            snprintf(first_bad, sizeof first_bad, "%zu NaN/Inf values in %s", st[sp].reward_nonfinite, REW_NAMES[sp]);
        bad_total += st[sp].embedding_nonfinite + st[sp].reward_nonfinite;
    }
    if (root && s->has_golden) {
        printf("\n%-6s %11s %11s %11s %11s %13s %15s\n", "golden", "min", "max", "mean", "std", "NaN/Inf", "NaN/Inf emb");
        for (int sp = 0; sp < 2; sp++)
            printf("%-6s %11.5g %11.5g %11.5g %11.5g %6zu/%-6zu %7zu/%zu\n", rm_split_name((rm_split)sp), st[sp].reward_min,
                   st[sp].reward_max, st[sp].reward_mean, st[sp].reward_std, st[sp].reward_nonfinite, st[sp].reward_values,
                   st[sp].embedding_nonfinite, st[sp].embedding_values);
        printf("mean embedding L2 norm: train %.5g, test %.5g\n", st[0].embedding_mean_norm, st[1].embedding_mean_norm);
    }
    size_t bench_values = 0, bench_bad = 0;
    if (s->n_bench > 0) {
        char cb[64];
        chunk_text(s, "/bench/chosen", cb, sizeof cb);
        if (rm_store_scan_bench(s, &bench_values, &bench_bad) != 0) return -1;
        if (root)
            printf("\nbench           %zu chosen/rejected pairs, %s, chunks %s, NaN/Inf %zu/%zu\n", s->n_bench,
                   rm_dtype_name(s->bench_dtype), cb, bench_bad, bench_values);
        if (bench_bad && !first_bad[0]) snprintf(first_bad, sizeof first_bad, "%zu NaN/Inf values in /bench", bench_bad);
        bad_total += bench_bad;
    } else if (root && s->has_golden) {
        printf("\nbench           absent\n");
    }
    if (s->has_pairs && inspect_pair_statistics(s, root, &bad_total, first_bad, sizeof first_bad) != 0) return -1;
    if (bad_total > 0) return rm_errorf("%s: invalid store: %s (%zu non-finite values in all)", s->path, first_bad, bad_total);
    return 0;
}

/* NaN/Inf and mean L2 norm of each pair split's chosen and rejected rows. The pairs are
 * scanned as the store's splits (rm_store_use_pairs: after the golden statistics, which
 * read the golden splits). Collective. */
static int inspect_pair_statistics(rm_store *s, int root, size_t *bad_total, char *first_bad, size_t n_first_bad)
{
    if (!s->pairs_presented) {
        if (s->pairs[0].n == 0 || s->pairs[1].n == 0) { /* not an rmens import: one pair split alone */
            if (root) printf("\npair statistics skipped: the store has only %s\n", s->pairs[0].n ? "/pairs/train" : "/pairs/test");
            return 0;
        }
        if (rm_store_use_pairs(s) != 0) return -1;
    }
    rm_split_stats st[2];
    for (int sp = 0; sp < 2; sp++) {
        if (rm_store_scan_split(s, (rm_split)sp, &st[sp]) != 0) return -1;
        if (st[sp].embedding_nonfinite && !first_bad[0])
            snprintf(first_bad, n_first_bad, "%zu NaN/Inf values in %s/chosen and rejected", st[sp].embedding_nonfinite,
                     PAIR_GROUP_NAMES[sp]);
        *bad_total += st[sp].embedding_nonfinite;
    }
    if (root) {
        printf("\n%-10s %21s %26s\n", "pair split", "NaN/Inf emb", "mean L2 norm (all rows)");
        for (int sp = 0; sp < 2; sp++)
            printf("%-10s %10zu/%-10zu %26.5g\n", rm_split_name((rm_split)sp), st[sp].embedding_nonfinite,
                   st[sp].embedding_values, st[sp].embedding_mean_norm);
    }
    return 0;
}

/* The --verify pass: every value read once (checksums checked by HDF5 on the way), NaN/Inf
 * counted, digests recomputed and compared. Collective; 0, or -1 with the first failure. */
static int inspect_verify(rm_store *s, int root)
{
    rm_store_verify_report r;
    if (rm_store_verify(s, &r) != 0) return -1;
    int rc = 0;
    for (int view = 0; view < s->n_views; view++)
        for (int g = 0; g < 3; g++) {
            const rm_group_verify *v = view == 0 ? &r.group[g] : &r.view_group[view][g];
            if (!v->present) continue;
            char name[192];
            if (view == 0) snprintf(name, sizeof name, "%s", GROUP_NAMES[g]);
            else snprintf(name, sizeof name, "%s%s", s->views[view].paths[4], GROUP_NAMES[g]);
            const char *recorded = view == 0 ? s->digest[g] : s->views[view].digest[g];
            const char *verdict = v->digest == 1 ? "matches" : v->digest == 0 ? "MISMATCH" : "(none recorded to compare)";
            if (root)
                printf("verify %-8s %zu values, %zu NaN/Inf, digest %s %s\n", name, v->values, v->nonfinite, v->computed,
                       verdict);
            /* NaN/Inf first: the more specific reason when both hold (a value edited to NaN) */
            if (rc == 0 && v->nonfinite > 0)
                rc = rm_errorf("%s: invalid store: %zu NaN/Inf values in %s", s->path, v->nonfinite, name);
            if (rc == 0 && v->digest == 0)
                rc = rm_errorf("%s: %s: content digest mismatch (recorded %s, computed %s): the data differs from what "
                               "was written", s->path, name, recorded, v->computed);
        }
    for (int sp = 0; sp < 2; sp++) {
        const rm_group_verify *v = &r.pairs[sp];
        if (!v->present) continue;
        const char *verdict = v->digest == 1 ? "matches" : v->digest == 0 ? "MISMATCH" : "(none recorded to compare)";
        if (root)
            printf("verify %-12s %zu values, %zu NaN/Inf, digest %s %s\n", PAIR_GROUP_NAMES[sp], v->values, v->nonfinite,
                   v->computed, verdict);
        if (rc == 0 && v->nonfinite > 0)
            rc = rm_errorf("%s: invalid store: %zu NaN/Inf values in %s", s->path, v->nonfinite, PAIR_GROUP_NAMES[sp]);
        if (rc == 0 && v->digest == 0)
            rc = rm_errorf("%s: %s: content digest mismatch (recorded %s, computed %s): the data differs from what "
                           "was written", s->path, PAIR_GROUP_NAMES[sp], s->pairs[sp].digest, v->computed);
    }
    for (int view = 1; view < s->n_views; view++)
        for (int sp = 0; sp < 2; sp++) {
            const rm_group_verify *v = &r.view_pairs[view][sp];
            if (!v->present) continue;
            const char *name = s->views[view].pairs_paths[sp][2];
            const char *verdict = v->digest == 1 ? "matches" : v->digest == 0 ? "MISMATCH" : "(none recorded to compare)";
            if (root)
                printf("verify %s %zu values, %zu NaN/Inf, digest %s %s\n", name, v->values, v->nonfinite, v->computed, verdict);
            if (rc == 0 && v->nonfinite > 0) rc = rm_errorf("%s: invalid store: %zu NaN/Inf values in %s", s->path, v->nonfinite, name);
            if (rc == 0 && v->digest == 0)
                rc = rm_errorf("%s: %s: content digest mismatch (recorded %s, computed %s): the data differs from what "
                               "was written", s->path, name, s->views[view].pairs_digest[sp], v->computed);
        }
    if (root)
        printf("verified        %.1f MB in %.3f s: %.1f MB/s (%d rank%s, pieces of %zu MiB per rank)\n", r.bytes / 1e6,
               r.seconds, r.seconds > 0 ? r.bytes / 1e6 / r.seconds : 0.0, r.ranks, r.ranks == 1 ? "" : "s",
               s->read_chunk_bytes >> 20);
    return rc;
}

static int cmd_inspect(int argc, char **argv)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    inspect_args args;
    int parsed = cli_parse(&VERB_INSPECT, argc, argv, &args);
    if (parsed == CLI_HELP_SHOWN) return 0;
    if (parsed != CLI_PARSED) return cli_fail(VERB_INSPECT.name, comm);
    rm_store s;
    if (rm_store_open(&s, args.store_path, comm) != 0) return cli_fail(VERB_INSPECT.name, comm);
    if (args.read_chunk_bytes) s.read_chunk_bytes = args.read_chunk_bytes;
    int root = cli_rank(comm) == 0;
    int describes = root && !rm_is_quiet(); /* --quiet: the status line alone, or the error */
    int rc = print_header(&s, describes);
    /* progress over this rank's share of the scan (about the job's values over the ranks) */
    rm_progress_meter meter;
    int ranks = 1;
    MPI_Comm_size(comm, &ranks);
    rm_progress_begin(&meter, "inspect", "values", rm_store_scan_values(&s, args.verify) / ranks, cli_rank(comm), ranks);
    s.progress = &meter;
    if (rc == 0) rc = args.verify ? inspect_verify(&s, describes) : inspect_statistics(&s, describes);
    int protected_store = rm_store_checksums(&s, NULL) == 1;
    rm_store_close(&s);
    if (rc != 0) return cli_fail(VERB_INSPECT.name, comm);
    if (root) printf("status          ok%s\n", protected_store ? "" : " (unprotected: no checksums)");
    return 0;
}

static const cli_option INSPECT_OPTIONS[] = {
    {.name = "--verify", .kind = CLI_FLAG, .offset = offsetof(inspect_args, verify),
     .help = "instead of the statistics, check integrity: read every value once,\n"
             "collectively (each rank its share, one piece of memory at a time),\n"
             "so that every chunk's checksum is checked; count NaN/Inf; recompute\n"
             "each group's content digest and compare it with the recorded one;\n"
             "print the read throughput"},
    {.name = "--read-chunk-mb", .kind = CLI_MIB, .offset = offsetof(inspect_args, read_chunk_bytes), .value_name = "N",
     .help = "bound on one read piece per rank, in MiB (default 64)"},
};

const cli_verb VERB_INSPECT = {
    .name = "inspect",
    .summary = "describe a store: shapes, dtypes, chunks, checksums, golden reward statistics, NaN/Inf counts",
    .usage = "rmens inspect STORE [--verify] [--read-chunk-mb N]",
    .args_size = sizeof(inspect_args),
    .positional = "STORE",
    .positional_offset = offsetof(inspect_args, store_path),
    .options = INSPECT_OPTIONS,
    .n_options = CLI_COUNT(INSPECT_OPTIONS),
    .description =
        "Opens STORE, validates its layout (format attributes, dataset ranks, shapes, dtypes,\n"
        "filters) and scans every value: prints the shapes, dtypes and chunking of each split,\n"
        "whether the datasets carry Fletcher-32 checksums (a store without is reported as\n"
        "unprotected), the golden reward statistics, the NaN/Inf counts and whether a /bench is\n"
        "present. For human-labelled preference pairs (/pairs/train, /pairs/test) it prints their\n"
        "pairs, D, dtype, group ids (and distinct groups), chunking, checksums, recorded digest,\n"
        "NaN/Inf counts and mean L2 norm; a store of pairs alone has no golden statistics. Exits non-zero (with a one-line reason) when the store is invalid, holds any\n"
        "NaN/Inf, or a chunk fails its checksum. Under mpirun the ranks scan disjoint prompt\n"
        "ranges.\n"
        "\n",
    .help_column = 22,
    .run = cmd_inspect,
};
