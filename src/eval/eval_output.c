/* The writers of evaluation's results (include/rmens/eval/eval_output.h): results.json,
 * results.h5's figures and /predictions, and the table printed at the end; also the parts
 * `rmens active` writes in the same layout. */
#include "rmens/member/family_mlp.h"
#include "rmens/eval/eval_output.h"
#include "rmens/eval/eval_pairs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval_slots.h"
#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/kernels/precision.h"
#include "rmens/member/family.h"
#include "rmens/store/h5util.h"

/* The per-bin vectors of each figure, by name, in output order: one table for the JSON
 * and the HDF5 writers. */
static const char *const CALIBRATION_VECTORS[] = {"lower", "upper", "count", "mean_probability", "fraction_preferred"};
static const char *const DISAGREEMENT_VECTORS[] = {"disagreement", "error_rate", "count", "lower", "upper"};
#define N_VECTORS 5

static void calibration_vectors(const rm_calibration_figures *c, const double *values[N_VECTORS])
{
    values[0] = c->lower, values[1] = c->upper, values[2] = c->count, values[3] = c->mean_probability,
    values[4] = c->fraction_preferred;
}

static void disagreement_vectors(const rm_disagreement_figures *d, const double *values[N_VECTORS])
{
    values[0] = d->disagreement, values[1] = d->error_rate, values[2] = d->count, values[3] = d->lower, values[4] = d->upper;
}

/* {"name0": [...], "name1": [...], ...} */
static void json_vectors(FILE *f, const char *const *names, const double *const *values, int n_vectors, int n)
{
    for (int i = 0; i < n_vectors; i++) {
        fprintf(f, "%s\"%s\": ", i == 0 ? "{" : ", ", names[i]);
        rm_eval_json_array(f, values[i], n);
    }
    fputc('}', f);
}

static void json_bins(FILE *f, const rm_calibration_figures *c)
{
    const double *values[N_VECTORS];
    calibration_vectors(c, values);
    fputs(", \"bins\": ", f);
    json_vectors(f, CALIBRATION_VECTORS, values, N_VECTORS, RM_CALIBRATION_BINS);
}

void rm_eval_json_calibration(FILE *f, const rm_calibration_figures *c, int with_bins)
{
    fputs("{\"ece\": ", f);
    rm_eval_json_number(f, c->ece);
    fputs(", \"brier\": ", f);
    rm_eval_json_number(f, c->brier);
    fputs(", \"log_loss\": ", f);
    rm_eval_json_number(f, c->log_loss);
    if (with_bins) json_bins(f, c);
    fputc('}', f);
}

void rm_eval_json_error_by_disagreement(FILE *f, const rm_disagreement_figures *d)
{
    const double *values[N_VECTORS];
    disagreement_vectors(d, values);
    json_vectors(f, DISAGREEMENT_VECTORS, values, N_VECTORS, RM_DISAGREEMENT_BINS);
}

/* Datasets name[i] of `n` doubles each, in group g. */
static int h5_vectors(hid_t g, const char *const *names, const double *const *values, int n_vectors, hsize_t n)
{
    for (int i = 0; i < n_vectors; i++)
        if (rm_eval_h5_doubles(g, names[i], values[i], 1, &n) != 0) return -1;
    return 0;
}

int rm_eval_h5_calibration(hid_t loc, const char *name, const rm_calibration_figures *c)
{
    hid_t g = rm_eval_h5_group(loc, name);
    if (g < 0) return -1;
    int rc = rm_h5_attr_double(g, "ece", c->ece);
    if (rc == 0) rc = rm_h5_attr_double(g, "brier", c->brier);
    if (rc == 0) rc = rm_h5_attr_double(g, "log_loss", c->log_loss);
    const double *values[N_VECTORS];
    calibration_vectors(c, values);
    if (rc == 0) rc = h5_vectors(g, CALIBRATION_VECTORS, values, N_VECTORS, RM_CALIBRATION_BINS);
    char file[128];
    if (rc) rm_eval_h5_file_label(loc, file, sizeof file);
    H5Gclose(g);
    return rc ? rm_error_context("%s: calibration group '%s'", file, name) : 0;
}

int rm_eval_h5_calibration_single(hid_t single, const rm_eval_plan *p, const rm_eval_results *r)
{
    int E = p->n_members;
    if (rm_eval_h5_calibration(single, "calibration", &r->calibration_single) != 0) return -1;
    double *v = rm_alloc((size_t)E * 3, sizeof(double), "calibration figures");
    if (!v) return -1;
    for (int m = 0; m < E; m++) {
        v[m] = r->calibration_member[m].ece;
        v[E + m] = r->calibration_member[m].brier;
        v[2 * E + m] = r->calibration_member[m].log_loss;
    }
    hid_t g = H5Gopen2(single, "calibration", H5P_DEFAULT);
    char file[128];
    int rc = g < 0 ? rm_errorf("%s: cannot open /single/calibration", rm_eval_h5_file_label(single, file, sizeof file)) : 0;
    const char *names[] = {"member_ece", "member_brier", "member_log_loss"};
    const double *values[] = {v, v + E, v + 2 * E};
    if (rc == 0) rc = h5_vectors(g, names, values, 3, (hsize_t)E);
    if (g >= 0) H5Gclose(g);
    free(v);
    return rc;
}

