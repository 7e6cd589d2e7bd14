// SPDX-License-Identifier: MIT
/* queue/control_request.h: control requests and their replies as bytes (SPEC §2, "Control
 * requests"): decoding a request a producer pushed on P:{Q}:control (untrusted bytes, read
 * with the bounds-checked queue/msgpack_scan.h reader), encoding one (the CLI's tests, the
 * contract vectors), and encoding and decoding a reply. No I/O. */
#ifndef CF_QUEUE_CONTROL_REQUEST_H
#define CF_QUEUE_CONTROL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"

#define CF_CONTROL_VERSION   1
#define CF_CONTROL_MAX_BYTES (96 * 1024) /* a whole request; a payload alone <= 64 KiB */
#define CF_CONTROL_ID_MAX    64

/* cf_control_request: one decoded request. Strings are NUL-terminated and owned by it
 * (cf_control_request_deinit); absent optional fields are NULL. */
typedef struct cf_control_request {
    char *id;        /* 1-64 bytes of [A-Za-z0-9_.:-]: names the reply key, makes it idempotent */
    char *op;        /* "signal", "cancel", ... (the worker's table decides which it knows) */
    char *wf_class;  /* `class` */
    char *key;       /* the workflow's key */
    char *reply;     /* the reply key: P:reply:<id> exactly, or absent (no reply wanted) */
    char *name;      /* signal: its name */
    char *payload;   /* signal: JSON text */
    char *signal_id; /* signal: its id (absent: the request id) */
    char *reason;    /* cancel: why */
    char *by;        /* who asks (a client-passed name) */
    double sent_at;  /* Unix seconds; 0 when absent */
} cf_control_request;

void cf_control_request_deinit(cf_control_request *r);

/* cf_control_request_decode decodes raw into *out. A refusal returns CF_ERR_INVALID with err's
 * code (not_msgpack, not_a_map, trailing_bytes, too_large, missing_field, wrong_type,
 * bad_value, unsupported_version), field and message; out->id is then still set when the bytes
 * held a valid id (so a refusal can be answered on its reply key), and out->reply too. */
CF_MUST_CHECK cf_status cf_control_request_decode(const void *raw, size_t len,
                                                  cf_control_request *out, cf_error *err);

/* cf_control_request_encode writes r (the fields that are non-NULL, in SPEC order, v first)
 * into b. CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_control_request_encode(const cf_control_request *r, cf_buf *b);

/* A reply: {v: 1, id, outcome: "accepted"|"refused", code, reason} (code and reason only when
 * refused). */
typedef struct cf_control_reply {
    char id[CF_CONTROL_ID_MAX + 1];
    bool accepted;
    char code[48];
    char reason[512];
} cf_control_reply;

CF_MUST_CHECK cf_status cf_control_reply_encode(const cf_control_reply *r, cf_buf *b);

/* cf_control_reply_decode: CF_ERR_INVALID when the bytes are not a reply. */
CF_MUST_CHECK cf_status cf_control_reply_decode(const void *raw, size_t len, cf_control_reply *out);

/* cf_control_id_valid: 1-64 bytes of [A-Za-z0-9_.:-]. */
bool cf_control_id_valid(const char *id, size_t len);

#endif
