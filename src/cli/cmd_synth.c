/* rmens synth: placeholder until its issue lands (replaced, never shipped as is). */
#include "cli.h"
#include "rmens/common.h"

int cmd_synth(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "rmens synth: not built yet\n");
    return 1;
}

const cli_verb VERB_SYNTH = {"synth", "(pending)", "rmens synth", NULL, cmd_synth};
