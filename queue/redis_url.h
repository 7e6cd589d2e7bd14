// SPDX-License-Identifier: MIT
/* queue/redis_url.h: parsing of Redis connection URLs into a fixed-size description, with a
 * redacted form for messages. No I/O, no allocation; unit-tested on its own.
 *
 *   redis://[[user]:password@]host[:port][/db]      (host may be [v6addr]; port default 6379)
 *   unix://[[user]:password@]/path/to/redis.sock[?db=N]
 *   redis+cluster://[[user]:password@]host1[:port],host2[:port]...[/0]   (Redis Cluster: the
 *       hosts are seeds, any reachable one gives the slot map; 1-16 of them; database 0 only)
 *
 * user and password are percent-decoded ("p%40ss" is "p@ss"), so any byte but NUL can be
 * written. An empty user means Redis's default user (AUTH password); no password means no AUTH. */
#ifndef CF_QUEUE_REDIS_URL_H
#define CF_QUEUE_REDIS_URL_H

#include <stdbool.h>

#include "common/status.h"

typedef enum cf_redis_transport {
    CF_REDIS_TCP = 0,
    CF_REDIS_UNIX,
} cf_redis_transport;

/* cf_redis_url is a parsed URL. Plain data: copy it freely; wipe it with cf_redis_url_wipe()
 * when the password must not linger in memory. */
#define CF_REDIS_MAX_SEEDS 16

typedef struct cf_redis_seed {
    char host[256];
    int port;
} cf_redis_seed;

typedef struct cf_redis_url {
    cf_redis_transport transport;
    bool cluster; /* redis+cluster://: transport is TCP, host and port are the first seed */
    int nseeds;   /* cluster: seeds[0..nseeds) */
    cf_redis_seed seeds[CF_REDIS_MAX_SEEDS];
    char host[256];     /* TCP: host name or address, without IPv6 brackets */
    int port;           /* TCP: 1-65535 */
    char path[512];     /* UNIX: socket path */
    char user[128];     /* "" = default user */
    char password[256]; /* valid when has_password */
    bool has_password;
    int db;              /* 0 when absent */
    char redacted[1024]; /* the URL with the password replaced by "***", for log lines */
} cf_redis_url;

/* cf_redis_url_parse fills *out from url (borrowed). Returns CF_OK, or CF_ERR_INVALID with
 * err (may be NULL) naming the problem; err->msg never contains the password. *out is zeroed
 * on failure. */
CF_MUST_CHECK cf_status cf_redis_url_parse(const char *url, cf_redis_url *out, cf_error *err);

/* cf_redis_url_wipe overwrites the whole struct with zeros (the password included). */
void cf_redis_url_wipe(cf_redis_url *u);

#endif
