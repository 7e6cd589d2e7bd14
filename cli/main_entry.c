// SPDX-License-Identifier: MIT
/* cli/main_entry.c: cf_main, the command dispatcher shared by the stock binary and users' own
 * binaries: global flags, --version, --help, and the table of commands. */
#include <stdio.h>
#include <string.h>

#include "chronoforge.h"
#include "cli/commands.h"

const char *cf_version(void)
{
    return CF_VERSION_STRING;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: chronoforge COMMAND [options]\n\ncommands:\n");
    for (const cf_cli_command *c = cf_cli_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\n'chronoforge COMMAND --help' describes a command. --version prints the "
                 "version.\n");
}

int cf_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("chronoforge %s\n", cf_version());
        return 0;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (const cf_cli_command *c = cf_cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "chronoforge: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}
