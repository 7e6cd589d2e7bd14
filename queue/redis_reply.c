// SPDX-License-Identifier: MIT
/* queue/redis_reply.c: cf_reply trees, our own copy of a hiredis reply, so hiredis types never
 * leave queue/redis_conn*.c: conversion, freeing, stealing a string. */
#include <string.h>

#include "common/alloc.h"
#include "queue/redis_conn_impl.h"

static void reply_clear(cf_reply *rep)
{
    if (rep->type == CF_REPLY_ARRAY) {
        for (size_t i = 0; i < rep->n; i++)
            reply_clear(&rep->elem[i]);
        cf_free(rep->elem);
    } else {
        cf_free(rep->str);
    }
    memset(rep, 0, sizeof *rep);
}

void cf_reply_free(cf_reply *rep)
{
    if (rep == NULL)
        return;
    reply_clear(rep);
    cf_free(rep);
}

char *cf_reply_take_str(cf_reply *rep, size_t *len)
{
    if (rep == NULL || rep->type == CF_REPLY_ARRAY || rep->str == NULL)
        return NULL;
    char *s = rep->str;
    if (len)
        *len = rep->len;
    rep->str = NULL;
    rep->len = 0;
    return s;
}

/* convert copies a hiredis reply into dst (zeroed). Returns false on OOM (dst cleared). */
bool cf_redis_reply_convert(const redisReply *src, cf_reply *dst)
{
    switch (src->type) {
    case REDIS_REPLY_INTEGER:
        dst->type = CF_REPLY_INTEGER;
        dst->integer = src->integer;
        return true;
    case REDIS_REPLY_NIL:
        dst->type = CF_REPLY_NIL;
        return true;
#if HIREDIS_MAJOR >= 1
    /* RESP3 types: we never send HELLO 3, but map them rather than misread them. */
    case REDIS_REPLY_BOOL:
        dst->type = CF_REPLY_INTEGER;
        dst->integer = src->integer;
        return true;
    case REDIS_REPLY_MAP:
    case REDIS_REPLY_SET:
    case REDIS_REPLY_PUSH:
#endif
    case REDIS_REPLY_ARRAY:
        dst->type = CF_REPLY_ARRAY;
        if (src->elements == 0)
            return true;
        dst->elem = cf_calloc(src->elements, sizeof *dst->elem);
        if (dst->elem == NULL)
            return false;
        dst->n = src->elements;
        for (size_t i = 0; i < src->elements; i++) {
            if (!cf_redis_reply_convert(src->element[i], &dst->elem[i])) {
                reply_clear(dst);
                return false;
            }
        }
        return true;
    default:
        dst->type = src->type == REDIS_REPLY_STATUS  ? CF_REPLY_STATUS
                    : src->type == REDIS_REPLY_ERROR ? CF_REPLY_ERROR
                                                     : CF_REPLY_STRING;
        dst->str = cf_strndup(src->str ? src->str : "", src->str ? (size_t)src->len : 0);
        dst->len = src->str ? (size_t)src->len : 0;
        return dst->str != NULL;
    }
}
