/* The writers of evaluation's results (src/eval/eval_output.c): results.json, the figures
 * and /predictions of results.h5, the table printed at the end, and the pieces `rmens
 * active` writes in the same layout (active.h5, active.json). */
#ifndef RMENS_EVAL_EVAL_OUTPUT_H
#define RMENS_EVAL_EVAL_OUTPUT_H

#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>

#include "rmens/base/config.h"
#include "rmens/ensemble/members_file.h"
#include "rmens/eval/eval_format.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/store/store.h"

/* Where the figures come from: version, config file, store identity, ranks, precision, CPU
 * (results.json "provenance", results.h5's root attributes). */
typedef struct {
    const rm_settings *cfg;
    const char *members_path;
    const rm_store *store;
    int ranks;
    double seconds;
    const rm_ensemble *ensemble;
} rm_eval_provenance;

/* results.json at path; results.h5's figures into the open file f (rank 0, serial). With
 * eval.bias_features both end with the feature-bias figures (layout in
 * rmens/eval/eval_bias.h: results.json "feature_bias", results.h5 /feature_bias/<view>);
 * without it neither has a byte more than before. */
int rm_eval_write_json(const char *path, const rm_eval_plan *p, const rm_eval_results *r, const rm_eval_provenance *prov);
int rm_eval_write_h5_figures(hid_t f, const rm_eval_plan *p, const rm_eval_results *r, const rm_eval_provenance *prov);
/* The table of figures and the diagnostics printed at the end of `rmens eval`. */
void rm_eval_print_table(FILE *out, const rm_eval_plan *p, const rm_eval_results *r);
void rm_eval_print_diagnostics(FILE *out, const rm_eval_plan *p, const rm_eval_results *r);
/* The "feature bias (<view>)" blocks of eval.bias_features (nothing without it). */
void rm_eval_print_bias(FILE *out, const rm_eval_plan *p, const rm_eval_results *r);

/* results.h5 /predictions [E, N, K], written collectively piece by piece as scored (an
 * rm_eval_sink of rmens/eval/eval_score.h: write and close). */
typedef struct {
    hid_t file, dset;
    const char *temp, *path; /* the temporary file written, the results.h5 it becomes */
    int E;
    size_t K;
} rm_eval_predictions;
int rm_eval_predictions_open(const char *temp, MPI_Comm comm, int E, size_t N, size_t K, hid_t *file, hid_t *dset);
int rm_eval_predictions_write(void *predictions, size_t q0, size_t q1, const float *z);
int rm_eval_predictions_close(void *predictions);

/* results.json / results.h5 pieces, for other result files with the same layout:
 * "aggregators", "agreement", "uncertainty" of e (JSON members, no braces around them),
 * and the groups aggregators/, agreement/, uncertainty/ under HDF5 group g. r: the full
 * ensemble's results when its calibration is to be written with them, else NULL. warm:
 * the figures of aggregators.warm (rmens/eval/warm.h) after the others, or NULL. */
void rm_eval_json_ensemble(FILE *f, const rm_eval_plan *p, const rm_ensemble_figures *e, const double *kl,
                           const char *indent, const rm_eval_results *r, const rm_aggregate_figures *warm);
int rm_eval_h5_ensemble(hid_t g, const rm_eval_plan *p, const rm_ensemble_figures *e, const rm_eval_results *r,
                        const rm_aggregate_figures *warm);

/* results.json / results.h5 parts of the calibration and error-by-disagreement figures. */
void rm_eval_json_calibration(FILE *f, const rm_calibration_figures *c, int with_bins);
void rm_eval_json_error_by_disagreement(FILE *f, const rm_disagreement_figures *d);
int rm_eval_h5_calibration(hid_t loc, const char *name, const rm_calibration_figures *c);
int rm_eval_h5_calibration_single(hid_t single, const rm_eval_plan *p, const rm_eval_results *r);
int rm_eval_h5_error_by_disagreement(hid_t unc, const rm_disagreement_figures *d);

#endif
