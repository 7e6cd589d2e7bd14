// SPDX-License-Identifier: MIT
/* common/buf.h: a growable byte buffer (encoders write into it; msgpack-c packers can use
 * cf_buf_msgpack_write as their write callback). */
#ifndef CF_COMMON_BUF_H
#define CF_COMMON_BUF_H

#include <stddef.h>

#include "common/status.h"

typedef struct cf_buf {
    char *data; /* owned; NULL until the first write */
    size_t len;
    size_t cap;
} cf_buf;

#define CF_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* cf_buf_append copies n bytes of p to the end; CF_ERR_NOMEM leaves the buffer unchanged. */
CF_MUST_CHECK cf_status cf_buf_append(cf_buf *b, const void *p, size_t n);

/* cf_buf_appendf appends printf output. */
CF_MUST_CHECK cf_status cf_buf_appendf(cf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cf_buf_cstr makes data NUL-terminated (not counted in len) and returns it; NULL on OOM. */
const char *cf_buf_cstr(cf_buf *b);

/* cf_buf_reset empties the buffer and keeps its memory; cf_buf_deinit frees it. */
void cf_buf_reset(cf_buf *b);
void cf_buf_deinit(cf_buf *b);

/* cf_buf_msgpack_write has msgpack_packer_write's shape: data is a cf_buf*. Returns 0 or -1. */
int cf_buf_msgpack_write(void *data, const char *buf, size_t len);

#endif
