// SPDX-License-Identifier: MIT
/* tests/support/faultproxy.h: starting tests/support/faultproxy.py (a fault-injecting TCP
 * proxy; its header comment documents the faults) from a C test, talking to its control port,
 * and addresses that route a client through it. */
#ifndef CF_TESTS_SUPPORT_FAULTPROXY_H
#define CF_TESTS_SUPPORT_FAULTPROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct cf_faultproxy {
    pid_t pid;
    int port;     /* clients connect to 127.0.0.1:port */
    int ctl_port; /* the control line protocol */
} cf_faultproxy;

/* cf_faultproxy_start starts the proxy in front of the test Redis (proto "redis") or the test
 * Postgres ("postgres") with extra arguments (NULL-terminated, may be NULL), e.g.
 *   {"--match", "SET", "--after", "5", "--action", "reset", "--every", "50", NULL},
 * and reads its ports. Fails the test when it does not start. */
void cf_faultproxy_start(cf_faultproxy *p, const char *proto, const char *const *args);

/* cf_faultproxy_ctl sends one control line ("stats", "arm SET 3 reset", "stall 0", "resume",
 * "disarm") and copies the reply line (without newline) into out. Fails the test on I/O
 * errors or an "error: ..." reply. */
void cf_faultproxy_ctl(const cf_faultproxy *p, const char *line, char *out, size_t cap);

/* cf_faultproxy_stat reads one counter of "stats": "commands", "matched", "faults",
 * "connections" or "stalled". */
int64_t cf_faultproxy_stat(const cf_faultproxy *p, const char *name);

/* cf_faultproxy_stop ends the proxy (SIGTERM) and reaps it; a no-op when not started. */
void cf_faultproxy_stop(cf_faultproxy *p);

/* cf_faultproxy_redis_url writes CF_TEST_REDIS_URL with its host:port replaced by the
 * proxy's; cf_faultproxy_pg_dsn writes dsn (a keyword=value conninfo) with host and port
 * replaced by the proxy's. */
void cf_faultproxy_redis_url(const cf_faultproxy *p, char *out, size_t cap);
void cf_faultproxy_pg_dsn(const cf_faultproxy *p, const char *dsn, char *out, size_t cap);

#endif
