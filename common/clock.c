// SPDX-License-Identifier: MIT
/* common/clock.c: monotonic and wall clocks in ms, interruptible sleep, ISO-8601 formatting. */
#include "common/clock.h"

#include <stdio.h>
#include <time.h>

static int64_t read_clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cf_clock_mono_ms(void)
{
    return read_clock_ms(CLOCK_MONOTONIC);
}

int64_t cf_clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cf_clock_unix_ms(void)
{
    return read_clock_ms(CLOCK_REALTIME);
}

bool cf_clock_sleep_ms(int64_t ms, const atomic_bool *stop)
{
    int64_t deadline = cf_clock_mono_ms() + ms;
    for (;;) {
        if (stop && atomic_load(stop))
            return false;
        int64_t left = deadline - cf_clock_mono_ms();
        if (left <= 0)
            return true;
        if (left > 50)
            left = 50;
        struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

void cf_clock_format_iso8601(int64_t unix_ms, char *buf, unsigned cap)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_ms % 1000));
}
