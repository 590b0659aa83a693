/* The MLP family's table (include/rmens/member/family_mlp.h): how an MLP member is
 * stored in members.h5 and checkpoints, moved between ranks, copied and scored. */
#include "rmens/member/family_mlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/member/trunk.h"
#include "rmens/store/h5util.h"

static size_t mlp_model_bytes(const rm_member *m) { (void)m; return 0; }

static int mlp_write_attrs(hid_t g, const rm_settings *cfg)
{
    int rc = rm_h5_attr_ints(g, "hidden", cfg->model_hidden, (size_t)cfg->model_n_hidden);
    rc |= rm_h5_attr_string(g, "objective", cfg->model_objective);
    rc |= rm_h5_attr_string(g, "activation", "relu");
    return rc;
}

/* /member_<m>/layer_<l>/weight [out, in] and bias [out], shapes from the settings. A
 * shared trunk's head holds its own layer only, with attribute `trunk` naming the group
 * of the others (rm_trunk_write). */
static int mlp_write(hid_t g, const rm_settings *cfg, const rm_member *m, int dim, size_t bytes, int writer,
                     const char *name)
{
    (void)bytes;
    int layers = cfg->model_n_hidden + 1, first = rm_settings_shared_trunk(cfg) ? layers - 1 : 0;
    if (first > 0 && rm_h5_attr_string(g, "trunk", RM_TRUNK_GROUP) != 0) return rm_error_context("/%s", name);
    return rm_mlp_layers_write(g, cfg, m, dim, first, layers, writer, name);
}

