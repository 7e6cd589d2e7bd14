// SPDX-License-Identifier: MIT
/* store/context.c: the in-memory workflow context (validation, set/merge variants, dirty flag)
 * and the capped snapshot stored with error logs. */
#include "store/context.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32

cf_status cf_context_init(cf_context *c, json_t *doc)
{
    memset(c, 0, sizeof *c);
    if (doc && json_is_object(doc)) {
        c->doc = doc;
        return CF_OK;
    }
    cf_status st = doc ? CF_ERR_INVALID : CF_OK;
    json_decref(doc);
    c->doc = json_object();
    if (!c->doc)
        return CF_ERR_NOMEM;
    if (st != CF_OK)
        snprintf(c->errmsg, sizeof c->errmsg, "context document is not a JSON object");
    return st;
}

void cf_context_deinit(cf_context *c)
{
    if (!c)
        return;
    json_decref(c->doc);
    c->doc = NULL;
    c->dirty = false;
}

/* Checks types, NULs and depth; returns a reason or NULL. */
static const char *check_tree(const json_t *v, int depth)
{
    if (depth > MAX_DEPTH)
        return "is nested deeper than 32 levels";
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_INTEGER:
    case JSON_REAL:
        return NULL;
    case JSON_STRING:
        return strlen(json_string_value(v)) == json_string_length(v)
                   ? NULL
                   : "contains a NUL character in a string";
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            const char *why = check_tree(e, depth + 1);
            if (why)
                return why;
        }
        return NULL;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            (void)k;
            const char *why = check_tree(e, depth + 1);
            if (why)
                return why;
        }
        return NULL;
    }
    }
    return "has a type JSON cannot hold";
}

/* Serialized size of v in compact JSON, counted without building the string. */
static int count_cb(const char *buffer, size_t size, void *data)
{
    (void)buffer;
    *(size_t *)data += size;
    return 0;
}

static size_t compact_size(const json_t *v)
{
    size_t n = 0;
    if (json_dump_callback(v, count_cb, &n, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
        return (size_t)-1;
    return n;
}

cf_status cf_context_check_value(cf_context *c, const char *key, const json_t *value)
{
    if (!key || !*key) {
        snprintf(c->errmsg, sizeof c->errmsg, "context key must be a non-empty string");
        return CF_ERR_INVALID;
    }
    if (!value) {
        snprintf(c->errmsg, sizeof c->errmsg, "context value for key '%.60s' is missing", key);
        return CF_ERR_INVALID;
    }
    const char *why = check_tree(value, 1);
    if (why) {
        snprintf(c->errmsg, sizeof c->errmsg, "context value for key '%.60s' %s", key, why);
        return CF_ERR_INVALID;
    }
    size_t n = compact_size(value);
    if (n > CF_CONTEXT_VALUE_MAX) {
        snprintf(c->errmsg, sizeof c->errmsg,
                 "context value for key '%.60s' is %zu bytes of JSON; the limit is %d", key, n,
                 CF_CONTEXT_VALUE_MAX);
        return CF_ERR_INVALID;
    }
    return CF_OK;
}

cf_status cf_context_set(cf_context *c, const char *key, const json_t *value)
{
    cf_status st = cf_context_check_value(c, key, value);
    if (st != CF_OK)
        return st;
    json_t *copy = json_deep_copy(value);
    if (!copy || json_object_set_new(c->doc, key, copy) != 0)
        return CF_ERR_NOMEM;
    c->dirty = true;
    return CF_OK;
}

cf_status cf_context_set_once(cf_context *c, const char *key, const json_t *value, bool *stored)
{
    if (stored)
        *stored = false;
    if (key && json_object_get(c->doc, key))
        return CF_OK;
    cf_status st = cf_context_set(c, key, value);
    if (st == CF_OK && stored)
        *stored = true;
    return st;
}

/* Validates the entries of values that will be written (skipping present ones when once). */
static cf_status merge_impl(cf_context *c, const json_t *values, bool once, size_t *nstored)
{
    if (nstored)
        *nstored = 0;
    if (!values || !json_is_object(values)) {
        snprintf(c->errmsg, sizeof c->errmsg, "context merge needs a JSON object");
        return CF_ERR_INVALID;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)values, k, v)
    {
        if (once && json_object_get(c->doc, k))
            continue;
        cf_status st = cf_context_check_value(c, k, v);
        if (st != CF_OK)
            return st;
    }
    /* Build the new document aside so an allocation failure leaves c unchanged. */
    json_t *next = json_copy(c->doc);
    if (!next)
        return CF_ERR_NOMEM;
    size_t n = 0;
    json_object_foreach((json_t *)values, k, v)
    {
        if (once && json_object_get(c->doc, k))
            continue;
        json_t *copy = json_deep_copy(v);
        if (!copy || json_object_set_new(next, k, copy) != 0) {
            json_decref(next);
            return CF_ERR_NOMEM;
        }
        n++;
    }
    json_decref(c->doc);
    c->doc = next;
    if (n > 0)
        c->dirty = true;
    if (nstored)
        *nstored = n;
    return CF_OK;
}

cf_status cf_context_merge(cf_context *c, const json_t *values)
{
    return merge_impl(c, values, false, NULL);
}

cf_status cf_context_merge_once(cf_context *c, const json_t *values, size_t *nstored)
{
    return merge_impl(c, values, true, nstored);
}

const json_t *cf_context_fetch(const cf_context *c, const char *key, const json_t *dflt)
{
    const json_t *v = key ? json_object_get(c->doc, key) : NULL;
    return v ? v : dflt;
}

bool cf_context_has(const cf_context *c, const char *key)
{
    return key && json_object_get(c->doc, key) != NULL;
}

/* Bytes a key costs in compact JSON: the quoted, escaped key, the colon and a comma. */
static size_t key_cost(const char *key)
{
    json_t *s = json_string(key);
    size_t n = s ? compact_size(s) : strlen(key) * 6 + 2;
    json_decref(s);
    return n + 2;
}

json_t *cf_context_snapshot(const json_t *doc, size_t budget)
{
    json_t *out = json_object();
    if (!out || !doc || !json_is_object(doc))
        return out;
    static const size_t braces = 2, truncated_tail = sizeof ",\"_truncated\":true";
    static const size_t marker = sizeof "\"" CF_CONTEXT_OMITTED "\"" - 1;
    size_t used = braces + truncated_tail;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        size_t kc = key_cost(k), vc = compact_size(v);
        json_t *put = NULL;
        if (used + kc + vc <= budget) {
            put = json_deep_copy(v);
            used += kc + vc;
        } else if (used + kc + marker <= budget) {
            put = json_string(CF_CONTEXT_OMITTED);
            used += kc + marker;
        } else {
            if (json_object_set_new(out, "_truncated", json_true()) != 0)
                goto oom;
            return out;
        }
        if (!put || json_object_set_new(out, k, put) != 0)
            goto oom;
    }
    return out;
oom:
    json_decref(out);
    return NULL;
}
