/* Model families: what one ensemble member is made of.
 *
 * A member (rm_member, rmens/train.h) is an MLP (model.family = "mlp", rmens/model.h) or
 * gradient-boosted trees (model.family = "gbdt", XGBoost). Everything that trains, stores,
 * moves or scores a member goes through the family's operations below, so training,
 * members.h5, checkpoints, evaluation and `rmens active` hold no per-family branches.
 * Which family member m of a run is: rm_family_of_member (ensemble.families dealt
 * round-robin, else model.family). */
#ifndef RMENS_FAMILY_H
#define RMENS_FAMILY_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>

#include "rmens/config.h"
#include "rmens/model.h"
#include "rmens/train.h"

/* Scoring state of one member for blocks of up to `capacity` rows. */
typedef struct {
    const rm_member *member;
    rm_mlp_workspace ws; /* mlp */
    void *priv;          /* gbdt */
} rm_member_scorer;

typedef struct rm_family {
    const char *name;
    /* rm_train_member_controlled's contract (rmens/train.h). */
    int (*train)(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index, MPI_Comm group,
                 rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *control);
    /* Bytes of the stored model that every rank must know before a collective write
     * (0: the shape follows from the settings alone). Local, on the owner. */
    size_t (*model_bytes)(const rm_member *m);
    /* members.h5: the family's attributes of a member group (the MLP's architecture). */
    int (*write_attrs)(hid_t g, const rm_settings *cfg);
    /* members.h5: the model's objects in member group g (collective creation, `writer`
     * writes the data; m may be NULL elsewhere), and the reverse (local). */
    int (*write)(hid_t g, const rm_settings *cfg, const rm_member *m, int dim, size_t bytes, int writer, const char *name);
    int (*read)(hid_t g, rm_member *out, int dim, const char *name);
    /* checkpoint.h5: a finished or in-progress member's model (n_params: of an MLP member) */
    int (*checkpoint_write)(hid_t g, const rm_member *m, size_t n_params, size_t bytes, int writer, const char *name);
    int (*checkpoint_read)(hid_t g, rm_member *m, const rm_settings *cfg, int dim, size_t n_params, const char *name);
    /* The model from `root` to every rank of comm (collective; m's model allocated elsewhere). */
    int (*bcast)(rm_member *m, MPI_Comm comm, int rank, int root);
    /* dst's model = a copy of src's (dst's model empty before). */
    int (*copy)(rm_member *dst, const rm_member *src);
    int (*scorer_create)(rm_member_scorer *s, const rm_member *m, int capacity);
    /* raw[B] = scores of rows X[B, D]; `in`: X prepared by rm_mlp_input_prepare, or NULL. */
    int (*score)(rm_member_scorer *s, const float *X, rm_mlp_input *in, int B, float *raw);
    void (*scorer_free)(rm_member_scorer *s);
    /* Trainable parameters (mlp) or tree nodes (gbdt), for reports. */
    size_t (*n_params)(const rm_member *m);
    void (*free_model)(rm_member *m);
} rm_family;

extern const rm_family rm_family_mlp;
extern const rm_family rm_family_gbdt; /* without XGBoost at build time: every operation refuses */

/* "mlp" | "gbdt"; NULL (with an error naming `key`) for anything else. */
const rm_family *rm_family_named(const char *name, const char *key);
/* Member m's family under cfg: ensemble.families[m mod F] when given, else model.family. */
const rm_family *rm_family_of_member(const rm_settings *cfg, int m);
/* A member's family (members zeroed by calloc are MLPs). */
const rm_family *rm_member_family(const rm_member *m);
/* Whether any member of cfg's ensemble is of family f. */
int rm_settings_use_family(const rm_settings *cfg, const rm_family *f);
/* The family settings checked once per run, naming keys: gbdt.* keys given with no gbdt
 * member warn (on stderr when `warn`), gbdt without XGBoost is an error, and so is
 * active.warm_start with trees. */
int rm_family_check_settings(const rm_settings *cfg, int warn);
/* A small number per family (0 mlp, 1 gbdt) for exchanges between ranks, and back. */
int rm_family_id(const rm_family *f);
const rm_family *rm_family_from_id(int id);
/* A checkpoint fingerprint (malloc'd `text`, freed here) with the family settings
 * appended when any member is not an MLP (MLP-only fingerprints stay as they were). */
char *rm_family_fingerprint(const rm_settings *cfg, char *text);
/* History rows a member of cfg can need: train.epochs, or gbdt.rounds with tree members. */
int rm_settings_max_epochs(const rm_settings *cfg);
/* Whether this build has XGBoost. */
int rm_family_have_xgboost(void);

int rm_member_scorer_create(rm_member_scorer *s, const rm_member *m, int capacity);
int rm_member_scorer_score(rm_member_scorer *s, const float *X, rm_mlp_input *in, int B, float *raw);
void rm_member_scorer_free(rm_member_scorer *s);

/* Score n items (flat indices, or rows 0..n-1 when items == NULL) of `embeddings` with
 * member m into scores[n], in blocks. Local. */
int rm_member_score_items(const rm_member *m, const float *embeddings, size_t dim, const uint32_t *items, size_t n,
                          float *scores);

/* ---- the gbdt family's pieces that tests check against XGBoost and numerics ---- */

/* The Bradley-Terry pair loss as a per-row objective: for pairs (winner_row[p],
 * loser_row[p]) over rows with scores r, grad[i] and hess[i] are the first and second
 * derivatives of sum_p -log sigmoid(r_w - r_l) in r_i (the Hessian's diagonal), summed
 * over the pairs row i belongs to. Returns the summed loss. */
double rm_gbdt_bt_gradients(const float *scores, size_t n_rows, const uint32_t *winner_row, const uint32_t *loser_row,
                            size_t n_pairs, float *grad, float *hess);

#endif
