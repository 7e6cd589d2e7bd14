// SPDX-License-Identifier: MIT
/* cli/cmd_migrate.c: `chronoforge migrate` (and `config`, which shows effective settings). */
#include <stdio.h>

#include "cli/cmd.h"
#include "cli/connect.h"
#include "cli/runner.h"
#include "engine/registry.h"
#include "store/migrate.h"
#include "worker/schedule_fire.h"

/* apply_schedules stores the schedules the registered classes declare (only here: never at
 * worker start, where a rolling deploy would flap them between two definitions). */
static cf_status apply_schedules(cf_cli_ctx *ctx)
{
    bool any = false;
    for (size_t i = 0; i < cf_registry_count(); i++)
        any |= cf_registry_at(i)->nschedules > 0;
    if (!any)
        return CF_OK;
    cf_store *store = NULL;
    if (cf_cli_open_store(ctx->cmd, &ctx->args.cfg, &store) != 0)
        return cf_cli_refuse(ctx, CF_ERR_UNAVAILABLE, "cannot open the store for schedules");
    int counts[3] = {0, 0, 0};
    cf_error err = {0};
    cf_status st = cf_schedules_apply_declared(store, "migrate", counts, &err);
    cf_store_close(store);
    if (st != CF_OK)
        return cf_cli_refuse(ctx, st, "%s", err.msg);
    printf("schedules declared in code: %d added, %d updated, %d unchanged\n", counts[0], counts[1],
           counts[2]);
    return CF_OK;
}

static cf_status migrate_body(cf_cli_ctx *ctx, void *arg)
{
    (void)arg;
    cf_error why = {0};
    int applied = 0;
    if (cf_store_migrate_counted(ctx->args.cfg.database_url, &applied, &why) != CF_OK)
        return cf_cli_refuse(ctx, CF_ERR_UNAVAILABLE, "%s", why.msg);
    if (applied)
        printf("migrated: applied %d migration%s (schema version %d)\n", applied,
               applied == 1 ? "" : "s", CF_SCHEMA_VERSION);
    else
        printf("schema is up to date (version %d)\n", CF_SCHEMA_VERSION);
    return apply_schedules(ctx);
}

int cf_cli_cmd_migrate(int argc, char **argv)
{
    static const cf_cli_opt opts[] = {{0}};
    static const cf_cli_runner r = {
        .spec =
            {
                .usage = "migrate [--database-url URL]",
                .summary = "Creates or upgrades the Postgres schema (idempotent; safe when many "
                           "processes run it at once). Refuses tables of the same names it did "
                           "not create.",
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .body = migrate_body, /* opens its own connection: it takes the migration lock */
    };
    return cf_cli_run(argc, argv, &r, NULL);
}

static cf_status config_body(cf_cli_ctx *ctx, void *arg)
{
    (void)arg;
    cf_config_show(&ctx->args.cfg, stdout);
    return CF_OK;
}

int cf_cli_cmd_config(int argc, char **argv)
{
    static const cf_cli_opt opts[] = {{0}};
    static const cf_cli_runner r = {
        .spec =
            {
                .usage = "config [options]",
                .summary = "Prints the effective settings (passwords redacted).",
                .opts = opts,
                .scope = CF_CFG_ALL | CF_CFG_WORKER,
            },
        .body = config_body,
    };
    return cf_cli_run(argc, argv, &r, NULL);
}
