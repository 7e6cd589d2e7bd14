// SPDX-License-Identifier: MIT
/* workflows/main.c: the stock `chronoforge` binary: registers the example workflows and hands
 * over to the library's command line. A user's own binary looks the same with its workflows. */
#include "chronoforge.h"

int main(int argc, char **argv)
{
    return cf_main(argc, argv);
}
