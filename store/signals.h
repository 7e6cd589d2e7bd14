// SPDX-License-Identifier: MIT
/* store/signals.h: signals sent to workflows (issue 13, SPEC §3 chrono_forge_signals): storing
 * one (idempotent per signal id, waking an idle workflow in the same statement), finding the
 * oldest unconsumed one of a name for an await, and the await's recheck after its pass halted.
 * A signal is consumed by the await's write set (store.h, cf_ws_signal_use), atomically with
 * the await step's completion. */
#ifndef CF_STORE_SIGNALS_H
#define CF_STORE_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "store/states.h"
#include "store/store.h"

/* Limits (SPEC §3): a payload is JSON text of at most CF_SIGNAL_PAYLOAD_MAX bytes. */
#define CF_SIGNAL_PAYLOAD_MAX (64 * 1024)
#define CF_SIGNAL_NAME_MAX    200
#define CF_SIGNAL_ID_MAX      64
#define CF_SIGNAL_SENDER_MAX  256

/* cf_signal_send_req: one signal; every pointer borrowed for the call. */
typedef struct cf_signal_send_req {
    const char *wf_class, *key; /* the workflow (keys are unique per class) */
    const char *name;           /* 1-200 bytes of UTF-8, no NUL, no '$' */
    const char *signal_id;      /* 1-64 bytes: a resend with the same id counts once */
    const char *payload_json;   /* JSON text (any value), at most 64 KiB; NULL: none */
    const char *sender;         /* 1-256 bytes: "user@host" (CLI), a client-passed name */
} cf_signal_send_req;

typedef struct cf_signal_send_result {
    int64_t workflow_id;
    cf_wf_state state; /* the workflow's state when the signal arrived */
    char queue[65];    /* its queue: where its wake goes */
    bool duplicate;    /* a signal with this id had been stored already: nothing changed */
    bool woke;         /* the workflow was idle and is now due: publish its wake */
} cf_signal_send_result;

/* cf_signal_check validates a request without I/O: CF_OK, or CF_ERR_INVALID with why filled
 * (one line naming the field). */
CF_MUST_CHECK cf_status cf_signal_check(const cf_signal_send_req *req, char *why, size_t cap);

/* cf_store_signal_send stores the signal in one statement (store/sql.c sql_signal_send) on a
 * reader connection: CF_OK (stored, or a resend of one stored before, whatever the workflow's
 * state is now: out->duplicate), CF_ERR_NOT_FOUND (no such workflow), CF_ERR_STATE (the workflow is
 * completed, failed or in another state that takes no signal; out->state says which),
 * CF_ERR_INVALID (cf_signal_check), transient errors. The statement is idempotent, so a call whose
 * outcome was unknown is simply made again. errstr (cf_store_errstr) says why on failure. */
CF_MUST_CHECK cf_status cf_store_signal_send(cf_store *s, const cf_signal_send_req *req,
                                             cf_signal_send_result *out);

/* cf_signal_row: one stored signal, as an await reads it. Strings owned (cf_signal_row_deinit). */
typedef struct cf_signal_row {
    int64_t id;      /* the row id: send order */
    char *signal_id; /* the sender's id */
    char *payload;   /* JSON text, NULL when the signal has none */
    int64_t sent_at_ms;
    char *sender;
} cf_signal_row;

void cf_signal_row_deinit(cf_signal_row *r);

/* cf_store_signal_next reads the oldest unconsumed signal named name of workflow_id, skipping
 * the n row ids in skip (taken by this pass already, not committed yet). CF_OK with *out
 * filled, CF_ERR_NOT_FOUND when none waits, transient errors. */
CF_MUST_CHECK cf_status cf_store_signal_next(cf_store *s, int64_t workflow_id, const char *name,
                                             const int64_t *skip, size_t n, cf_signal_row *out);

/* cf_store_signal_recheck runs after a pass that halted awaiting signal `name` committed: when
 * such a signal is waiting and the workflow is idle and unlocked, makes it due now and sets
 * *woke (the caller publishes the wake). */
CF_MUST_CHECK cf_status cf_store_signal_recheck(cf_store *s, int64_t workflow_id, const char *name,
                                                bool *woke);

/* cf_store_signal_heal: the healing pass's net under the recheck: makes due now (at most limit)
 * idle, unlocked workflows not due whose pending await waits for a signal stored more than
 * grace_ms ago (its pass's worker died between the halt's commit and the recheck). *marked
 * says how many. */
CF_MUST_CHECK cf_status cf_store_signal_heal(cf_store *s, int64_t grace_ms, int limit,
                                             int64_t *marked);

#endif
