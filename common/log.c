// SPDX-License-Identifier: MIT
/* common/log.c: the logfmt logger: formatting, quoting, level threshold, rate limiting. */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/clock.h"

static atomic_int g_level = CF_LOG_INFO;
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

void cf_log_set_component(const char *component)
{
    g_component = component;
}

/* A growing line buffer on the stack; output past its capacity is cut, never overflowed. */
typedef struct line {
    char buf[4096];
    size_t len;
} line;

static void put(line *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 2 - l->len; /* keep room for '\n' and '\0' */
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void putf(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line *l, const char *fmt, ...)
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
static void put_quoted(line *l, const char *s)
{
    put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            put(l, esc, 2);
        } else if (*p == '\n') {
            put(l, "\\n", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            putf(l, "\\x%02x", *p);
        } else {
            put(l, (const char *)p, 1);
        }
    }
    put(l, "\"", 1);
}

/* put_value writes a context value bare when it is plain, quoted otherwise. */
static void put_value(line *l, const char *key, const char *v)
{
    bool plain = *v != '\0';
    for (const char *p = v; *p && plain; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x21)
            plain = false;
    putf(l, " %s=", key);
    if (plain)
        put(l, v, strlen(v));
    else
        put_quoted(l, v);
}

static void vlog(cf_log_level lvl, const cf_log_ctx *ctx, const char *kv, const char *fmt,
                 va_list ap) __attribute__((format(printf, 4, 0)));
static void vlog(cf_log_level lvl, const cf_log_ctx *ctx, const char *kv, const char *fmt,
                 va_list ap)
{
    if (!cf_log_enabled(lvl))
        return;
    line l = {.len = 0};
    char ts[32];
    cf_clock_format_iso8601(cf_clock_unix_ms(), ts, sizeof ts);
    putf(&l, "ts=%s level=%s pid=%ld", ts, level_names[lvl], (long)getpid());
    if (g_component)
        putf(&l, " component=%s", g_component);
    if (ctx) {
        if (ctx->wf_class)
            put_value(&l, "class", ctx->wf_class);
        if (ctx->wf_key)
            put_value(&l, "key", ctx->wf_key);
        if (ctx->jid)
            put_value(&l, "jid", ctx->jid);
        if (ctx->attempt > 0)
            putf(&l, " attempt=%d", ctx->attempt);
    }
    if (kv && *kv)
        putf(&l, " %s", kv);
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* "event=name k=v ...: text" puts the pairs before msg= and the text in it, so callers can
     * write one printf-checked format; values with spaces must be quoted by the caller. */
    const char *text = msg;
    if (strncmp(msg, "event=", 6) == 0) {
        char *sep = strstr(msg, ": ");
        size_t kvlen = sep ? (size_t)(sep - msg) : strlen(msg);
        put(&l, " ", 1);
        put(&l, msg, kvlen);
        text = sep ? sep + 2 : "";
    }
    put(&l, " msg=", 5);
    put_quoted(&l, text);
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
