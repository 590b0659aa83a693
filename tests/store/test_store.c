/* Store unit tests (one rank): partition, half conversion corner cases, write/read round
 * trips through every piece shape, refusals (existing output, NaN, bad ranges), and
 * that a failed or abandoned write leaves nothing behind. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/check.h"
#include "rmens/base/parallel.h"
#include "rmens/base/common.h"
#include "rmens/store/store.h"

static char dir[256];

static int dir_entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static void test_partition(void)
{
    for (size_t n = 0; n < 40; n++)
        for (int parts = 1; parts < 7; parts++) {
            size_t expect_begin = 0;
            for (int i = 0; i < parts; i++) {
                size_t b, e;
                rm_partition(n, parts, i, &b, &e);
                CHECK(b == expect_begin);
                CHECK(e - b == n / (size_t)parts || e - b == n / (size_t)parts + 1);
                expect_begin = e;
            }
            CHECK(expect_begin == n);
        }
}

static uint16_t to_half(float f)
{
    uint16_t h;
    rm_float_to_half(&f, &h, 1);
    return h;
}

static void test_half(void)
{
    CHECK(to_half(1.0f) == 0x3c00);
    CHECK(to_half(-2.0f) == 0xc000);
    CHECK(to_half(65504.0f) == 0x7bff);
    CHECK(to_half(65519.99f) == 0x7bff);      /* below the rounding boundary */
    CHECK(to_half(65520.0f) == 0x7c00);       /* ties to even: overflows to Inf */
    CHECK(to_half(ldexpf(1, -24)) == 0x0001); /* smallest subnormal */
    CHECK(to_half(ldexpf(1, -25)) == 0x0000); /* tie between 0 and 2^-24: even is 0 */
    CHECK(to_half(ldexpf(3, -25)) == 0x0002); /* tie between 1 and 2 ulps: even is 2 */
    CHECK(to_half(1.0f + ldexpf(1, -11)) == 0x3c00); /* tie: down to even */
    CHECK(to_half(1.0f + ldexpf(3, -11)) == 0x3c02); /* tie: up to even */
    CHECK(to_half(-0.0f) == 0x8000);
    CHECK(to_half(INFINITY) == 0x7c00);
    CHECK((to_half(NAN) & 0x7c00) == 0x7c00 && (to_half(NAN) & 0x03ff) != 0);
    /* Every finite half survives half -> float -> half. */
    int mismatches = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i, back;
        float f;
        rm_half_to_float(&h, &f, 1);
        rm_float_to_half(&f, &back, 1);
        if ((h & 0x7c00) != 0x7c00 && back != h) mismatches++;
    }
    CHECK(mismatches == 0);
}

static float value_at(int split, size_t p, size_t k, size_t d)
{
    /* Values exact in float16 so both dtypes round-trip exactly. */
    return (float)((int)((split * 7 + p * 13 + k * 5 + d * 3) % 61) - 30) * 0.25f;
}

static void test_round_trip(rm_dtype dtype)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rt.h5", dir);
    const size_t D = 7, N[2] = {11, 5}, K[2] = {3, 4}, NB = 6;
    rm_store_layout layout = {.dim = D, .split = {{N[0], K[0], dtype}, {N[1], K[1], dtype}}, .n_bench = NB,
                              .embed_model = "e", .response_model = "r", .task = "t", .uuid = "fixed-uuid"};
    rm_store_writer w;
    CHECK(rm_store_create(&w, path, MPI_COMM_WORLD, &layout, 0) == 0);
    w.store.read_chunk_bytes = 100; /* several prompts per piece, never aligned */
    for (int sp = 0; sp < 2; sp++) {
        float *emb = malloc(N[sp] * K[sp] * D * sizeof *emb), *rew = malloc(N[sp] * K[sp] * sizeof *rew);
        for (size_t p = 0; p < N[sp]; p++)
            for (size_t k = 0; k < K[sp]; k++) {
                rew[p * K[sp] + k] = (float)(p * 100 + k) + 0.5f;
                for (size_t d = 0; d < D; d++) emb[(p * K[sp] + k) * D + d] = value_at(sp, p, k, d);
            }
        /* Written in two calls, the second range first: order must not matter. */
        CHECK(rm_store_write_split(&w, (rm_split)sp, 4, N[sp], emb + 4 * K[sp] * D, rew + 4 * K[sp]) == 0);
        CHECK(rm_store_write_split(&w, (rm_split)sp, 0, 4, emb, rew) == 0);
        free(emb);
        free(rew);
    }
    float chosen[6 * 7], rejected[6 * 7];
    for (size_t i = 0; i < NB * D; i++) {
        chosen[i] = (float)i;
        rejected[i] = -(float)i;
    }
    CHECK(rm_store_write_bench(&w, 0, NB, chosen, rejected) == 0);
    CHECK(rm_store_commit(&w) == 0);
    CHECK(dir_entries() == 1);

    rm_store s;
    CHECK(rm_store_open(&s, path, MPI_COMM_WORLD) == 0);
    CHECK(s.dim == D && s.n_bench == NB && s.split[1].n_prompts == N[1] && s.split[1].n_responses == K[1]);
    CHECK(s.split[0].dtype == dtype && s.bench_dtype == dtype);
    CHECK(strcmp(s.uuid, "fixed-uuid") == 0 && strcmp(s.task, "t") == 0);
    /* Piece bounds: whole prompts, several prompts, part of a prompt, less than one row. */
    size_t bounds[] = {1, 20, 28, 60, 100, 1 << 20};
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        s.read_chunk_bytes = bounds[b];
        for (int sp = 0; sp < 2; sp++) {
            size_t p0 = 1, p1 = N[sp] - 1;
            float *emb = malloc((p1 - p0) * K[sp] * D * sizeof *emb), *rew = malloc((p1 - p0) * K[sp] * sizeof *rew);
            CHECK(rm_store_read_embeddings(&s, (rm_split)sp, p0, p1, emb) == 0);
            CHECK(rm_store_read_rewards(&s, (rm_split)sp, p0, p1, rew) == 0);
            int bad = 0;
            for (size_t p = p0; p < p1; p++)
                for (size_t k = 0; k < K[sp]; k++) {
                    bad += rew[(p - p0) * K[sp] + k] != (float)(p * 100 + k) + 0.5f;
                    for (size_t d = 0; d < D; d++) bad += emb[((p - p0) * K[sp] + k) * D + d] != value_at(sp, p, k, d);
                }
            CHECK(bad == 0);
            free(emb);
            free(rew);
        }
        float c[6 * 7], r[6 * 7];
        CHECK(rm_store_read_bench(&s, 2, NB, c, r) == 0);
        CHECK(memcmp(c, chosen + 2 * D, (NB - 2) * D * sizeof(float)) == 0);
        CHECK(memcmp(r, rejected + 2 * D, (NB - 2) * D * sizeof(float)) == 0);
    }
    float one[64];
    CHECK(rm_store_read_embeddings(&s, RM_SPLIT_TRAIN, 3, 3, one) == 0); /* empty range */
    CHECK(rm_store_read_embeddings(&s, RM_SPLIT_TEST, 4, 6, one) == -1);
    CHECK(strstr(rm_last_error(), "/test/embeddings") && strstr(rm_last_error(), "outside"));
    rm_store_close(&s);
    unlink(path);
}

