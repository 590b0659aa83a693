/* Shared initialisation (include/rmens/member/shared_init.h): member `index` starts from
 * its own initial weights, or member 0's with ensemble.shared_init. */
#define _GNU_SOURCE /* asprintf */
#include "rmens/member/shared_init.h"

#include <stdlib.h>

#include "rmens/base/common.h"
#include "rmens/base/rng.h"

void rm_member_init_weights(rm_mlp *mlp, const rm_settings *cfg, int index)
{
    /* shared: member 0's seed and stream, so member 0 is the same with or without the key */
    int from = cfg->ensemble_shared_init ? 0 : index;
    rm_mlp_init_uniform(mlp, rm_member_seed((uint64_t)cfg->seed, from), RM_STREAM_MEMBER(from, RM_MEMBER_INIT));
}

char *rm_shared_init_fingerprint(const rm_settings *cfg, char *text)
{
    if (!text || !cfg->ensemble_shared_init) return text;
    char *out = NULL;
    int n = asprintf(&out, "%s ensemble.shared_init=1", text);
    free(text);
    if (n < 0) {
        rm_errorf("out of memory (checkpoint fingerprint)");
        return NULL;
    }
    return out;
}
