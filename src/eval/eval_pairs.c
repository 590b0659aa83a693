/* Figures on human-labelled test pairs (see include/rmens/eval/eval_pairs.h). */
#include "rmens/eval/eval_pairs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/eval/eval_format.h"
#include "rmens/store/h5util.h"

int rm_pairs_test_create(rm_pairs_test *t, int E, size_t n, const double *score_std)
{
    memset(t, 0, sizeof *t);
    t->n = n, t->E = E;
    size_t values = 0;
    if (rm_size_mul3((size_t)E, n, 2, &values, "test pairs") != 0) return -1;
    t->z = rm_calloc(values ? values : 1, sizeof(float), "test pair scores");
    t->score_std = rm_alloc((size_t)E, sizeof(double), "test pairs");
    t->member_accuracy = rm_alloc((size_t)E, sizeof(double), "test pairs");
    t->member_calibration = rm_alloc((size_t)E, sizeof(rm_pairs_calibration), "test pairs");
    t->size_accuracy = rm_calloc(RM_MAX_LIST, sizeof(double), "test pairs");
    t->size_accuracy_std = rm_calloc(RM_MAX_LIST, sizeof(double), "test pairs");
    t->size_calibration = rm_calloc(RM_MAX_LIST, sizeof(rm_pairs_calibration), "test pairs");
    t->size_calibration_std = rm_calloc(RM_MAX_LIST, sizeof(rm_pairs_calibration), "test pairs");
    if (!t->z || !t->score_std || !t->member_accuracy || !t->member_calibration || !t->size_accuracy ||
        !t->size_accuracy_std || !t->size_calibration || !t->size_calibration_std) {
        rm_pairs_test_free(t);
        return -1;
    }
    memcpy(t->score_std, score_std, (size_t)E * sizeof(double));
    return 0;
}

void rm_pairs_test_free(rm_pairs_test *t)
{
    free(t->z), free(t->score_std), free(t->member_accuracy), free(t->member_calibration);
    free(t->size_accuracy), free(t->size_accuracy_std), free(t->size_calibration), free(t->size_calibration_std);
    memset(t, 0, sizeof *t);
}

int rm_pairs_test_collect(void *opaque, size_t q0, size_t q1, const float *z)
{
    rm_pairs_test *t = opaque;
    size_t rows = (q1 - q0) * 2; /* z[m * rows + (q - q0) 2 + k] */
    for (int m = 0; m < t->E; m++)
        memcpy(t->z + ((size_t)m * t->n + q0) * 2, z + (size_t)m * rows, rows * sizeof(float));
    return 0;
}

int rm_pairs_test_gather(rm_pairs_test *t, MPI_Comm comm)
{
    /* Each value is written on exactly one rank and 0 on the others: the sum is that value,
     * bit for bit. Sent in pieces that fit an int count. */
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    size_t total = (size_t)t->E * t->n * 2, step = (size_t)1 << 28;
    int rc = 0;
    for (size_t at = 0; at < total && rc == 0; at += step) {
        int count = (int)(total - at < step ? total - at : step);
        void *send = rank == 0 ? MPI_IN_PLACE : (void *)(t->z + at);
        rc = rm_mpi_check(MPI_Reduce(send, t->z + at, count, MPI_FLOAT, MPI_SUM, 0, comm), "MPI_Reduce (test pairs)");
    }
    return rm_all_ok(comm, rc);
}

/* ---- figures ---- */

/* 1, 1/2 or 0: whether agg(chosen) beats agg(rejected). */
static double correct(double chosen, double rejected) { return chosen > rejected ? 1.0 : chosen == rejected ? 0.5 : 0.0; }

typedef struct {
    double count[RM_CALIBRATION_BINS], p_sum[RM_CALIBRATION_BINS], y_sum[RM_CALIBRATION_BINS];
    double brier, log_loss;
    size_t n;
} calibration_acc;

/* Both orders of one pair: (p, chosen) and (1 - p, rejected). */
static void calibration_add(calibration_acc *a, double p)
{
    const double points[2] = {p, 1.0 - p};
    for (int y = 1; y >= 0; y--) {
        double q = points[1 - y];
        int b = rm_uniform_bin(q, 0.0, 1.0, RM_CALIBRATION_BINS);
        a->count[b] += 1, a->p_sum[b] += q, a->y_sum[b] += y;
        a->brier += rm_brier_term(q, y);
        a->log_loss += rm_log_loss_term(q, y);
        a->n++;
    }
}

