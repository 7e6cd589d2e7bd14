// SPDX-License-Identifier: MIT
/* queue/envelope_encode.c: the producing side of the envelope codec: validation of a filled
 * cf_envelope against SPEC §1 (the decoder's rules, so nothing we write is refused by a worker),
 * deterministic msgpack encoding, the canonical continuation envelope and new jids. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "common/clock.h"
#include "common/rand.h"
#include "queue/envelope.h"
#include "queue/envelope_internal.h"
#include "queue/msgpack_scan.h"

void cf_envelope_new_jid(char out[25])
{
    cf_rand_hex(out, 24);
}

static cf_status copy_field(const char *name, const char *src, char *dst, cf_error *err)
{
    size_t len = strlen(src);
    cf_status st = cf_envelope_check_field(name, src, len, err);
    if (st == CF_OK)
        memcpy(dst, src, len + 1);
    return st;
}

cf_status cf_envelope_init_job(cf_envelope *env, const char *wf_class, const char *key,
                               const char *queue, cf_error *err)
{
    memset(env, 0, sizeof *env);
    env->version = CF_ENVELOPE_VERSION;
    cf_envelope_new_jid(env->jid);
    cf_status st = copy_field("class", wf_class != NULL ? wf_class : "", env->wf_class, err);
    if (st == CF_OK)
        st = copy_field("key", key != NULL ? key : "", env->key, err);
    if (st == CF_OK && queue != NULL && queue[0] != '\0')
        st = copy_field("queue", queue, env->queue, err);
    env->has_created_at = true;
    env->created_at = (double)cf_clock_unix_ms() / 1000.0;
    return st;
}

/* ---- validation of JSON values (kwargs, options) ---- */

static cf_status check_json(const json_t *v, int depth, bool reserved, cf_mp_path *path,
                            cf_error *err);

static cf_status check_object(const json_t *obj, int depth, bool reserved, cf_mp_path *path,
                              cf_error *err)
{
    for (void *it = json_object_iter((json_t *)obj); it != NULL;
         it = json_object_iter_next((json_t *)obj, it)) {
        const char *k = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        size_t saved = cf_mp_path_key(path, k, klen);
        cf_status st = cf_envelope_check_text(k, klen, path->s, err);
        if (st == CF_OK && reserved && cf_envelope_is_reserved(k, klen))
            st = cf_error_set(err, "reserved_name", path->s, "%s is a reserved name", path->s);
        if (st == CF_OK)
            st = check_json(json_object_iter_value(it), depth + 1, false, path, err);
        if (st != CF_OK)
            return st;
        cf_mp_path_pop(path, saved);
    }
    return CF_OK;
}

static cf_status check_json(const json_t *v, int depth, bool reserved, cf_mp_path *path,
                            cf_error *err)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return cf_envelope_check_text(json_string_value(v), json_string_length(v), path->s, err);
    case JSON_REAL:
        if (!isfinite(json_real_value(v)))
            return cf_error_set(err, "bad_value", path->s, "%s is NaN or infinite", path->s);
        return CF_OK;
    case JSON_ARRAY:
    case JSON_OBJECT:
        break;
    default:
        return CF_OK;
    }
    if (depth > CF_ENVELOPE_LIMITS_DEFAULT.max_depth)
        return cf_error_set(err, "too_deep", path->s, "%s nests too deep", path->s);
    if (json_is_object(v))
        return check_object(v, depth, reserved, path, err);
    for (size_t i = 0; i < json_array_size(v); i++) {
        size_t saved = cf_mp_path_index(path, (uint32_t)i);
        cf_status st = check_json(json_array_get(v, i), depth + 1, false, path, err);
        if (st != CF_OK)
            return st;
        cf_mp_path_pop(path, saved);
    }
    return CF_OK;
}

static cf_status check_map_field(const json_t *v, const char *name, cf_error *err)
{
    if (v == NULL)
        return CF_OK;
    if (!json_is_object(v))
        return cf_error_set(err, "wrong_type", name, "%s must be an object", name);
    cf_mp_path path = {.s = "", .len = 0};
    cf_mp_path_key(&path, name, strlen(name));
    return check_json(v, 1, strcmp(name, "kwargs") == 0, &path, err);
}

cf_status cf_envelope_validate(const cf_envelope *env, cf_error *err)
{
    if (env->version != CF_ENVELOPE_VERSION)
        return cf_error_set(err, "unsupported_version", "v", "only envelope version 1 is written");
    cf_status st = cf_envelope_check_field("jid", env->jid, strlen(env->jid), err);
    if (st == CF_OK)
        st = cf_envelope_check_field("class", env->wf_class, strlen(env->wf_class), err);
    if (st == CF_OK)
        st = cf_envelope_check_field("key", env->key, strlen(env->key), err);
    if (st == CF_OK && env->queue[0] != '\0')
        st = cf_envelope_check_field("queue", env->queue, strlen(env->queue), err);
    if (st == CF_OK && env->has_created_at && !(isfinite(env->created_at) && env->created_at >= 0))
        st = cf_error_set(err, "bad_value", "created_at", "created_at must be finite, >= 0");
    if (st == CF_OK)
        st = check_map_field(env->kwargs, "kwargs", err);
    if (st == CF_OK)
        st = check_map_field(env->options, "options", err);
    if (st == CF_OK && env->options != NULL)
        st = cf_envelope_check_max_duration(env->options, err);
    size_t by = strnlen(env->requested_by, sizeof env->requested_by);
    size_t why = strnlen(env->reason, sizeof env->reason);
    if (st == CF_OK && by > CF_ENVELOPE_REQUESTED_BY_MAX)
        st = cf_error_set(err, "bad_value", "requested_by", "requested_by must be 1-%d bytes",
                          CF_ENVELOPE_REQUESTED_BY_MAX);
    if (st == CF_OK && by > 0)
        st = cf_envelope_check_text(env->requested_by, by, "requested_by", err);
    if (st == CF_OK && why > CF_ENVELOPE_REASON_MAX)
        st = cf_error_set(err, "bad_value", "reason", "reason must be at most %d bytes",
                          CF_ENVELOPE_REASON_MAX);
    if (st == CF_OK && why > 0)
        st = cf_envelope_check_text(env->reason, why, "reason", err);
    return st;
}

