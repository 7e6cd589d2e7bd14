// SPDX-License-Identifier: MIT
/* queue/deadletter.c: the dead-letter entry codec (SPEC §2's msgpack map) and the dead-letter
 * list operations: push (atomic with leaving the in-flight list, capped), list, retry, purge.
 * The envelope codec itself lives elsewhere; here the envelope is opaque bytes. */
#include "queue/deadletter.h"

#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

#define PAGE 100

/* pack_str and pack_kv_str return msgpack's 0 / -1 (a write failed: out of memory). */
static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

static int pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    return pack_str(pk, k) | (v ? pack_str(pk, v) : msgpack_pack_nil(pk));
}

/* encode_entry writes the SPEC §2 map into b. */
static cf_status encode_entry(cf_buf *b, const char *worker_id, const char *queue, const void *raw,
                              size_t len, const cf_deadletter_reason *why, int64_t at_ms)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, cf_buf_msgpack_write);
    bool cut = len > CF_DEAD_RAW_MAX;
    size_t keep = cut ? CF_DEAD_RAW_MAX : len;
    int rc = msgpack_pack_map(&pk, 8);
    rc |= pack_kv_str(&pk, "code", why->code);
    rc |= pack_kv_str(&pk, "reason", why->reason ? why->reason : "");
    rc |= pack_kv_str(&pk, "field", why->field);
    rc |= pack_str(&pk, "at");
    rc |= msgpack_pack_int64(&pk, at_ms);
    rc |= pack_kv_str(&pk, "worker", worker_id);
    rc |= pack_kv_str(&pk, "queue", queue);
    rc |= pack_str(&pk, "raw");
    rc |= msgpack_pack_bin(&pk, keep);
    rc |= msgpack_pack_bin_body(&pk, raw, keep);
    rc |= pack_str(&pk, "raw_truncated");
    rc |= cut ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    return rc == 0 ? CF_OK : CF_ERR_NOMEM; /* cf_buf fails only on OOM */
}

static cf_status push(cf_queue *q, const char *queue, const void *raw, size_t len,
                      const cf_deadletter_reason *why, int64_t at_unix_ms, int64_t cap,
                      bool only_in_flight)
{
    cf_status bst = cf_queue_begin(q, queue, true);
    if (bst != CF_OK)
        return bst;
    if (why == NULL || why->code == NULL || raw == NULL)
        return cf_queue_fail(q, CF_ERR_INVALID, "a dead letter needs a code and the raw bytes");
    char ik[CF_KEY_MAX], dk[CF_KEY_MAX];
    cf_buf b = CF_BUF_INIT;
    cf_status st = encode_entry(&b, q->worker_id, queue, raw, len, why,
                                at_unix_ms > 0 ? at_unix_ms : cf_clock_unix_ms());
    if (st == CF_OK) {
        cf_argv a;
        cf_argv_init_script(&a, &cf_script_deadletter_push, 2);
        cf_argv_key(&a, ik, cf_key_inflight(ik, sizeof ik, q->prefix, queue, q->worker_id));
        cf_argv_key(&a, dk, cf_key_dead(dk, sizeof dk, q->prefix, queue));
        cf_argv_buf(cf_argv_buf(&a, raw, len), b.data, b.len);
        cf_argv_int(&a, cap > 0 ? cap : CF_DEAD_CAP_DEFAULT);
        cf_argv_str(&a, only_in_flight ? "1" : "0");
        cf_reply *rep = NULL;
        st = cf_queue_exec(q, &a, &rep);
        if (st == CF_OK && only_in_flight && rep->type == CF_REPLY_INTEGER && rep->integer == 0)
            st = cf_queue_fail(q, CF_ERR_NOT_FOUND, "the envelope was not in flight");
        cf_reply_free(rep);
    }
    cf_buf_deinit(&b);
    return st;
}

cf_status cf_deadletter_push(cf_queue *q, const char *queue, const void *raw, size_t len,
                             const cf_deadletter_reason *why, int64_t at_unix_ms, int64_t cap)
{
    return push(q, queue, raw, len, why, at_unix_ms, cap, false);
}

cf_status cf_deadletter_move(cf_queue *q, const char *queue, const void *raw, size_t len,
                             const cf_deadletter_reason *why, int64_t at_unix_ms, int64_t cap)
{
    return push(q, queue, raw, len, why, at_unix_ms, cap, true);
}

void cf_deadletter_clear(cf_deadletter *d)
{
    if (d == NULL)
        return;
    cf_free(d->code);
    cf_free(d->reason);
    cf_free(d->field);
    cf_free(d->worker);
    cf_free(d->queue);
    cf_free(d->raw);
    cf_free(d->entry);
    memset(d, 0, sizeof *d);
}

static bool key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

