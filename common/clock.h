// SPDX-License-Identifier: MIT
/* common/clock.h: the two clocks, kept apart by name. Monotonic milliseconds for timeouts and
 * backoff; Unix milliseconds for anything stored in Redis or Postgres. Also a sleep that a
 * shutdown flag can cut short. */
#ifndef CF_COMMON_CLOCK_H
#define CF_COMMON_CLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* cf_clock_mono_ms: CLOCK_MONOTONIC in ms; only differences mean anything. */
int64_t cf_clock_mono_ms(void);

/* cf_clock_mono_us: CLOCK_MONOTONIC in microseconds (durations in metrics). */
int64_t cf_clock_mono_us(void);

/* cf_clock_unix_ms: CLOCK_REALTIME in ms since the Unix epoch. */
int64_t cf_clock_unix_ms(void);

/* cf_clock_sleep_ms sleeps ms milliseconds, waking every 50 ms to look at *stop (may be NULL).
 * Returns false when it returned early because *stop became true. */
bool cf_clock_sleep_ms(int64_t ms, const atomic_bool *stop);

/* cf_clock_format_iso8601 writes unix_ms as "2026-11-26T16:20:01.123Z" into buf (>= 25 bytes). */
void cf_clock_format_iso8601(int64_t unix_ms, char *buf, unsigned cap);

#endif
