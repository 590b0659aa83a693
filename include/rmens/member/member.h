/* One ensemble member and the family interface: the vocabulary every layer above shares.
 *
 * A member (rm_member) is an MLP (model.family = "mlp", rmens/model/model.h) or
 * gradient-boosted trees (model.family = "gbdt", XGBoost). Everything that stores, moves
 * or scores a member goes through its family's operations (rm_family, below; the tables
 * are rmens/member/family_mlp.h and family_gbdt.h), so members.h5, checkpoints,
 * evaluation and `rmens active` hold no per-family branches. Training a member of either
 * family, and which family member m of a run is: the registry, rmens/member/family.h. */
#ifndef RMENS_MEMBER_MEMBER_H
#define RMENS_MEMBER_MEMBER_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "rmens/base/config.h"
#include "rmens/model/model.h"

/* The train split as every rank of a node sees it (a node-shared window, or any array). */
typedef struct {
    const float *embeddings; /* [N * K * D] float32, item p*K+k at row p*K+k */
    const float *rewards;    /* [N * K] golden rewards */
    size_t n_prompts, n_responses, dim;
    const uint8_t *loaded;   /* NULL: every item's row is there; else [N * K], 1 where it
                                is (the rest were never read: rm_member_items_read) */
} rm_train_data;

/* 0 when every item of items[n] has its row in data (data->loaded); else the error, which
 * names `what`: reading a row that was never read is a bug, never a silent zero. */
int rm_train_data_require(const rm_train_data *data, const uint32_t *items, size_t n, const char *what);

/* A trained member: weights, standardisation and history. */
typedef struct {
    int index;               /* member number m in 0..E-1 */
    uint64_t seed;           /* rm_member_seed(cfg seed, m) */
    rm_mlp mlp;
    double score_mean, score_std; /* of the member's scores over all train responses */
    int epochs_run, best_epoch;   /* best_epoch: 1-based epoch whose weights were kept */
    double *train_loss, *val_loss, *val_accuracy; /* [epochs_run], owned */
    double train_seconds;
    long long pairs_trained;      /* pair gradient evaluations, all epochs */
    const struct rm_family *family; /* rmens/member/family.h; NULL: an MLP (members zeroed by calloc) */
    void *model;                  /* the model of families other than mlp, owned by the family */
} rm_member;

/* Called on the group's rank 0 after each epoch. */
typedef void (*rm_progress_fn)(const rm_member *m, int epoch, int epochs, double train_loss,
                               double val_loss, double val_accuracy, double pairs_per_second,
                               double eta_seconds, void *ctx);


/* Scoring state of one member for blocks of up to `capacity` rows. */
typedef struct {
    const rm_member *member;
    rm_mlp_workspace ws; /* mlp */
    void *priv;          /* gbdt */
} rm_member_scorer;

typedef struct rm_family {
    const char *name;
    /* What one step of its training is called in progress lines ("epoch", "round"). */
    const char *step;
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

/* Frees the model (through its family; no family: an MLP) and the history; zeroes *m. */
void rm_member_free(rm_member *m);

/* Non-zero when a trained member looks diverged, with the reason in why[n]: validation
 * accuracy below 0.5 at the kept epoch, or a training or validation loss that grew
 * tenfold (last against first epoch; kept against lowest). rm_train_member warns. */
int rm_member_divergence(const rm_member *m, char *why, size_t n);
/* The member's history as three rows of a table of width `stride` >= epochs_run:
 * rows[e] train loss, rows[stride + e] validation loss, rows[2 * stride + e] accuracy. */
void rm_member_history_rows(const rm_member *m, double *rows, int stride);

/* Score n items (flat indices, or rows 0..n-1 when items == NULL) of `embeddings` with
 * the member's MLP into scores[n], in minibatches. Local. */
int rm_member_score(const rm_mlp *mlp, const float *embeddings, size_t dim, const uint32_t *items,
                    size_t n, float *scores);



#endif
