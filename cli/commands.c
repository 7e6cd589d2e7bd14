// SPDX-License-Identifier: MIT
/* cli/commands.c: the command table. Adding a command: write cli/cmd_<name>.c with
 * cf_cli_cmd_<name>(), declare it here, add a row. */
#include "cli/commands.h"

#include <stddef.h>

const cf_cli_command cf_cli_commands[] = {
    {NULL, NULL, NULL},
};
