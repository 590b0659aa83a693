/* rmens active's run state, shared by src/active/active.c (the rounds) and src/active/active_output.c
 * (active.h5, active.json and the round-boundary state). */
#ifndef RMENS_ACTIVE_ACTIVE_OUTPUT_H
#define RMENS_ACTIVE_ACTIVE_OUTPUT_H

#include "rmens/active/active_criteria.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"

enum { TRAIN_EPOCHS, TRAIN_BEST_EPOCH, TRAIN_LOSS, TRAIN_VAL_LOSS, TRAIN_VAL_ACCURACY, TRAIN_PAIRS, TRAIN_FIELDS };
enum { T_TRAIN, T_SCORE, T_SELECT, T_EVALUATE, T_FIELDS };

/* One round's record. Everything but `seconds` is the same for any rank count. */
typedef struct {
    long long labels;        /* labelled pairs the round's members trained on */
    size_t n_selected;
    uint32_t *selected;      /* [n_selected] pool indices, in the order picked (round 0: the initial set) */
    double crit[3];          /* criterion of the selected pairs at selection: mean, min, max (NaN in round 0) */
    double train[TRAIN_FIELDS]; /* mean over members at their kept epoch (TRAIN_PAIRS: the sum) */
    double label_agreement;  /* labelled pairs whose label agrees with the golden order */
    double seconds[T_FIELDS];   /* slowest rank */
    rm_ensemble_figures fig; /* rank 0 */
    rm_aggregate_figures warm; /* rank 0, when the record has warm: aggregators.warm */
} active_round;

typedef struct {
    char *output_h5, *output_json, *members, *state, *checkpoint;
} active_paths;

typedef struct {
    const rm_settings *cfg;
    rm_active_strategy strategy;
    MPI_Comm comm;
    int rank, size;
    const rm_store *store;
    rm_eval_plan plan;
    int warm;                /* every round reports aggregators.warm (ensemble.shared_init, eval.warm) */
    int n_rounds;            /* rounds recorded so far (0 .. active.rounds + 1) */
    active_round *rounds;    /* [active.rounds + 1] */
    double wall_seconds;
} active_record;

/* "<output>/active_members_<round>.h5": the members after a round (checkpoint format). */
char *rm_active_members_path(const rm_settings *cfg, int round);
/* Rank 0: active.h5 and active.json (atomically), from the records. */
int rm_active_write_outputs(const active_record *rec, const active_paths *paths);
/* Rank 0: the records of every finished round into paths->state (atomically). */
int rm_active_state_write(const active_record *rec, const char *path, const char *fingerprint);
/* Every rank: the records written by rm_active_state_write (figures only on rank 0 matter). */
int rm_active_state_read(active_record *rec, const char *path, const char *fingerprint);
void rm_active_rounds_free(active_record *rec);

#endif
