// SPDX-License-Identifier: MIT
/* queue/control_request.c: the bytes of control requests and replies (queue/control_request.h,
 * SPEC §2 "Control requests"). A request is one msgpack map with string keys; values are
 * strings except v (int) and sent_at (number); unknown keys are ignored (their values are
 * skipped whole, however deep, by the bounds-checked reader). */
#include "queue/control_request.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "common/alloc.h"
#include "queue/envelope_internal.h"
#include "queue/msgpack_scan.h"

#define REASON_MAX  1024
#define BY_MAX      256
#define NAME_MAX_   200
#define PAYLOAD_MAX (64 * 1024)

void cf_control_request_deinit(cf_control_request *r)
{
    if (r == NULL)
        return;
    char **fields[] = {&r->id,   &r->op,      &r->wf_class,  &r->key,    &r->reply,
                       &r->name, &r->payload, &r->signal_id, &r->reason, &r->by};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        cf_free(*fields[i]);
    memset(r, 0, sizeof *r);
}

bool cf_control_id_valid(const char *id, size_t len)
{
    if (len < 1 || len > CF_CONTROL_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static cf_status refuse(cf_error *err, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static cf_status refuse(cf_error *err, const char *code, const char *field, const char *fmt, ...)
{
    if (err) {
        snprintf(err->code, sizeof err->code, "%s", code);
        snprintf(err->field, sizeof err->field, "%s", field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return CF_ERR_INVALID;
}

/* A string field: its name, where it goes, its length limits. */
typedef struct str_field {
    const char *name;
    size_t off; /* offset of the char * in cf_control_request */
    size_t min, max;
} str_field;

static const str_field str_fields[] = {
    {"id", offsetof(cf_control_request, id), 1, CF_CONTROL_ID_MAX},
    {"op", offsetof(cf_control_request, op), 1, 32},
    {"class", offsetof(cf_control_request, wf_class), 1, CF_ENVELOPE_CLASS_MAX},
    {"key", offsetof(cf_control_request, key), 1, CF_ENVELOPE_KEY_MAX},
    {"reply", offsetof(cf_control_request, reply), 1, 512},
    {"name", offsetof(cf_control_request, name), 1, NAME_MAX_},
    {"payload", offsetof(cf_control_request, payload), 1, PAYLOAD_MAX},
    {"signal_id", offsetof(cf_control_request, signal_id), 1, 64},
    {"reason", offsetof(cf_control_request, reason), 0, REASON_MAX},
    {"by", offsetof(cf_control_request, by), 1, BY_MAX},
};
#define NSTR (sizeof str_fields / sizeof str_fields[0])

static const str_field *find_field(const char *k, size_t n)
{
    for (size_t i = 0; i < NSTR; i++)
        if (strlen(str_fields[i].name) == n && memcmp(str_fields[i].name, k, n) == 0)
            return &str_fields[i];
    return NULL;
}

/* take_str checks and stores one string field. */
static cf_status take_str(cf_control_request *out, const str_field *f, const cf_mp_item *v,
                          cf_error *err)
{
    char **slot = (char **)((char *)out + f->off);
    if (v->type != CF_MP_STR)
        return refuse(err, "wrong_type", f->name, "%s must be a string", f->name);
    if (*slot)
        return refuse(err, "bad_value", f->name, "duplicate key %s", f->name);
    if (v->n < f->min || v->n > f->max)
        return refuse(err, f->max == PAYLOAD_MAX ? "too_large" : "bad_value", f->name,
                      "%s has a length out of range", f->name);
    cf_status st = cf_envelope_check_text(v->ptr, v->n, f->name, err);
    if (st != CF_OK)
        return st;
    if (strcmp(f->name, "class") == 0 || strcmp(f->name, "key") == 0) {
        st = cf_envelope_check_field(f->name, v->ptr, v->n, err);
        if (st != CF_OK)
            return st;
    }
    if (strcmp(f->name, "id") == 0 && !cf_control_id_valid(v->ptr, v->n))
        return refuse(err, "bad_value", "id", "%s must be 1-64 bytes of [A-Za-z0-9_.:-]", "id");
    *slot = cf_strndup(v->ptr, v->n);
    return *slot ? CF_OK : CF_ERR_NOMEM;
}

/* read_pairs reads the map's n pairs into out. */
static cf_status read_pairs(cf_mp_reader *rd, uint32_t n, cf_control_request *out, bool *has_v,
                            cf_error *err)
{
    for (uint32_t i = 0; i < n; i++) {
        cf_mp_item k, v;
        if (!cf_mp_read(rd, &k))
            return refuse(err, "not_msgpack", "", "%s", "truncated map");
        if (k.type != CF_MP_STR)
            return refuse(err, "wrong_type", "?", "%s", "a key is not a string");
        const str_field *f = find_field(k.ptr, k.n);
        bool is_v = k.n == 1 && k.ptr[0] == 'v';
        bool is_sent = k.n == 7 && memcmp(k.ptr, "sent_at", 7) == 0;
        if (!f && !is_v && !is_sent) { /* unknown key: skip its value whole */
            if (!cf_mp_skip(rd))
                return refuse(err, "not_msgpack", "", "%s", "malformed value");
            continue;
        }
        if (!cf_mp_read(rd, &v))
            return refuse(err, "not_msgpack", "", "%s", "truncated value");
        if (v.type == CF_MP_ARRAY || v.type == CF_MP_MAP)
            return refuse(err, "wrong_type",
                          f      ? f->name
                          : is_v ? "v"
                                 : "sent_at",
                          "%s must be a scalar",
                          f      ? f->name
                          : is_v ? "v"
                                 : "sent_at");
        if (is_v) {
            if (v.type != CF_MP_UINT && v.type != CF_MP_INT)
                return refuse(err, "wrong_type", "v", "%s must be an integer", "v");
            if (v.type == CF_MP_INT || v.u == 0)
                return refuse(err, "bad_value", "v", "%s must be positive", "v");
            if (v.u != CF_CONTROL_VERSION)
                return refuse(err, "unsupported_version", "v", "%s: this worker speaks 1", "v");
            *has_v = true;
        } else if (is_sent) {
            if (v.type == CF_MP_UINT)
                out->sent_at = (double)v.u;
            else if (v.type == CF_MP_FLOAT32 || v.type == CF_MP_FLOAT64)
                out->sent_at = v.f;
            else
                return refuse(err, "wrong_type", "sent_at", "%s must be a number", "sent_at");
        } else {
            cf_status st = take_str(out, f, &v, err);
            if (st != CF_OK)
                return st;
        }
    }
    return CF_OK;
}

/* salvage reads only the id and reply key of a refused request, when its bytes are a map whose
 * pairs can be walked, so the refusal can be answered; both stay NULL otherwise. */
static void salvage(const void *raw, size_t len, cf_control_request *out)
{
    cf_free(out->id);
    cf_free(out->reply);
    out->id = out->reply = NULL;
    cf_mp_reader rd;
    cf_mp_reader_init(&rd, raw, len);
    cf_mp_item top, k, v;
    if (len > CF_CONTROL_MAX_BYTES || !cf_mp_read(&rd, &top) || top.type != CF_MP_MAP)
        return;
    for (uint32_t i = 0; i < top.n; i++) {
        if (!cf_mp_read(&rd, &k))
            return;
        cf_mp_reader at = rd;
        if (!cf_mp_read(&rd, &v))
            return;
        if (v.type == CF_MP_ARRAY || v.type == CF_MP_MAP) {
            rd = at;
            if (!cf_mp_skip(&rd))
                return;
            continue;
        }
        bool is_id = k.type == CF_MP_STR && k.n == 2 && memcmp(k.ptr, "id", 2) == 0;
        bool is_reply = k.type == CF_MP_STR && k.n == 5 && memcmp(k.ptr, "reply", 5) == 0;
        if (v.type != CF_MP_STR || (!is_id && !is_reply))
            continue;
        if (is_id && !out->id && cf_control_id_valid(v.ptr, v.n))
            out->id = cf_strndup(v.ptr, v.n);
        if (is_reply && !out->reply && v.n <= 512 && !memchr(v.ptr, 0, v.n))
            out->reply = cf_strndup(v.ptr, v.n);
    }
}

static cf_status decode(const void *raw, size_t len, cf_control_request *out, cf_error *err);

cf_status cf_control_request_decode(const void *raw, size_t len, cf_control_request *out,
                                    cf_error *err)
{
    cf_status st = decode(raw, len, out, err);
    if (st == CF_ERR_INVALID)
        salvage(raw, len, out);
    return st;
}

static cf_status decode(const void *raw, size_t len, cf_control_request *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (len > CF_CONTROL_MAX_BYTES)
        return refuse(err, "too_large", "", "request over %s bytes", "98304");
    cf_mp_reader rd;
    cf_mp_reader_init(&rd, raw, len);
    cf_mp_reader probe = rd;
    if (len == 0 || cf_mp_scan(&probe, 8, err) != CF_OK)
        return refuse(err, "not_msgpack", "", "%s", "not one msgpack object");
    if (probe.off != len)
        return refuse(err, "trailing_bytes", "", "%s", "bytes after the request map");
    cf_mp_item top;
    if (!cf_mp_read(&rd, &top) || top.type != CF_MP_MAP)
        return refuse(err, "not_a_map", "", "%s", "a request is a msgpack map");
    bool has_v = false;
    cf_status st = read_pairs(&rd, top.n, out, &has_v, err);
    if (st != CF_OK)
        return st;
    if (out->reply && !out->id)
        return refuse(err, "missing_field", "id", "%s is required", "id");
    const char *missing = !has_v           ? "v"
                          : !out->id       ? "id"
                          : !out->op       ? "op"
                          : !out->wf_class ? "class"
                          : !out->key      ? "key"
                                           : NULL;
    if (missing)
        return refuse(err, "missing_field", missing, "%s is required", missing);
    return CF_OK;
}

/* pack_str writes a msgpack str (0 / -1). */
static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

cf_status cf_control_request_encode(const cf_control_request *r, cf_buf *b)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, cf_buf_msgpack_write);
    size_t n = 1 + (r->sent_at > 0);
    for (size_t i = 0; i < NSTR; i++)
        n += *(char *const *)((const char *)r + str_fields[i].off) != NULL;
    int rc = msgpack_pack_map(&pk, n);
    rc |= pack_str(&pk, "v") | msgpack_pack_int(&pk, CF_CONTROL_VERSION);
    for (size_t i = 0; i < NSTR; i++) {
        const char *v = *(char *const *)((const char *)r + str_fields[i].off);
        if (v)
            rc |= pack_str(&pk, str_fields[i].name) | pack_str(&pk, v);
    }
    if (r->sent_at > 0)
        rc |= pack_str(&pk, "sent_at") | msgpack_pack_double(&pk, r->sent_at);
    return rc ? CF_ERR_NOMEM : CF_OK;
}

cf_status cf_control_reply_encode(const cf_control_reply *r, cf_buf *b)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, cf_buf_msgpack_write);
    int rc = msgpack_pack_map(&pk, r->accepted ? 3 : 5);
    rc |= pack_str(&pk, "v") | msgpack_pack_int(&pk, CF_CONTROL_VERSION);
    rc |= pack_str(&pk, "id") | pack_str(&pk, r->id);
    rc |= pack_str(&pk, "outcome") | pack_str(&pk, r->accepted ? "accepted" : "refused");
    if (!r->accepted) {
        rc |= pack_str(&pk, "code") | pack_str(&pk, r->code);
        rc |= pack_str(&pk, "reason") | pack_str(&pk, r->reason);
    }
    return rc ? CF_ERR_NOMEM : CF_OK;
}

/* copy_item copies a str item into dst (cap bytes, truncated). */
static void copy_item(char *dst, size_t cap, const cf_mp_item *v)
{
    size_t n = v->n < cap - 1 ? v->n : cap - 1;
    memcpy(dst, v->ptr, n);
    dst[n] = '\0';
}

cf_status cf_control_reply_decode(const void *raw, size_t len, cf_control_reply *out)
{
    memset(out, 0, sizeof *out);
    cf_mp_reader rd;
    cf_mp_reader_init(&rd, raw, len);
    cf_mp_item top;
    if (!cf_mp_read(&rd, &top) || top.type != CF_MP_MAP)
        return CF_ERR_INVALID;
    bool outcome = false;
    for (uint32_t i = 0; i < top.n; i++) {
        cf_mp_item k, v;
        if (!cf_mp_read(&rd, &k) || k.type != CF_MP_STR)
            return CF_ERR_INVALID;
        cf_mp_reader at = rd;
        if (!cf_mp_read(&rd, &v))
            return CF_ERR_INVALID;
        if (v.type == CF_MP_ARRAY || v.type == CF_MP_MAP) {
            rd = at;
            if (!cf_mp_skip(&rd))
                return CF_ERR_INVALID;
            continue;
        }
        if (v.type != CF_MP_STR)
            continue;
        if (k.n == 2 && memcmp(k.ptr, "id", 2) == 0)
            copy_item(out->id, sizeof out->id, &v);
        else if (k.n == 4 && memcmp(k.ptr, "code", 4) == 0)
            copy_item(out->code, sizeof out->code, &v);
        else if (k.n == 6 && memcmp(k.ptr, "reason", 6) == 0)
            copy_item(out->reason, sizeof out->reason, &v);
        else if (k.n == 7 && memcmp(k.ptr, "outcome", 7) == 0) {
            outcome = true;
            out->accepted = v.n == 8 && memcmp(v.ptr, "accepted", 8) == 0;
        }
    }
    return outcome ? CF_OK : CF_ERR_INVALID;
}
