/* Test driver for the store scripts: exposes the C reader and the half conversions so
 * that Python (numpy/h5py) can check them.
 *   store_tool half OUT_FLOATS FLOATS_IN OUT_HALVES
 *       OUT_FLOATS: rm_half_to_float of all 65536 bit patterns (float32, raw)
 *       OUT_HALVES: rm_float_to_half of the float32 values in FLOATS_IN (uint16, raw)
 *   mpirun -n R store_tool read STORE SPLIT P0 P1 CHUNK_BYTES OUTPREFIX
 *       SPLIT train|test|bench; the range [P0, P1) is partitioned over the ranks, each
 *       reads its part collectively with read_chunk_bytes = CHUNK_BYTES and writes
 *       OUTPREFIX.<rank>.a (embeddings / chosen) and OUTPREFIX.<rank>.b (rewards /
 *       rejected) as raw float32. Exit 1 with the error on stderr when a read fails.
 *   mpirun -n R store_tool readbench STORE CHUNK_MB
 *       Read both splits whole (each rank its prompt range, in calls of about 256 MiB)
 *       and print the read throughput of the embeddings and rewards (for
 *       measure_throughput.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/store/store.h"

static int write_raw(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f) return rm_errorf("cannot write %s", path);
    size_t n = bytes ? fwrite(data, 1, bytes, f) : 0;
    int rc = fclose(f);
    return n == bytes && rc == 0 ? 0 : rm_errorf("short write to %s", path);
}

static int run_half(char **argv)
{
    static uint16_t patterns[65536];
    static float floats[65536];
    for (uint32_t i = 0; i < 65536; i++) patterns[i] = (uint16_t)i;
    rm_half_to_float(patterns, floats, 65536);
    if (write_raw(argv[2], floats, sizeof floats) != 0) return -1;
    FILE *f = fopen(argv[3], "rb");
    if (!f) return rm_errorf("cannot read %s", argv[3]);
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f) / sizeof(float);
    fseek(f, 0, SEEK_SET);
    float *in = malloc(n * sizeof *in + 1);
    uint16_t *out = malloc(n * sizeof *out + 1);
    int rc = in && out && fread(in, sizeof *in, n, f) == n ? 0 : rm_errorf("cannot read %s", argv[3]);
    fclose(f);
    if (rc == 0) {
        rm_float_to_half(in, out, n);
        rc = write_raw(argv[4], out, n * sizeof *out);
    }
    free(in);
    free(out);
    return rc;
}

static int run_read(char **argv)
{
    const char *path = argv[2], *split = argv[3], *prefix = argv[7];
    size_t p0 = strtoull(argv[4], NULL, 10), p1 = strtoull(argv[5], NULL, 10);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    rm_store s;
    if (rm_store_open(&s, path, MPI_COMM_WORLD) != 0) return -1;
    s.read_chunk_bytes = strtoull(argv[6], NULL, 10);
    size_t begin, end;
    rm_partition(p1 - p0, size, rank, &begin, &end);
    begin += p0;
    end += p0;
    int bench = strcmp(split, "bench") == 0;
    rm_split sp = strcmp(split, "test") == 0 ? RM_SPLIT_TEST : RM_SPLIT_TRAIN;
    size_t row_a = bench ? s.dim : s.split[sp].n_responses * s.dim;
    size_t row_b = bench ? s.dim : s.split[sp].n_responses;
    float *a = rm_alloc((end - begin) * row_a, sizeof(float), "a");
    float *b = rm_alloc((end - begin) * row_b, sizeof(float), "b");
    int rc = a && b ? 0 : -1;
    if (rc == 0) {
        /* Range errors are agreed on inside; an out-of-range request fails on every rank. */
        if (bench) rc = rm_store_read_bench(&s, begin, end, a, b);
        else {
            rc = rm_store_read_embeddings(&s, sp, begin, end, a);
            if (rc == 0) rc = rm_store_read_rewards(&s, sp, begin, end, b);
        }
    }
    if (rc == 0) {
        char name[2048];
        snprintf(name, sizeof name, "%s.%d.a", prefix, rank);
        rc = write_raw(name, a, (end - begin) * row_a * sizeof(float));
        snprintf(name, sizeof name, "%s.%d.b", prefix, rank);
        if (rc == 0) rc = write_raw(name, b, (end - begin) * row_b * sizeof(float));
    }
    free(a);
    free(b);
    rm_store_close(&s);
    return rc;
}

/* readitems STORE SPLIT P0 P1 MOD OUTPREFIX: rm_store_read_view_items of the items with
 * item % MOD == 1 into a buffer of UNREAD (12345), rows [P0, P1) over the ranks. */
