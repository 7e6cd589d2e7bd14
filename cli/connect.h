// SPDX-License-Identifier: MIT
/* cli/connect.h: opening Redis and Postgres for one-shot commands, with one-line errors. */
#ifndef CF_CLI_CONNECT_H
#define CF_CLI_CONNECT_H

#include "queue/redis_conn.h"
#include "store/store.h"
#include "worker/config.h"

/* Each returns 0 on success, else prints "chronoforge <cmd>: ..." and returns 1. */
int cf_cli_open_redis(const char *cmd, const cf_config *cfg, cf_redis **out);
int cf_cli_open_store(const char *cmd, const cf_config *cfg, cf_store **out);

#endif
