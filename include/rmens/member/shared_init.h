/* Shared initialisation (ensemble.shared_init, WARM's training half; Ramé et al. 2024):
 * every MLP member starts from member 0's initial weights (src/member/shared_init.c).
 * The weight-averaged aggregator is evaluation's: rmens/eval/warm.h. */
#ifndef RMENS_MEMBER_SHARED_INIT_H
#define RMENS_MEMBER_SHARED_INIT_H

#include "rmens/base/config.h"
#include "rmens/model/model.h"

/* Member `index`'s initial weights into mlp (created with the member's shape): its own
 * stream, or member 0's with ensemble.shared_init. */
void rm_member_init_weights(rm_mlp *mlp, const rm_settings *cfg, int index);

/* A checkpoint fingerprint (malloc'd `text`, freed here) with " ensemble.shared_init=1"
 * appended when set: a checkpoint never resumes under the other initialisation, and
 * fingerprints without the key stay as they were. */
char *rm_shared_init_fingerprint(const rm_settings *cfg, char *text);

#endif
