/* The model's products (include/rmens/kernels/tiled_blas.h, src/kernels/tiled_sgemm.c): rm_tiled_sgemm_ep against a
 * double-precision reference for every transpose combination, edge sizes (not multiples
 * of the micro-tile, several depth blocks, leading dimensions wider than the matrices),
 * each initial value (beta 1, beta 0, beta 0.5, bias) and epilogue (ReLU, ReLU backward
 * gate); bitwise the same for 1, 2 and 3 threads, with op(B) packed ahead and with op(A)'s
 * packing kept and reused (RM_A_KEEP / RM_A_AGAIN, also across another product, and
 * repacked after a product that kept another A); the columns past N of C untouched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "rmens/kernels/tiled_blas.h"

static unsigned state = 1;
static float uniform(void)
{
    state = state * 1664525u + 1013904223u;
    return (float)((state >> 8) / 16777216.0 - 0.5);
}

static void check_product(int M, int N, int K, int ta, int tb, int variant)
{
    const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2, ldg = N + 7;
    const size_t a_n = (size_t)lda * (ta ? K : M), b_n = (size_t)ldb * (tb ? N : K), c_n = (size_t)ldc * M;
    float *A = malloc(sizeof(float) * a_n), *B = malloc(sizeof(float) * b_n), *C0 = malloc(sizeof(float) * c_n);
    float *bias = malloc(sizeof(float) * N), *gate = malloc(sizeof(float) * (size_t)ldg * M), *C[7];
    for (size_t i = 0; i < a_n; i++) A[i] = uniform();
    for (size_t i = 0; i < b_n; i++) B[i] = uniform();
    for (size_t i = 0; i < c_n; i++) C0[i] = uniform();
    for (int i = 0; i < N; i++) bias[i] = uniform();
    for (size_t i = 0; i < (size_t)ldg * M; i++) gate[i] = uniform();
    const float beta = variant == 0 ? 1.0f : variant == 2 ? 0.5f : 0.0f;
    const float *b = variant >= 3 ? bias : NULL, *g = variant == 4 ? gate : NULL;
    const int relu = variant == 3;
    const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    size_t packed_n = rm_own_sgemm_packed_b_size(N, K);
    float *packed = packed_n ? aligned_alloc(64, (packed_n * sizeof(float) + 63) / 64 * 64) : NULL;
    if (packed) CHECK(rm_own_sgemm_pack_b(TB, N, K, B, ldb, packed) == 0);
    float *other = malloc(sizeof(float) * a_n), *scratch = malloc(sizeof(float) * c_n);
    for (size_t i = 0; i < a_n; i++) other[i] = uniform();
    for (int t = 0; t < 7; t++) {
        rm_tiled_set_threads(t < 3 ? t + 1 : 2);
        C[t] = malloc(sizeof(float) * c_n);
        memcpy(C[t], C0, sizeof(float) * c_n);
        /* 3: B packed ahead; 4: A's packing kept; 5: reused after another product; 6: after
         * a product that kept another A's (repacked) */
        rm_gemm_hints h = {t == 3 ? packed : NULL, t == 4 ? RM_A_KEEP : t >= 5 ? RM_A_AGAIN : RM_A_NONE};
        if (t == 5) {
            float x[21] = {0}, y[35] = {0}, z[15];
            rm_tiled_sgemm_ep(CblasNoTrans, CblasNoTrans, 3, 5, 7, x, 7, y, 5, 0, z, 5, NULL, 0, NULL, 0, NULL);
        }
        if (t == 6) {
            rm_gemm_hints keep_other = {NULL, RM_A_KEEP};
            rm_tiled_sgemm_ep(TA, TB, M, N, K, other, lda, B, ldb, 0, scratch, ldc, NULL, 0, NULL, 0, &keep_other);
        }
        rm_tiled_sgemm_ep(TA, TB, M, N, K, A, lda, B, ldb, beta, C[t], ldc, b, relu, g, ldg, &h);
    }
    free(other);
    free(scratch);
    rm_tiled_set_threads(1);
    double worst = 0;
    int outside = 0;
    for (int i = 0; i < M; i++) {
        for (int j = N; j < ldc; j++) outside += C[0][(size_t)i * ldc + j] != C0[(size_t)i * ldc + j];
        for (int j = 0; j < N; j++) {
            double sum = 0, scale = 0;
            for (int k = 0; k < K; k++) {
                double x = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double y = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                sum += x * y;
                scale += fabs(x * y);
            }
            double init = b ? b[j] : beta == 0 ? 0 : beta * C0[(size_t)i * ldc + j], want = init + sum;
            if (relu && want < 0) want = 0;
            if (g && g[(size_t)i * ldg + j] <= 0) want = 0;
            double err = fabs(want - C[0][(size_t)i * ldc + j]) / (scale + fabs(init) + 1e-30);
            if (err > worst) worst = err;
        }
    }
    if (!(worst < 1e-5) || outside) fprintf(stderr, "M %d N %d K %d ta %d tb %d variant %d: error %g\n", M, N, K, ta, tb, variant, worst);
    CHECK(worst < 1e-5);
    CHECK(outside == 0);
    for (int t = 1; t < 7; t++) CHECK(memcmp(C[0], C[t], sizeof(float) * c_n) == 0);
    for (int t = 0; t < 7; t++) free(C[t]);
    free(A), free(B), free(C0), free(bias), free(gate), free(packed);
}

int main(void)
{
    static const int shapes[][3] = {{1, 1, 1}, {12, 32, 16}, {13, 33, 17}, {5, 7, 3}, {100, 70, 400},
                                    {37, 200, 385}, {256, 130, 768}, {60, 1100, 800}, {11, 31, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int variant = 0; variant < 5; variant++) check_product(shapes[s][0], shapes[s][1], shapes[s][2], ta, tb, variant);
    /* a NaN passes the ReLU, as in PyTorch */
    {
        float a = NAN, w = 1, c = 0;
        rm_tiled_sgemm_ep(CblasNoTrans, CblasTrans, 1, 1, 1, &a, 1, &w, 1, 0, &c, 1, NULL, 1, NULL, 0, NULL);
        CHECK(isnan(c));
    }
    return check_status("test_tiled_sgemm");
}
