// SPDX-License-Identifier: MIT
/* common/liveness.c: per-thread loop slots for common/liveness.h (a fixed table, claimed with a
 * compare-and-swap, found again through a thread-local index). */
#include "common/liveness.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"

typedef struct slot {
    _Atomic(const char *) name; /* NULL: free */
    _Atomic int64_t last_ms;    /* 0 until the owner's first tick */
    atomic_bool parked;
} slot;

static slot slots[CF_LIVENESS_SLOTS];
static _Thread_local int my_slot = -1;

static int claim(const char *loop)
{
    for (int i = 0; i < CF_LIVENESS_SLOTS; i++) {
        const char *expected = NULL;
        if (atomic_compare_exchange_strong(&slots[i].name, &expected, loop))
            return i;
    }
    return -1; /* more loops than slots: this one goes unwatched */
}

void cf_liveness_tick(const char *loop)
{
    if (my_slot < 0 && (my_slot = claim(loop)) < 0)
        return;
    atomic_store(&slots[my_slot].last_ms, cf_clock_mono_ms());
    atomic_store(&slots[my_slot].parked, false);
}

void cf_liveness_park(void)
{
    if (my_slot >= 0)
        atomic_store(&slots[my_slot].parked, true);
}

void cf_liveness_touch(void)
{
    if (my_slot >= 0)
        atomic_store(&slots[my_slot].last_ms, cf_clock_mono_ms());
}

void cf_liveness_leave(void)
{
    if (my_slot < 0)
        return;
    atomic_store(&slots[my_slot].last_ms, 0); /* 0: not yet ticked, skipped by snapshots */
    atomic_store(&slots[my_slot].name, NULL);
    my_slot = -1;
}

size_t cf_liveness_snapshot(int64_t now_ms, cf_liveness_loop *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < CF_LIVENESS_SLOTS; i++) {
        const char *name = atomic_load(&slots[i].name);
        int64_t last = atomic_load(&slots[i].last_ms);
        if (name == NULL || last == 0)
            continue;
        bool parked = atomic_load(&slots[i].parked);
        int64_t age = now_ms - last;
        size_t j = 0;
        while (j < n && strcmp(out[j].name, name) != 0)
            j++;
        if (j == n) {
            if (n == cap)
                continue;
            out[n++] = (cf_liveness_loop){.name = name};
        }
        out[j].threads++;
        if (parked)
            out[j].parked++;
        else if (age > out[j].age_ms)
            out[j].age_ms = age;
    }
    return n;
}

bool cf_liveness_check(int64_t now_ms, int64_t bound_ms, char *why, size_t cap)
{
    cf_liveness_loop loops[32];
    size_t n = cf_liveness_snapshot(now_ms, loops, sizeof loops / sizeof loops[0]);
    bool alive = true;
    size_t used = 0;
    if (cap > 0)
        why[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (loops[i].age_ms <= bound_ms)
            continue;
        int k = snprintf(why + used, used < cap ? cap - used : 0, "%sstale: %s (%lld ms)",
                         alive ? "" : ", ", loops[i].name, (long long)loops[i].age_ms);
        if (k > 0 && used + (size_t)k < cap)
            used += (size_t)k;
        alive = false;
    }
    return alive;
}
