// SPDX-License-Identifier: MIT
/* queue/heartbeat.h: worker liveness. Each worker re-scores itself in P:workers (score = Redis
 * TIME in ms) from its own thread and connection, so a slow housekeeping pass never makes a
 * live worker look dead. Each beat also publishes what the worker is (P:worker:<id>: queues,
 * concurrency, busy executors, quiet state) and reads its quiet request, which `chronoforge
 * workers quiet|resume` or the worker itself (SIGTSTP) sets. Also the one-shot beat and the
 * graceful deregistration. */
#ifndef CF_QUEUE_HEARTBEAT_H
#define CF_QUEUE_HEARTBEAT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

#define CF_LEASE_DEFAULT_MS              10000
#define CF_HEARTBEAT_INTERVAL_DEFAULT_MS 2000

typedef struct cf_heartbeat cf_heartbeat; /* opaque; defined in queue/heartbeat.c */

/* cf_heartbeat_beat sets q's worker's score in P:workers to the server's TIME in ms (one
 * script, single key). */
CF_MUST_CHECK cf_status cf_heartbeat_beat(cf_queue *q);

/* What a worker publishes about itself each beat in P:worker:<id> (fields queues, concurrency,
 * busy, pid, host, started_at, quiet, quiet_request; the hash expires CF_WORKER_INFO_TTL_BEATS
 * beats after the last one, at least a minute). */
typedef struct cf_heartbeat_info {
    const char *queues;     /* comma-separated (copied) */
    int concurrency;        /* executor threads */
    const atomic_int *busy; /* executors inside a delivery now (borrowed; may be NULL) */
    atomic_bool *quiet;     /* where the quiet state is kept (borrowed; may be NULL: inside
                               the heartbeat). Lets threads that outlive the heartbeat read it */
} cf_heartbeat_info;

#define CF_WORKER_INFO_TTL_BEATS 30

/* cf_heartbeat_deregister removes q's worker from P:workers and deletes its P:held and
 * P:worker:<id> keys (graceful shutdown, after its in-flight lists are empty and its locks
 * released). */
CF_MUST_CHECK cf_status cf_heartbeat_deregister(cf_queue *q);

/* cf_heartbeat_start opens its own connection to url (borrowed; opts may be NULL), beats once
 * synchronously (so the worker is registered when this returns CF_OK), then starts a thread
 * that beats every interval_ms (<= 0: the default), reconnecting with backoff on errors and
 * logging them rate-limited. prefix and worker_id are copied. *out is owned: stop and free it
 * with cf_heartbeat_stop. err (may be NULL) explains a failure. */
CF_MUST_CHECK cf_status cf_heartbeat_start(const char *url, const cf_redis_opts *opts,
                                           const char *prefix, const char *worker_id,
                                           int64_t interval_ms, cf_heartbeat **out, cf_error *err);

/* cf_heartbeat_start_info is cf_heartbeat_start that also publishes info (may be NULL: only
 * the liveness score) each beat and follows the worker's quiet request. */
CF_MUST_CHECK cf_status cf_heartbeat_start_info(const char *url, const struct cf_redis_opts *opts,
                                                const char *prefix, const char *worker_id,
                                                int64_t interval_ms, const cf_heartbeat_info *info,
                                                cf_heartbeat **out, cf_error *err);

/* cf_heartbeat_quiet says whether the worker is quiet (takes no new envelopes): its request in
 * Redis as of the last beat, or a local cf_heartbeat_request_quiet. Thread-safe. */
bool cf_heartbeat_quiet(const cf_heartbeat *hb);

/* cf_heartbeat_request_quiet quiets the worker at once and records the request in Redis at the
 * next beat, so `chronoforge workers` shows it and `workers resume` undoes it (idempotent;
 * thread-safe; not for signal handlers: it logs). The heartbeat logs event=worker_quiet and
 * event=worker_resumed when the state changes. */
void cf_heartbeat_request_quiet(cf_heartbeat *hb);

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
