// SPDX-License-Identifier: MIT
/* common/log.c: the logger: the line's fields, written as logfmt or as JSON (common/log_json.c),
 * level threshold, rate limiting. */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log_internal.h"

static atomic_int g_level = CF_LOG_INFO;
static atomic_int g_format = CF_LOG_LOGFMT;
static const char *g_component = NULL;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cf_log_set_level(cf_log_level lvl)
{
    atomic_store(&g_level, (int)lvl);
}

bool cf_log_level_parse(const char *name, cf_log_level *out)
{
    for (int i = 0; name && i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (cf_log_level)i;
            return true;
        }
    return false;
}

bool cf_log_enabled(cf_log_level lvl)
{
    return (int)lvl >= atomic_load(&g_level);
}

void cf_log_set_format(cf_log_format fmt)
{
    atomic_store(&g_format, (int)fmt);
}

bool cf_log_format_parse(const char *name, cf_log_format *out)
{
    if (name && strcasecmp(name, "logfmt") == 0)
        *out = CF_LOG_LOGFMT;
    else if (name && strcasecmp(name, "json") == 0)
        *out = CF_LOG_JSON;
    else
        return false;
    return true;
}

void cf_log_set_component(const char *component)
{
    g_component = component;
}

void cf_log_line_put(cf_log_line *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 2 - l->len; /* keep room for '\n' and '\0' */
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

void cf_log_line_putf(cf_log_line *l, const char *fmt, ...)
{
    size_t room = sizeof l->buf - 2 - l->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, room + 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n > room ? room : (size_t)n;
}

/* put_quoted writes s as a logfmt quoted value: backslash, quote and control bytes escaped. */
static void put_quoted(cf_log_line *l, const char *s)
{
    cf_log_line_put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            cf_log_line_put(l, esc, 2);
        } else if (*p == '\n') {
            cf_log_line_put(l, "\\n", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            cf_log_line_putf(l, "\\x%02x", *p);
        } else {
            cf_log_line_put(l, (const char *)p, 1);
        }
    }
    cf_log_line_put(l, "\"", 1);
}

/* put_value writes a context value bare when it is plain, quoted otherwise. */
static void put_value(cf_log_line *l, const char *key, const char *v)
{
    bool plain = *v != '\0';
    for (const char *p = v; *p && plain; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x21)
            plain = false;
    cf_log_line_putf(l, " %s=", key);
    if (plain)
        cf_log_line_put(l, v, strlen(v));
    else
        put_quoted(l, v);
}

/* logfmt writes f as `ts=... level=... pid=... [component=..] [class=.. key=.. jid=..
 * attempt=..] [pairs] msg="..."`. */
static void logfmt(cf_log_line *l, const cf_log_fields *f)
{
    cf_log_line_putf(l, "ts=%s level=%s pid=%ld", f->ts, f->level, f->pid);
    if (f->component)
        cf_log_line_putf(l, " component=%s", f->component);
    const cf_log_ctx *ctx = f->ctx;
    if (ctx) {
        if (ctx->wf_class)
            put_value(l, "class", ctx->wf_class);
        if (ctx->wf_key)
            put_value(l, "key", ctx->wf_key);
        if (ctx->jid)
            put_value(l, "jid", ctx->jid);
        if (ctx->attempt > 0)
            cf_log_line_putf(l, " attempt=%d", ctx->attempt);
    }
    if (f->kv && *f->kv)
        cf_log_line_putf(l, " %s", f->kv);
    if (f->event) {
        cf_log_line_put(l, " ", 1);
        cf_log_line_put(l, f->event, f->event_len);
    }
    cf_log_line_put(l, " msg=", 5);
    put_quoted(l, f->msg);
}

static void vlog(cf_log_level lvl, const cf_log_ctx *ctx, const char *kv, const char *fmt,
                 va_list ap) __attribute__((format(printf, 4, 0)));
static void vlog(cf_log_level lvl, const cf_log_ctx *ctx, const char *kv, const char *fmt,
                 va_list ap)
{
    if (!cf_log_enabled(lvl))
        return;
    char ts[32];
    cf_clock_format_iso8601(cf_clock_unix_ms(), ts, sizeof ts);
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cf_log_fields f = {
        .ts = ts,
        .level = level_names[lvl],
        .pid = (long)getpid(),
        .component = g_component,
        .ctx = ctx,
        .kv = kv,
        .msg = msg,
    };
    /* "event=name k=v ...: text" puts the pairs before msg= and the text in it, so callers can
     * write one printf-checked format; values with spaces must be quoted by the caller. */
    if (strncmp(msg, "event=", 6) == 0) {
        char *sep = strstr(msg, ": ");
        f.event = msg;
        f.event_len = sep ? (size_t)(sep - msg) : strlen(msg);
        f.msg = sep ? sep + 2 : "";
    }
    cf_log_line l = {.len = 0};
    if (atomic_load(&g_format) == CF_LOG_JSON)
        cf_log_json(&l, &f);
    else
        logfmt(&l, &f);
    l.buf[l.len++] = '\n';
    ssize_t off = 0;
    while (off < (ssize_t)l.len) {
        ssize_t w = write(STDERR_FILENO, l.buf + off, l.len - (size_t)off);
        if (w <= 0)
            break;
        off += w;
    }
}

void cf_log(cf_log_level lvl, const cf_log_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, ctx, NULL, fmt, ap);
    va_end(ap);
}

void cf_logkv(cf_log_level lvl, const cf_log_ctx *ctx, const char *kv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, ctx, kv, fmt, ap);
    va_end(ap);
}

bool cf_log_ratelimit(cf_log_limiter *lim, int64_t interval_ms, int64_t *suppressed)
{
    int64_t now = cf_clock_mono_ms();
    int64_t next = atomic_load(&lim->next_ms);
    if (now >= next && atomic_compare_exchange_strong(&lim->next_ms, &next, now + interval_ms)) {
        int64_t n = atomic_exchange(&lim->suppressed, 0);
        if (suppressed)
            *suppressed = n;
        return true;
    }
    atomic_fetch_add(&lim->suppressed, 1);
    return false;
}
