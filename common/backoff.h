// SPDX-License-Identifier: MIT
/* common/backoff.h: capped exponential backoff with equal jitter, shared by retry policies
 * (worker/) and reconnect loops (queue/, store/): delay = min(cap, base * 2^(n-1)), and the
 * result is drawn uniformly from [delay/2, delay] when jitter is on. */
#ifndef CF_COMMON_BACKOFF_H
#define CF_COMMON_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/* cf_backoff_delay_ms returns the wait before try number n (n >= 1; n < 1 counts as 1).
 * base_ms <= 0 gives 0. Never overflows: the doubling saturates at cap_ms. */
int64_t cf_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, int n, bool jitter);

#endif