static int run_read_items(char **argv)
{
    const char *path = argv[2], *split = argv[3], *prefix = argv[7];
    size_t p0 = strtoull(argv[4], NULL, 10), p1 = strtoull(argv[5], NULL, 10), mod = strtoull(argv[6], NULL, 10);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    rm_store s;
    if (rm_store_open(&s, path, MPI_COMM_WORLD) != 0) return -1;
    size_t begin, end;
    rm_partition(p1 - p0, size, rank, &begin, &end);
    begin += p0;
    end += p0;
    rm_split sp = strcmp(split, "test") == 0 ? RM_SPLIT_TEST : RM_SPLIT_TRAIN;
    size_t K = s.split[sp].n_responses, n_items = s.split[sp].n_prompts * K, row = K * s.dim;
    uint8_t *wanted = rm_alloc(n_items + 1, 1, "wanted");
    float *a = rm_alloc((end - begin) * row + 1, sizeof(float), "a");
    int rc = a && wanted && mod > 0 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n_items; i++) wanted[i] = i % mod == 1;
    for (size_t i = 0; rc == 0 && i < (end - begin) * row; i++) a[i] = 12345.0f;
    if (rc == 0) rc = rm_store_read_view_items(&s, 0, sp, begin, end, wanted, a);
    if (rc == 0) {
        char name[2048];
        snprintf(name, sizeof name, "%s.%d.a", prefix, rank);
        rc = write_raw(name, a, (end - begin) * row * sizeof(float));
    }
    free(a);
    free(wanted);
    rm_store_close(&s);
    return rc;
}

static int run_readbench(char **argv)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    rm_store s;
    if (rm_store_open(&s, argv[2], MPI_COMM_WORLD) != 0) return -1;
    s.read_chunk_bytes = (size_t)strtoull(argv[3], NULL, 10) << 20;
    /* One buffer of ~256 MiB, touched before the clock starts, as a trainer would reuse
     * its buffers: the figure is the read path, not first-touch page faults. */
    size_t buffer_floats = ((size_t)256 << 20) / sizeof(float);
    for (int sp = 0; sp < 2; sp++)
        if (s.split[sp].n_responses * s.dim > buffer_floats) buffer_floats = s.split[sp].n_responses * s.dim;
    float *emb = rm_calloc(buffer_floats, sizeof(float), "embeddings");
    float *rew = rm_calloc(buffer_floats, sizeof(float), "rewards");
    int rc = rm_all_ok(MPI_COMM_WORLD, emb && rew ? 0 : -1);
    if (rc == 0) {
        memset(emb, 1, buffer_floats * sizeof(float));
        memset(rew, 1, buffer_floats * sizeof(float));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double start = MPI_Wtime(), stored_bytes = 0;
    for (int sp = 0; sp < 2 && rc == 0; sp++) {
        size_t k = s.split[sp].n_responses, row = k * s.dim;
        size_t begin, end;
        rm_partition(s.split[sp].n_prompts, size, rank, &begin, &end);
        size_t step = buffer_floats / row;
        /* Calls are collective: every rank makes the same number, empty ones at the end. */
        size_t mine = (end - begin + step - 1) / step, most = 0;
        MPI_Allreduce(&mine, &most, 1, MPI_UNSIGNED_LONG, MPI_MAX, MPI_COMM_WORLD);
        for (size_t i = 0; i < most && rc == 0; i++) {
            size_t p0 = begin + i * step, p1 = p0 + step;
            if (p0 > end) p0 = end;
            if (p1 > end) p1 = end;
            rc = rm_store_read_embeddings(&s, (rm_split)sp, p0, p1, emb);
            if (rc == 0) rc = rm_store_read_rewards(&s, (rm_split)sp, p0, p1, rew);
        }
        size_t elem = s.split[sp].dtype == RM_DTYPE_FLOAT16 ? 2 : 4;
        stored_bytes += (double)s.split[sp].n_prompts * (double)k * (double)(s.dim * elem + 4);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double seconds = MPI_Wtime() - start;
    if (rc == 0 && rank == 0)
        printf("readbench: %d rank%s read %.1f MB of stored data in %.2f s: %.1f MB/s\n", size, size > 1 ? "s" : "",
               stored_bytes / 1e6, seconds, stored_bytes / 1e6 / seconds);
    free(emb);
    free(rew);
    rm_store_close(&s);
    return rc;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rc;
    if (argc == 5 && strcmp(argv[1], "half") == 0) rc = run_half(argv);
    else if (argc == 8 && strcmp(argv[1], "read") == 0) rc = run_read(argv);
    else if (argc == 8 && strcmp(argv[1], "readitems") == 0) rc = run_read_items(argv);
    else if (argc == 4 && strcmp(argv[1], "readbench") == 0) rc = run_readbench(argv);
    else rc = rm_errorf("usage: store_tool half OUT_FLOATS FLOATS_IN OUT_HALVES | read STORE SPLIT P0 P1 CHUNK_BYTES OUTPREFIX | readitems STORE SPLIT P0 P1 MOD OUTPREFIX | readbench STORE CHUNK_MB");
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rc != 0 && rank == 0) fprintf(stderr, "store_tool: error: %s\n", rm_last_error());
    MPI_Finalize();
    return rc == 0 ? 0 : 1;
}
