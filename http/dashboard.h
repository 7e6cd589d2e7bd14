// SPDX-License-Identifier: MIT
/* http/dashboard.h: the web dashboard (`chronoforge dashboard`): its own libmicrohttpd daemon
 * serving server-rendered pages (home, workflows, workflow, queues, workers) and, unless
 * read-only, POST actions behind a login (a token) with CSRF protection. Every asset is in the
 * binary. Files: http/dash_server.c (daemon, routing), dash_auth.c (token, sessions, CSRF),
 * dash_html.c (escaping, layout, assets), dash_actions.c (the action table), one file per page
 * (dash_home.c, dash_workflows.c, dash_workflow.c, dash_queues.c, dash_workers.c). */
#ifndef CF_HTTP_DASHBOARD_H
#define CF_HTTP_DASHBOARD_H

#include <stdbool.h>

#include "common/status.h"
#include "queue/queue.h"
#include "store/store.h"
#include "worker/config.h"

#define CF_DASH_LISTEN_DEFAULT "127.0.0.1:9470"

typedef struct cf_dash_opts {
    const char *listen; /* ADDR:PORT */
    const char *token;  /* the login token (borrowed; copied); NULL or "": no login, no action */
    bool read_only;     /* no login, no action, whatever the token */
    const cf_config *cfg;
} cf_dash_opts;

typedef struct cf_dash cf_dash;

/* cf_dash_start serves the dashboard on o->listen until cf_dash_stop, reading s and q (borrowed;
 * used from the daemon's one thread only). CF_ERR_INVALID for a bad ADDR:PORT,
 * CF_ERR_UNAVAILABLE when it cannot listen; logged. */
CF_MUST_CHECK cf_status cf_dash_start(const cf_dash_opts *o, cf_store *s, cf_queue *q,
                                      cf_dash **out);
void cf_dash_stop(cf_dash *d); /* NULL-safe */

#endif
