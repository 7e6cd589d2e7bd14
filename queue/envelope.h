// SPDX-License-Identifier: MIT
/* queue/envelope.h: the job envelope (SPEC §1, wire format v1) and its msgpack codec. No I/O:
 * decode turns untrusted bytes into a validated cf_envelope or a refusal with a stable code and
 * the field it concerns; encode writes the canonical bytes, refusing what decode would refuse.
 *
 * Bumping the envelope version (v2):
 *   1. keep the v1 decoder as it is; add a `case 2` beside it in queue/envelope.c;
 *   2. extend cf_envelope with the new fields (zero = the v1 meaning) and teach encode to write
 *      v2 only when a v2 field is set, so old workers keep reading what new producers send;
 *   3. update docs/SPEC.md §1 (table, limits, codes) in the same commit, and add round-trip,
 *      refusal and contract (Ruby/Python) tests for the new version. */
#ifndef CF_QUEUE_ENVELOPE_H
#define CF_QUEUE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/status.h"

/* Limits of decode. max_bytes: an envelope longer than this is refused (`too_large`).
 * max_depth: how deep containers may nest. The envelope map is depth 0, the value of one of its
 * keys (the kwargs map, the options map) is depth 1, a container inside kwargs is depth 2, and
 * so on: a container at depth max_depth + 1 is refused (`too_deep`), so with the default 16 the
 * kwargs map can hold 15 more levels of arrays/maps below it. Scalars do not count. max_depth is
 * clamped to [1, CF_ENVELOPE_DEPTH_CAP]. */
typedef struct cf_envelope_limits {
    size_t max_bytes; /* 512 KiB */
    int max_depth;    /* 16 */
} cf_envelope_limits;

#define CF_ENVELOPE_LIMITS_DEFAULT ((cf_envelope_limits){512 * 1024, 16})
#define CF_ENVELOPE_DEPTH_CAP      64
#define CF_ENVELOPE_VERSION        1

/* A decoded (or to-be-encoded) envelope. Every string is a NUL-terminated copy (never a pointer
 * into the bytes it came from). Invariants after a successful decode:
 *   - version == 1; jid 1-64 bytes of valid UTF-8 without NUL;
 *   - wf_class 1-128 bytes of [A-Za-z0-9_.:]; key 1-256 bytes of valid UTF-8 without NUL;
 *   - queue "" when absent, else [A-Za-z0-9_.-]{1,64};
 *   - created_at (Unix seconds, finite, >= 0; an int on the wire is accepted) only when
 *     has_created_at;
 *   - kwargs and options are JSON objects (never NULL), holding only null, true/false,
 *     integers (int64), finite reals, UTF-8 strings without NUL, arrays and objects, nested
 *     within max_depth; kwargs has no reserved key (attempt, retry_counts, retry_workflow);
 *     options.max_duration, if present, is a number of seconds >= 0 or a duration string;
 *   - retry_workflow is false unless the envelope said true;
 *   - requested_by (1-256 bytes) and reason (0-1024 bytes), valid UTF-8 without NUL, "" when
 *     absent: who asks for a retry_workflow and why (meaningless without it).
 * For encode, kwargs and options may be NULL (= {}); empty ones are not written. */
typedef struct cf_envelope {
    int64_t version;    /* 1 */
    char jid[65];       /* 1-64 bytes */
    char wf_class[129]; /* 1-128 bytes of [A-Za-z0-9_.:] */
    char key[257];      /* 1-256 bytes valid UTF-8, no NUL */
    char queue[65];     /* "" when absent; else [A-Za-z0-9_.-]{1,64} */
    bool has_created_at;
    double created_at; /* Unix seconds */
    json_t *kwargs;    /* owned; always an object after a successful decode ({} when absent) */
    json_t *options;   /* owned; always an object ({} when absent); max_duration validated */
    bool retry_workflow;
    char requested_by[257]; /* "" when absent; a retry_workflow's requester, 1-256 bytes */
    char reason[1025];      /* "" when absent; a retry_workflow's reason, at most 1024 bytes */
} cf_envelope;

