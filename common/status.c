// SPDX-License-Identifier: MIT
/* common/status.c: names of cf_status values, the transient/permanent split, and cf_error. */
#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cf_status_str(cf_status st)
{
    switch (st) {
    case CF_OK:
        return "ok";
    case CF_ERR_NOMEM:
        return "out_of_memory";
    case CF_ERR_IO:
        return "io";
    case CF_ERR_TIMEOUT:
        return "timeout";
    case CF_ERR_UNAVAILABLE:
        return "unavailable";
    case CF_ERR_PROTOCOL:
        return "protocol";
    case CF_ERR_INVALID:
        return "invalid";
    case CF_ERR_CONFLICT:
        return "conflict";
    case CF_ERR_NOT_FOUND:
        return "not_found";
    case CF_ERR_BUSY:
        return "busy";
    case CF_ERR_STATE:
        return "state";
    }
    return "unknown";
}

bool cf_status_is_transient(cf_status st)
{
    return st == CF_ERR_IO || st == CF_ERR_TIMEOUT || st == CF_ERR_UNAVAILABLE;
}

static void copy_bounded(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

cf_status cf_error_set(cf_error *err, const char *code, const char *field, const char *fmt, ...)
{
    if (err == NULL)
        return CF_ERR_INVALID;
    copy_bounded(err->code, sizeof err->code, code);
    copy_bounded(err->field, sizeof err->field, field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return CF_ERR_INVALID;
}
