// SPDX-License-Identifier: MIT
/* common/log.h: one line per event on stderr, in logfmt (the default) or as one JSON object per
 * line with the same keys (cf_log_set_format), with levels and an optional job context (workflow
 * class, key, jid, attempt). Lines are written with a single write(2), so threads do not
 * interleave. Never pass a secret: use cf_redact_dsn (common/redact.h) for connection strings. */
#ifndef CF_COMMON_LOG_H
#define CF_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum cf_log_level {
    CF_LOG_DEBUG = 0,
    CF_LOG_INFO,
    CF_LOG_WARN,
    CF_LOG_ERROR,
} cf_log_level;

/* cf_log_ctx names the job a line is about; any field may be NULL / 0 (then it is left out). */
typedef struct cf_log_ctx {
    const char *wf_class;
    const char *wf_key;
    const char *jid;
    int attempt;
} cf_log_ctx;

/* cf_log_set_level sets the threshold (default INFO). cf_log_level_parse reads "debug",
 * "info", "warn" or "error" (any case) into *out; false for anything else. */
void cf_log_set_level(cf_log_level lvl);
bool cf_log_level_parse(const char *name, cf_log_level *out);
bool cf_log_enabled(cf_log_level lvl);

/* The line format. JSON: {"ts":..,"level":..,"pid":N,"component":..,"class":..,"key":..,
 * "jid":..,"attempt":N,<the event's pairs>,"msg":..} in that order: the keys of the logfmt line,
 * every value a string except pid and attempt; strings escaped per RFC 8259 (invalid UTF-8 as
 * U+FFFD). */
typedef enum cf_log_format {
    CF_LOG_LOGFMT = 0,
    CF_LOG_JSON,
} cf_log_format;

/* cf_log_set_format sets the format (default logfmt). cf_log_format_parse reads "logfmt" or
 * "json" (any case) into *out; false for anything else. */
void cf_log_set_format(cf_log_format fmt);
bool cf_log_format_parse(const char *name, cf_log_format *out);

/* cf_log_set_component sets the "component" of this process's lines (e.g. "worker"); borrowed,
 * must outlive logging. */
void cf_log_set_component(const char *component);

/* cf_log writes `ts=... level=... pid=... component=... [class=.. key=.. jid=.. attempt=..]
 * msg="..."`; the message is quoted and escaped. A message of the form
 * "event=name k=v ...: text" puts its pairs before msg= and only the text inside it (values
 * with spaces must then be quoted by the caller). cf_logkv takes the pairs separately. */
void cf_log(cf_log_level lvl, const cf_log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cf_logkv is cf_log with extra logfmt pairs placed before msg: kv is a preformatted
 * "k1=v1 k2=v2" string (values must not need quoting) or NULL. */
void cf_logkv(cf_log_level lvl, const cf_log_ctx *ctx, const char *kv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (cf_log_enabled(CF_LOG_DEBUG))                                                          \
            cf_log(CF_LOG_DEBUG, NULL, __VA_ARGS__);                                               \
    } while (0)
#define log_info(...)  cf_log(CF_LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...)  cf_log(CF_LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) cf_log(CF_LOG_ERROR, NULL, __VA_ARGS__)

/* cf_log_ratelimit answers whether a repeated event may log now: at most one line per
 * interval_ms per limiter (e.g. "redis unreachable" while reconnecting). *suppressed receives
 * how many calls were refused since the last allowed one. Thread-safe. */
typedef struct cf_log_limiter {
    _Atomic int64_t next_ms;
    _Atomic int64_t suppressed;
} cf_log_limiter;
bool cf_log_ratelimit(cf_log_limiter *lim, int64_t interval_ms, int64_t *suppressed);

#endif
