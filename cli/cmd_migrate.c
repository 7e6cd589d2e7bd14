// SPDX-License-Identifier: MIT
/* cli/cmd_migrate.c: `chronoforge migrate` (and `config`, which shows effective settings). */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cmd.h"
#include "store/migrate.h"

int cf_cli_cmd_migrate(int argc, char **argv)
{
    static const cf_cli_opt opts[] = {{0}};
    static const cf_cli_command_spec spec = {
        .usage = "migrate [--database-url URL]",
        .summary = "Creates or upgrades the Postgres schema (idempotent; safe when many "
                   "processes run it at once). Refuses tables of the same names it did not "
                   "create.",
        .opts = opts,
        .scope = CF_CFG_ALL,
    };
    cf_cli_args a;
    int rc = cf_cli_parse(argc, argv, &spec, &a);
    if (rc >= 0)
        return rc;
    cf_error why = {0};
    int applied = 0;
    if (cf_store_migrate_counted(a.cfg.database_url, &applied, &why) != CF_OK)
        return cf_cli_fail("migrate", "%s", why.msg);
    if (applied)
        printf("migrated: applied %d migration%s (schema version %d)\n", applied,
               applied == 1 ? "" : "s", CF_SCHEMA_VERSION);
    else
        printf("schema is up to date (version %d)\n", CF_SCHEMA_VERSION);
    return 0;
}

int cf_cli_cmd_config(int argc, char **argv)
{
    static const cf_cli_opt opts[] = {{0}};
    static const cf_cli_command_spec spec = {
        .usage = "config [options]",
        .summary = "Prints the effective settings (passwords redacted).",
        .opts = opts,
        .scope = CF_CFG_ALL | CF_CFG_WORKER,
    };
    cf_cli_args a;
    int rc = cf_cli_parse(argc, argv, &spec, &a);
    if (rc >= 0)
        return rc;
    cf_config_show(&a.cfg, stdout);
    return 0;
}
