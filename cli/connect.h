// SPDX-License-Identifier: MIT
/* cli/connect.h: opening Redis and Postgres for one-shot commands, with one-line errors. */
#ifndef CF_CLI_CONNECT_H
#define CF_CLI_CONNECT_H

#include "queue/queue.h"
#include "store/store.h"
#include "worker/config.h"

/* Each returns 0 on success, else prints "chronoforge <cmd>: ..." and returns 1. */
int cf_cli_open_queue(const char *cmd, const cf_config *cfg, cf_queue **out); /* no worker id */
int cf_cli_open_store(const char *cmd, const cf_config *cfg, cf_store **out);

#endif
