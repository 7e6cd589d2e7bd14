// SPDX-License-Identifier: MIT
/* engine/finish.h: runs a workflow's body for one pass and records how the pass ended in
 * Postgres: completed, halted (with when it next wants to run), stalled, failed after the
 * workflow-level retry policy, or abandoned (fence conflict or store failure). Stalls for crash
 * loops are decided here too. The Redis side (release, publish, ack) is the executor's. */
#ifndef CF_ENGINE_FINISH_H
#define CF_ENGINE_FINISH_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/run.h"

/* Runs that died holding the lock this many times in a row stall the workflow. */
#define CF_CRASH_LOOP_LIMIT 3

typedef enum cf_publish {
    CF_PUBLISH_NONE,   /* nothing: continue_if, or abandoned */
    CF_PUBLISH_WAKE,   /* a continuation due at wake_at_ms */
    CF_PUBLISH_REMOVE, /* the workflow ended: drop any pending continuation */
} cf_publish;

/* How the pass ended, for the caller's counters. */
typedef enum cf_pass_end {
    CF_PASS_COMPLETED,
    CF_PASS_HALTED,
    CF_PASS_STALLED,
    CF_PASS_FAILED,
    CF_PASS_CONFLICT,    /* the fence moved: another run took over */
    CF_PASS_STORE_ERROR, /* Postgres failed mid-pass: what was committed stays */
} cf_pass_end;

typedef struct cf_finish_result {
    cf_pass_end end;
    cf_publish publish;
    int64_t wake_at_ms;
    bool abandoned;
    cf_status abandon_status;
} cf_finish_result;

/* cf_finish_run replays run->def->fn over run (or stalls a crash-looping workflow without
 * running it), commits the outcome and says what the executor must publish. */
cf_finish_result cf_finish_run(cf_run *run);

#endif
