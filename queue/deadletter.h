// SPDX-License-Identifier: MIT
/* queue/deadletter.h: dead letters, P:{Q}:dead (SPEC §2). Pushing an entry (a msgpack map:
 * code, reason, field or nil, at, worker, queue, raw as bin cut to 64 KiB, raw_truncated)
 * atomically with removing the envelope from the worker's in-flight list and trimming the list
 * to its cap (Lua); listing and decoding entries for the CLI; retrying (raw bytes back to
 * ready) and purging (all, or older than a time). */
#ifndef CF_QUEUE_DEADLETTER_H
#define CF_QUEUE_DEADLETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

#define CF_DEAD_CAP_DEFAULT 10000
#define CF_DEAD_RAW_MAX     (64 * 1024)

/* cf_deadletter_reason is why an envelope is dead: code is one of SPEC §1's refusal codes (or
 * another stable code), reason is free text, field may be NULL (stored as nil). Borrowed. */
typedef struct cf_deadletter_reason {
    const char *code;
    const char *reason;
    const char *field;
} cf_deadletter_reason;

/* cf_deadletter_push encodes an entry for raw (borrowed) and, atomically in one script, removes
 * raw from P:{queue}:inflight:<q's worker id> (LREM 1; absent is fine), LPUSHes the
 * entry onto P:{queue}:dead and LTRIMs it to cap entries (cap <= 0: CF_DEAD_CAP_DEFAULT). The
 * entry's `at` is at_unix_ms (<= 0: the local clock). */
CF_MUST_CHECK cf_status cf_deadletter_push(cf_queue *q, const char *queue, const void *raw,
                                           size_t len, const cf_deadletter_reason *why,
                                           int64_t at_unix_ms, int64_t cap);

/* cf_deadletter_move is cf_deadletter_push for an envelope this worker has in flight: the entry
 * is pushed only if raw was removed from the in-flight list, in the same script, so a retry
 * after a lost reply never pushes a second entry. CF_ERR_NOT_FOUND (nothing pushed) when raw
 * was not in flight (already moved by an earlier attempt, or recovered by another worker). */
CF_MUST_CHECK cf_status cf_deadletter_move(cf_queue *q, const char *queue, const void *raw,
                                           size_t len, const cf_deadletter_reason *why,
                                           int64_t at_unix_ms, int64_t cap);

/* cf_deadletter is one decoded entry; every pointer is owned by the array returned from
 * cf_deadletter_list and freed by cf_deadletter_list_free. Strings are NUL-terminated. */
typedef struct cf_deadletter {
    char *code;
    char *reason;
    char *field; /* NULL when nil */
    int64_t at_unix_ms;
    char *worker;
    char *queue;
    char *raw; /* the envelope bytes (may contain NUL), raw_len of them */
    size_t raw_len;
    bool raw_truncated;
    char *entry; /* the stored entry bytes, entry_len of them (identifies it in the list) */
    size_t entry_len;
} cf_deadletter;

/* cf_deadletter_list reads up to limit entries of P:{queue}:dead, newest first, skipping the
 * newest `offset`. *out is an owned array of *n entries (free with cf_deadletter_list_free).
 * An entry that does not decode is returned with code "undecodable" and its bytes as raw. */
CF_MUST_CHECK cf_status cf_deadletter_list(cf_queue *q, const char *queue, size_t offset,
                                           size_t limit, cf_deadletter **out, size_t *n);
void cf_deadletter_list_free(cf_deadletter *list, size_t n);

/* cf_deadletter_decode decodes one stored entry (borrowed bytes) into *out, whose fields are
 * then owned (free them with cf_deadletter_clear; entry/entry_len stay NULL/0). CF_ERR_INVALID
 * when the bytes are not an entry, CF_ERR_NOMEM; *out is cleared on failure. */
CF_MUST_CHECK cf_status cf_deadletter_decode(const void *entry, size_t len, cf_deadletter *out);

/* cf_deadletter_clear frees every field of d and zeroes it (NULL-safe). */
void cf_deadletter_clear(cf_deadletter *d);

/* cf_deadletter_retry moves up to max (<= 0: all) entries of P:{queue}:dead, oldest first,
 * back onto P:{queue}:ready as their raw bytes, each atomically (LREM the entry + LPUSH raw).
 * Entries whose raw was truncated or that do not decode stay. *moved and *skipped may be NULL. */
CF_MUST_CHECK cf_status cf_deadletter_retry(cf_queue *q, const char *queue, int64_t max,
                                            int64_t *moved, int64_t *skipped);

/* cf_deadletter_purge deletes entries of P:{queue}:dead: all when older_than_unix_ms <= 0,
 * else those whose `at` is earlier (undecodable ones are kept). *removed may be NULL. */
CF_MUST_CHECK cf_status cf_deadletter_purge(cf_queue *q, const char *queue,
                                            int64_t older_than_unix_ms, int64_t *removed);

#endif
