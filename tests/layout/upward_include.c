/* Must not compile against the base layer's header folder (tests/layout.cmake): the base
 * layer sees rmens/base/ only, so an include of a higher layer's header is an error. The
 * same file compiles against the top's folder, which the test's neighbour checks. */
#include "rmens/base/common.h"
#include "rmens/eval/eval.h"

int main(void) { return 0; }