/* take_str copies a str (or bin) value into *dst; nil leaves NULL when nil_ok. */
static bool take_str(const msgpack_object *v, char **dst, size_t *len, bool nil_ok)
{
    if (v->type == MSGPACK_OBJECT_NIL)
        return nil_ok;
    if (v->type != MSGPACK_OBJECT_STR && v->type != MSGPACK_OBJECT_BIN)
        return false;
    const char *p = v->type == MSGPACK_OBJECT_STR ? v->via.str.ptr : v->via.bin.ptr;
    size_t n = v->type == MSGPACK_OBJECT_STR ? v->via.str.size : v->via.bin.size;
    cf_free(*dst);
    *dst = cf_strndup(p, n);
    if (len)
        *len = n;
    return *dst != NULL;
}

static bool decode_field(const msgpack_object *k, const msgpack_object *v, cf_deadletter *d)
{
    if (key_is(k, "code"))
        return take_str(v, &d->code, NULL, false);
    if (key_is(k, "reason"))
        return take_str(v, &d->reason, NULL, false);
    if (key_is(k, "field"))
        return take_str(v, &d->field, NULL, true);
    if (key_is(k, "worker"))
        return take_str(v, &d->worker, NULL, true);
    if (key_is(k, "queue"))
        return take_str(v, &d->queue, NULL, true);
    if (key_is(k, "raw"))
        return take_str(v, &d->raw, &d->raw_len, false);
    if (key_is(k, "raw_truncated")) {
        d->raw_truncated = v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
        return v->type == MSGPACK_OBJECT_BOOLEAN;
    }
    if (key_is(k, "at")) {
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
            d->at_unix_ms = (int64_t)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            d->at_unix_ms = v->via.i64;
        else
            return false;
        return true;
    }
    return true; /* unknown keys are ignored */
}