int rm_eval_h5_error_by_disagreement(hid_t unc, const rm_disagreement_figures *d)
{
    hid_t g = rm_eval_h5_group(unc, "error_by_disagreement");
    if (g < 0) return -1;
    const double *values[N_VECTORS];
    disagreement_vectors(d, values);
    int rc = h5_vectors(g, DISAGREEMENT_VECTORS, values, N_VECTORS, RM_DISAGREEMENT_BINS);
    char file[128];
    if (rc) rm_eval_h5_file_label(unc, file, sizeof file);
    H5Gclose(g);
    return rc ? rm_error_context("%s: /uncertainty/error_by_disagreement", file) : 0;
}

static void json_families(FILE *f, const rm_eval_plan *p, const rm_eval_results *r, const rm_ensemble *e)
{
    if (!e) return;
    int other = 0;
    for (int m = 0; m < e->n_members; m++) other |= rm_family_id(rm_member_family(&e->members[m])) != 0;
    if (!other) return;
    fputs(",\n\"families\": {", f);
    int first = 1;
    for (int k = 0; k < rm_family_count(); k++) {
        const rm_family *family = rm_family_from_id(k);
        rm_aggregate_figures mean;
        memset(&mean, 0, sizeof mean);
        int n = 0;
        for (int m = 0; m < e->n_members; m++) {
            if (rm_member_family(&e->members[m]) != family) continue;
            const rm_aggregate_figures *s = &r->single[m];
            for (int j = 0; j < p->n_bon; j++) mean.bon[j] += s->bon[j];
            mean.spearman += s->spearman, mean.pair_accuracy += s->pair_accuracy, mean.bench_accuracy += s->bench_accuracy;
            n++;
        }
        if (n == 0) continue;
        fprintf(f, "%s\n  \"%s\": {\"members\": %d, \"bon\": {", first ? "" : ",", family->name, n);
        for (int j = 0; j < p->n_bon; j++) {
            fprintf(f, "%s\"%zu\": ", j ? ", " : "", p->bon_n[j]);
            rm_eval_json_number(f, mean.bon[j] / n);
        }
        fputs("}, \"spearman\": ", f);
        rm_eval_json_number(f, mean.spearman / n);
        fputs(", \"pair_accuracy\": ", f);
        rm_eval_json_number(f, mean.pair_accuracy / n);
        fputs(", \"bench_accuracy\": ", f);
        rm_eval_json_number(f, mean.bench_accuracy / n);
        fputc('}', f);
        first = 0;
    }
    fputs("\n}", f);
}

/* ---- output: JSON ---- */

static void json_bon(FILE *f, const rm_eval_plan *p, const double *values)
{
    fputc('{', f);
    for (int j = 0; j < p->n_bon; j++) {
        fprintf(f, "%s\"%zu\": ", j ? ", " : "", p->bon_n[j]);
        rm_eval_json_number(f, values[j]);
    }
    fputc('}', f);
}

/* The overoptimization diagnostics of an aggregate, after its older fields. */
static void json_diagnostics(FILE *f, const rm_eval_plan *p, const rm_aggregate_figures *a)
{
    fputs(", \"proxy_bon\": ", f);
    json_bon(f, p, a->proxy_bon);
    fputs(", \"pick_quantile\": ", f);
    rm_eval_json_number(f, a->pick_quantile);
    fputs(", \"above_median\": ", f);
    rm_eval_json_number(f, a->above_median);
}

/* "calibration": the figures, or null when eval.calibration_pairs = 0. */
static void json_calibration(FILE *f, const rm_eval_results *r, const rm_calibration_figures *c)
{
    fputs(", \"calibration\": ", f);
    if (r->calibration_pairs > 0) rm_eval_json_calibration(f, c, 1);
    else fputs("null", f);
}

static void json_aggregate(FILE *f, const rm_eval_plan *p, const rm_aggregate_figures *a, const double *kl,
                           const rm_eval_results *calibration)
{
    fputs("{\"bon\": ", f);
    json_bon(f, p, a->bon);
    fputs(", \"kl\": ", f);
    json_bon(f, p, kl);
    fputs(", \"spearman\": ", f);
    rm_eval_json_number(f, a->spearman);
    fputs(", \"pair_accuracy\": ", f);
    rm_eval_json_number(f, a->pair_accuracy);
    fputs(", \"bench_accuracy\": ", f);
    rm_eval_json_number(f, a->bench_accuracy);
    json_diagnostics(f, p, a);
    if (calibration) json_calibration(f, calibration, &calibration->calibration_mean);
    fputc('}', f);
}

/* r: the full ensemble's results, whose mean carries the calibration and whose
 * uncertainty the error by disagreement; NULL for an ablation entry. warm: the warm
 * aggregator's figures after the others (rmens/eval/warm.h), or NULL. */
