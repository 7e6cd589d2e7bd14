// SPDX-License-Identifier: MIT
/* common/rand.c: per-thread splitmix/xorshift generator seeded from the kernel. */
#include "common/rand.h"

#include <stdbool.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static _Thread_local uint64_t t_state;
static _Thread_local bool t_seeded;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t cf_rand_u64(void)
{
    if (!t_seeded) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&ts;
        }
        t_state = seed;
        t_seeded = true;
    }
    return splitmix64(&t_state);
}

uint64_t cf_rand_below(uint64_t n)
{
    if (n == 0)
        return 0;
    /* Rejection sampling removes modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do {
        r = cf_rand_u64();
    } while (r >= limit);
    return r % n;
}

void cf_rand_hex(char *out, size_t nchars)
{
    static const char digits[] = "0123456789abcdef";
    uint64_t bits = 0;
    for (size_t i = 0; i < nchars; i++) {
        if (i % 16 == 0)
            bits = cf_rand_u64();
        out[i] = digits[bits & 0xf];
        bits >>= 4;
    }
    out[nchars] = '\0';
}
