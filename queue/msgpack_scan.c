// SPDX-License-Identifier: MIT
/* queue/msgpack_scan.c: the bounds-checked msgpack header reader, the whole-object scanner
 * (well-formedness and depth) and field paths for error messages. Building values and deciding
 * which types are allowed where is queue/envelope.c's job. */
#include "queue/msgpack_scan.h"

#include <stdio.h>
#include <string.h>

void cf_mp_reader_init(cf_mp_reader *r, const char *p, size_t len)
{
    r->p = (const unsigned char *)p;
    r->len = len;
    r->off = 0;
}

static uint64_t load_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void set_signed(cf_mp_item *it, int64_t v)
{
    if (v >= 0) {
        it->type = CF_MP_UINT;
        it->u = (uint64_t)v;
    } else {
        it->type = CF_MP_INT;
        it->i = v;
    }
}

static int64_t sign_extend(uint64_t v, size_t nbytes)
{
    if (nbytes == 8)
        return (int64_t)v;
    uint64_t sign = (uint64_t)1 << (nbytes * 8 - 1);
    return (int64_t)((v ^ sign) - sign);
}

/* Reads a body of n bytes (str/bin/ext) at *off; false when fewer remain. */
static bool take_body(const cf_mp_reader *r, size_t *off, uint64_t n, cf_mp_item *it)
{
    if (n > r->len - *off)
        return false;
    it->ptr = (const char *)r->p + *off;
    it->n = (uint32_t)n;
    *off += (size_t)n;
    return true;
}

/* Width in bytes of the length or value field that follows byte c (0 when none). */
static size_t field_width(unsigned char c)
{
    switch (c) {
    case 0xc4:
    case 0xc7:
    case 0xcc:
    case 0xd0:
    case 0xd9: /* 8-bit */
        return 1;
    case 0xc5:
    case 0xc8:
    case 0xcd:
    case 0xd1:
    case 0xda:
    case 0xdc:
    case 0xde:
        return 2;
    case 0xc6:
    case 0xc9:
    case 0xca:
    case 0xce:
    case 0xd2:
    case 0xdb:
    case 0xdd:
    case 0xdf:
        return 4;
    case 0xcb:
    case 0xcf:
    case 0xd3:
        return 8;
    default:
        return 0;
    }
}

/* Decodes the variable-width forms; c is the type byte, v the field value read after it. */
static bool read_wide(const cf_mp_reader *r, size_t *off, unsigned char c, uint64_t v, size_t w,
                      cf_mp_item *it)
{
    size_t remain = r->len - *off;
    if (c >= 0xc4 && c <= 0xc6) {
        it->type = CF_MP_BIN;
        return take_body(r, off, v, it);
    }
    if (c >= 0xc7 && c <= 0xc9) {
        if (remain < 1)
            return false;
        it->type = CF_MP_EXT;
        it->ext_type = (int8_t)r->p[(*off)++];
        return take_body(r, off, v, it);
    }
    if (c == 0xca || c == 0xcb) {
        it->type = c == 0xca ? CF_MP_FLOAT32 : CF_MP_FLOAT64;
        if (c == 0xca) {
            uint32_t bits = (uint32_t)v;
            float f;
            memcpy(&f, &bits, sizeof f);
            it->f = f;
        } else {
            memcpy(&it->f, &v, sizeof it->f);
        }
        return true;
    }
    if (c >= 0xcc && c <= 0xcf) {
        it->type = CF_MP_UINT;
        it->u = v;
        return true;
    }
    if (c >= 0xd0 && c <= 0xd3) {
        set_signed(it, sign_extend(v, w));
        return true;
    }
    if (c >= 0xd9 && c <= 0xdb) {
        it->type = CF_MP_STR;
        return take_body(r, off, v, it);
    }
    /* arrays need one byte per element, maps two per pair: refuse impossible counts here. */
    it->type = (c == 0xdc || c == 0xdd) ? CF_MP_ARRAY : CF_MP_MAP;
    uint64_t need = it->type == CF_MP_MAP ? v * 2 : v;
    if (need > remain)
        return false;
    it->n = (uint32_t)v;
    return true;
}

static bool read_fixed(const cf_mp_reader *r, size_t *off, unsigned char c, cf_mp_item *it)
{
    size_t remain = r->len - *off;
    if (c <= 0x7f) {
        it->type = CF_MP_UINT;
        it->u = c;
    } else if (c >= 0xe0) {
        it->type = CF_MP_INT;
        it->i = (int8_t)c;
    } else if (c <= 0x8f) {
        it->type = CF_MP_MAP;
        it->n = c & 0x0f;
        return (size_t)it->n * 2 <= remain;
    } else if (c <= 0x9f) {
        it->type = CF_MP_ARRAY;
        it->n = c & 0x0f;
        return it->n <= remain;
    } else if (c <= 0xbf) {
        it->type = CF_MP_STR;
        return take_body(r, off, c & 0x1f, it);
    } else if (c == 0xc0) {
        it->type = CF_MP_NIL;
    } else if (c == 0xc2 || c == 0xc3) {
        it->type = CF_MP_BOOL;
        it->b = c == 0xc3;
    } else if (c >= 0xd4 && c <= 0xd8) { /* fixext 1, 2, 4, 8, 16 */
        if (remain < 1)
            return false;
        it->type = CF_MP_EXT;
        it->ext_type = (int8_t)r->p[(*off)++];
        return take_body(r, off, (uint64_t)1 << (c - 0xd4), it);
    } else {
        return false; /* 0xc1, never used */
    }
    return true;
}

