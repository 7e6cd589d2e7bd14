// SPDX-License-Identifier: MIT
/* queue/envelope.c: strict decoding of envelopes (SPEC §1). Untrusted bytes are first scanned
 * whole by queue/msgpack_scan.c (every declared size against the remaining bytes, depth), then
 * walked again to build jansson values, copying every string out of the input. msgpack-c's
 * unpacker is deliberately not used: it reserves a container's declared size before reading it. */
#include "queue/envelope.h"

#include <math.h>
#include <string.h>

#include "queue/envelope_internal.h"
#include "queue/msgpack_scan.h"

typedef struct decoder {
    cf_mp_reader r;
    int max_depth;
    cf_mp_path path;
    int64_t pending_index; /* an array index not yet written into path (-1: none) */
    cf_error *err;
} decoder;

/* field returns the path of the value being decoded, writing a pending array index into it
 * first. Scalars in arrays get their index only when they are refused, which keeps long arrays
 * cheap. */
static const char *field(decoder *d)
{
    if (d->pending_index >= 0) {
        cf_mp_path_index(&d->path, (uint32_t)d->pending_index);
        d->pending_index = -1;
    }
    return d->path.s;
}

static cf_status nomem(decoder *d)
{
    cf_error_set(d->err, "", field(d), "out of memory decoding the envelope");
    return CF_ERR_NOMEM;
}

static cf_status refuse(decoder *d, const char *code, const char *what)
{
    const char *f = field(d);
    return cf_error_set(d->err, code, f, "%s%s%s", f, f[0] != '\0' ? " " : "", what);
}

static cf_status read_item(decoder *d, cf_mp_item *it)
{
    /* The bytes were scanned already; failing here means a scanner/decoder mismatch. */
    if (!cf_mp_read(&d->r, it))
        return cf_error_set(d->err, "not_msgpack", "", "malformed at byte %zu", d->r.off);
    return CF_OK;
}

static cf_status decode_value(decoder *d, int depth, bool reserved, json_t **out);

static cf_status decode_scalar(decoder *d, const cf_mp_item *it, json_t **out)
{
    switch (it->type) {
    case CF_MP_NIL:
        *out = json_null();
        return CF_OK;
    case CF_MP_BOOL:
        *out = json_boolean(it->b);
        return CF_OK;
    case CF_MP_UINT:
        if (it->u > (uint64_t)INT64_MAX)
            return refuse(d, "bad_value", "is an integer above the int64 range");
        *out = json_integer((json_int_t)it->u);
        break;
    case CF_MP_INT:
        *out = json_integer((json_int_t)it->i);
        break;
    case CF_MP_FLOAT32:
    case CF_MP_FLOAT64:
        if (!isfinite(it->f))
            return refuse(d, "bad_value", "is NaN or infinite");
        *out = json_real(it->f);
        break;
    case CF_MP_STR: {
        cf_status st = cf_envelope_check_text(it->ptr, it->n, field(d), d->err);
        if (st != CF_OK)
            return st;
        *out = json_stringn_nocheck(it->ptr, it->n);
        break;
    }
    case CF_MP_BIN:
        return refuse(d, "wrong_type", "is binary (bin); only str is allowed");
    default:
        return refuse(d, "wrong_type", "is an extension type; not allowed");
    }
    return *out == NULL ? nomem(d) : CF_OK;
}

static cf_status decode_array(decoder *d, const cf_mp_item *it, int depth, json_t **out)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return nomem(d);
    cf_status st = CF_OK;
    for (uint32_t i = 0; i < it->n && st == CF_OK; i++) {
        size_t saved = d->path.len;
        d->pending_index = i;
        if (cf_mp_next_is_container(&d->r))
            field(d);
        json_t *v = NULL;
        st = decode_value(d, depth + 1, false, &v);
        if (st == CF_OK && json_array_append_new(arr, v) != 0)
            st = nomem(d);
        if (st == CF_OK) {
            d->pending_index = -1;
            cf_mp_path_pop(&d->path, saved);
        }
    }
    if (st != CF_OK)
        json_decref(arr);
    else
        *out = arr;
    return st;
}

/* Reads a map key: a str without NUL, valid UTF-8, not yet in obj, not reserved when asked.
 * Pushes it on the path (left there on refusal, so err->field names it). */