static rm_pairs_calibration calibration_finish(const calibration_acc *a)
{
    rm_pairs_calibration c = {NAN, NAN, NAN};
    if (a->n == 0) return c;
    c.ece = rm_expected_calibration_error(a->count, a->p_sum, a->y_sum, RM_CALIBRATION_BINS);
    c.brier = a->brier / (double)a->n;
    c.log_loss = a->log_loss / (double)a->n;
    return c;
}

static double member_p(const rm_pairs_test *t, int m, size_t i)
{
    const float *z = t->z + ((size_t)m * t->n + i) * 2;
    return rm_sigmoid(((double)z[0] - (double)z[1]) * t->score_std[m]);
}

/* Accuracy and calibration of the mean aggregator over members[0..k) (the mean's P). */
static void subset_figures(const rm_pairs_test *t, const int *members, int k, double *accuracy, rm_pairs_calibration *cal,
                           double *agg)
{
    rm_aggregate(t->z, t->n * 2, members, k, t->n * 2, RM_AGG_MEAN, 0.0, agg, NULL);
    calibration_acc a;
    memset(&a, 0, sizeof a);
    double hits = 0.0;
    for (size_t i = 0; i < t->n; i++) {
        hits += correct(agg[2 * i], agg[2 * i + 1]);
        double p = 0.0;
        for (int j = 0; j < k; j++) p += member_p(t, members[j], i);
        calibration_add(&a, p / k);
    }
    *accuracy = t->n ? hits / (double)t->n : NAN;
    *cal = calibration_finish(&a);
}

typedef struct {
    double u;
    size_t i;
} by_u;

static int compare_u(const void *a, const void *b)
{
    const by_u *x = a, *y = b;
    if (x->u != y->u) return x->u < y->u ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Selective accuracy and the AUROC of u for the mean's errors. */
static void uncertainty_figures(rm_pairs_test *t, const double *mean_agg, by_u *order)
{
    size_t n = t->n;
    for (size_t i = 0; i < n; i++) {
        double mean = 0.0, ss = 0.0;
        for (int m = 0; m < t->E; m++) mean += member_p(t, m, i);
        mean /= t->E;
        for (int m = 0; m < t->E; m++) {
            double d = member_p(t, m, i) - mean;
            ss += d * d;
        }
        order[i] = (by_u){sqrt(ss / t->E), i};
    }
    qsort(order, n, sizeof *order, compare_u);
    double hits = 0.0;
    size_t done = 0;
    for (int j = 1; j <= RM_SELECTIVE_LEVELS; j++) {
        size_t take = ((size_t)j * n + RM_SELECTIVE_LEVELS / 2) / RM_SELECTIVE_LEVELS;
        if (take < 1) take = 1;
        if (take > n) take = n;
        for (; done < take; done++) hits += correct(mean_agg[2 * order[done].i], mean_agg[2 * order[done].i + 1]);
        t->selective_accuracy[j - 1] = n ? hits / (double)take : NAN;
    }
    /* Mann-Whitney over the sorted u: average ranks of tied runs */
    double n_err = 0.0, n_ok = 0.0, rank_sum = 0.0;
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && order[b].u == order[a].u) b++;
        double avg_rank = 0.5 * (double)(a + 1 + b); /* ranks a+1 .. b */
        for (size_t r = a; r < b; r++) {
            size_t i = order[r].i;
            int error = !(mean_agg[2 * i] > mean_agg[2 * i + 1]);
            if (error) n_err += 1, rank_sum += avg_rank;
            else n_ok += 1;
        }
        a = b;
    }
    t->disagreement_auroc = n_err > 0 && n_ok > 0 ? (rank_sum - n_err * (n_err + 1) / 2) / (n_err * n_ok) : NAN;
}

/* Per ablation size of the plan: the mean and population std over its subsets of each
 * subset's mean-aggregator accuracy and calibration. agg: scratch of 2n doubles. */
