// SPDX-License-Identifier: MIT
/* common/status.h: the one status enum every module returns, its names, and whether an error
 * is worth retrying. Detailed messages live beside the status: in a connection's errstr, or in
 * a cf_error filled by stateless functions such as decoders. */
#ifndef CF_COMMON_STATUS_H
#define CF_COMMON_STATUS_H

#include <stdbool.h>

typedef enum cf_status {
    CF_OK = 0,
    CF_ERR_NOMEM,       /* allocation failed */
    CF_ERR_IO,          /* connection broke or a syscall failed: transient */
    CF_ERR_TIMEOUT,     /* a deadline passed: transient */
    CF_ERR_UNAVAILABLE, /* server down, loading, read-only: transient */
    CF_ERR_PROTOCOL,    /* the server answered something we do not understand */
    CF_ERR_INVALID,     /* bad input: permanent */
    CF_ERR_CONFLICT,    /* another run holds or took over the workflow (fence, lock) */
    CF_ERR_NOT_FOUND,   /* no such row, key or entry */
    CF_ERR_BUSY,        /* the resource is held; try later */
    CF_ERR_STATE,       /* the object is in a state that refuses the operation */
} cf_status;

#define CF_MUST_CHECK __attribute__((warn_unused_result))

/* cf_status_str returns a short stable name ("io", "conflict", ...); never NULL. */
const char *cf_status_str(cf_status st);

/* cf_status_is_transient says whether st is worth retrying with backoff (IO, TIMEOUT,
 * UNAVAILABLE); permanent errors go to dead letters or to the user. */
bool cf_status_is_transient(cf_status st);

/* cf_error carries the detail of a refusal from stateless functions: a stable code (for
 * envelopes, one of SPEC §1's refusal codes), a human message, and the field it concerns
 * ("" when none). Fixed-size so it never allocates. */
typedef struct cf_error {
    char code[32];
    char field[128];
    char msg[256];
} cf_error;

/* cf_error_set fills err (NULL-safe) and returns CF_ERR_INVALID, so decoders can write
 * `return cf_error_set(err, "wrong_type", "jid", "jid must be a string");`. */
cf_status cf_error_set(cf_error *err, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