static cf_status decode_key(decoder *d, json_t *obj, bool reserved, cf_mp_item *k, size_t *saved)
{
    cf_status st = read_item(d, k);
    if (st != CF_OK)
        return st;
    if (k->type != CF_MP_STR) {
        *saved = cf_mp_path_key(&d->path, "?", 1);
        return refuse(d, "wrong_type", "is a map key that is not a string");
    }
    *saved = cf_mp_path_key(&d->path, k->ptr, k->n);
    if (memchr(k->ptr, '\0', k->n) != NULL)
        return refuse(d, "bad_value", "is a map key containing a NUL byte");
    if (!cf_envelope_utf8_is_valid(k->ptr, k->n))
        return refuse(d, "bad_utf8", "is a map key that is not valid UTF-8");
    if (json_object_getn(obj, k->ptr, k->n) != NULL)
        return refuse(d, "bad_value", "is a duplicate key");
    if (reserved && cf_envelope_is_reserved(k->ptr, k->n))
        return refuse(d, "reserved_name", "is a reserved name; it cannot be a kwargs key");
    return CF_OK;
}

static cf_status decode_map(decoder *d, const cf_mp_item *it, int depth, bool reserved,
                            json_t **out)
{
    json_t *obj = json_object();
    if (obj == NULL)
        return nomem(d);
    cf_status st = CF_OK;
    for (uint32_t i = 0; i < it->n && st == CF_OK; i++) {
        cf_mp_item k;
        size_t saved = d->path.len;
        json_t *v = NULL;
        st = decode_key(d, obj, reserved, &k, &saved);
        if (st == CF_OK)
            st = decode_value(d, depth + 1, false, &v);
        if (st == CF_OK && json_object_setn_new_nocheck(obj, k.ptr, k.n, v) != 0)
            st = nomem(d);
        if (st == CF_OK)
            cf_mp_path_pop(&d->path, saved);
    }
    if (st != CF_OK)
        json_decref(obj);
    else
        *out = obj;
    return st;
}

/* Decodes the object at the cursor into *out (owned by the caller on CF_OK). depth is the depth
 * it has if it is a container; reserved asks for the kwargs reserved-name check on its keys. */
static cf_status decode_value(decoder *d, int depth, bool reserved, json_t **out)
{
    cf_mp_item it;
    cf_status st = read_item(d, &it);
    if (st != CF_OK)
        return st;
    if (it.type != CF_MP_ARRAY && it.type != CF_MP_MAP)
        return decode_scalar(d, &it, out);
    if (depth > d->max_depth) /* the scan refused this already; keep the recursion bounded */
        return refuse(d, "too_deep", "nests too deep");
    if (it.type == CF_MP_ARRAY)
        return decode_array(d, &it, depth, out);
    return decode_map(d, &it, depth, reserved, out);
}

/* ---- the envelope map ---- */

/* Positions the cursor on the value of top-level key name and reads its header; false when the
 * envelope has no such key. seen maps each key to its value's byte offset. */
static bool find(decoder *d, json_t *seen, const char *name, cf_mp_item *it)
{
    json_t *off = json_object_get(seen, name);
    cf_mp_path_pop(&d->path, 0);
    cf_mp_path_key(&d->path, name, strlen(name));
    if (off == NULL)
        return false;
    d->r.off = (size_t)json_integer_value(off);
    return cf_mp_read(&d->r, it);
}

static cf_status field_str(decoder *d, json_t *seen, const char *name, bool required, char *dst)
{
    cf_mp_item it;
    if (!find(d, seen, name, &it)) {
        dst[0] = '\0';
        return required ? refuse(d, "missing_field", "is required") : CF_OK;
    }
    if (it.type != CF_MP_STR)
        return refuse(d, "wrong_type", "must be a string");
    cf_status st = cf_envelope_check_field(name, it.ptr, it.n, d->err);
    if (st != CF_OK)
        return st;
    memcpy(dst, it.ptr, it.n);
    dst[it.n] = '\0';
    return CF_OK;
}