static void json_ensemble(FILE *f, const rm_eval_plan *p, const rm_ensemble_figures *e, const double *kl, const char *indent,
                          const rm_eval_results *r, const rm_aggregate_figures *warm)
{
    fprintf(f, "\"aggregators\": {");
    for (int a = 0; a < p->n_aggregators; a++) {
        fprintf(f, "%s\n%s  \"%s\": ", a ? "," : "", indent, p->aggregator_names[a]);
        json_aggregate(f, p, &e->aggregate[a], kl, a == RM_AGG_MEAN ? r : NULL);
    }
    if (warm) {
        fprintf(f, ",\n%s  \"warm\": ", indent);
        json_aggregate(f, p, warm, kl, NULL);
    }
    fprintf(f, "\n%s},\n%s\"agreement\": {\"member_spearman\": ", indent, indent);
    rm_eval_json_number(f, e->member_spearman);
    fputs(", \"pair_agreement\": ", f);
    rm_eval_json_number(f, e->pair_agreement);
    fputs(", \"best_pick_agreement\": ", f);
    rm_eval_json_number(f, e->best_pick_agreement);
    fprintf(f, "},\n%s\"uncertainty\": {\"mean_std\": ", indent);
    rm_eval_json_number(f, e->mean_std);
    fputs(", \"std_rank_error_spearman\": ", f);
    rm_eval_json_number(f, e->std_rank_error_spearman);
    fputs(", \"disagreement_auroc\": ", f);
    rm_eval_json_number(f, e->disagreement_auroc);
    if (r) {
        fputs(", \"error_by_disagreement\": ", f);
        if (r->calibration_pairs > 0) rm_eval_json_error_by_disagreement(f, &r->error_by_disagreement);
        else fputs("null", f);
    }
    fputc('}', f);
}

void rm_eval_json_ensemble(FILE *f, const rm_eval_plan *p, const rm_ensemble_figures *e, const double *kl, const char *indent,
                          const rm_eval_results *r, const rm_aggregate_figures *warm)
{
    json_ensemble(f, p, e, kl, indent, r, warm);
}


/* Where the figures come from: version, config file, store identity, ranks, precision, CPU
 * (the merged config text itself is in results.h5). */
static void json_provenance(FILE *f, const rm_eval_provenance *prov)
{
    const rm_precision_info *precision = rm_precision_current();
    const char *keys[] = {"version", "config_file", "store", "store_uuid", "members_file", "precision",
                          "precision_requested", "precision_reason", "matmul_kernel", "cpu"};
    const char *values[] = {RMENS_VERSION, prov->cfg->source_path, prov->store->path, prov->store->uuid,
                            prov->members_path, precision->precision, precision->requested, precision->reason,
                            precision->kernel, precision->cpu};
    fputs("\"provenance\": {", f);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", keys[i]);
        rm_json_string(f, values[i]);
    }
    fprintf(f, ", \"ranks\": %d},\n", prov->ranks);
}

/* "feature_bias" after the other figures (eval.bias_features; nothing at all without it,
 * so results.json is byte-identical to an evaluation that never had the key):
 * {"<view>": {"golden", each aggregator's key, "warm" when evaluated, "single", "bon"}}. */
static void json_bias(FILE *f, const rm_eval_plan *p, const rm_eval_results *r)
{
    if (r->n_bias == 0) return;
    fputs(",\n\"feature_bias\": {", f);
    for (int i = 0; i < r->n_bias; i++) {
        const rm_bias_figures *b = &r->bias[i];
        fputs(i ? ",\n  " : "\n  ", f);
        rm_json_string(f, p->bias.names[i]);
        fputs(": {\"golden\": ", f);
        rm_eval_json_number(f, b->golden);
        for (int a = 0; a < p->n_aggregators + r->has_warm; a++) {
            fprintf(f, ", \"%s\": ", a < p->n_aggregators ? p->aggregator_names[a] : "warm");
            rm_eval_json_number(f, a < p->n_aggregators ? b->aggregate[a] : b->warm);
        }
        fputs(", \"single\": ", f);
        rm_eval_json_number(f, b->single);
        fputs(", \"bon\": ", f);
        json_bon(f, p, b->bon);
        fputc('}', f);
    }
    fputs("\n}", f);
}

