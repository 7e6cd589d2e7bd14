// SPDX-License-Identifier: MIT
/* cli/connect.c: connections for one-shot commands. */
#include "cli/connect.h"

#include "cli/args.h"

int cf_cli_open_queue(const char *cmd, const cf_config *cfg, cf_queue **out)
{
    cf_error err = {0};
    if (cf_queue_open(cfg->redis_url, cfg->prefix, NULL, NULL, out, &err) != CF_OK)
        return cf_cli_fail(cmd, "cannot reach Redis: %s", err.msg);
    return 0;
}

int cf_cli_open_store(const char *cmd, const cf_config *cfg, cf_store **out)
{
    cf_store_config sc = {
        .dsn = cfg->database_url,
        .max_connections = 2,
        .statement_timeout_ms = cfg->statement_timeout_ms,
        .io_timeout_ms = cfg->db_io_timeout_ms,
        .batch_max = 1,
        .no_prepared_statements = !cfg->pg_prepared_statements,
    };
    cf_error why = {0};
    if (cf_store_open(&sc, out, &why) != CF_OK)
        return cf_cli_fail(cmd, "cannot use Postgres: %s", why.msg);
    return 0;
}