static cf_status field_version(decoder *d, json_t *seen, int64_t *version)
{
    cf_mp_item it;
    if (!find(d, seen, "v", &it))
        return refuse(d, "missing_field", "is required");
    if (it.type == CF_MP_INT || (it.type == CF_MP_UINT && it.u == 0))
        return refuse(d, "bad_value", "must be a positive integer");
    if (it.type != CF_MP_UINT)
        return refuse(d, "wrong_type", "must be a positive integer");
    if (it.u != CF_ENVELOPE_VERSION)
        return cf_error_set(d->err, "unsupported_version", "v",
                            "envelope version %llu is not supported (this worker reads 1)",
                            (unsigned long long)it.u);
    *version = CF_ENVELOPE_VERSION;
    return CF_OK;
}

static cf_status field_created_at(decoder *d, json_t *seen, cf_envelope *env)
{
    cf_mp_item it;
    if (!find(d, seen, "created_at", &it))
        return CF_OK;
    if (it.type == CF_MP_FLOAT32 || it.type == CF_MP_FLOAT64)
        env->created_at = it.f;
    else if (it.type == CF_MP_UINT)
        env->created_at = (double)it.u;
    else if (it.type == CF_MP_INT)
        env->created_at = (double)it.i;
    else
        return refuse(d, "wrong_type", "must be a number (Unix seconds)");
    if (!isfinite(env->created_at) || env->created_at < 0)
        return refuse(d, "bad_value", "must be finite and not negative");
    env->has_created_at = true;
    return CF_OK;
}

/* kwargs and options: an optional map decoded at depth 1; *out is {} when absent. */
static cf_status field_map(decoder *d, json_t *seen, const char *name, json_t **out)
{
    cf_mp_item it;
    if (!find(d, seen, name, &it)) {
        *out = json_object();
        return *out == NULL ? nomem(d) : CF_OK;
    }
    if (it.type != CF_MP_MAP)
        return refuse(d, "wrong_type", "must be a map");
    d->r.off = (size_t)json_integer_value(json_object_get(seen, name));
    cf_status st = decode_value(d, 1, strcmp(name, "kwargs") == 0, out);
    if (st == CF_OK && strcmp(name, "options") == 0)
        st = cf_envelope_check_max_duration(*out, d->err);
    return st;
}

static cf_status field_retry(decoder *d, json_t *seen, bool *retry)
{
    cf_mp_item it;
    if (!find(d, seen, "retry_workflow", &it))
        return CF_OK;
    if (it.type != CF_MP_BOOL)
        return refuse(d, "wrong_type", "must be a boolean");
    *retry = it.b;
    return CF_OK;
}

/* requested_by and reason: optional free text of min..max bytes (dst holds max + 1). */
static cf_status field_text(decoder *d, json_t *seen, const char *name, size_t min, size_t max,
                            char *dst)
{
    cf_mp_item it;
    dst[0] = '\0';
    if (!find(d, seen, name, &it))
        return CF_OK;
    if (it.type != CF_MP_STR)
        return refuse(d, "wrong_type", "must be a string");
    if (it.n < min || it.n > max)
        return cf_error_set(d->err, "bad_value", name, "%s must be %zu-%zu bytes, not %zu", name,
                            min, max, (size_t)it.n);
    cf_status st = cf_envelope_check_text(it.ptr, it.n, name, d->err);
    if (st != CF_OK)
        return st;
    memcpy(dst, it.ptr, it.n);
    dst[it.n] = '\0';
    return CF_OK;
}

static const char *const known_keys[] = {
    "v",      "jid",     "class",          "key",          "queue", "created_at",
    "kwargs", "options", "retry_workflow", "requested_by", "reason"};

static bool is_known(const char *key)
{
    for (size_t i = 0; i < sizeof known_keys / sizeof known_keys[0]; i++)
        if (strcmp(key, known_keys[i]) == 0)
            return true;
    return false;
}

/* Unknown keys are ignored, but their values must still be valid envelope values. */
static cf_status check_unknown(decoder *d, json_t *seen)
{
    const char *key;
    json_t *off;
    json_object_foreach(seen, key, off)
    {
        if (is_known(key))
            continue;
        cf_mp_path_pop(&d->path, 0);
        cf_mp_path_key(&d->path, key, strlen(key));
        d->r.off = (size_t)json_integer_value(off);
        json_t *v = NULL;
        cf_status st = decode_value(d, 1, false, &v);
        json_decref(v);
        if (st != CF_OK)
            return st;
    }
    return CF_OK;
}