int rm_eval_write_json(const char *path, const rm_eval_plan *p, const rm_eval_results *r, const rm_eval_provenance *prov)
{
    FILE *f = fopen(path, "w");
    if (!f) return rm_errorf("cannot create '%s': %s", path, strerror(errno));
    fprintf(f, "{\n\"members\": %d,\n", p->n_members);
    json_provenance(f, prov);
    json_ensemble(f, p, &r->full, r->kl, "", r, r->has_warm ? &r->warm : NULL);
    fputs(",\n\"single\": {\"bon\": ", f);
    json_bon(f, p, r->single_mean.bon);
    fputs(", \"kl\": ", f);
    json_bon(f, p, r->kl);
    fputs(", \"spearman\": ", f);
    rm_eval_json_number(f, r->single_mean.spearman);
    fputs(", \"pair_accuracy\": ", f);
    rm_eval_json_number(f, r->single_mean.pair_accuracy);
    fputs(", \"bench_accuracy\": ", f);
    rm_eval_json_number(f, r->single_mean.bench_accuracy);
    json_diagnostics(f, p, &r->single_mean);
    json_calibration(f, r, &r->calibration_single);
    fputs(",\n  \"std\": {\"bon\": ", f);
    json_bon(f, p, r->single_std.bon);
    fputs(", \"spearman\": ", f);
    rm_eval_json_number(f, r->single_std.spearman);
    fputs(", \"pair_accuracy\": ", f);
    rm_eval_json_number(f, r->single_std.pair_accuracy);
    fputs(", \"bench_accuracy\": ", f);
    rm_eval_json_number(f, r->single_std.bench_accuracy);
    json_diagnostics(f, p, &r->single_std);
    fputs("}}", f);
    json_families(f, p, r, prov->ensemble);
    fputs(",\n\"oracle_bon\": ", f);
    json_bon(f, p, r->oracle_bon);
    fputs(",\n\"ablation\": {", f);
    /* kl is the same for every subset: its spread over them is 0 */
    const double no_spread[RM_MAX_LIST] = {0};
    for (int i = 0; i < p->n_sizes; i++) {
        fprintf(f, "%s\n  \"%d\": {\"subsets\": %d,\n    ", i ? "," : "", p->sizes[i], p->size_subsets[i]);
        json_ensemble(f, p, &r->ablation[i], r->kl, "    ", NULL, r->has_warm ? &r->ablation_warm[i] : NULL);
        /* after the mean's keys, so readers of those see them unchanged */
        fputs(",\n    \"std_over_subsets\": {", f);
        json_ensemble(f, p, &r->ablation_std[i], no_spread, "      ", NULL, r->has_warm ? &r->ablation_warm_std[i] : NULL);
        fputs("}}", f);
    }
    fputs("\n}", f);
    json_bias(f, p, r);
    if (r->pairs_test) rm_pairs_test_json(f, r->pairs_test, p);
    fputs("\n}\n", f);
    /* Flushed and synced before the caller renames it into place: a full disk shows up
     * here (fwrite only fills the buffer), and after a crash the renamed file is whole. */
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    if (fclose(f) != 0 || bad) return rm_errorf("cannot write '%s': %s", path, strerror(bad ? saved : errno));
    return 0;
}

/* ---- output: HDF5 (rank 0, serial, after the collective /predictions if any) ---- */


static int h5_aggregate(hid_t loc, const char *name, const rm_eval_plan *p, const rm_aggregate_figures *a)
{
    hid_t g = rm_eval_h5_group(loc, name);
    if (g < 0) return -1;
    hsize_t n = (hsize_t)p->n_bon;
    int rc = rm_eval_h5_doubles(g, "bon", a->bon, 1, &n);
    if (rc == 0) rc = rm_h5_attr_double(g, "spearman", a->spearman);
    if (rc == 0) rc = rm_h5_attr_double(g, "pair_accuracy", a->pair_accuracy);
    if (rc == 0) rc = rm_h5_attr_double(g, "bench_accuracy", a->bench_accuracy);
    if (rc == 0) rc = rm_eval_h5_doubles(g, "proxy_bon", a->proxy_bon, 1, &n);
    if (rc == 0) rc = rm_h5_attr_double(g, "pick_quantile", a->pick_quantile);
    if (rc == 0) rc = rm_h5_attr_double(g, "above_median", a->above_median);
    char file[128];
    if (rc) rm_eval_h5_file_label(loc, file, sizeof file);
    H5Gclose(g);
    return rc ? rm_error_context("%s: /%s", file, name) : 0;
}

/* r: the full ensemble's results (the calibration of its mean, the error by
 * disagreement), NULL for an ablation entry; warm: aggregators/warm (rmens/eval/warm.h), or NULL. */
static int h5_ensemble(hid_t g, const rm_eval_plan *p, const rm_ensemble_figures *e, const rm_eval_results *r,
                       const rm_aggregate_figures *warm)
{
    hid_t aggs = rm_eval_h5_group(g, "aggregators");
    if (aggs < 0) return -1;
    int rc = 0;
    for (int a = 0; a < p->n_aggregators && rc == 0; a++) rc = h5_aggregate(aggs, p->aggregator_names[a], p, &e->aggregate[a]);
    if (rc == 0 && warm) rc = h5_aggregate(aggs, "warm", p, warm);
    if (rc == 0 && r && r->calibration_pairs > 0) rc = rm_eval_h5_calibration(aggs, "mean/calibration", &r->calibration_mean);
    H5Gclose(aggs);
    hid_t agr = rc == 0 ? rm_eval_h5_group(g, "agreement") : -1;
    if (agr < 0) return -1;
    rc = rm_h5_attr_double(agr, "member_spearman", e->member_spearman);
    if (rc == 0) rc = rm_h5_attr_double(agr, "pair_agreement", e->pair_agreement);
    if (rc == 0) rc = rm_h5_attr_double(agr, "best_pick_agreement", e->best_pick_agreement);
    H5Gclose(agr);
    hid_t unc = rc == 0 ? rm_eval_h5_group(g, "uncertainty") : -1;
    if (unc < 0) return -1;
    rc = rm_h5_attr_double(unc, "mean_std", e->mean_std);
    if (rc == 0) rc = rm_h5_attr_double(unc, "std_rank_error_spearman", e->std_rank_error_spearman);
    if (rc == 0) rc = rm_h5_attr_double(unc, "disagreement_auroc", e->disagreement_auroc);
    if (rc == 0 && r && r->calibration_pairs > 0) rc = rm_eval_h5_error_by_disagreement(unc, &r->error_by_disagreement);
    H5Gclose(unc);
    return rc;
}

int rm_eval_h5_ensemble(hid_t g, const rm_eval_plan *p, const rm_ensemble_figures *e, const rm_eval_results *r,
                        const rm_aggregate_figures *warm)
{
    return h5_ensemble(g, p, e, r, warm);
}

