// SPDX-License-Identifier: MIT
/* queue/queue.h: the queue handle every queue/ operation is called on: one Redis connection
 * (owned), the key prefix, and the worker id the in-flight lists, held locks and heartbeat
 * belong to (none for producers and the CLI). Like a cf_redis, a handle is used by one thread
 * at a time; give each thread its own.
 *
 * Errors (docs/conventions.md): every fallible queue/ call returns a cf_status and leaves the
 * detail in cf_queue_errstr(q) until the next call on q: a bad argument is described by the
 * queue layer itself, anything else is the connection's message. Nothing is printed. */
#ifndef CF_QUEUE_QUEUE_H
#define CF_QUEUE_QUEUE_H

#include "common/status.h"
#include "queue/mux.h"
#include "queue/redis_conn.h"

typedef struct cf_queue cf_queue; /* opaque; defined in queue/queue_internal.h */

/* cf_queue_open parses url (borrowed), connects once and returns an owned handle in *out (free
 * with cf_queue_free). prefix is copied and must be valid (keys.h); worker_id (copied) may be
 * NULL for producers and the CLI, and then every call that needs it (fetch, acks, locks,
 * holdings, heartbeat, leave) returns CF_ERR_INVALID. opts may be NULL (defaults). On failure
 * *out is NULL and err (may be NULL) says why, without any password. */
CF_MUST_CHECK cf_status cf_queue_open(const char *url, const char *prefix, const char *worker_id,
                                      const cf_redis_opts *opts, cf_queue **out, cf_error *err);

/* cf_queue_new is cf_queue_open without the first connect (the first command connects), for
 * workers that must start while Redis is away. CF_ERR_INVALID (err filled) or CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_queue_new(const char *url, const char *prefix, const char *worker_id,
                                     const cf_redis_opts *opts, cf_queue **out, cf_error *err);

/* cf_queue_new_shared is cf_queue_new on a client of the shared connection mux (queue/mux.h;
 * borrowed, must outlive the handle): every queue/ call works on it, except blocking ones
 * (cf_fetch's BLMOVE slices), which fail with CF_ERR_INVALID. */
CF_MUST_CHECK cf_status cf_queue_new_shared(cf_mux *mux, const char *prefix, const char *worker_id,
                                            cf_queue **out, cf_error *err);

/* cf_queue_free closes the connection and frees q (NULL-safe). */
void cf_queue_free(cf_queue *q);

/* cf_queue_redis returns q's connection (borrowed; valid while q), for commands queue/ does
 * not wrap (tests, stats) and for cf_redis_wait_reconnect. */
cf_redis *cf_queue_redis(cf_queue *q);

/* cf_queue_prefix and cf_queue_worker_id return what q was opened with (worker id: NULL when
 * none); valid while q. */
const char *cf_queue_prefix(const cf_queue *q);
const char *cf_queue_worker_id(const cf_queue *q);

/* cf_queue_errstr describes the last failed call on q (never a password); "" after a success.
 * Valid until the next call on q. */
const char *cf_queue_errstr(const cf_queue *q);

#endif