/* Reads the top-level keys into seen (key -> offset of its value), refusing bad keys. */
static cf_status index_keys(decoder *d, uint32_t n, json_t *seen)
{
    for (uint32_t i = 0; i < n; i++) {
        cf_mp_item k;
        size_t saved;
        cf_status st = decode_key(d, seen, false, &k, &saved);
        if (st != CF_OK)
            return st;
        cf_mp_path_pop(&d->path, saved);
        json_t *off = json_integer((json_int_t)d->r.off);
        if (off == NULL || json_object_setn_new_nocheck(seen, k.ptr, k.n, off) != 0)
            return nomem(d);
        if (!cf_mp_skip(&d->r))
            return cf_error_set(d->err, "not_msgpack", "", "malformed at byte %zu", d->r.off);
    }
    return CF_OK;
}

static cf_status decode_fields(decoder *d, json_t *seen, cf_envelope *out)
{
    cf_status st = field_version(d, seen, &out->version);
    if (st == CF_OK)
        st = field_str(d, seen, "jid", true, out->jid);
    if (st == CF_OK)
        st = field_str(d, seen, "class", true, out->wf_class);
    if (st == CF_OK)
        st = field_str(d, seen, "key", true, out->key);
    if (st == CF_OK)
        st = field_str(d, seen, "queue", false, out->queue);
    if (st == CF_OK)
        st = field_created_at(d, seen, out);
    if (st == CF_OK)
        st = field_map(d, seen, "kwargs", &out->kwargs);
    if (st == CF_OK)
        st = field_map(d, seen, "options", &out->options);
    if (st == CF_OK)
        st = field_retry(d, seen, &out->retry_workflow);
    if (st == CF_OK)
        st =
            field_text(d, seen, "requested_by", 1, CF_ENVELOPE_REQUESTED_BY_MAX, out->requested_by);
    if (st == CF_OK)
        st = field_text(d, seen, "reason", 0, CF_ENVELOPE_REASON_MAX, out->reason);
    if (st == CF_OK)
        st = check_unknown(d, seen);
    return st;
}

cf_status cf_envelope_decode(const char *raw, size_t len, const cf_envelope_limits *lim,
                             cf_envelope *out, cf_error *err)
{
    cf_envelope_limits l = lim != NULL ? *lim : CF_ENVELOPE_LIMITS_DEFAULT;
    decoder d = {
        .max_depth = l.max_depth, .path = {.s = "", .len = 0}, .pending_index = -1, .err = err};
    if (d.max_depth < 1)
        d.max_depth = 1;
    if (d.max_depth > CF_ENVELOPE_DEPTH_CAP)
        d.max_depth = CF_ENVELOPE_DEPTH_CAP;
    memset(out, 0, sizeof *out);
    if (len > l.max_bytes)
        return cf_error_set(err, "too_large", "", "envelope is %zu bytes, the limit is %zu", len,
                            l.max_bytes);
    if (raw == NULL || len == 0)
        return cf_error_set(err, "not_msgpack", "", "empty payload");
    cf_mp_reader_init(&d.r, raw, len);
    cf_status st = cf_mp_scan(&d.r, d.max_depth, err);
    if (st != CF_OK)
        return st;
    size_t end = d.r.off;
    cf_mp_item top;
    cf_mp_reader_init(&d.r, raw, len);
    if (!cf_mp_read(&d.r, &top) || top.type != CF_MP_MAP)
        return cf_error_set(err, "not_a_map", "", "the envelope must be a msgpack map");
    if (end < len)
        return cf_error_set(err, "trailing_bytes", "", "%zu bytes follow the envelope map",
                            len - end);
    json_t *seen = json_object();
    if (seen == NULL)
        return nomem(&d);
    st = index_keys(&d, top.n, seen);
    if (st == CF_OK)
        st = decode_fields(&d, seen, out);
    json_decref(seen);
    if (st != CF_OK)
        cf_envelope_deinit(out);
    return st;
}

void cf_envelope_deinit(cf_envelope *env)
{
    if (env == NULL)
        return;
    json_decref(env->kwargs);
    json_decref(env->options);
    env->kwargs = NULL;
    env->options = NULL;
}
