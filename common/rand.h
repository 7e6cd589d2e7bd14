// SPDX-License-Identifier: MIT
/* common/rand.h: fast non-cryptographic randomness for jitter and ids (xoshiro-style, per
 * thread, seeded from getrandom), plus random hex ids for jids, run ids and worker ids. */
#ifndef CF_COMMON_RAND_H
#define CF_COMMON_RAND_H

#include <stddef.h>
#include <stdint.h>

/* cf_rand_u64 returns 64 random bits from this thread's generator. */
uint64_t cf_rand_u64(void);

/* cf_rand_below returns a uniform value in [0, n); 0 when n == 0. */
uint64_t cf_rand_below(uint64_t n);

/* cf_rand_hex writes nchars random lowercase hex characters and a NUL into out
 * (out must hold nchars + 1 bytes). */
void cf_rand_hex(char *out, size_t nchars);

#endif
