// SPDX-License-Identifier: MIT
/* common/backoff.c: capped exponential backoff with equal jitter. */
#include "common/backoff.h"

#include "common/rand.h"

int64_t cf_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, int n, bool jitter)
{
    if (base_ms <= 0)
        return 0;
    if (cap_ms < base_ms)
        cap_ms = base_ms;
    if (n < 1)
        n = 1;
    int64_t d = base_ms;
    for (int i = 1; i < n && d < cap_ms; i++)
        d = d > cap_ms / 2 ? cap_ms : d * 2;
    if (d > cap_ms)
        d = cap_ms;
    if (!jitter)
        return d;
    int64_t half = d / 2;
    return half + (int64_t)cf_rand_below((uint64_t)(d - half) + 1);
}