int rm_mlp_layers_write(hid_t g, const rm_settings *cfg, const rm_member *m, int dim, int first, int end, int writer,
                        const char *name)
{
    int rc = 0, layers = cfg->model_n_hidden + 1;
    for (int l = first; l < end && rc == 0; l++) {
        int in = l == 0 ? dim : cfg->model_hidden[l - 1];
        int out = l == layers - 1 ? 1 : cfg->model_hidden[l];
        char lname[32];
        snprintf(lname, sizeof lname, "layer_%d", l);
        hid_t lg = H5Gcreate2(g, lname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (lg < 0) { rc = rm_errorf("cannot create group /%s/%s", name, lname); break; }
        hsize_t wdims[2] = {(hsize_t)out, (hsize_t)in}, bdims[1] = {(hsize_t)out};
        const float *w = writer ? m->mlp.params + m->mlp.weight_offset[l] : NULL;
        const float *b = writer ? m->mlp.params + m->mlp.bias_offset[l] : NULL;
        rc = rm_h5_write_dataset(lg, "weight", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, wdims, w, writer, 1, name);
        if (rc == 0) rc = rm_h5_write_dataset(lg, "bias", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, bdims, b, writer, 1, name);
        H5Gclose(lg);
    }
    return rc;
}

static int mlp_read(hid_t g, rm_member *out, int dim, const char *name)
{
    int hidden[RM_MAX_HIDDEN + 1];
    size_t n_hidden = 0;
    int rc = rm_h5_read_attr_ints(g, "hidden", hidden, RM_MAX_HIDDEN, &n_hidden, name);
    if (rc == 0 && rm_mlp_create(&out->mlp, dim, hidden, (int)n_hidden) != 0) rc = rm_error_context("/%s", name);
    /* a shared trunk's head: every layer but its own from the trunk's group */
    char trunk[64] = "";
    htri_t has_trunk = rc == 0 ? H5Aexists(g, "trunk") : 0;
    if (has_trunk < 0) rc = rm_errorf("/%s: H5Aexists(trunk) failed", name);
    if (has_trunk > 0) rc = rm_h5_read_attr_string(g, "trunk", trunk, sizeof trunk, name);
    if (rc == 0 && has_trunk > 0 && trunk[0] != '/')
        rc = rm_errorf("/%s: attribute trunk = \"%s\" is not an absolute group path", name, trunk);
    for (int l = 0; rc == 0 && l < out->mlp.n_layers; l++) {
        char path[160];
        const char *from = trunk[0] && l < out->mlp.n_layers - 1 ? trunk : "";
        hsize_t wdims[2] = {(hsize_t)out->mlp.dims[l + 1], (hsize_t)out->mlp.dims[l]};
        hsize_t bdims[1] = {(hsize_t)out->mlp.dims[l + 1]};
        snprintf(path, sizeof path, "%s%slayer_%d/weight", from, from[0] ? "/" : "", l);
        rc = rm_h5_read_dataset(g, path, H5T_NATIVE_FLOAT, 2, wdims, out->mlp.params + out->mlp.weight_offset[l], name);
        snprintf(path, sizeof path, "%s%slayer_%d/bias", from, from[0] ? "/" : "", l);
        if (rc == 0) rc = rm_h5_read_dataset(g, path, H5T_NATIVE_FLOAT, 1, bdims, out->mlp.params + out->mlp.bias_offset[l], name);
    }
    return rc;
}

static int mlp_checkpoint_write(hid_t g, const rm_member *m, size_t n_params, size_t bytes, int writer, const char *name)
{
    (void)bytes;
    hsize_t np = n_params;
    return rm_h5_write_dataset(g, "params", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &np, writer ? m->mlp.params : NULL,
                               writer, 1, name);
}

static int mlp_checkpoint_read(hid_t g, rm_member *mm, const rm_settings *cfg, int dim, size_t n_params, const char *name)
{
    int rc = rm_mlp_create(&mm->mlp, dim, cfg->model_hidden, cfg->model_n_hidden);
    if (rc == 0 && mm->mlp.n_params != n_params) rc = rm_errorf("/%s: %zu parameters, expected %zu", name, n_params, mm->mlp.n_params);
    hsize_t np = n_params;
    if (rc == 0) rc = rm_h5_read_dataset(g, "params", H5T_NATIVE_FLOAT, 1, &np, mm->mlp.params, name);
    return rc;
}

/* Architecture first, then the parameter block. */
static int mlp_bcast(rm_member *m, MPI_Comm comm, int rank, int root)
{
    int arch[RM_MAX_LAYERS + 2] = {0};
    if (rank == root) {
        arch[0] = m->mlp.n_layers;
        for (int l = 0; l <= m->mlp.n_layers; l++) arch[1 + l] = m->mlp.dims[l];
    }
    MPI_Bcast(arch, RM_MAX_LAYERS + 2, MPI_INT, root, comm);
    int rc = 0;
    if (rank != root) {
        int hidden[RM_MAX_LAYERS];
        for (int l = 1; l < arch[0]; l++) hidden[l - 1] = arch[1 + l];
        rc = rm_mlp_create(&m->mlp, arch[1], hidden, arch[0] - 1);
    }
    if (rm_all_ok(comm, rc) != 0) return -1;
    /* Parameters can exceed INT_MAX floats only for absurd models; send in slices. */
    size_t done = 0;
    while (done < m->mlp.n_params) {
        size_t n = m->mlp.n_params - done;
        if (n > (1u << 30)) n = 1u << 30;
        MPI_Bcast(m->mlp.params + done, (int)n, MPI_FLOAT, root, comm);
        done += n;
    }
    return 0;
}

static int mlp_copy(rm_member *dst, const rm_member *src)
{
    if (rm_mlp_create(&dst->mlp, src->mlp.dims[0], src->mlp.dims + 1, src->mlp.n_layers - 1) != 0) return -1;
    memcpy(dst->mlp.params, src->mlp.params, src->mlp.n_params * sizeof(float));
    return 0;
}

/* The weights packed once for the products, not in every block's forward. */
static int mlp_scorer_create(rm_member_scorer *s, const rm_member *m, int capacity)
{
    int rc = rm_mlp_workspace_create(&s->ws, &m->mlp, capacity);
    if (rc == 0) rc = rm_mlp_workspace_pack(&s->ws, &m->mlp);
    return rc;
}

static int mlp_score(rm_member_scorer *s, const float *X, rm_mlp_input *in, int B, float *raw)
{
    rm_mlp_forward_frozen(&s->member->mlp, &s->ws, X, in, B, raw);
    return 0;
}

static void mlp_scorer_free(rm_member_scorer *s) { rm_mlp_workspace_free(&s->ws); }
static size_t mlp_n_params(const rm_member *m) { return m->mlp.n_params; }
static void mlp_free_model(rm_member *m) { rm_mlp_free(&m->mlp); }

const rm_family rm_family_mlp = {
    "mlp", "epoch", mlp_model_bytes, mlp_write_attrs, mlp_write, mlp_read, mlp_checkpoint_write, mlp_checkpoint_read,
    mlp_bcast, mlp_copy, mlp_scorer_create, mlp_score, mlp_scorer_free, mlp_n_params, mlp_free_model,
};

const rm_family *rm_member_family(const rm_member *m) { return m->family ? m->family : &rm_family_mlp; }