bool cf_mp_read(cf_mp_reader *r, cf_mp_item *it)
{
    if (r->off >= r->len)
        return false;
    memset(it, 0, sizeof *it);
    size_t off = r->off;
    unsigned char c = r->p[off++];
    size_t w = field_width(c);
    bool ok;
    if (w == 0) {
        ok = read_fixed(r, &off, c, it);
    } else if (w > r->len - off) {
        ok = false;
    } else {
        uint64_t v = load_be(r->p + off, w);
        off += w;
        ok = read_wide(r, &off, c, v, w, it);
    }
    if (ok)
        r->off = off;
    return ok;
}

bool cf_mp_next_is_container(const cf_mp_reader *r)
{
    if (r->off >= r->len)
        return false;
    unsigned char c = r->p[r->off];
    return (c >= 0x80 && c <= 0x9f) || (c >= 0xdc && c <= 0xdf);
}

bool cf_mp_skip(cf_mp_reader *r)
{
    /* Iterative: counts the objects still owed, so nesting costs no stack. Each declared count
     * was checked against the remaining bytes, so pending stays below 2 * len. */
    uint64_t pending = 1;
    cf_mp_item it;
    while (pending > 0) {
        if (!cf_mp_read(r, &it))
            return false;
        pending--;
        if (it.type == CF_MP_ARRAY)
            pending += it.n;
        else if (it.type == CF_MP_MAP)
            pending += (uint64_t)it.n * 2;
    }
    return true;
}

static cf_status scan_value(cf_mp_reader *r, int depth, int max_depth, cf_mp_path *path,
                            cf_error *err);

static cf_status scan_container(cf_mp_reader *r, const cf_mp_item *it, int depth, int max_depth,
                                cf_mp_path *path, cf_error *err)
{
    if (depth > max_depth)
        return cf_error_set(err, "too_deep", path->s, "containers nest deeper than %d levels",
                            max_depth);
    cf_status st = CF_OK;
    for (uint32_t i = 0; i < it->n && st == CF_OK; i++) {
        cf_mp_item k = {.type = CF_MP_NIL};
        if (it->type == CF_MP_MAP) {
            cf_mp_reader peek = *r;
            if (!cf_mp_read(&peek, &k))
                k.type = CF_MP_NIL;
            st = scan_value(r, depth + 1, max_depth, path, err);
            if (st != CF_OK)
                break;
        }
        /* Only too_deep names a field, and only containers can be too deep: paths are built
         * for them alone, which keeps a long array of scalars cheap to scan. */
        size_t saved = path->len;
        if (cf_mp_next_is_container(r)) {
            if (it->type == CF_MP_ARRAY)
                cf_mp_path_index(path, i);
            else if (k.type == CF_MP_STR)
                cf_mp_path_key(path, k.ptr, k.n);
            else
                cf_mp_path_key(path, "?", 1);
        }
        st = scan_value(r, depth + 1, max_depth, path, err);
        if (st == CF_OK)
            cf_mp_path_pop(path, saved);
    }
    return st;
}

static cf_status scan_value(cf_mp_reader *r, int depth, int max_depth, cf_mp_path *path,
                            cf_error *err)
{
    cf_mp_item it;
    if (!cf_mp_read(r, &it)) {
        if (r->off >= r->len)
            return cf_error_set(err, "not_msgpack", "", "truncated at byte %zu", r->off);
        return cf_error_set(err, "not_msgpack", "", "invalid byte or impossible length at byte %zu",
                            r->off);
    }
    if (it.type == CF_MP_ARRAY || it.type == CF_MP_MAP)
        return scan_container(r, &it, depth, max_depth, path, err);
    return CF_OK;
}

cf_status cf_mp_scan(cf_mp_reader *r, int max_depth, cf_error *err)
{
    cf_mp_path path = {.s = "", .len = 0};
    return scan_value(r, 0, max_depth, &path, err);
}

/* ---- field paths ---- */

static void path_putc(cf_mp_path *p, char c)
{
    if (p->len + 1 < sizeof p->s) {
        p->s[p->len++] = c;
        p->s[p->len] = '\0';
    }
}

size_t cf_mp_path_key(cf_mp_path *p, const char *key, size_t len)
{
    size_t saved = p->len;
    if (p->len > 0)
        path_putc(p, '.');
    for (size_t i = 0; i < len && p->len + 1 < sizeof p->s; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c >= 0x20 && c < 0x7f) {
            path_putc(p, (char)c);
        } else {
            char hex[5];
            snprintf(hex, sizeof hex, "\\x%02x", c);
            for (int j = 0; j < 4; j++)
                path_putc(p, hex[j]);
        }
    }
    return saved;
}

size_t cf_mp_path_index(cf_mp_path *p, uint32_t i)
{
    size_t saved = p->len;
    char idx[16];
    int n = snprintf(idx, sizeof idx, "[%u]", i);
    for (int j = 0; j < n; j++)
        path_putc(p, idx[j]);
    return saved;
}

void cf_mp_path_pop(cf_mp_path *p, size_t len)
{
    if (len < p->len) {
        p->len = len;
        p->s[len] = '\0';
    }
}
