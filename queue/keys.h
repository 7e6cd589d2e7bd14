// SPDX-License-Identifier: MIT
/* queue/keys.h: the one place that spells SPEC §2's key names, plus the identifiers that go
 * into them: queue names, worker ids (<hostname>:<pid>:<6 hex>) and lock tokens
 * (<worker-id>/<run-id>). Pure string building, no I/O. */
#ifndef CF_QUEUE_KEYS_H
#define CF_QUEUE_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"

/* CF_KEYSPACE_VERSION: the Redis keyspace this code speaks (SPEC §2), published by every worker in
 * P:worker:<id> as `keyspace` (a worker without the field speaks v1). */
#define CF_KEYSPACE_VERSION 2

/* Buffer sizes that always suffice for names built from valid parts (prefix <= 128 bytes,
 * queue <= 64, class <= 128, key <= 256, worker id <= 300). */
#define CF_KEY_MAX       1024
#define CF_WORKER_ID_MAX 320
#define CF_PREFIX_MAX    128

/* cf_queue_name_valid: [A-Za-z0-9_.-]{1,64} (SPEC §2). */
bool cf_queue_name_valid(const char *queue);

/* cf_prefix_valid: 1-128 bytes, no braces (they would break hash tags), no NUL. */
bool cf_prefix_valid(const char *prefix);

/* cf_keys_check returns CF_ERR_INVALID unless prefix is valid and queue (NULL: not checked) is
 * a valid queue name. */
CF_MUST_CHECK cf_status cf_keys_check(const char *prefix, const char *queue);

/* cf_worker_id_make writes "<hostname>:<pid>:<6 random hex>" into buf (cap >= CF_WORKER_ID_MAX
 * recommended). Returns CF_ERR_INVALID when it does not fit. */
CF_MUST_CHECK cf_status cf_worker_id_make(char *buf, size_t cap);

/* cf_lock_token_make writes "<worker-id>/<run-id>" into buf. CF_ERR_INVALID when it does not
 * fit or run_id is empty. */
CF_MUST_CHECK cf_status cf_lock_token_make(char *buf, size_t cap, const char *worker_id,
                                           const char *run_id);

/* Key builders: each writes the NUL-terminated key into buf (cap bytes) and returns its length,
 * or -1 when it does not fit (buf then holds ""). All arguments are borrowed. */
int cf_key_ready(char *buf, size_t cap, const char *prefix, const char *queue);
int cf_key_scheduled(char *buf, size_t cap, const char *prefix, const char *queue);
/* cf_key_due: P:{Q}:due, promoted wakes waiting ahead of the ready backlog (queue/schedule.h);
 * cf_key_wake: the pub/sub channel P:{Q}:wake, "<due ms>" when a new earliest entry enters
 * P:{Q}:scheduled. */
int cf_key_due(char *buf, size_t cap, const char *prefix, const char *queue);
int cf_key_wake(char *buf, size_t cap, const char *prefix, const char *queue);
/* cf_key_paused: P:{Q}:paused, the queue's pause flag (queue/pause.h), in the queue's slot so the
 * take and promote scripts read it atomically with the lists they move. */
int cf_key_paused(char *buf, size_t cap, const char *prefix, const char *queue);
int cf_key_inflight(char *buf, size_t cap, const char *prefix, const char *queue,
                    const char *worker_id);
int cf_key_dead(char *buf, size_t cap, const char *prefix, const char *queue);
/* Control requests (queue/control.h): P:{Q}:control, the list producers push them on;
 * P:{Q}:control:inflight:<worker-id>, those a worker has taken and not answered yet;
 * P:reply:<request id>, a request's reply (a key used alone). */
int cf_key_control(char *buf, size_t cap, const char *prefix, const char *queue);
int cf_key_control_inflight(char *buf, size_t cap, const char *prefix, const char *queue,
                            const char *worker_id);
int cf_key_reply(char *buf, size_t cap, const char *prefix, const char *request_id);
int cf_key_queues(char *buf, size_t cap, const char *prefix);
int cf_key_workers(char *buf, size_t cap, const char *prefix);
int cf_key_held(char *buf, size_t cap, const char *prefix, const char *worker_id);
/* P:worker:<id>: what a worker publishes about itself each beat, and its quiet request. */
int cf_key_worker_info(char *buf, size_t cap, const char *prefix, const char *worker_id);
/* cf_key_sweeper: P:sweeper, the fleet's healing-pass lease; cf_key_sweeper_suspects:
 * P:sweeper:suspects, the hash of locks the sweeper is watching (see queue/sweep.h). */
int cf_key_sweeper(char *buf, size_t cap, const char *prefix);
int cf_key_sweeper_suspects(char *buf, size_t cap, const char *prefix);
/* cf_key_lock: P:lock:<class>/<key>. */
int cf_key_lock(char *buf, size_t cap, const char *prefix, const char *wf_class,
                const char *wf_key);

#endif