/* /feature_bias/<view> (eval.bias_features; not created without it): attributes golden,
 * each aggregator's key (warm when evaluated), single, feature_dim; datasets bon [n_bon]
 * (for /bon_n) and members [E], each member's own Spearman. */
static int h5_bias(hid_t f, const rm_eval_plan *p, const rm_eval_results *r)
{
    if (r->n_bias == 0) return 0;
    hid_t top = rm_eval_h5_group(f, "feature_bias");
    if (top < 0) return -1;
    hsize_t nb = (hsize_t)p->n_bon, ne = (hsize_t)p->n_members;
    int rc = 0;
    for (int i = 0; i < r->n_bias && rc == 0; i++) {
        const rm_bias_figures *b = &r->bias[i];
        hid_t g = rm_eval_h5_group(top, p->bias.names[i]);
        if (g < 0) {
            rc = -1;
            break;
        }
        rc = rm_h5_attr_double(g, "golden", b->golden);
        for (int a = 0; a < p->n_aggregators + r->has_warm && rc == 0; a++)
            rc = rm_h5_attr_double(g, a < p->n_aggregators ? p->aggregator_names[a] : "warm",
                                   a < p->n_aggregators ? b->aggregate[a] : b->warm);
        if (rc == 0) rc = rm_h5_attr_double(g, "single", b->single);
        if (rc == 0) rc = rm_h5_attr_int(g, "feature_dim", (long long)p->bias.dim[i]);
        if (rc == 0) rc = rm_eval_h5_doubles(g, "bon", b->bon, 1, &nb);
        if (rc == 0) rc = rm_eval_h5_doubles(g, "members", b->member, 1, &ne);
        H5Gclose(g);
        if (rc != 0) rm_error_context("results.h5: /feature_bias/%s", p->bias.names[i]);
    }
    H5Gclose(top);
    return rc;
}

/* /ablation/<k>/: attribute subsets, the member subsets [subsets, k], the figures averaged
 * over them and their spread over them in std_over_subsets/ (the same layout). */
static int h5_ablation(hid_t f, const rm_eval_plan *p, const rm_eval_results *r)
{
    hid_t abl = rm_eval_h5_group(f, "ablation");
    if (abl < 0) return -1;
    int rc = 0;
    for (int i = 0; i < p->n_sizes && rc == 0; i++) {
        char name[32];
        snprintf(name, sizeof name, "%d", p->sizes[i]);
        hid_t g = rm_eval_h5_group(abl, name);
        if (g < 0) {
            rc = -1;
            break;
        }
        rc = rm_h5_attr_int(g, "subsets", p->size_subsets[i]);
        /* the member subsets themselves, [subsets, k] */
        int k = p->sizes[i];
        int *lists = rc == 0 ? rm_alloc((size_t)p->size_subsets[i] * (size_t)k, sizeof(int), "results") : NULL;
        if (!lists) rc = -1;
        if (rc == 0) {
            for (int s = 0; s < p->size_subsets[i]; s++)
                memcpy(lists + (size_t)s * (size_t)k, p->subsets[p->size_first[i] + s].members, sizeof(int) * (size_t)k);
            hsize_t d[2] = {(hsize_t)p->size_subsets[i], (hsize_t)k};
            char file[128];
            rc = rm_h5_write_dataset(g, "members", H5T_STD_I32LE, H5T_NATIVE_INT, 2, d, lists, 1, 0,
                                     rm_eval_h5_file_label(g, file, sizeof file));
        }
        free(lists);
        if (rc == 0) rc = h5_ensemble(g, p, &r->ablation[i], NULL, r->has_warm ? &r->ablation_warm[i] : NULL);
        hid_t spread = rc == 0 ? rm_eval_h5_group(g, "std_over_subsets") : H5I_INVALID_HID;
        if (rc == 0 && spread < 0) rc = -1;
        if (rc == 0) rc = h5_ensemble(spread, p, &r->ablation_std[i], NULL, r->has_warm ? &r->ablation_warm_std[i] : NULL);
        if (spread >= 0) H5Gclose(spread);
        H5Gclose(g);
    }
    H5Gclose(abl);
    return rc;
}

