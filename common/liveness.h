// SPDX-License-Identifier: MIT
/* common/liveness.h: the process's one definition of alive (docs/metrics.md, SPEC §5): every
 * loop (the fetch loop, housekeeping, heartbeat, store writer) records when it last
 * iterated in a per-thread slot; the process is alive while every slot that is not parked has
 * iterated within a bound. A slot is parked while its thread runs user code (an executor inside
 * a delivery) or waits for work that has not come (an idle writer). A wait for a dependency
 * known to be down (a reconnect's backoff) touches the slot on each attempt, so it counts as
 * alive. Lives in common/ because the loops sit in queue/, store/ and worker/. Lock-free;
 * every call is a few atomic stores. */
#ifndef CF_COMMON_LIVENESS_H
#define CF_COMMON_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CF_LIVENESS_SLOTS 512

/* cf_liveness_tick: this thread's loop named loop (a static string: "fetch", "writer"...)
 * iterated now; takes a slot on first use and unparks it. */
void cf_liveness_tick(const char *loop);

/* cf_liveness_park: no bound applies to this thread until its next tick (user code, idle). */
void cf_liveness_park(void);

/* cf_liveness_touch: this thread is still making progress (a retry while a dependency is
 * down); a no-op for a thread without a slot. */
void cf_liveness_touch(void);

/* cf_liveness_leave: this thread's loop ended; frees its slot. */
void cf_liveness_leave(void);

/* cf_liveness_loop: one loop name's state, the worst of its threads. */
typedef struct cf_liveness_loop {
    const char *name;
    int threads;    /* slots with this name */
    int parked;     /* of which parked */
    int64_t age_ms; /* the oldest tick among the unparked ones (0 when all are parked) */
} cf_liveness_loop;

/* cf_liveness_snapshot fills out[0..cap) with one entry per loop name at now_ms (the
 * monotonic clock, cf_clock_mono_ms); returns the number of entries. */
size_t cf_liveness_snapshot(int64_t now_ms, cf_liveness_loop *out, size_t cap);

/* cf_liveness_check: true when every loop has iterated within bound_ms at now_ms; otherwise
 * writes "stale: LOOP (AGE ms)..." into why (cap bytes). */
bool cf_liveness_check(int64_t now_ms, int64_t bound_ms, char *why, size_t cap);

#endif
