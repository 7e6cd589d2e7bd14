// SPDX-License-Identifier: MIT
/* common/buf.c: growable byte buffer. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

static cf_status reserve(cf_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return CF_ERR_NOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return CF_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = cf_realloc(b->data, cap);
    if (p == NULL)
        return CF_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return CF_OK;
}

cf_status cf_buf_append(cf_buf *b, const void *p, size_t n)
{
    cf_status st = reserve(b, n);
    if (st != CF_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return CF_OK;
}

cf_status cf_buf_appendf(cf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CF_ERR_INVALID;
    cf_status st = reserve(b, (size_t)n);
    if (st != CF_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CF_OK;
}

const char *cf_buf_cstr(cf_buf *b)
{
    if (reserve(b, 0) != CF_OK)
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

void cf_buf_reset(cf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void cf_buf_deinit(cf_buf *b)
{
    cf_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int cf_buf_msgpack_write(void *data, const char *buf, size_t len)
{
    return cf_buf_append(data, buf, len) == CF_OK ? 0 : -1;
}