int rm_eval_write_h5_figures(hid_t f, const rm_eval_plan *p, const rm_eval_results *r, const rm_eval_provenance *prov)
{
    int E = p->n_members;
    int rc = rm_h5_attrs_provenance(f, "rmens-results", 1, prov->cfg->config_text, prov->store->path, prov->store->uuid);
    if (rc == 0) rc = rm_h5_attr_string(f, "members_file", prov->members_path);
    if (rc == 0) rc = rm_h5_attr_int(f, "ranks", prov->ranks);
    if (rc == 0) rc = rm_h5_attr_int(f, "n_members", E);
    if (rc == 0) rc = rm_h5_attr_int(f, "test_prompts", (long long)prov->store->split[RM_SPLIT_TEST].n_prompts);
    if (rc == 0) rc = rm_h5_attr_int(f, "test_responses", (long long)p->n_responses);
    if (rc == 0) rc = rm_h5_attr_int(f, "bench_pairs", (long long)r->n_bench);
    if (rc == 0) rc = rm_h5_attr_double(f, "eval_seconds", prov->seconds);
    if (rc == 0) rc = rm_h5_attrs_precision(f);
    if (rc == 0) rc = rm_h5_attr_int(f, "calibration_pairs", (long long)r->calibration_pairs);
    if (rc == 0 && r->calibration_pairs > 0)
        rc = rm_h5_attr_double(f, "calibration_reward_scale", p->calibration.annotator.reward_scale);
    /* the annotator the outcomes were drawn with (the members', rmens/eval/eval_calibration.h) */
    if (rc == 0 && r->calibration_pairs > 0)
        rc = rm_h5_attr_double(f, "calibration_annotator_beta", p->calibration.annotator.beta);
    if (rc == 0 && r->calibration_pairs > 0)
        rc = rm_h5_attr_double(f, "calibration_label_flip", p->calibration.annotator.label_flip);
    if (rc != 0) return rm_error_context("results.h5: root attributes");
    hsize_t nb = (hsize_t)p->n_bon;
    long long bon_n[RM_MAX_LIST];
    for (int j = 0; j < p->n_bon; j++) bon_n[j] = (long long)p->bon_n[j];
    rc = rm_h5_write_dataset(f, "bon_n", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &nb, bon_n, 1, 0, "results.h5");
    if (rc == 0) rc = rm_eval_h5_doubles(f, "kl", r->kl, 1, &nb);
    if (rc == 0) rc = rm_eval_h5_doubles(f, "oracle_bon", r->oracle_bon, 1, &nb);
    if (rc == 0) rc = h5_ensemble(f, p, &r->full, r, r->has_warm ? &r->warm : NULL);
    if (rc != 0) return -1;
    hsize_t ee[2] = {(hsize_t)E, (hsize_t)E};
    if (rm_eval_h5_doubles(f, "agreement/member_spearman_matrix", r->member_spearman_matrix, 2, ee) != 0) return -1;

    /* singles: per member arrays, and the mean and spread over members */
    hid_t single = rm_eval_h5_group(f, "single");
    if (single < 0) return -1;
    double *bon = rm_alloc((size_t)E * (size_t)p->n_bon, sizeof(double), "results"), *v = rm_alloc((size_t)E, sizeof(double), "results");
    rc = bon && v ? 0 : -1;
    if (rc == 0) {
        for (int m = 0; m < E; m++) memcpy(bon + (size_t)m * (size_t)p->n_bon, r->single[m].bon, sizeof(double) * (size_t)p->n_bon);
        hsize_t d2[2] = {(hsize_t)E, nb}, d1 = (hsize_t)E;
        rc = rm_eval_h5_doubles(single, "bon", bon, 2, d2);
        for (int m = 0; m < E; m++) memcpy(bon + (size_t)m * (size_t)p->n_bon, r->single[m].proxy_bon, sizeof(double) * (size_t)p->n_bon);
        if (rc == 0) rc = rm_eval_h5_doubles(single, "proxy_bon", bon, 2, d2);
        for (int m = 0; m < E; m++) v[m] = r->single[m].pick_quantile;
        if (rc == 0) rc = rm_eval_h5_doubles(single, "pick_quantile", v, 1, &d1);
        for (int m = 0; m < E; m++) v[m] = r->single[m].above_median;
        if (rc == 0) rc = rm_eval_h5_doubles(single, "above_median", v, 1, &d1);
        for (int m = 0; m < E; m++) v[m] = r->single[m].spearman;
        if (rc == 0) rc = rm_eval_h5_doubles(single, "spearman", v, 1, &d1);
        for (int m = 0; m < E; m++) v[m] = r->single[m].pair_accuracy;
        if (rc == 0) rc = rm_eval_h5_doubles(single, "pair_accuracy", v, 1, &d1);
        for (int m = 0; m < E; m++) v[m] = r->single[m].bench_accuracy;
        if (rc == 0) rc = rm_eval_h5_doubles(single, "bench_accuracy", v, 1, &d1);
        if (rc == 0) rc = h5_aggregate(single, "mean", p, &r->single_mean);
        if (rc == 0) rc = h5_aggregate(single, "std", p, &r->single_std);
        if (rc == 0 && r->calibration_pairs > 0) rc = rm_eval_h5_calibration_single(single, p, r);
    }
    free(bon);
    free(v);
    H5Gclose(single);
    if (rc != 0) return -1;

    if (h5_ablation(f, p, r) != 0) return -1;
    rc = h5_bias(f, p, r);
    if (rc == 0 && r->pairs_test) rc = rm_pairs_test_h5(f, r->pairs_test, p);
    return rc;
}

/* ---- the table ---- */

static void print_number(FILE *out, double v, int width)
{
    if (isnan(v)) fprintf(out, " %*s", width, "-");
    else fprintf(out, " %*.4f", width, v);
}

