// SPDX-License-Identifier: MIT
/* tests/fuzz/fuzz_duration.c: libFuzzer target for the duration and time parsers and the
 * duration formatter. Any input must be parsed or refused without a sanitizer report; a
 * duration is within [0, 100 years]; a bare number means seconds both as a duration and as a
 * time, and "<n>s" equals "<n>"; formatting into any buffer size stays terminated.
 * fuzz-srcs: common/duration.c common/status.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MS (100LL * 365 * 24 * 3600 * 1000)

static void format_everywhere(int64_t ms, unsigned char capbyte)
{
    char buf[64];
    unsigned cap = 1 + capbyte % sizeof buf;
    memset(buf, 'x', sizeof buf);
    cf_duration_format(ms, buf, cap);
    if (memchr(buf, '\0', cap) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 2);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    cf_error err;
    int64_t dur = -1, t = -1;
    bool dur_ok = cf_duration_parse_ms(s, &dur, &err) == CF_OK;
    if (!dur_ok && err.code[0] == '\0')
        abort();
    if (dur_ok) {
        if (dur < 0 || dur > MAX_MS)
            abort();
        format_everywhere(dur, size ? data[0] : 0);
    }
    bool time_ok = cf_time_parse_unix_ms(s, &t, &err) == CF_OK;
    if (!time_ok && err.code[0] == '\0')
        abort();
    bool bare = size > 0 && strspn(s, "0123456789.") == size && strlen(s) == size;
    if (bare && dur_ok && time_ok && dur != t)
        abort();
    if (bare && strlen(s) == size) {
        s[size] = 's';
        s[size + 1] = '\0';
        int64_t with_unit = -1;
        bool unit_ok = cf_duration_parse_ms(s, &with_unit, &err) == CF_OK;
        if (unit_ok != dur_ok || (dur_ok && with_unit != dur))
            abort();
    }
    /* the formatter must cope with any value, negative and huge included */
    if (size >= 8) {
        int64_t raw;
        memcpy(&raw, data, sizeof raw);
        format_everywhere(raw, data[size - 1]);
    }
    free(s);
    return 0;
}
