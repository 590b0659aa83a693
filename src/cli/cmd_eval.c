/* rmens eval: placeholder until its issue lands (replaced, never shipped as is). */
#include "cli.h"
#include "rmens/common.h"

int cmd_eval(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "rmens eval: not built yet\n");
    return 1;
}

const cli_verb VERB_EVAL = {"eval", "(pending)", "rmens eval", NULL, cmd_eval};
