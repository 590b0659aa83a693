/* Test driver for the store scripts: exposes the C reader and the half conversions so
 * that Python (numpy/h5py) can check them.
 *   store_tool half OUT_FLOATS FLOATS_IN OUT_HALVES
 *       OUT_FLOATS: rm_half_to_float of all 65536 bit patterns (float32, raw)
 *       OUT_HALVES: rm_float_to_half of the float32 values in FLOATS_IN (uint16, raw)
 *   mpirun -n R store_tool read STORE SPLIT P0 P1 CHUNK_BYTES OUTPREFIX
 *       SPLIT train|test|bench; the range [P0, P1) is partitioned over the ranks, each
 *       reads its part collectively with read_chunk_bytes = CHUNK_BYTES and writes
 *       OUTPREFIX.<rank>.a (embeddings / chosen) and OUTPREFIX.<rank>.b (rewards /
 *       rejected) as raw float32. Exit 1 with the error on stderr when a read fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/common.h"
#include "rmens/store.h"

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

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rc;
    if (argc == 5 && strcmp(argv[1], "half") == 0) rc = run_half(argv);
    else if (argc == 8 && strcmp(argv[1], "read") == 0) rc = run_read(argv);
    else rc = rm_errorf("usage: store_tool half OUT_FLOATS FLOATS_IN OUT_HALVES | read STORE SPLIT P0 P1 CHUNK_BYTES OUTPREFIX");
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rc != 0 && rank == 0) fprintf(stderr, "store_tool: error: %s\n", rm_last_error());
    MPI_Finalize();
    return rc == 0 ? 0 : 1;
}
