// SPDX-License-Identifier: MIT
/* workflows/main.c: the stock `chronoforge` binary: registers the example workflows (and the
 * test workflow Exerciser when CHRONOFORGE_TEST_WORKFLOWS=1) and hands over to the library's
 * command line. A user's own binary looks the same with its own workflows. */
#include <stdlib.h>
#include <string.h>

#include "chronoforge.h"
#include "workflows/examples.h"

int main(int argc, char **argv)
{
    if (cf_examples_register_onboarding() || cf_examples_register_order() ||
        cf_examples_register_payment() || cf_examples_register_flaky_sync() ||
        cf_examples_register_renewal() || cf_examples_register_import())
        return 1;
    const char *test = getenv("CHRONOFORGE_TEST_WORKFLOWS");
    if (test && strcmp(test, "1") == 0 && cf_examples_register_exerciser())
        return 1;
    return cf_main(argc, argv);
}