static int ensemble_size_figures(rm_pairs_test *t, const rm_eval_plan *p, double *agg)
{
    for (int s = 0; s < p->n_sizes; s++) {
        int count = p->size_subsets[s];
        double *figures = rm_alloc((size_t)count * 4, sizeof(double), "test pair figures"); /* [count][4] */
        if (!figures) return -1;
        for (int j = 0; j < count; j++) {
            const rm_eval_subset *sub = &p->subsets[p->size_first[s] + j];
            rm_pairs_calibration c;
            subset_figures(t, sub->members, sub->k, &figures[4 * j], &c, agg);
            figures[4 * j + 1] = c.ece, figures[4 * j + 2] = c.brier, figures[4 * j + 3] = c.log_loss;
        }
        double mean[4], std[4];
        for (int f = 0; f < 4; f++) {
            double sum = 0.0, ss = 0.0;
            for (int j = 0; j < count; j++) sum += figures[4 * j + f];
            mean[f] = sum / count;
            for (int j = 0; j < count; j++) ss += (figures[4 * j + f] - mean[f]) * (figures[4 * j + f] - mean[f]);
            std[f] = sqrt(ss / count);
        }
        t->size_accuracy[s] = mean[0], t->size_accuracy_std[s] = std[0];
        t->size_calibration[s] = (rm_pairs_calibration){mean[1], mean[2], mean[3]};
        t->size_calibration_std[s] = (rm_pairs_calibration){std[1], std[2], std[3]};
        free(figures);
    }
    return 0;
}

int rm_pairs_test_compute(rm_pairs_test *t, const rm_eval_plan *p)
{
    size_t n = t->n;
    int E = t->E;
    double *agg = rm_alloc(2 * n + 1, sizeof(double), "test pair figures");
    double *mean_agg = rm_alloc(2 * n + 1, sizeof(double), "test pair figures");
    double *scratch = rm_alloc((size_t)E + 1, sizeof(double), "test pair figures");
    int *all = rm_alloc((size_t)E, sizeof(int), "test pair figures");
    by_u *order = rm_alloc(n + 1, sizeof(by_u), "test pair figures");
    if (!agg || !mean_agg || !scratch || !all || !order) {
        free(agg), free(mean_agg), free(scratch), free(all), free(order);
        return -1;
    }
    for (int m = 0; m < E; m++) all[m] = m;
    /* aggregators of the full ensemble */
    t->n_aggregators = p->n_aggregators;
    for (int a = 0; a < p->n_aggregators; a++) {
        rm_aggregator kind = a < 3 ? (rm_aggregator)a : RM_AGG_UWO;
        double lambda = a < 3 ? 0.0 : p->uwo_lambda[a - 3];
        rm_aggregate(t->z, n * 2, all, E, n * 2, kind, lambda, agg, scratch);
        double hits = 0.0;
        for (size_t i = 0; i < n; i++) hits += correct(agg[2 * i], agg[2 * i + 1]);
        t->accuracy[a] = n ? hits / (double)n : NAN;
    }
    subset_figures(t, all, E, &t->accuracy[0], &t->mean_calibration, mean_agg);
    /* the reliability bins of the mean's P, both orders */
    calibration_acc bins;
    memset(&bins, 0, sizeof bins);
    for (size_t i = 0; i < n; i++) {
        double pm = 0.0;
        for (int m = 0; m < E; m++) pm += member_p(t, m, i);
        calibration_add(&bins, pm / E);
    }
    for (int b = 0; b < RM_CALIBRATION_BINS; b++) {
        t->bin_count[b] = bins.count[b];
        t->bin_mean_p[b] = bins.count[b] ? bins.p_sum[b] / bins.count[b] : NAN;
        t->bin_frac_chosen[b] = bins.count[b] ? bins.y_sum[b] / bins.count[b] : NAN;
    }
    /* each member alone, and their mean and spread */
    double acc_sum = 0.0, acc_ss = 0.0;
    rm_pairs_calibration cal_sum = {0, 0, 0};
    for (int m = 0; m < E; m++) {
        subset_figures(t, &all[m], 1, &t->member_accuracy[m], &t->member_calibration[m], agg);
        acc_sum += t->member_accuracy[m];
        cal_sum.ece += t->member_calibration[m].ece;
        cal_sum.brier += t->member_calibration[m].brier;
        cal_sum.log_loss += t->member_calibration[m].log_loss;
    }
    t->single_accuracy = acc_sum / E;
    for (int m = 0; m < E; m++) acc_ss += (t->member_accuracy[m] - t->single_accuracy) * (t->member_accuracy[m] - t->single_accuracy);
    t->single_accuracy_std = sqrt(acc_ss / E);
    t->single_calibration = (rm_pairs_calibration){cal_sum.ece / E, cal_sum.brier / E, cal_sum.log_loss / E};
    uncertainty_figures(t, mean_agg, order);
    /* the ensemble-size ablation: the plan's subsets of each size */
    int rc = ensemble_size_figures(t, p, agg);
    free(agg), free(mean_agg), free(scratch), free(all), free(order);
    return rc;
}

