/* `rmens import`: build a store from the paper's released NumPy files.
 *
 * embd_<gen>_<embedder>_<task>_<split>.npy   (N, K, D) float32 or float16
 * reward_<gen>_<embedder>_<task>_<split>.npy (N, K, 1) or (N, K), float32/16/64
 * and optionally a benchmark's chosen/rejected embeddings (N_bench, D).
 * Every header is validated (rm_npy_open) and every shape cross-checked before the
 * output is created; data then streams through in pieces of at most chunk_bytes per rank
 * (at least one prompt), each piece checked for NaN/Inf before it is written. Ranks
 * import disjoint prompt ranges collectively. The store is written under a temporary
 * name and renamed when complete; on any failure the temporary file is removed. */
#ifndef RMENS_IMPORT_H
#define RMENS_IMPORT_H

#include <mpi.h>
#include <stddef.h>

typedef struct {
    const char *train_embeddings, *train_rewards, *test_embeddings, *test_rewards;
    const char *bench_chosen, *bench_rejected; /* both or neither */
    const char *output;
    /* The stored embeddings' precision: float16 forces IEEE half, float32 single (both: an
     * error); neither keeps the inputs' own: half when every embedding file is float16
     * (and no --log1p transform makes new values), else float32. */
    int float16, float32;
    int force;
    size_t chunk_bytes; /* 0: 64 MiB */
    /* Attributes; NULL: parsed from the embeddings' file names (embd_<gen>_<embedder>_<task>_<split>). */
    const char *embed_model, *response_model, *task;
    /* --view NAME: add the inputs as view NAME of the existing store `output` instead of
     * creating one. The embeddings must have the store's prompts and responses (N, K; the
     * bench pairs when the store has /bench), and the rewards files must equal the store's
     * rewards bit for bit as float32 (a mismatch: one line naming both files). The view
     * is written into a copy renamed over the store when complete: on any failure the
     * store is left as it was. A store with /pairs takes the view's chosen and rejected
     * files (train_chosen ... test_rejected, no group ids) of the store's N per split; the
     * inputs must be of the kinds the store holds (golden, pairs, or both), else one line. */
    const char *view;
    /* --log1p (with --view): store log(1 + x) of every value, for count features such as
     * lengths whose raw scale one long answer dominates; every x must be > -1 (else one
     * line naming file, prompt and response). Recorded as attribute transform = "log1p" on
     * /views/NAME. */
    int log1p;
    /* Human-labelled preference pairs (rmens/store/store_pairs.h): chosen and rejected
     * embeddings (n, D) per split, both splits or neither, and optional int64 group ids
     * (n,) per split (the dialogue or prompt of each pair; no group may be in both
     * splits). With the golden-reward inputs the pairs go beside them; alone they make a
     * store of pairs. */
    const char *train_chosen, *train_rejected, *train_groups;
    const char *test_chosen, *test_rejected, *test_groups;
} rm_import_args;

typedef struct {
    size_t bytes_read, bytes_written; /* .npy data read, embedding+reward data written (all ranks) */
    double seconds;
    int float16; /* the embeddings were stored as IEEE half (as resolved from the args) */
} rm_import_result;

int rm_import(const rm_import_args *args, MPI_Comm comm, rm_import_result *result);

#endif
