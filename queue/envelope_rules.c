// SPDX-License-Identifier: MIT
/* queue/envelope_rules.c: the value rules of SPEC §1 that decode and encode both apply: UTF-8
 * validity, the charsets and lengths of jid, class, key and queue, and the reserved kwargs names.
 * Walking msgpack or JSON values is left to the decoder and encoder. */
#include <string.h>

#include "common/duration.h"
#include "queue/envelope.h"
#include "queue/envelope_internal.h"

bool cf_envelope_utf8_is_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            cp = c & 0x07;
        } else {
            return false; /* continuation byte, overlong 0xc0/0xc1, or above 0xf4 */
        }
        if (n > len - i)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

cf_status cf_envelope_check_text(const char *s, size_t len, const char *field, cf_error *err)
{
    if (memchr(s, '\0', len) != NULL)
        return cf_error_set(err, "bad_value", field, "%s contains a NUL byte", field);
    if (!cf_envelope_utf8_is_valid(s, len))
        return cf_error_set(err, "bad_utf8", field, "%s is not valid UTF-8", field);
    return CF_OK;
}

static bool all_in(const char *s, size_t len, const char *extra)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (c == '\0' || strchr(extra, c) == NULL))
            return false;
    }
    return true;
}

bool cf_envelope_class_is_valid(const char *s, size_t len)
{
    return s != NULL && len >= 1 && len <= CF_ENVELOPE_CLASS_MAX && all_in(s, len, "_.:");
}

bool cf_envelope_queue_is_valid(const char *s, size_t len)
{
    return s != NULL && len >= 1 && len <= CF_ENVELOPE_QUEUE_MAX && all_in(s, len, "_.-");
}

cf_status cf_envelope_check_field(const char *name, const char *s, size_t len, cf_error *err)
{
    size_t max = CF_ENVELOPE_KEY_MAX;
    if (strcmp(name, "jid") == 0)
        max = CF_ENVELOPE_JID_MAX;
    else if (strcmp(name, "class") == 0)
        max = CF_ENVELOPE_CLASS_MAX;
    else if (strcmp(name, "queue") == 0)
        max = CF_ENVELOPE_QUEUE_MAX;
    if (len < 1 || len > max)
        return cf_error_set(err, "bad_value", name, "%s must be 1-%zu bytes, not %zu", name, max,
                            len);
    cf_status st = cf_envelope_check_text(s, len, name, err);
    if (st != CF_OK)
        return st;
    if (strcmp(name, "class") == 0 && !cf_envelope_class_is_valid(s, len))
        return cf_error_set(err, "bad_value", name, "class may hold only [A-Za-z0-9_.:]");
    if (strcmp(name, "queue") == 0 && !cf_envelope_queue_is_valid(s, len))
        return cf_error_set(err, "bad_value", name, "queue may hold only [A-Za-z0-9_.-]");
    return CF_OK;
}

bool cf_envelope_is_reserved(const char *key, size_t len)
{
    static const char *const names[] = {"attempt", "retry_counts", "retry_workflow"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], key, len) == 0)
            return true;
    return false;
}

cf_status cf_envelope_check_max_duration(const json_t *options, cf_error *err)
{
    static const char field[] = "options.max_duration";
    json_t *md = json_object_get(options, "max_duration");
    if (md == NULL)
        return CF_OK;
    if (json_is_number(md)) {
        if (!(json_number_value(md) >= 0))
            return cf_error_set(err, "bad_value", field, "%s must not be negative", field);
        return CF_OK;
    }
    if (!json_is_string(md))
        return cf_error_set(err, "wrong_type", field, "%s must be seconds or a duration string",
                            field);
    int64_t ms;
    cf_error derr = {.code = ""};
    if (cf_duration_parse_ms(json_string_value(md), &ms, &derr) != CF_OK)
        return cf_error_set(err, "bad_value", field, "%s: %s", field, derr.msg);
    return CF_OK;
}