/* ---- output ---- */

static void json_calibration(FILE *f, const rm_pairs_calibration *c)
{
    fputs("{\"ece\": ", f);
    rm_eval_json_number(f, c->ece);
    fputs(", \"brier\": ", f);
    rm_eval_json_number(f, c->brier);
    fputs(", \"log_loss\": ", f);
    rm_eval_json_number(f, c->log_loss);
    fputc('}', f);
}

/* `, "ece<suffix>": x, "brier<suffix>": y, "log_loss<suffix>": z` of one calibration */
static void json_calibration_keys(FILE *f, const rm_pairs_calibration *c, const char *suffix)
{
    fprintf(f, ", \"ece%s\": ", suffix);
    rm_eval_json_number(f, c->ece);
    fprintf(f, ", \"brier%s\": ", suffix);
    rm_eval_json_number(f, c->brier);
    fprintf(f, ", \"log_loss%s\": ", suffix);
    rm_eval_json_number(f, c->log_loss);
}

void rm_pairs_test_json(FILE *f, const rm_pairs_test *t, const rm_eval_plan *p)
{
    int E = t->E;
    fprintf(f, ",\n\"pairs_test\": {\"n\": %zu, \"label\": \"human (chosen preferred)\",\n  \"aggregators\": {", t->n);
    for (int a = 0; a < t->n_aggregators; a++) {
        fprintf(f, "%s\"%s\": {\"accuracy\": ", a ? ", " : "", p->aggregator_names[a]);
        rm_eval_json_number(f, t->accuracy[a]);
        if (a == 0) {
            fputs(", \"calibration\": ", f);
            json_calibration(f, &t->mean_calibration);
        }
        fputc('}', f);
    }
    fputs("},\n  \"single\": {\"accuracy\": ", f);
    rm_eval_json_number(f, t->single_accuracy);
    fputs(", \"accuracy_std\": ", f);
    rm_eval_json_number(f, t->single_accuracy_std);
    fputs(", \"calibration\": ", f);
    json_calibration(f, &t->single_calibration);
    fputs("},\n  \"members\": {\"accuracy\": ", f);
    rm_eval_json_array(f, t->member_accuracy, E);
    const char *names[3] = {"ece", "brier", "log_loss"};
    double *v = malloc((size_t)E * sizeof(double));
    for (int c = 0; c < 3 && v; c++) {
        for (int m = 0; m < E; m++)
            v[m] = c == 0 ? t->member_calibration[m].ece : c == 1 ? t->member_calibration[m].brier : t->member_calibration[m].log_loss;
        fprintf(f, ", \"%s\": ", names[c]);
        rm_eval_json_array(f, v, E);
    }
    free(v);
    double coverage[RM_SELECTIVE_LEVELS];
    for (int j = 0; j < RM_SELECTIVE_LEVELS; j++) coverage[j] = (j + 1) / (double)RM_SELECTIVE_LEVELS;
    fputs("},\n  \"selective\": {\"coverage\": ", f);
    rm_eval_json_array(f, coverage, RM_SELECTIVE_LEVELS);
    fputs(", \"accuracy\": ", f);
    rm_eval_json_array(f, t->selective_accuracy, RM_SELECTIVE_LEVELS);
    fputs("},\n  \"disagreement_auroc\": ", f);
    rm_eval_json_number(f, t->disagreement_auroc);
    fputs(",\n  \"reliability\": {\"mean\": {\"count\": ", f);
    rm_eval_json_array(f, t->bin_count, RM_CALIBRATION_BINS);
    fputs(", \"mean_p\": ", f);
    rm_eval_json_array(f, t->bin_mean_p, RM_CALIBRATION_BINS);
    fputs(", \"frac_chosen\": ", f);
    rm_eval_json_array(f, t->bin_frac_chosen, RM_CALIBRATION_BINS);
    fputs("}},\n  \"ensemble_size\": [", f);
    for (int s = 0; s < p->n_sizes; s++) {
        fprintf(f, "%s\n    {\"k\": %d, \"subsets\": %d, \"accuracy\": ", s ? "," : "", p->sizes[s], p->size_subsets[s]);
        rm_eval_json_number(f, t->size_accuracy[s]);
        fputs(", \"accuracy_std\": ", f);
        rm_eval_json_number(f, t->size_accuracy_std[s]);
        json_calibration_keys(f, &t->size_calibration[s], "");
        /* the spread of the calibration over the subsets, after the older keys */
        json_calibration_keys(f, &t->size_calibration_std[s], "_std");
        fputc('}', f);
    }
    fputs("]}", f);
}

