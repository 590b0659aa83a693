/* The MLP family's table: storage, moves and scoring of MLP members
 * (src/member/family_mlp.c; its trainer is rmens/member/train.h). */
#ifndef RMENS_MEMBER_FAMILY_MLP_H
#define RMENS_MEMBER_FAMILY_MLP_H

#include <hdf5.h>

#include "rmens/base/config.h"
#include "rmens/member/member.h"

extern const rm_family rm_family_mlp;

/* Member m's family: m->family, or this one, the MLP, when unset (members zeroed by calloc). */
const rm_family *rm_member_family(const rm_member *m);

/* members.h5: the member layers [first, end) into member group g (collective creation,
 * `writer` writes; a shared trunk's group RM_TRUNK_GROUP, rmens/member/trunk.h, is written
 * from any head). */
int rm_mlp_layers_write(hid_t g, const rm_settings *cfg, const rm_member *m, int dim, int first, int end, int writer,
                        const char *name);

#endif