cf_status cf_deadletter_decode(const void *entry, size_t len, cf_deadletter *out)
{
    memset(out, 0, sizeof *out);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    cf_status st = CF_ERR_INVALID;
    if (msgpack_unpack_next(&up, entry, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len &&
        up.data.type == MSGPACK_OBJECT_MAP) {
        st = CF_OK;
        const msgpack_object_map *m = &up.data.via.map;
        for (uint32_t i = 0; st == CF_OK && i < m->size; i++)
            if (!decode_field(&m->ptr[i].key, &m->ptr[i].val, out))
                st = CF_ERR_INVALID;
        if (st == CF_OK && (out->code == NULL || out->raw == NULL))
            st = CF_ERR_INVALID;
    }
    msgpack_unpacked_destroy(&up);
    if (st != CF_OK)
        cf_deadletter_clear(out);
    return st;
}

void cf_deadletter_list_free(cf_deadletter *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        cf_deadletter_clear(&list[i]);
    cf_free(list);
}

/* lrange reads P:{queue}:dead[start..stop] (Redis indexes, negative from the end). */
static cf_status lrange(cf_queue *q, const char *dk, long long start, long long stop,
                        cf_reply **out)
{
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(cf_argv_str(&a, "LRANGE"), dk);
    cf_argv_int(cf_argv_int(&a, start), stop);
    cf_status st = cf_queue_exec(q, &a, out);
    if (st == CF_OK && (*out)->type != CF_REPLY_ARRAY) {
        cf_reply_free(*out);
        *out = NULL;
        st = CF_ERR_PROTOCOL;
    }
    return st;
}

/* fill_entry decodes one listed element, keeping undecodable bytes as raw. */
static cf_status fill_entry(cf_reply *e, cf_deadletter *d)
{
    if (cf_deadletter_decode(e->str, e->len, d) != CF_OK) {
        d->code = cf_strdup("undecodable");
        d->raw = cf_strndup(e->str, e->len);
        d->raw_len = e->len;
        if (d->code == NULL || d->raw == NULL)
            return CF_ERR_NOMEM;
    }
    d->entry_len = e->len;
    d->entry = cf_reply_take_str(e, NULL);
    return d->entry ? CF_OK : CF_ERR_NOMEM;
}

cf_status cf_deadletter_list(cf_queue *q, const char *queue, size_t offset, size_t limit,
                             cf_deadletter **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    cf_status bst = cf_queue_begin(q, queue, false);
    if (bst != CF_OK)
        return bst;
    const char *prefix = q->prefix;
    if (limit == 0)
        return CF_OK;
    char dk[CF_KEY_MAX];
    cf_key_dead(dk, sizeof dk, prefix, queue);
    cf_reply *rep = NULL;
    cf_status st = lrange(q, dk, (long long)offset, (long long)(offset + limit - 1), &rep);
    if (st != CF_OK || rep->n == 0) {
        cf_reply_free(rep);
        return st;
    }
    cf_deadletter *list = cf_calloc(rep->n, sizeof *list);
    st = list ? CF_OK : CF_ERR_NOMEM;
    for (size_t i = 0; st == CF_OK && i < rep->n; i++)
        st = rep->elem[i].type == CF_REPLY_STRING ? fill_entry(&rep->elem[i], &list[i])
                                                  : CF_ERR_PROTOCOL;
    if (st == CF_OK) {
        *out = list;
        *n = rep->n;
    } else {
        cf_deadletter_list_free(list, list ? rep->n : 0);
    }
    cf_reply_free(rep);
    return st;
}

cf_status cf_deadletter_retry(cf_queue *q, const char *queue, int64_t max, int64_t *moved,
                              int64_t *skipped)
{
    int64_t mv = 0, sk = 0;
    cf_status bst = cf_queue_begin(q, queue, false);
    if (bst != CF_OK)
        return bst;
    const char *prefix = q->prefix;
    char dk[CF_KEY_MAX], rk[CF_KEY_MAX];
    cf_key_dead(dk, sizeof dk, prefix, queue);
    cf_key_ready(rk, sizeof rk, prefix, queue);
    cf_status st = CF_OK;
    /* Oldest first: the tail of the list. Skipped entries stay at the tail, so the next page
     * starts sk entries from the end. */
    while (st == CF_OK && (max <= 0 || mv < max)) {
        cf_reply *rep = NULL;
        st = lrange(q, dk, -(long long)sk - PAGE, -(long long)sk - 1, &rep);
        if (st != CF_OK || rep->n == 0) {
            cf_reply_free(rep);
            break;
        }
        for (size_t i = rep->n; st == CF_OK && i-- > 0 && (max <= 0 || mv < max);) {
            cf_reply *e = &rep->elem[i];
            cf_deadletter d;
            if (e->type != CF_REPLY_STRING || cf_deadletter_decode(e->str, e->len, &d) != CF_OK) {
                sk++;
                continue;
            }
            if (d.raw_truncated) {
                sk++;
            } else {
                cf_argv a;
                cf_argv_init_script(&a, &cf_script_deadletter_retry, 2);
                cf_argv_str(cf_argv_str(&a, dk), rk);
                cf_argv_buf(cf_argv_buf(&a, e->str, e->len), d.raw, d.raw_len);
                cf_reply *one = NULL;
                st = cf_queue_exec(q, &a, &one);
                if (st == CF_OK && one->type == CF_REPLY_INTEGER && one->integer > 0)
                    mv++;
                cf_reply_free(one);
            }
            cf_deadletter_clear(&d);
        }
        size_t got = rep->n;
        cf_reply_free(rep);
        if (got < PAGE)
            break;
    }
    if (moved)
        *moved = mv;
    if (skipped)
        *skipped = sk;
    return st;
}

cf_status cf_deadletter_purge(cf_queue *q, const char *queue, int64_t older_than_unix_ms,
                              int64_t *removed)
{
    int64_t rm = 0;
    if (removed)
        *removed = 0;
    cf_status bst = cf_queue_begin(q, queue, false);
    if (bst != CF_OK)
        return bst;
    const char *prefix = q->prefix;
    char dk[CF_KEY_MAX];
    cf_key_dead(dk, sizeof dk, prefix, queue);
    cf_reply *rep = NULL;
    cf_status st;
    if (older_than_unix_ms <= 0) {
        cf_argv a;
        cf_argv_init(&a);
        cf_argv_str(cf_argv_str(&a, "LLEN"), dk);
        st = cf_queue_exec(q, &a, &rep);
        int64_t n = st == CF_OK ? rep->integer : 0;
        cf_reply_free(rep);
        cf_argv_init(&a);
        cf_argv_str(cf_argv_str(&a, "DEL"), dk);
        if (st == CF_OK && (st = cf_queue_exec(q, &a, &rep)) == CF_OK)
            rm = n;
        cf_reply_free(rep);
    } else {
        /* Walk the whole list once (it is capped), removing old entries one LREM each. */
        st = lrange(q, dk, 0, -1, &rep);
        for (size_t i = 0; st == CF_OK && i < rep->n; i++) {
            cf_reply *e = &rep->elem[i];
            cf_deadletter d;
            if (e->type != CF_REPLY_STRING || cf_deadletter_decode(e->str, e->len, &d) != CF_OK)
                continue;
            bool old = d.at_unix_ms < older_than_unix_ms;
            cf_deadletter_clear(&d);
            if (!old)
                continue;
            cf_argv a;
            cf_argv_init(&a);
            cf_argv_str(cf_argv_str(cf_argv_str(&a, "LREM"), dk), "1");
            cf_argv_buf(&a, e->str, e->len);
            cf_reply *one = NULL;
            st = cf_queue_exec(q, &a, &one);
            if (st == CF_OK && one->type == CF_REPLY_INTEGER)
                rm += one->integer;
            cf_reply_free(one);
        }
        cf_reply_free(rep);
    }
    if (removed)
        *removed = rm;
    return st;
}
