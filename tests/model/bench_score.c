/* Scoring benchmark (rmens eval's inner loop) at the reference shapes: E members of
 * D = 2048 -> 1024 -> 512 -> 1 score a stream of embeddings in blocks of 1024 rows, every
 * block by every member while it is in cache (src/eval/eval.c, score_rows), threads from
 * OPENBLAS_NUM_THREADS. The limit, measured in the same run and alternating with it: the
 * same blocks through OpenBLAS's own threaded cblas_sgemm, the two hidden-layer products
 * of every member (the head, 0.02% of the FLOPs, left out as in bench_sgemm).
 * Usage: bench_score [members] [rows] [rounds] [pack 0|1] [fp32|bf16]. bf16: the products
 * through rmens's bf16 path (oneDNN where the CPU has a bf16 kernel, else emulated), on the
 * rounding of each block shared by the members (rm_mlp_input) and the weights packed once
 * (rm_mlp_forward_frozen), exactly as eval scores. Prints a table and one JSON line. */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/model/model.h"
#include "rmens/base/rng.h"
#include "rmens/kernels/precision.h"
#include "rmens/kernels/tiled_blas.h"

enum { D = 2048, H1 = 1024, H2 = 512, BLOCK = 1024 };

void openblas_set_num_threads(int threads);
int openblas_get_num_threads(void);

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int E = argc > 1 ? atoi(argv[1]) : 4;
    size_t rows = argc > 2 ? (size_t)atoll(argv[2]) : 32768;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    const int pack = argc > 4 ? atoi(argv[4]) : 1; /* as rmens eval: rm_mlp_workspace_pack for every member */
    const int bf16 = argc > 5 && strcmp(argv[5], "bf16") == 0;
    if (bf16 && rm_precision_set_backend(rm_precision_onednn_available() ? RM_MATMUL_BF16_ONEDNN : RM_MATMUL_BF16_EMULATED) != 0) {
        fprintf(stderr, "bench_score: %s\n", rm_last_error());
        return 2;
    }
    if (E < 1 || rows < BLOCK || rounds < 1) {
        fprintf(stderr, "usage: bench_score [members >= 1] [rows >= %d] [rounds >= 1]\n", BLOCK);
        return 2;
    }
    const int threads = openblas_get_num_threads();
    float *emb = malloc(rows * D * sizeof(float)), *scores = malloc(BLOCK * sizeof(float));
    float *A1 = malloc((size_t)BLOCK * H1 * sizeof(float)), *A2 = malloc((size_t)BLOCK * H2 * sizeof(float));
    rm_mlp *members = calloc((size_t)E, sizeof(rm_mlp));
    rm_mlp_workspace *ws = calloc((size_t)E, sizeof(rm_mlp_workspace));
    if (!emb || !scores || !A1 || !A2 || !members || !ws) return 2;
    for (size_t i = 0; i < rows * D; i++) emb[i] = (float)(rm_rand_uniform(1, 30, i) - 0.5);
    const int hidden[2] = {H1, H2};
    for (int m = 0; m < E; m++) {
        if (rm_mlp_create(&members[m], D, hidden, 2) != 0 || rm_mlp_workspace_create(&ws[m], &members[m], BLOCK) != 0) return 2;
        rm_mlp_init_uniform(&members[m], 7, (uint64_t)m);
        if (pack && rm_mlp_workspace_pack(&ws[m], &members[m]) != 0) return 2;
    }
    rm_mlp_set_threads(threads);
    rm_mlp_input input;
    if (rm_mlp_input_create(&input, (size_t)BLOCK * D) != 0) return 2;
    const size_t blocks = rows / BLOCK;
    const double flops = (double)blocks * BLOCK * E * rm_mlp_forward_flops(&members[0], 1);
    const double limit_flops = (double)blocks * BLOCK * E * 2.0 * ((double)D * H1 + (double)H1 * H2);
    double best_score = 0, best_limit = 0;
    for (int round = 0; round < rounds + 1; round++) {
        double t0 = rm_now();
        for (size_t b = 0; b < blocks; b++) {
            const float *block = emb + b * BLOCK * D;
            if (bf16) rm_mlp_input_prepare(&input, block, (size_t)BLOCK * D); /* as src/eval/eval_score.c */
            for (int m = 0; m < E; m++) /* as rmens eval */
                if (bf16) rm_mlp_forward_frozen(&members[m], &ws[m], block, &input, BLOCK, scores);
                else (m == 0 ? rm_mlp_forward : rm_mlp_forward_again)(&members[m], &ws[m], block, BLOCK, scores);
        }
        double t1 = rm_now();
        openblas_set_num_threads(threads);
        for (size_t b = 0; b < blocks; b++)
            for (int m = 0; m < E; m++) {
                const rm_mlp *mm = &members[m];
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BLOCK, H1, D, 1, emb + b * BLOCK * D, D,
                            mm->params + mm->weight_offset[0], D, 0, A1, H1);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BLOCK, H2, H1, 1, A1, H1, mm->params + mm->weight_offset[1],
                            H1, 0, A2, H2);
            }
        double t2 = rm_now();
        openblas_set_num_threads(1);
        if (round == 0) continue; /* warm-up: page faults, thread start */
        if (flops / (t1 - t0) > best_score) best_score = flops / (t1 - t0);
        if (limit_flops / (t2 - t1) > best_limit) best_limit = limit_flops / (t2 - t1);
        printf("  round %d: rm_mlp_forward %.1f GFLOP/s, OpenBLAS sgemm %.1f GFLOP/s\n", round, flops / (t1 - t0) / 1e9,
               limit_flops / (t2 - t1) / 1e9);
    }
    printf("\n%-44s %12s\n", "scoring benchmark (D=2048-1024-512-1)", "value");
    printf("%-44s %12d\n", "threads", threads);
    printf("%-44s %12d\n", "members", E);
    printf("%-44s %12s\n", "weights packed once (rm_mlp_workspace_pack)", pack ? "yes" : "no");
    printf("%-44s %12s\n", "precision", bf16 ? rm_precision_current()->kernel : "fp32");
    printf("%-44s %12.1f\n", "sgemm limit, same blocks, GFLOP/s", best_limit / 1e9);
    printf("%-44s %12.1f\n", "scoring, GFLOP/s", best_score / 1e9);
    printf("%-44s %12.3f\n", "fraction of the sgemm limit", best_score / best_limit);
    printf("{\"bench\": \"score\", \"threads\": %d, \"members\": %d, \"sgemm_gflops\": %.2f, \"score_gflops\": %.2f, "
           "\"fraction_of_sgemm\": %.4f, \"packed_weights\": %d, \"precision\": \"%s\"}\n", threads, E, best_limit / 1e9,
           best_score / 1e9, best_score / best_limit, pack, bf16 ? "bf16" : "fp32");
    rm_mlp_input_free(&input);
    for (int m = 0; m < E; m++) {
        rm_mlp_workspace_free(&ws[m]);
        rm_mlp_free(&members[m]);
    }
    free(members);
    free(ws);
    free(emb);
    free(scores);
    free(A1);
    free(A2);
    MPI_Finalize();
    return 0;
}
