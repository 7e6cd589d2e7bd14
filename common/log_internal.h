// SPDX-License-Identifier: MIT
/* common/log_internal.h: what common/log.c shares with its JSON writer (common/log_json.c): the
 * line buffer and the fields of one line. Not for other modules. */
#ifndef CF_COMMON_LOG_INTERNAL_H
#define CF_COMMON_LOG_INTERNAL_H

#include <stddef.h>

#include "common/log.h"

/* A line buffer on the stack; output past its capacity is cut, never overflowed (room is kept
 * for the final '\n' and '\0'). */
typedef struct cf_log_line {
    char buf[4096];
    size_t len;
} cf_log_line;

void cf_log_line_put(cf_log_line *l, const char *s, size_t n);
void cf_log_line_putf(cf_log_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The fields of one line, in their order. kv: the caller's preformatted logfmt pairs (may be
 * NULL); event[0..event_len): the pairs that began the message ("event=name k=v"; NULL when it
 * did not); msg: the message's text. */
typedef struct cf_log_fields {
    const char *ts, *level;
    long pid;
    const char *component; /* may be NULL */
    const cf_log_ctx *ctx; /* may be NULL */
    const char *kv;
    const char *event;
    size_t event_len;
    const char *msg;
} cf_log_fields;

/* cf_log_json writes f to l as one JSON object (no newline). */
void cf_log_json(cf_log_line *l, const cf_log_fields *f);

#endif
