/* rmens train: placeholder until its issue lands (replaced, never shipped as is). */
#include "cli.h"
#include "rmens/common.h"

int cmd_train(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "rmens train: not built yet\n");
    return 1;
}

const cli_verb VERB_TRAIN = {"train", "(pending)", "rmens train", NULL, cmd_train};
