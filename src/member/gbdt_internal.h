/* The gbdt family's internals (src/member/family_gbdt.c: storage and scoring; src/member/gbdt_train.c:
 * training). Only built with XGBoost. */
#ifndef RMENS_GBDT_INTERNAL_H
#define RMENS_GBDT_INTERNAL_H

#include <xgboost/c_api.h>

#include "member_internal.h"

/* A tree member's model: the booster rmens scores with, always loaded from `json`, so
 * that what members.h5 holds is exactly what scores (in rmens and in python3-xgboost). */
typedef struct {
    BoosterHandle booster;
    char *json;  /* XGBoost's JSON model, owned */
    size_t len;
} rm_gbdt_model;

/* XGBoost's return code to ours: -1 with its last error and `what`. */
int rm_xgb_check(int rc, const char *what);
/* m->model = a booster loaded from json[len] (copied); `name` for the error of a corrupt model. */
int rm_gbdt_model_load(rm_member *m, const char *json, size_t len, const char *name);
/* Threads XGBoost runs on: the rank's BLAS threads (rm_set_blas_threads). */
int rm_gbdt_threads(void);
/* Margins (raw scores) of rows X[B, D] under `booster`. */
int rm_gbdt_predict_rows(BoosterHandle booster, const float *X, size_t B, size_t D, float *raw);

#endif