/* cf_envelope_decode parses raw[0..len) strictly into *out (overwritten; no need to init it).
 * raw is borrowed and nothing in *out points into it; on success the caller owns *out and
 * releases it with cf_envelope_deinit(). lim NULL means CF_ENVELOPE_LIMITS_DEFAULT.
 * On refusal returns CF_ERR_INVALID, leaves *out deinitialised (deinit is still safe) and fills
 * err (may be NULL): err->code is a SPEC §1 refusal code (not_msgpack, not_a_map,
 * trailing_bytes, missing_field, wrong_type, bad_value, too_large, too_deep, bad_utf8,
 * reserved_name, unsupported_version), err->field the path of the offending value
 * ("jid", "kwargs.items[2].price"; "" for the whole payload), err->msg a sentence for humans
 * (it becomes the dead-letter reason). bin and ext values anywhere are `wrong_type`; duplicate
 * keys at any level are `bad_value`. Returns CF_ERR_NOMEM when jansson cannot allocate.
 * Declared string, array and map sizes are checked against the remaining bytes before anything
 * is allocated, so a header declaring 2^32 elements costs nothing. */
CF_MUST_CHECK cf_status cf_envelope_decode(const char *raw, size_t len,
                                           const cf_envelope_limits *lim, cf_envelope *out,
                                           cf_error *err);

/* cf_envelope_deinit drops kwargs and options (json_decref) and sets them to NULL; NULL-safe
 * and idempotent. The struct itself is the caller's. */
void cf_envelope_deinit(cf_envelope *env);

/* cf_envelope_init_job prepares *env for a producer written in C (the CLI `enqueue`): version 1,
 * a fresh random jid, the given class and key, queue (NULL or "" = none), created_at = now,
 * kwargs/options NULL, retry_workflow false. The caller may then set kwargs/options (the
 * envelope takes ownership of what is stored there) and call cf_envelope_encode().
 * Returns CF_ERR_INVALID with err (may be NULL) filled like decode when a value breaks SPEC §1. */
CF_MUST_CHECK cf_status cf_envelope_init_job(cf_envelope *env, const char *wf_class,
                                             const char *key, const char *queue, cf_error *err);

/* cf_envelope_validate checks env against the same rules decode applies (default limits), so a
 * producer can report a reason; err (may be NULL) is filled like decode's. Borrows env. */
CF_MUST_CHECK cf_status cf_envelope_validate(const cf_envelope *env, cf_error *err);

/* cf_envelope_encode appends the msgpack form of env to out: a map with the keys in the fixed
 * order v, jid, class, key, queue, created_at, kwargs, options, retry_workflow, requested_by,
 * reason, writing only those that are set (queue non-empty, has_created_at, non-empty
 * kwargs/options, retry_workflow true, requested_by/reason non-empty). kwargs/options keys keep
 * their object order. Deterministic: equal envelopes give equal bytes. Borrows env. Returns
 * CF_ERR_INVALID when cf_envelope_validate refuses env or the result would exceed the default
 * max_bytes, CF_ERR_NOMEM on OOM; on any error out is left as it was. */
CF_MUST_CHECK cf_status cf_envelope_encode(const cf_envelope *env, cf_buf *out);

/* cf_envelope_encode_continuation appends the canonical continuation envelope of the workflow
 * (wf_class, key) to out: {v:1, jid:"c-"+24 hex chars of a stable 96-bit hash of
 * class NUL key, class, key, queue (omitted when NULL or "")}, with no kwargs and no
 * created_at. Every continuation of one workflow has the same bytes, so the scheduled sorted set
 * holds at most one (SPEC §2). The hash is FNV-1a based and the same on every platform and
 * run. Returns CF_ERR_INVALID for an invalid class, key or queue; CF_ERR_NOMEM on OOM. */
CF_MUST_CHECK cf_status cf_envelope_encode_continuation(const char *wf_class, const char *key,
                                                        const char *queue, cf_buf *out);

/* cf_envelope_is_continuation says whether env (decoded) is a continuation of its workflow
 * (its jid is the canonical continuation jid of its class and key) rather than a producer's
 * first delivery. A continuation carries no kwargs, so it must never create a workflow. */
bool cf_envelope_is_continuation(const cf_envelope *env);

/* cf_envelope_new_jid writes 24 random lowercase hex chars and a NUL into out. */
void cf_envelope_new_jid(char out[25]);

/* Validators shared with the CLI and clients; s[0..len) is borrowed, need not be NUL-terminated.
 * class: 1-128 bytes of [A-Za-z0-9_.:]. queue: 1-64 bytes of [A-Za-z0-9_.-] (the empty "no
 * queue" is the caller's business). */
bool cf_envelope_class_is_valid(const char *s, size_t len);
bool cf_envelope_queue_is_valid(const char *s, size_t len);

#endif
