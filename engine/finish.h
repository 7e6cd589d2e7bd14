// SPDX-License-Identifier: MIT
/* engine/finish.h: runs a workflow's body for one pass and records how the pass ended in
 * Postgres: completed, halted (with when it next wants to run), stalled, failed after the
 * workflow-level retry policy, or abandoned (fence conflict or store failure). Stalls for crash
 * loops are decided here too. What the queue must do next is a list of effects
 * (engine/effects.h); carrying them out in Redis (release, publish, ack) is the worker's. */
#ifndef CF_ENGINE_FINISH_H
#define CF_ENGINE_FINISH_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/effects.h"
#include "engine/run.h"

/* Runs that died holding the lock this many times in a row stall the workflow. */
#define CF_CRASH_LOOP_LIMIT 3

/* How the pass ended, for the caller's counters. */
typedef enum cf_pass_end {
    CF_PASS_COMPLETED,
    CF_PASS_HALTED,
    CF_PASS_STALLED,
    CF_PASS_FAILED,
    CF_PASS_CONFLICT,    /* the fence moved: another run took over */
    CF_PASS_STORE_ERROR, /* Postgres failed mid-pass: what was committed stays */
    CF_PASS_CANCELLED,   /* the workflow was cancelled: cancelling (body pass) or cancelled */
} cf_pass_end;

/* cf_finish_result: how a pass ended. effects (owned; cf_finish_result_deinit) are to be
 * carried out after the commit: a halt with a wake time publishes the workflow's continuation;
 * a workflow that completed, stalled or failed removes any pending one; continue_if (halted
 * without a wake) and abandoned passes leave none. */
typedef struct cf_finish_result {
    cf_pass_end end;
    cf_effects effects;
    bool abandoned;
    cf_status abandon_status;
} cf_finish_result;

/* cf_finish_run replays run->def->fn over run (or stalls a crash-looping workflow without
 * running it), commits the outcome and lists what the queue must do next. A workflow whose row
 * carries a cancel request runs its on_cancel instead (store/cancel.h) and ends cancelled, or
 * halts to retry an on_cancel step; a body pass that learnt of a cancel from a commit ends with
 * the workflow cancelling and publishes its continuation due now (its on_cancel pass). */
cf_finish_result cf_finish_run(cf_run *run);

/* cf_finish_result_deinit frees the effects. */
void cf_finish_result_deinit(cf_finish_result *r);

#endif
