// SPDX-License-Identifier: MIT
/* worker/sweeper.h: self-healing (docs/healing.md). Postgres is the source of truth for every
 * pending wake and every queue's pause flag; a healing pass makes Redis agree with it again
 * (pause flags first; rows of paused queues are neither read nor republished):
 *   - sweeper: idle workflows whose next_wake_at passed more than sweep_grace ago and that have
 *     no pending continuation are published again (the canonical continuation, due now);
 *   - reaper: running workflows whose lock was taken more than 2 x lease ago and whose run is
 *     gone (no lock in Redis, or a holder that is no longer a live worker) are published again;
 *   - stale locks: a lock whose value disagrees with the store's locked_by (or whose holder is
 *     not live) is watched; a later pass, at least 2 x lease after the first sighting, that
 *     finds the same value removes it (compare-and-delete) and publishes the workflow. A run
 *     that has just taken its lock and not yet committed its begin resolves long before that.
 * Rows of a class this process does not register are left to a worker that does. Each pass
 * reads at most sweep_batch rows of each kind through indexed queries and stops at a
 * time budget. On a healthy fleet a pass publishes and removes nothing. Housekeeping runs
 * cf_sweeper_tick in every worker; the P:sweeper lease lets one pass run per sweep_interval
 * across the fleet. `chronoforge heal` runs cf_sweeper_pass once by hand. */
#ifndef CF_WORKER_SWEEPER_H
#define CF_WORKER_SWEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"
#include "store/query.h"
#include "worker/config.h"

typedef enum cf_heal_reason {
    CF_HEAL_OVERDUE,     /* idle, wake time passed more than the grace ago, nothing pending */
    CF_HEAL_NO_LOCK,     /* running, but no lock in Redis */
    CF_HEAL_DEAD_HOLDER, /* running, lock held by a worker that is not live */
    CF_HEAL_STALE_LOCK,  /* lock disagreed with the store for the whole confirmation window */
    CF_HEAL_WATCHING,    /* lock disagrees with the store: watched, nothing done yet */
} cf_heal_reason;

/* cf_heal_reason_str: "overdue", "no_lock", "dead_holder", "stale_lock", "watching". */
const char *cf_heal_reason_str(cf_heal_reason r);

/* cf_heal_event: what a pass did (or, dry run, would do) for one workflow; borrowed, valid
 * during the callback only. */
typedef struct cf_heal_event {
    cf_heal_reason reason;
    const cf_wf_ref *row;
    const char *lock_value; /* the Redis lock's value, or NULL when there is none */
    bool published;         /* the continuation was (dry run: would be) published */
    bool lock_removed;      /* the stale lock was (dry run: would be) deleted */
    int64_t watch_left_ms;  /* WATCHING: time until the lock may be removed */
} cf_heal_event;

typedef void (*cf_heal_note_fn)(void *arg, const cf_heal_event *ev);

/* cf_sweep_stats: one pass's counts. */
typedef struct cf_sweep_stats {
    int64_t overdue_seen, running_seen; /* rows read */
    int64_t republished;                /* continuations published (dry run: would be) */
    int64_t pending;                    /* overdue rows skipped: continuation already pending */
    int64_t locks_removed;              /* stale locks deleted (dry run: would be) */
    int64_t watching;                   /* locks under watch after the pass */
    int64_t unknown_class;              /* rows skipped: class not registered in this process */
    int64_t pauses_restored;            /* queue pause flags set or deleted in Redis to agree
                                           with Postgres (dry run: would be) */
    bool out_of_time;                   /* the budget ran out before every row was looked at */
} cf_sweep_stats;

typedef struct cf_sweeper cf_sweeper;

/* cf_sweeper_new makes a sweeper over store and queue (borrowed, used only by the caller's
 * thread; cfg too; all must outlive it; the fleet lease is taken under queue's worker id). *out
 * owned: free with cf_sweeper_free. */
CF_MUST_CHECK cf_status cf_sweeper_new(const cf_config *cfg, cf_store *store, cf_queue *queue,
                                       cf_sweeper **out);
void cf_sweeper_free(cf_sweeper *sw); /* NULL-safe */

/* cf_sweeper_pass runs one healing pass now, without the fleet lease, for at most budget_ms:
 * dry_run reads and reports but publishes, deletes and records nothing. note (may be NULL) is
 * called for each workflow acted on. *stats (may be NULL) is filled. Returns the first Redis
 * or store error (what was done before it stays done). Blocks. */
CF_MUST_CHECK cf_status cf_sweeper_pass(cf_sweeper *sw, bool dry_run, int64_t budget_ms,
                                        cf_heal_note_fn note, void *arg, cf_sweep_stats *stats);

/* cf_sweeper_tick is housekeeping's call: when sweep_interval has passed since this worker's
 * last try, it re-registers queues (Redis may have lost P:queues), takes the fleet lease
 * (P:sweeper, PX sweep_interval) and, if it got it, runs a pass (budget: half the interval, at
 * least 1 s) that logs each action and a summary. Errors are logged, rate-limited. Returns
 * true when this worker held the lease and ran the pass (then the fleet's other once-per-fleet
 * duties, such as retention, run here too). */
bool cf_sweeper_tick(cf_sweeper *sw, const char *const *queues, size_t nqueues);

/* cf_sweeper_log_totals logs this process's totals (passes, republished, locks removed). */
void cf_sweeper_log_totals(const cf_sweeper *sw);

#endif