static void test_refusals(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/refuse.h5", dir);
    rm_store_layout layout = {.dim = 4, .split = {{3, 2, RM_DTYPE_FLOAT32}, {2, 2, RM_DTYPE_FLOAT32}}};
    rm_store_writer w;

    /* NaN in the data: refused with file, dataset and position; abandon removes the file. */
    CHECK(rm_store_create(&w, path, MPI_COMM_WORLD, &layout, 0) == 0);
    CHECK(dir_entries() == 1); /* only the temporary file */
    CHECK(!rm_path_exists(path));
    float emb[3 * 2 * 4] = {0}, rew[6] = {0};
    emb[(1 * 2 + 1) * 4 + 2] = NAN;
    CHECK(rm_store_write_split(&w, RM_SPLIT_TRAIN, 0, 3, emb, rew) == -1);
    CHECK(strstr(rm_last_error(), "/train/embeddings") && strstr(rm_last_error(), "NaN at prompt 1, response 1"));
    rm_store_abandon(&w);
    CHECK(dir_entries() == 0);

    /* An existing output needs force. */
    FILE *f = fopen(path, "w");
    fputs("precious", f);
    fclose(f);
    CHECK(rm_store_create(&w, path, MPI_COMM_WORLD, &layout, 0) == -1);
    CHECK(strstr(rm_last_error(), "exists") && strstr(rm_last_error(), "--force"));
    CHECK(dir_entries() == 1);
    CHECK(rm_store_create(&w, path, MPI_COMM_WORLD, &layout, 1) == 0);
    emb[(1 * 2 + 1) * 4 + 2] = 1;
    CHECK(rm_store_write_split(&w, RM_SPLIT_TRAIN, 0, 3, emb, rew) == 0);
    CHECK(rm_store_write_split(&w, RM_SPLIT_TEST, 0, 2, emb, rew) == 0);
    CHECK(rm_store_commit(&w) == 0);
    CHECK(dir_entries() == 1);
    rm_store s;
    CHECK(rm_store_open(&s, path, MPI_COMM_WORLD) == 0);
    CHECK(s.n_bench == 0 && s.uuid[0] != '\0');
    rm_store_close(&s);

    /* Opening what is not a store. */
    CHECK(rm_store_open(&s, "/nonexistent/x.h5", MPI_COMM_WORLD) == -1);
    CHECK(strstr(rm_last_error(), "/nonexistent/x.h5") && strstr(rm_last_error(), "No such file"));
    f = fopen(path, "w");
    fputs("not hdf5", f);
    fclose(f);
    CHECK(rm_store_open(&s, path, MPI_COMM_WORLD) == -1);
    CHECK(strstr(rm_last_error(), "not an HDF5 file"));
    unlink(path);

    /* Unwritable directory. */
    CHECK(rm_store_create(&w, "/nonexistent-dir/out.h5", MPI_COMM_WORLD, &layout, 0) == -1);
    CHECK(strstr(rm_last_error(), "/nonexistent-dir"));
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    snprintf(dir, sizeof dir, "/tmp/rmens-test-store-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_partition();
    test_half();
    test_round_trip(RM_DTYPE_FLOAT32);
    test_round_trip(RM_DTYPE_FLOAT16);
    test_refusals();
    rmdir(dir);
    MPI_Finalize();
    return check_status("test_store");
}
