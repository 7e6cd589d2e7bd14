// SPDX-License-Identifier: MIT
/* worker/schedule_fire.h: what a schedule means in time (SPEC §4, schedules): its ticks (a cron
 * entry in a zone by common/cron.h, or every N ms counted from the Unix epoch), its workflows'
 * keys, the checks a definition must pass, and the fire: the store's one-commit fire
 * (store/schedules.h) followed by the first envelope's publish (the path a child workflow's
 * first envelope takes: an engine PUBLISH effect with kwargs, encoded by worker/delivery_end.h,
 * ZADD NX into the queue's scheduled set). A lost publish is healed: the row is idle and due
 * at the tick, so the sweeper republishes it (docs/healing.md).
 *
 * Who fires: every worker's housekeeping calls cf_schedules_tick every SCHEDULE_TICK_MS; it is
 * one indexed query (the due list) and nothing else when nothing is due. Racing workers are
 * safe: the fire's advance is conditional on the last fire being before the tick, so exactly
 * one fires it. */
#ifndef CF_WORKER_SCHEDULE_FIRE_H
#define CF_WORKER_SCHEDULE_FIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"
#include "store/schedules.h"
#include "store/store.h"

#define CF_SCHEDULE_TICK_MS 250 /* how often a worker asks for due schedules */

/* cf_schedule_check validates a definition before it is stored: the name ([A-Za-z0-9_.:@-],
 * 1-128 bytes), the class name, the queue, exactly one of cron (parsed) and every_ms (> 0),
 * the zone (loaded), kwargs (an object or NULL) and the key template (must hold {tick} or
 * {tick_ms}; the key it gives at most 256 bytes). CF_ERR_INVALID with err naming the field. */
CF_MUST_CHECK cf_status cf_schedule_check(const cf_schedule *def, cf_error *err);

/* cf_schedule_next_tick: the first tick strictly after after_ms. CF_ERR_NOT_FOUND when the
 * entry never fires again; CF_ERR_INVALID when the stored definition no longer parses. */
CF_MUST_CHECK cf_status cf_schedule_next_tick(const cf_schedule *s, int64_t after_ms,
                                              int64_t *out_ms);

/* cf_schedule_latest_tick: the latest tick in [from_ms, now_ms] (the one a fire after downtime
 * fires: earlier missed ticks are dropped). CF_ERR_NOT_FOUND when there is none. */
CF_MUST_CHECK cf_status cf_schedule_latest_tick(const cf_schedule *s, int64_t from_ms,
                                                int64_t now_ms, int64_t *out_ms);

/* cf_schedule_key writes the key of tick's workflow: the template with {schedule}, {tick}
 * (ISO-8601 UTC, "2026-12-06T10:00:00Z", ".123" before the Z when not a whole second) and
 * {tick_ms} replaced. CF_ERR_INVALID when it does not fit in cap. */
CF_MUST_CHECK cf_status cf_schedule_key(const char *tmpl, const char *name, int64_t tick_ms,
                                        char *buf, size_t cap);

/* cf_schedule_fire fires tick of s: the store's fire (next fire: the first tick after
 * max(tick, now_ms)), then, when it created the workflow, the first envelope's publish through
 * q. manual: `schedule run` (ignores pause, overlap and the last fire). *out (may be NULL)
 * gets the outcome and key (cap 257). Returns the first store or Redis error (a publish
 * failure after the commit is healed later, but reported). */
CF_MUST_CHECK cf_status cf_schedule_fire(cf_store *store, cf_queue *q, const cf_schedule *s,
                                         int64_t tick_ms, int64_t now_ms, bool manual,
                                         cf_fire_outcome *out, char *key_out);

/* cf_schedules_apply_declared stores the schedules every registered class declares
 * (cf_workflow_def.schedules): each is checked, then created or has its definition replaced
 * (cf_store_schedule_put, by "by"). counts[] (may be NULL) receives how many were added, changed
 * and unchanged. Stops at the first invalid declaration (CF_ERR_INVALID, err naming the
 * schedule) or store error; what was stored before it stays. `chronoforge migrate` calls it. */
CF_MUST_CHECK cf_status cf_schedules_apply_declared(cf_store *store, const char *by, int counts[3],
                                                    cf_error *err);

/* cf_schedules_tick is the housekeeping duty: reads the schedules due at now (one indexed
 * query) and fires each one's latest due tick. Returns how many workflows it created, or -1
 * after an error (logged, rate-limited). */
int cf_schedules_tick(cf_store *store, cf_queue *q, int64_t now_ms);

#endif