int rm_pairs_test_h5(hid_t file, const rm_pairs_test *t, const rm_eval_plan *p)
{
    hid_t g = rm_eval_h5_group(file, "pairs_test");
    if (g < 0) return -1;
    char label[64];
    rm_eval_h5_file_label(file, label, sizeof label);
    int rc = rm_h5_attr_int(g, "n", (long long)t->n);
    /* the members' standardised scores, [E, n, 2]: every figure follows from them and score_std */
    hsize_t dims[3] = {(hsize_t)t->E, (hsize_t)t->n, 2};
    hid_t space = rc == 0 ? H5Screate_simple(3, dims, NULL) : H5I_INVALID_HID;
    hid_t d = space >= 0 ? H5Dcreate2(g, "z", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
    if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->z) < 0)
        rc = rm_h5_fail(label, "/pairs_test/z", "H5Dwrite");
    if (d >= 0) H5Dclose(d);
    if (space >= 0) H5Sclose(space);
    hsize_t e = (hsize_t)t->E, levels = RM_SELECTIVE_LEVELS, a = (hsize_t)t->n_aggregators;
    if (rc == 0) rc = rm_eval_h5_doubles(g, "score_std", t->score_std, 1, &e);
    if (rc == 0) rc = rm_eval_h5_doubles(g, "member_accuracy", t->member_accuracy, 1, &e);
    if (rc == 0) rc = rm_eval_h5_doubles(g, "aggregator_accuracy", t->accuracy, 1, &a);
    if (rc == 0) rc = rm_eval_h5_doubles(g, "selective_accuracy", t->selective_accuracy, 1, &levels);
    if (rc == 0) rc = rm_h5_attr_double(g, "disagreement_auroc", t->disagreement_auroc);
    if (rc == 0) rc = rm_h5_attr_double(g, "mean_ece", t->mean_calibration.ece);
    if (rc == 0) rc = rm_h5_attr_double(g, "mean_brier", t->mean_calibration.brier);
    if (rc == 0) rc = rm_h5_attr_double(g, "mean_log_loss", t->mean_calibration.log_loss);
    (void)p;
    H5Gclose(g);
    return rc;
}

void rm_pairs_test_print(FILE *out, const rm_pairs_test *t, const rm_eval_plan *p)
{
    fprintf(out, "\nhuman-labelled test pairs (/pairs/test, %zu pairs): accuracy against the human label, a tie "
                 "counting half; calibration of P(chosen) on both orders\n", t->n);
    fprintf(out, "%-16s %9s %8s %8s %9s\n", "", "accuracy", "ECE", "Brier", "log loss");
    for (int a = 0; a < t->n_aggregators; a++) {
        fprintf(out, "%-16s %9.4f", p->aggregator_names[a], t->accuracy[a]);
        if (a == 0) fprintf(out, " %8.4f %8.4f %9.4f", t->mean_calibration.ece, t->mean_calibration.brier, t->mean_calibration.log_loss);
        fputc('\n', out);
    }
    fprintf(out, "%-16s %9.4f %8.4f %8.4f %9.4f   (members: std of accuracy %.4f)\n", "single (mean)", t->single_accuracy,
            t->single_calibration.ece, t->single_calibration.brier, t->single_calibration.log_loss, t->single_accuracy_std);
    fprintf(out, "selective accuracy of the mean (pairs where the members agree most first): ");
    for (int j = 0; j < RM_SELECTIVE_LEVELS; j++)
        fprintf(out, "%s%d%% %.3f", j ? ", " : "", (j + 1) * 100 / RM_SELECTIVE_LEVELS, t->selective_accuracy[j]);
    fprintf(out, "\nAUROC(std of P_m -> the mean errs) %.4f\n", t->disagreement_auroc);
    if (p->n_sizes > 0) {
        fprintf(out, "by ensemble size (mean aggregator, mean +- s.d. over subsets): ");
        for (int s = 0; s < p->n_sizes; s++)
            fprintf(out, "%sk=%d %.4f +- %.4f (ECE %.4f)", s ? ", " : "", p->sizes[s], t->size_accuracy[s],
                    t->size_accuracy_std[s], t->size_calibration[s].ece);
        fputc('\n', out);
    }
}