/* ---- msgpack output ---- */

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int pack_json(msgpack_packer *pk, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return msgpack_pack_nil(pk);
    case JSON_TRUE:
        return msgpack_pack_true(pk);
    case JSON_FALSE:
        return msgpack_pack_false(pk);
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, (int64_t)json_integer_value(v));
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(v));
    case JSON_STRING:
        return msgpack_pack_str(pk, json_string_length(v)) ||
               msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
    case JSON_ARRAY:
        if (msgpack_pack_array(pk, json_array_size(v)))
            return -1;
        for (size_t i = 0; i < json_array_size(v); i++)
            if (pack_json(pk, json_array_get(v, i)))
                return -1;
        return 0;
    default:
        break;
    }
    if (msgpack_pack_map(pk, json_object_size(v)))
        return -1;
    for (void *it = json_object_iter((json_t *)v); it != NULL;
         it = json_object_iter_next((json_t *)v, it)) {
        size_t klen = json_object_iter_key_len(it);
        if (msgpack_pack_str(pk, klen) ||
            msgpack_pack_str_body(pk, json_object_iter_key(it), klen) ||
            pack_json(pk, json_object_iter_value(it)))
            return -1;
    }
    return 0;
}

static bool has_entries(const json_t *obj)
{
    return obj != NULL && json_object_size(obj) > 0;
}

static int pack_envelope(msgpack_packer *pk, const cf_envelope *env)
{
    size_t n = 4 + (env->queue[0] != '\0') + env->has_created_at + has_entries(env->kwargs) +
               has_entries(env->options) + env->retry_workflow + (env->requested_by[0] != '\0') +
               (env->reason[0] != '\0');
    int rc = msgpack_pack_map(pk, n) || pack_cstr(pk, "v") ||
             msgpack_pack_int64(pk, env->version) || pack_cstr(pk, "jid") ||
             pack_cstr(pk, env->jid) || pack_cstr(pk, "class") || pack_cstr(pk, env->wf_class) ||
             pack_cstr(pk, "key") || pack_cstr(pk, env->key);
    if (rc == 0 && env->queue[0] != '\0')
        rc = pack_cstr(pk, "queue") || pack_cstr(pk, env->queue);
    if (rc == 0 && env->has_created_at)
        rc = pack_cstr(pk, "created_at") || msgpack_pack_double(pk, env->created_at);
    if (rc == 0 && has_entries(env->kwargs))
        rc = pack_cstr(pk, "kwargs") || pack_json(pk, env->kwargs);
    if (rc == 0 && has_entries(env->options))
        rc = pack_cstr(pk, "options") || pack_json(pk, env->options);
    if (rc == 0 && env->retry_workflow)
        rc = pack_cstr(pk, "retry_workflow") || msgpack_pack_true(pk);
    if (rc == 0 && env->requested_by[0] != '\0')
        rc = pack_cstr(pk, "requested_by") || pack_cstr(pk, env->requested_by);
    if (rc == 0 && env->reason[0] != '\0')
        rc = pack_cstr(pk, "reason") || pack_cstr(pk, env->reason);
    return rc;
}

cf_status cf_envelope_encode(const cf_envelope *env, cf_buf *out)
{
    cf_status st = cf_envelope_validate(env, NULL);
    if (st != CF_OK)
        return st;
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cf_buf_msgpack_write);
    if (pack_envelope(&pk, env) != 0)
        st = CF_ERR_NOMEM;
    else if (out->len - start > CF_ENVELOPE_LIMITS_DEFAULT.max_bytes)
        st = CF_ERR_INVALID;
    if (st != CF_OK)
        out->len = start;
    return st;
}

/* ---- continuations ---- */

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t mix64(uint64_t z) /* splitmix64's finaliser: spreads every input bit */
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void continuation_jid(const char *wf_class, const char *key, char jid[27])
{
    uint64_t h[2] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL};
    for (int i = 0; i < 2; i++) {
        h[i] = fnv1a(h[i], wf_class, strlen(wf_class) + 1); /* the class's NUL separates */
        h[i] = mix64(fnv1a(h[i], key, strlen(key)));
    }
    snprintf(jid, 27, "c-%016llx%08llx", (unsigned long long)h[0],
             (unsigned long long)(h[1] >> 32));
}

cf_status cf_envelope_encode_continuation(const char *wf_class, const char *key, const char *queue,
                                          cf_buf *out)
{
    cf_envelope env;
    cf_status st = cf_envelope_init_job(&env, wf_class, key, queue, NULL);
    if (st != CF_OK)
        return st;
    env.has_created_at = false;
    continuation_jid(env.wf_class, env.key, env.jid);
    return cf_envelope_encode(&env, out);
}

bool cf_envelope_is_continuation(const cf_envelope *env)
{
    char jid[27];
    continuation_jid(env->wf_class, env->key, jid);
    return strcmp(env->jid, jid) == 0;
}
