// SPDX-License-Identifier: MIT
/* common/redact.c: password removal from URLs and conninfo strings. */
#include "common/redact.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static void append(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + 1 >= cap)
        return;
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

/* redact_url handles scheme://[user[:password]@]rest and also ?password= query parameters. */
static void redact_url(const char *in, const char *after_scheme, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    append(out, cap, &len, in, (size_t)(after_scheme - in));
    const char *at = NULL;
    for (const char *p = after_scheme; *p && *p != '/' && *p != '?' && *p != '#'; p++)
        if (*p == '@')
            at = p; /* the last '@' before the path ends the userinfo */
    const char *rest = after_scheme;
    if (at) {
        const char *colon = memchr(after_scheme, ':', (size_t)(at - after_scheme));
        if (colon) {
            append(out, cap, &len, after_scheme, (size_t)(colon - after_scheme));
            append(out, cap, &len, ":***", 4);
            rest = at;
        }
    }
    /* Copy the rest, hiding password=... query parameters. */
    for (const char *p = rest; *p;) {
        if ((p == rest || p[-1] == '?' || p[-1] == '&') && strncasecmp(p, "password=", 9) == 0) {
            append(out, cap, &len, "password=***", 12);
            p += 9;
            while (*p && *p != '&')
                p++;
            continue;
        }
        append(out, cap, &len, p, 1);
        p++;
    }
}

/* redact_conninfo handles "key=value key='quoted value'" strings. */
static void redact_conninfo(const char *in, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    const char *p = in;
    while (*p) {
        bool is_pw = strncasecmp(p, "password", 8) == 0 && (p == in || p[-1] == ' ');
        if (is_pw) {
            const char *q = p + 8;
            while (*q == ' ')
                q++;
            if (*q == '=') {
                q++;
                while (*q == ' ')
                    q++;
                append(out, cap, &len, "password=***", 12);
                if (*q == '\'') {
                    q++;
                    while (*q && *q != '\'') {
                        if (*q == '\\' && q[1])
                            q++;
                        q++;
                    }
                    if (*q)
                        q++;
                } else {
                    while (*q && *q != ' ')
                        q++;
                }
                p = q;
                continue;
            }
        }
        append(out, cap, &len, p, 1);
        p++;
    }
}

char *cf_redact_dsn(const char *in, char *out, size_t cap)
{
    if (cap == 0)
        return out;
    if (in == NULL) {
        out[0] = '\0';
        return out;
    }
    const char *sep = strstr(in, "://");
    if (sep)
        redact_url(in, sep + 3, out, cap);
    else
        redact_conninfo(in, out, cap);
    return out;
}