void rm_eval_print_table(FILE *out, const rm_eval_plan *p, const rm_eval_results *r)
{
    fprintf(out, "\nbest-of-n golden reward (exact expectation over all n-subsets), KL = log n - (n-1)/n\n");
    fprintf(out, "%-16s", "n");
    for (int j = 0; j < p->n_bon; j++) fprintf(out, " %8zu", p->bon_n[j]);
    fprintf(out, " %8s %8s %8s\n%-16s", "spearman", "pair_acc", "bench", "KL");
    for (int j = 0; j < p->n_bon; j++) print_number(out, r->kl[j], 8);
    fputc('\n', out);
    for (int a = 0; a < p->n_aggregators + r->has_warm; a++) {
        const rm_aggregate_figures *g = a < p->n_aggregators ? &r->full.aggregate[a] : &r->warm;
        fprintf(out, "%-16s", a < p->n_aggregators ? p->aggregator_names[a] : "warm");
        for (int j = 0; j < p->n_bon; j++) print_number(out, g->bon[j], 8);
        print_number(out, g->spearman, 8);
        print_number(out, g->pair_accuracy, 8);
        print_number(out, g->bench_accuracy, 8);
        fputc('\n', out);
    }
    fprintf(out, "%-16s", "single (mean)");
    for (int j = 0; j < p->n_bon; j++) print_number(out, r->single_mean.bon[j], 8);
    print_number(out, r->single_mean.spearman, 8);
    print_number(out, r->single_mean.pair_accuracy, 8);
    print_number(out, r->single_mean.bench_accuracy, 8);
    fprintf(out, "\n%-16s", "single (std)");
    for (int j = 0; j < p->n_bon; j++) print_number(out, r->single_std.bon[j], 8);
    print_number(out, r->single_std.spearman, 8);
    print_number(out, r->single_std.pair_accuracy, 8);
    print_number(out, r->single_std.bench_accuracy, 8);
    fprintf(out, "\n%-16s", "oracle");
    for (int j = 0; j < p->n_bon; j++) print_number(out, r->oracle_bon[j], 8);
    fprintf(out, "\n\nagreement: member Spearman %.4f, pair agreement %.4f, best-pick agreement %.4f\n",
            r->full.member_spearman, r->full.pair_agreement, r->full.best_pick_agreement);
    fprintf(out, "uncertainty: mean std %.4f, Spearman(std, |rank error|) %.4f, AUROC(disagreement -> mean wrong) %.4f\n",
            r->full.mean_std, r->full.std_rank_error_spearman, r->full.disagreement_auroc);
    fprintf(out, "\nensemble-size ablation (mean over random subsets, s.d.: of bon(max n) over them; aggregator mean "
                 "unless named)\n");
    fprintf(out, "%4s %7s %10s %8s %10s %10s %10s %10s %9s %9s\n", "k", "subsets", "bon(max n)", "s.d.", "min bon",
            "spearman", "pair_acc", "bench", "agree", "auroc");
    for (int i = 0; i < p->n_sizes; i++) {
        const rm_ensemble_figures *e = &r->ablation[i];
        fprintf(out, "%4d %7d", p->sizes[i], p->size_subsets[i]);
        print_number(out, e->aggregate[0].bon[p->n_bon - 1], 10);
        print_number(out, r->ablation_std[i].aggregate[0].bon[p->n_bon - 1], 8);
        print_number(out, e->aggregate[1].bon[p->n_bon - 1], 10);
        print_number(out, e->aggregate[0].spearman, 10);
        print_number(out, e->aggregate[0].pair_accuracy, 10);
        print_number(out, e->aggregate[0].bench_accuracy, 10);
        print_number(out, e->pair_agreement, 9);
        print_number(out, e->disagreement_auroc, 9);
        fputc('\n', out);
    }
    if (!r->has_warm) return;
    fprintf(out, "warm (weight average of the same subsets): bon(max n), spearman, pair_acc by k:");
    for (int i = 0; i < p->n_sizes; i++) {
        const rm_aggregate_figures *w = &r->ablation_warm[i];
        fprintf(out, " k=%d %.4f %.4f %.4f;", p->sizes[i], w->bon[p->n_bon - 1], w->spearman, w->pair_accuracy);
    }
    fputc('\n', out);
}

/* The overoptimization diagnostics and the calibration, below the main table. */
void rm_eval_print_diagnostics(FILE *out, const rm_eval_plan *p, const rm_eval_results *r)
{
    int last = p->n_bon - 1;
    fprintf(out, "\noveroptimization at n = %zu: golden reward and proxy (the aggregate's own standardised score) of the\n"
                 "best-of-n pick; the best-of-K pick's golden quantile in its prompt and share above the prompt's median\n",
            p->bon_n[last]);
    fprintf(out, "%-16s %8s %8s %8s %8s %9s\n", "", "golden", "proxy", "gap", "quantile", "above_med");
    for (int a = 0; a <= p->n_aggregators + r->has_warm; a++) {
        int warm_row = r->has_warm && a == p->n_aggregators;
        const rm_aggregate_figures *g = a < p->n_aggregators ? &r->full.aggregate[a] : warm_row ? &r->warm : &r->single_mean;
        fprintf(out, "%-16s", a < p->n_aggregators ? p->aggregator_names[a] : warm_row ? "warm" : "single (mean)");
        print_number(out, g->bon[last], 8);
        print_number(out, g->proxy_bon[last], 8);
        print_number(out, g->proxy_bon[last] - g->bon[last], 8);
        print_number(out, g->pick_quantile, 8);
        print_number(out, g->above_median, 9);
        fputc('\n', out);
    }
    if (r->calibration_pairs == 0) return;
    const rm_calibration_figures *m = &r->calibration_mean, *s = &r->calibration_single;
    fprintf(out, "\ncalibration of P(a preferred) on %llu within-prompt test pairs against the annotator's outcomes\n"
                 "(reward scale %g): mean ensemble ECE %.4f, Brier %.4f, log loss %.4f; single members (mean) ECE %.4f, "
                 "Brier %.4f, log loss %.4f\n",
            (unsigned long long)r->calibration_pairs, p->calibration.annotator.reward_scale, m->ece, m->brier,
            m->log_loss, s->ece, s->brier, s->log_loss);
    const rm_disagreement_figures *d = &r->error_by_disagreement;
    fprintf(out, "error of the mean's preferred side by member disagreement std(P_m) (bin: error rate, pairs):\n ");
    for (int b = 0; b < RM_DISAGREEMENT_BINS; b++) {
        if (d->count[b] == 0) continue;
        fprintf(out, " [%g,%g%c %.3f (%.0f)", d->lower[b], d->upper[b], b + 1 < RM_DISAGREEMENT_BINS ? ')' : ']',
                d->error_rate[b], d->count[b]);
    }
    fputc('\n', out);
}

