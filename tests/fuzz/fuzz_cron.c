// SPDX-License-Identifier: MIT
/* tests/fuzz/fuzz_cron.c: libFuzzer target for the cron parser and the next-fire search. Any
 * input is parsed or refused with a message naming "cron", without a sanitizer report; a parsed
 * entry's next fire from an instant taken from the input (1970-2100), in UTC and in
 * Europe/Berlin, is a whole second strictly after it and at most ten years and a day later,
 * and asking again from that fire moves strictly forward.
 * fuzz-srcs: common/cron.c common/tz.c common/tz_rule.c common/civil.c common/status.c
 * fuzz-srcs: common/alloc.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT_MS ((10LL * 366 + 1) * 86400 * 1000)

static void check_next(const cf_cron *c, const cf_tz *tz, int64_t after)
{
    int64_t next = 0;
    if (cf_cron_next(c, tz, after, &next) != CF_OK)
        return;
    if (next <= after || next - after > LIMIT_MS || next % 1000 != 0)
        abort();
    int64_t again = 0;
    if (cf_cron_next(c, tz, next, &again) == CF_OK && again <= next)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0;
    size_t take = size < 8 ? size : 8;
    memcpy(&seed, data, take);
    char *s = malloc(size - take + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data + take, size - take);
    s[size - take] = '\0';
    cf_cron c;
    cf_error err;
    memset(&err, 0, sizeof err);
    if (cf_cron_parse(s, &c, &err) != CF_OK) {
        if (strcmp(err.field, "cron") != 0 || err.msg[0] == '\0')
            abort();
    } else {
        int64_t after = (int64_t)(seed % (4102444800000ULL)); /* 1970 .. 2100 */
        check_next(&c, cf_tz_utc(), after);
        const cf_tz *berlin = cf_tz_get("Europe/Berlin", NULL);
        if (berlin != NULL)
            check_next(&c, berlin, after);
    }
    free(s);
    return 0;
}
