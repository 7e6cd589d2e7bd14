// SPDX-License-Identifier: MIT
/* common/log_json.c: a log line as one JSON object (common/log.h, CF_LOG_JSON): the logfmt
 * line's keys in the same order, pairs written by callers in logfmt ("k=v k2=\"v 2\"") split
 * into members, strings escaped per RFC 8259 with invalid UTF-8 replaced by U+FFFD. A line that
 * would not fit the buffer has its strings cut, so it is still one valid object. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/log_internal.h"

#define RESERVE 8 /* kept for the closing "} of a cut line */

static size_t room(const cf_log_line *l)
{
    size_t cap = sizeof l->buf - 2 - RESERVE;
    return l->len < cap ? cap - l->len : 0;
}

/* utf8_len: the length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t min, cp;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0)
        len = 2, min = 0x80, cp = p[0] & 0x1f;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, min = 0x800, cp = p[0] & 0x0f;
    else if ((p[0] & 0xf8) == 0xf0)
        len = 4, min = 0x10000, cp = p[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* put_string writes s[0..n) as a JSON string; stops early (still closed) when the line is full. */
static void put_string(cf_log_line *l, const char *s, size_t n)
{
    cf_log_line_put(l, "\"", 1);
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        char esc[8];
        size_t k = 0, adv = 1;
        const char *out = esc;
        if (*p == '"' || *p == '\\')
            esc[0] = '\\', esc[1] = (char)*p, k = 2;
        else if (*p == '\n')
            memcpy(esc, "\\n", 2), k = 2;
        else if (*p == '\r')
            memcpy(esc, "\\r", 2), k = 2;
        else if (*p == '\t')
            memcpy(esc, "\\t", 2), k = 2;
        else if (*p < 0x20)
            k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
        else if ((adv = utf8_len(p, (size_t)(end - p))) == 0)
            memcpy(esc, "\\ufffd", 6), k = 6, adv = 1;
        else
            out = (const char *)p, k = adv;
        if (k > room(l))
            break;
        cf_log_line_put(l, out, k);
        p += adv;
    }
    l->buf[l->len++] = '"'; /* within RESERVE */
}

static void member(cf_log_line *l, const char *key, size_t klen, const char *v, size_t vlen)
{
    if (room(l) < klen + 6)
        return; /* a full line drops what does not fit */
    cf_log_line_put(l, ",", 1);
    put_string(l, key, klen);
    cf_log_line_put(l, ":", 1);
    put_string(l, v, vlen);
}

/* unquote copies a logfmt quoted value starting after its opening quote into out (cap bytes),
 * undoing \" \\ \n; returns where parsing continues (after the closing quote). */
static const char *unquote(const char *p, const char *end, char *out, size_t cap, size_t *n)
{
    *n = 0;
    while (p < end && *p != '"') {
        char c = *p++;
        if (c == '\\' && p < end) {
            c = *p++;
            if (c == 'n')
                c = '\n';
        }
        if (*n + 1 < cap)
            out[(*n)++] = c;
    }
    return p < end ? p + 1 : p;
}

/* pairs writes each `k=v` or `k="v"` of s[0..n) as a member (a bare word becomes a member with
 * an empty value). */
static void pairs(cf_log_line *l, const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *key = p;
        while (p < end && *p != '=' && *p != ' ')
            p++;
        size_t klen = (size_t)(p - key);
        if (klen == 0 && (p >= end || *p != '=')) {
            continue;
        }
        if (p >= end || *p == ' ') {
            member(l, key, klen, "", 0);
            continue;
        }
        p++; /* '=' */
        if (p < end && *p == '"') {
            char v[2048];
            size_t vlen;
            p = unquote(p + 1, end, v, sizeof v, &vlen);
            member(l, key, klen, v, vlen);
        } else {
            const char *v = p;
            while (p < end && *p != ' ')
                p++;
            member(l, key, klen, v, (size_t)(p - v));
        }
    }
}

void cf_log_json(cf_log_line *l, const cf_log_fields *f)
{
    cf_log_line_put(l, "{\"ts\":", 6);
    put_string(l, f->ts, strlen(f->ts));
    member(l, "level", 5, f->level, strlen(f->level));
    cf_log_line_putf(l, ",\"pid\":%ld", f->pid);
    if (f->component)
        member(l, "component", 9, f->component, strlen(f->component));
    const cf_log_ctx *ctx = f->ctx;
    if (ctx) {
        if (ctx->wf_class)
            member(l, "class", 5, ctx->wf_class, strlen(ctx->wf_class));
        if (ctx->wf_key)
            member(l, "key", 3, ctx->wf_key, strlen(ctx->wf_key));
        if (ctx->jid)
            member(l, "jid", 3, ctx->jid, strlen(ctx->jid));
        if (ctx->attempt > 0)
            cf_log_line_putf(l, ",\"attempt\":%d", ctx->attempt);
    }
    if (f->kv)
        pairs(l, f->kv, strlen(f->kv));
    if (f->event)
        pairs(l, f->event, f->event_len);
    member(l, "msg", 3, f->msg, strlen(f->msg));
    l->buf[l->len++] = '}'; /* within RESERVE */
}