/* One block per eval.bias_features view: how strongly each scorer follows the feature
 * (a reward model that mostly ranks by length has a large rho here), and what ranking by
 * the feature alone would win against the mean aggregator. */
void rm_eval_print_bias(FILE *out, const rm_eval_plan *p, const rm_eval_results *r)
{
    int last = p->n_bon - 1;
    for (int i = 0; i < r->n_bias; i++) {
        const rm_bias_figures *b = &r->bias[i];
        fprintf(out, "\nfeature bias (%s): within-prompt Spearman of its first feature (of %zu) with each scorer, mean "
                     "over prompts\n ", p->bias.names[i], p->bias.dim[i]);
        fprintf(out, " golden %.4f", b->golden);
        for (int a = 0; a < p->n_aggregators + r->has_warm; a++)
            fprintf(out, ", %s %.4f", a < p->n_aggregators ? p->aggregator_names[a] : "warm",
                    a < p->n_aggregators ? b->aggregate[a] : b->warm);
        fprintf(out, ", single (mean) %.4f\n", b->single);
        fprintf(out, "  golden best-of-%zu ranking by the feature alone (higher wins): %.4f (mean aggregator %.4f, "
                     "oracle %.4f)\n", p->bon_n[last], b->bon[last], r->full.aggregate[RM_AGG_MEAN].bon[last],
                r->oracle_bon[last]);
    }
}

/* Collective create of the results file and its /predictions dataset [E, N, K]. */
int rm_eval_predictions_open(const char *temp, MPI_Comm comm, int E, size_t N, size_t K, hid_t *file, hid_t *dset)
{
    *file = rm_h5_create_parallel(temp, comm);
    if (*file < 0) return -1;
    hsize_t dims[3] = {(hsize_t)E, (hsize_t)N, (hsize_t)K};
    hid_t space = H5Screate_simple(3, dims, NULL);
    *dset = space < 0 ? -1 : H5Dcreate2(*file, "predictions", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (space >= 0) H5Sclose(space);
    if (*dset < 0) return rm_errorf("%s: cannot create dataset /predictions [%d, %zu, %zu]", temp, E, N, K);
    return 0;
}

/* Collective write of prompts [p0, p1) (possibly empty on this rank): z is [E][(p1-p0) K].
 * path: results.h5, for the message. */
static int write_predictions(hid_t dset, const char *path, int E, size_t p0, size_t p1, size_t K, const float *z)
{
    char why[256] = "";
    hid_t fspace = H5Dget_space(dset);
    hsize_t start[3] = {0, (hsize_t)p0, 0}, count[3] = {(hsize_t)E, (hsize_t)(p1 - p0), (hsize_t)K};
    hid_t mspace = H5Screate_simple(3, count, NULL);
    herr_t rc = fspace < 0 || mspace < 0 ? -1 : 0;
    if (rc == 0) {
        if (p1 > p0) rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
        else {
            H5Sselect_none(fspace);
            H5Sselect_none(mspace);
        }
    }
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (rc >= 0) rc = H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    if (rc >= 0) rc = H5Dwrite(dset, H5T_NATIVE_FLOAT, mspace, fspace, dxpl, z);
    if (rc < 0) rm_h5_reason(why, sizeof why, dset); /* before the closes clear HDF5's error stack */
    H5Pclose(dxpl);
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    return rc < 0 ? rm_errorf("%s: cannot write /predictions for prompts [%zu, %zu): %s", path, p0, p1, why) : 0;
}

/* /predictions of rmens eval: each piece written collectively as it is scored. */
int rm_eval_predictions_write(void *opaque, size_t q0, size_t q1, const float *z)
{
    rm_eval_predictions *ps = opaque;
    return write_predictions(ps->dset, ps->path, ps->E, q0, q1, ps->K, z);
}

int rm_eval_predictions_close(void *opaque)
{
    rm_eval_predictions *ps = opaque;
    int rc = 0;
    if (ps->dset >= 0) H5Dclose(ps->dset);
    ps->dset = -1;
    char why[256];
    if (ps->file >= 0 && H5Fclose(ps->file) < 0)
        rc = rm_errorf("%s: cannot close after writing /predictions: %s", ps->path, rm_h5_reason(why, sizeof why, -1));
    ps->file = -1;
    return rc;
}
