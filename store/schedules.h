// SPDX-License-Identifier: MIT
/* store/schedules.h: schedules in Postgres (chrono_forge_schedules, SPEC §3): create or replace,
 * read, pause, remove, the due list a worker's tick reads, and the fire: one statement that
 * advances the schedule past a tick and creates that tick's workflow in the same commit, so a
 * fleet fires each tick exactly once. Tick arithmetic (cron, zones, keys) is the caller's
 * (worker/schedule_fire.h); this file only stores and compares. */
#ifndef CF_STORE_SCHEDULES_H
#define CF_STORE_SCHEDULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/status.h"
#include "store/store.h"

#define CF_SCHEDULE_NAME_MAX 128

/* cf_schedule: one schedule row. kwargs is an owned reference (an object) once read. */
typedef struct cf_schedule {
    char name[CF_SCHEDULE_NAME_MAX + 1];
    char wf_class[129];
    char queue[65];
    char cron[257];   /* "" for an --every schedule */
    int64_t every_ms; /* 0 for a cron schedule */
    char tz[64];
    json_t *kwargs;
    char key_template[257];
    bool overlap_allow; /* false: skip (the default) */
    bool paused;
    int64_t last_fire_ms; /* the last tick fired, Unix ms; 0: never */
    char last_key[257];   /* the key of the last workflow fired ("" none) */
    int64_t next_fire_ms; /* 0: none */
    int64_t created_ms, updated_ms;
    char updated_by[257];
} cf_schedule;

typedef struct cf_schedule_list {
    cf_schedule *items;
    size_t n;
} cf_schedule_list;

void cf_schedule_deinit(cf_schedule *s);           /* NULL-safe */
void cf_schedule_list_deinit(cf_schedule_list *l); /* NULL-safe */

/* What cf_store_schedule_put did. */
typedef enum cf_schedule_put_result {
    CF_SCHEDULE_ADDED,
    CF_SCHEDULE_CHANGED,   /* an existing schedule got a new definition (and next fire) */
    CF_SCHEDULE_UNCHANGED, /* the same definition was there: nothing moved */
} cf_schedule_put_result;

/* cf_store_schedule_put creates def (its name, class, queue, cron or every_ms, tz, kwargs (NULL:
 * {}), key_template, overlap and next_fire_ms) or replaces the definition of the existing
 * schedule of that name, keeping its pause flag and last fire (SPEC §4, schedules). by: who
 * ("user@host", "migrate"). Validation of the expression is the caller's. Blocks. */
CF_MUST_CHECK cf_status cf_store_schedule_put(cf_store *s, const cf_schedule *def, const char *by,
                                              cf_schedule_put_result *result);

/* cf_store_schedule_get reads one schedule: CF_ERR_NOT_FOUND when there is none. */
CF_MUST_CHECK cf_status cf_store_schedule_get(cf_store *s, const char *name, cf_schedule *out);

/* cf_store_schedule_list reads every schedule, by name. */
CF_MUST_CHECK cf_status cf_store_schedule_list(cf_store *s, cf_schedule_list *out);

/* cf_store_schedule_pause pauses (paused true) or resumes a schedule; a resume sets its next
 * fire to next_fire_ms (the first tick after now: ticks missed while paused never fire).
 * *out (may be NULL) receives the row. CF_ERR_NOT_FOUND when there is no such schedule. */
CF_MUST_CHECK cf_status cf_store_schedule_pause(cf_store *s, const char *name, bool paused,
                                                int64_t next_fire_ms, const char *by,
                                                cf_schedule *out);

/* cf_store_schedule_remove deletes a schedule (its workflows stay). CF_ERR_NOT_FOUND if none. */
CF_MUST_CHECK cf_status cf_store_schedule_remove(cf_store *s, const char *name);

/* cf_store_schedules_due reads at most limit unpaused schedules whose next fire is at or before
 * now_ms, earliest first (one indexed query). */
CF_MUST_CHECK cf_status cf_store_schedules_due(cf_store *s, int64_t now_ms, size_t limit,
                                               cf_schedule_list *out);

/* What a fire did. */
typedef enum cf_fire_outcome {
    CF_FIRE_NONE,    /* the tick was fired already (by another worker), or paused, or gone */
    CF_FIRE_FIRED,   /* the workflow was created: publish its first envelope */
    CF_FIRE_SKIPPED, /* overlap skip: the previous workflow is unfinished; the tick is consumed */
    CF_FIRE_EXISTS,  /* the tick was consumed but a workflow with that key existed already */
} cf_fire_outcome;

/* cf_fire_req: one fire; every pointer borrowed. */
typedef struct cf_fire_req {
    const char *name;     /* the schedule */
    int64_t tick_ms;      /* the tick fired (Unix ms) */
    const char *key;      /* the workflow's key for this tick */
    json_t *options;      /* stored as the workflow's options ({"schedule", "scheduled_at"}) */
    int64_t next_fire_ms; /* the schedule's next fire after this one */
    bool manual;          /* `schedule run`: ignores pause, overlap and the last fire */
} cf_fire_req;

/* cf_fire_result: the created workflow's class, queue and kwargs (an owned reference) when
 * outcome is CF_FIRE_FIRED or CF_FIRE_EXISTS. */
typedef struct cf_fire_result {
    cf_fire_outcome outcome;
    char wf_class[129];
    char queue[65];
    json_t *kwargs;
} cf_fire_result;

/* cf_store_schedule_fire runs the fire statement (store/sql.c, sql_schedule_fire): in one commit
 * the schedule's last fire advances to req->tick_ms, only if it is before it, and the workflow
 * is created idle, due at the tick. Safe to race: each tick is fired once. A retry after an
 * unknown outcome answers CF_FIRE_NONE (the tick was consumed); healing publishes the row. */
CF_MUST_CHECK cf_status cf_store_schedule_fire(cf_store *s, const cf_fire_req *req,
                                               cf_fire_result *out);

void cf_fire_result_deinit(cf_fire_result *r); /* NULL-safe */

#endif
