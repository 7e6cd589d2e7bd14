// SPDX-License-Identifier: MIT
/* queue/heartbeat.h: worker liveness. Each worker re-scores itself in P:workers (score = Redis
 * TIME in ms) from its own thread and connection, so a slow housekeeping pass never makes a
 * live worker look dead. Also the one-shot beat and the graceful deregistration. */
#ifndef CF_QUEUE_HEARTBEAT_H
#define CF_QUEUE_HEARTBEAT_H

#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

#define CF_LEASE_DEFAULT_MS              10000
#define CF_HEARTBEAT_INTERVAL_DEFAULT_MS 2000

typedef struct cf_heartbeat cf_heartbeat; /* opaque; defined in queue/heartbeat.c */

/* cf_heartbeat_beat sets q's worker's score in P:workers to the server's TIME in ms (one
 * script, single key). */
CF_MUST_CHECK cf_status cf_heartbeat_beat(cf_queue *q);

/* cf_heartbeat_deregister removes q's worker from P:workers and deletes its P:held set
 * (graceful shutdown, after its in-flight lists are empty and its locks released). */
CF_MUST_CHECK cf_status cf_heartbeat_deregister(cf_queue *q);

/* cf_heartbeat_start opens its own connection to url (borrowed; opts may be NULL), beats once
 * synchronously (so the worker is registered when this returns CF_OK), then starts a thread
 * that beats every interval_ms (<= 0: the default), reconnecting with backoff on errors and
 * logging them rate-limited. prefix and worker_id are copied. *out is owned: stop and free it
 * with cf_heartbeat_stop. err (may be NULL) explains a failure. */
CF_MUST_CHECK cf_status cf_heartbeat_start(const char *url, const cf_redis_opts *opts,
                                           const char *prefix, const char *worker_id,
                                           int64_t interval_ms, cf_heartbeat **out, cf_error *err);

/* cf_heartbeat_last_ok_ms returns the monotonic time (cf_clock_mono_ms) of the last successful
 * beat; a worker whose last beat is older than its lease should assume it was recovered.
 * Thread-safe. */
int64_t cf_heartbeat_last_ok_ms(const cf_heartbeat *hb);

/* cf_heartbeat_beats returns how many beats succeeded so far (thread-safe; for tests/metrics). */
int64_t cf_heartbeat_beats(const cf_heartbeat *hb);

/* cf_heartbeat_stop stops the thread (returns within about a second: the sleep is interruptible
 * and the connection's timeouts bound a beat), closes its connection and frees hb (NULL-safe).
 * It does not deregister: call cf_heartbeat_deregister when leaving gracefully. */
void cf_heartbeat_stop(cf_heartbeat *hb);

#endif
