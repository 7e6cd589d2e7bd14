// SPDX-License-Identifier: MIT
/* store/store.h: the Postgres store the executor talks to. A cf_store is a bounded pool of
 * libpq connections (readers) plus one group-commit writer thread that applies the write sets
 * of many concurrent runs in one shared, pipelined commit and acknowledges each run once the
 * commit is durable. Schema: SPEC §3 (store/migrate.h). Operator queries: store/query.h.
 *
 * Fencing: a run's lock (cf_store_run_begin) increments the workflow's fence; every later write
 * of that run (cf_store_commit) names the fence and is refused with CF_ERR_CONFLICT, writing
 * nothing, once another run has taken over. Only one run at a time can hold the current fence.
 *
 * Thread-safe: any number of threads may call any function on one cf_store concurrently. */
#ifndef CF_STORE_STORE_H
#define CF_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/status.h"
#include "store/states.h"

typedef struct cf_store cf_store; /* opaque: store/store.c */

typedef struct cf_store_config {
    const char *dsn;              /* libpq conninfo or URI; borrowed for the call */
    int max_connections;          /* total this process opens: 1 writer + readers (0: 4; min 2) */
    int64_t statement_timeout_ms; /* per statement on every connection (0: 30000) */
    int batch_max;                /* write sets per shared commit (0: 64) */
    int64_t io_timeout_ms;        /* longest wait for any answer from Postgres; then the
                                     connection is dropped as lost, outcome unknown
                                     (0: statement_timeout_ms + 5000) */
    int64_t connect_timeout_ms;   /* libpq connect_timeout unless the DSN or PGCONNECT_TIMEOUT
                                     sets one (0: 10000; whole seconds, at least 2) */
    bool no_prepared_statements;  /* through a transaction-mode pooler such as pgbouncer 1.18:
                                     unnamed statements, no session settings (store/pg.h) */
} cf_store_config;

/* cf_store_open connects the writer and one reader, checks that the schema was migrated by
 * `chronoforge migrate` (CF_ERR_STATE with a message otherwise), prepares the statements and
 * starts the writer thread. Later connections open on demand up to max_connections, and
 * broken ones reconnect with capped backoff. On failure *out is NULL and err (may be NULL;
 * never containing a password) says why: CF_ERR_INVALID (bad config or DSN), CF_ERR_UNAVAILABLE
 * (server unreachable), CF_ERR_STATE (schema missing or foreign), CF_ERR_NOMEM. Blocks.
 *
 * Deadlines: no call waits for Postgres longer than io_timeout_ms at a time. A server silent
 * that long (a partition, a stopped host, a wedged backend) gets a cancel request and the
 * connection is dropped: a read is retried once on a fresh connection; a run begin or commit
 * has an unknown outcome, which the writer resolves by reading back its write token once the
 * server process that ran it has ended (it asks that process to end), within the longer of
 * io_timeout_ms and statement_timeout_ms; the call then answers from what is stored, or
 * returns CF_ERR_UNAVAILABLE ("outcome unknown") when that could not be known in time. */
CF_MUST_CHECK cf_status cf_store_open(const cf_store_config *cfg, cf_store **out, cf_error *err);

/* cf_store_close drains the writer (every queued write set is committed or answered), stops
 * it and closes every connection. NULL-safe. No call may be in flight or follow. */
void cf_store_close(cf_store *s);

/* ---- Workflow rows ---- */

/* cf_wf_row: one workflow as read or written by a call. Owned by the caller after the call;
 * free the members with cf_wf_row_deinit (the struct itself is caller storage). */
typedef struct cf_wf_row {
    int64_t id, fence;
    char wf_class[129]; /* job_class */
    char key[257];
    cf_wf_state state; /* CF_WF_UNKNOWN: a state this binary does not know (store/states.h) */
    char queue[65];
    int attempt;     /* workflow-level attempts so far (retry_counts' companion) */
    int crash_count; /* consecutive runs that died holding the lock (see cf_store_run_begin) */
    json_t *kwargs, *options, *context, *retry_counts; /* owned refs; never NULL once filled */
    char locked_by[160];                               /* "" when not locked */
    bool created; /* cf_store_run_begin / cf_store_wf_ensure: this call created the row */
    int64_t created_at_ms, started_at_ms, completed_at_ms, updated_at_ms; /* Unix ms, 0 = NULL */
    int64_t locked_at_ms, next_wake_at_ms;                                /* Unix ms, 0 = NULL */
    /* A cancel request (store/cancel.h): when (0: none), who asked and why ("" when none). */
    int64_t cancel_requested_at_ms;
    int64_t parent_id; /* the workflow that spawned it (branches); 0: none */
    char cancel_by[257];
    char cancel_reason[1025];
} cf_wf_row;

/* cf_wf_row_deinit drops the JSON references and zeroes *row; NULL-safe, idempotent. */
void cf_wf_row_deinit(cf_wf_row *row);

/* ---- Execution-log rows ---- */

/* cf_step_row: one execution-log row. name, error_class and error_message are owned strings
 * (error_* NULL when the column is NULL); metadata an owned ref (json null when NULL). */
typedef struct cf_step_row {
    int64_t id;
    char *name;
    cf_step_state state; /* CF_STEP_UNKNOWN: a state this binary does not know */
    int attempts;
    json_t *metadata;
    int64_t started_at_ms, last_executed_at_ms, completed_at_ms; /* Unix ms, 0 = NULL */
    char *error_class, *error_message;
} cf_step_row;

typedef struct cf_step_list {
    cf_step_row *rows; /* owned array, ordered by id (creation order) */
    size_t n;
} cf_step_list;

/* cf_step_list_deinit frees every row and the array and zeroes *l; NULL-safe. */
void cf_step_list_deinit(cf_step_list *l);

/* cf_step_list_find returns the row named name, or NULL; borrowed from l. O(n). */
const cf_step_row *cf_step_list_find(const cf_step_list *l, const char *name);

/* ---- A run begins ---- */

typedef struct cf_run_begin_args {
    const char *wf_class, *key; /* identity (borrowed) */
    const char *queue;          /* stored when created; NULL: "default" */
    const char *lock_value;     /* "<worker-id>/<run-id>", recorded in locked_by */
    json_t *kwargs, *options;   /* stored when created (borrowed; NULL: {}) */
    bool must_exist;            /* never create the row (a continuation carries no kwargs):
                                   CF_ERR_NOT_FOUND when it does not exist */
    cf_step_list *steps;        /* optional: when non-NULL and the run begins, receives what
                                   cf_store_load_steps would, read in the same round trip */
    bool crashed;               /* the previous run died in its lazy window (a tombstone,
                                   queue/lock.h): count it in crash_count */
} cf_run_begin_args;

/* cf_store_run_begin takes the Postgres side of a run's lock, in one statement and one commit
 * shared with other runs' writes (group commit); blocks until durable.
 * Finds the (class, key) row (SELECT first) or, unless args->must_exist, creates it with
 * kwargs/options/queue (must_exist and no row: CF_ERR_NOT_FOUND, nothing written); creation
 * is race-safe (two creators: one row). A row this call creates is committed already locked:
 * it is inserted running and locked in the same statement, so no reader ever sees it otherwise.
 * If executable (idle, running, cancelling: its on_cancel pass), it sets state=running,
 * fence=fence+1, locked_by=lock_value, locked_at=now(), started_at=coalesce(started_at, now()),
 * next_wake_at=NULL, and crash_count+=1 when locked_by was still set (the previous run never
 * released). A stalled or failed workflow never begins here: a requeue (cf_store_requeue,
 * store/requeue.h) first makes it idle with fresh budgets, and a plain begin then runs it.
 * Returns CF_OK with *out filled (owned; cf_wf_row_deinit); CF_ERR_STATE when not executable
 * (out filled with the row as it is, fence unchanged); CF_ERR_INVALID for bad arguments;
 * transient errors (IO, UNAVAILABLE, TIMEOUT) when the store could not reach Postgres in time.
 * If the commit's outcome was unknown (connection cut), the writer reads the row back and
 * answers from what is stored; then out->created is derived from it (fence is 1: it was never
 * started before). */
CF_MUST_CHECK cf_status cf_store_run_begin(cf_store *s, const cf_run_begin_args *args,
                                           cf_wf_row *out);

/* cf_store_run_peek reads what a lazy begin needs (docs/healing.md, "lazy window"), writing
 * nothing: the (args->wf_class, args->key) row into *out and, when args->steps is non-NULL and
 * the row is idle and unlocked, its steps (as cf_store_run_begin loads them). The read rides in
 * the writer's next batch, beside other runs' writes, so it costs no round trip and no commit of
 * its own. CF_ERR_NOT_FOUND when there is no row; transient errors as cf_store_run_begin. */
CF_MUST_CHECK cf_status cf_store_run_peek(cf_store *s, const cf_run_begin_args *args,
                                          cf_wf_row *out);

/* cf_store_load_steps loads every execution-log row of workflow_id except durably_repeat
 * repetition rows (`durably_repeat$<name>$<ms>`), in ONE query, on a reader connection.
 * *out is owned by the caller (cf_step_list_deinit). Blocks. */
CF_MUST_CHECK cf_status cf_store_load_steps(cf_store *s, int64_t workflow_id, cf_step_list *out);

/* ---- What a run writes ---- */

typedef enum cf_ws_outcome {
    CF_WS_CONTINUE,  /* keeps state running and the lock */
    CF_WS_HALT,      /* -> idle, released; next_wake_at = next_wake_at_ms (0: NULL) */
    CF_WS_COMPLETE,  /* -> completed, completed_at=now(), `$workflow_completion$` row */
    CF_WS_STALL,     /* -> stalled, released */
    CF_WS_FAIL,      /* -> failed, released, `$workflow_failure$<error_log_id>` row */
    CF_WS_CANCELLED, /* an on_cancel pass ended: -> cancelled, released, completed_at=now() */
} cf_ws_outcome;

/* cf_ws_step: an execution-log upsert by (workflow_id, name); all fields borrowed. */
typedef struct cf_ws_step {
    const char
        *name; /* SPEC §3 step name; never a `$workflow_...` marker (the store writes those) */
    cf_step_state state; /* pending, completed or failed (never UNKNOWN) */
    int attempts;
    json_t *metadata;                                            /* NULL: SQL NULL */
    int64_t started_at_ms, last_executed_at_ms, completed_at_ms; /* Unix ms; 0 = NULL */
    const char *error_class, *error_message;                     /* NULL = NULL */
} cf_ws_step;

/* cf_ws_error: one error-log row; all fields borrowed. The context snapshot is taken by the
 * store from `context` (or, when NULL, ws->context; when both are NULL, from the stored
 * context), capped at CF_CONTEXT_SNAPSHOT_MAX bytes (store/context.h). */
typedef struct cf_ws_error {
    const char *step_name; /* the execution log's name; NULL: workflow-level */
    int attempt;           /* 1-based, for steps and workflow-level errors alike */
    const char *error_class, *message, *backtrace; /* backtrace: detail text, NULL = NULL */
    json_t *context;
} cf_ws_error;

/* cf_ws_lazy: the begin of a run that read its row without locking it (a lazy begin,
 * docs/healing.md "lazy window"), joined to its first write set as a compare-and-set on the
 * fence it read. Strings and JSON borrowed for the call. */
typedef struct cf_ws_lazy {
    const char *wf_class, *key, *queue, *lock_value;
    json_t *kwargs, *options;  /* what the run ran with: stored when fence_read is 0 */
    int64_t fence_read;        /* the row's fence when read; 0: no row (or one never begun) */
    int64_t id_out, fence_out; /* on CF_OK: the row's id and its fence (fence_read + 1) */
} cf_ws_lazy;

/* cf_ws_repeat_prune: the old tick rows of one durably_repeat to delete with a write set
 * (docs/SPEC.md §4): rows of the workflow named prefix<ms> whose ms < before_ms, at most
 * CF_WS_PRUNE_MAX of them (the oldest) per write set; later write sets take the rest. prefix is
 * "durably_repeat$<name>$"; borrowed. */
typedef struct cf_ws_repeat_prune {
    const char *prefix;
    int64_t before_ms;
} cf_ws_repeat_prune;

#define CF_WS_PRUNE_MAX 1000
/* cf_ws_child: one child workflow a branch dispatches (docs/SPEC.md §3, branches), inserted
 * born idle and due now, unless (class, key) exists. All borrowed. */
typedef struct cf_ws_child {
    const char *wf_class, *key, *queue;
    json_t *kwargs; /* an object */
} cf_ws_child;

/* cf_ws_branch: what a write set changes of one of its run's branches (chrono_forge_branches),
 * in the same statement as the rest of the write set: children inserted (spawned and remaining
 * raised by the number actually inserted), sealed, or merged. All borrowed. */
typedef struct cf_ws_branch {
    const char *name;
    bool seal, merged;
    const cf_ws_child *children;
    size_t nchildren;
} cf_ws_branch;

/* cf_ws_wake: filled by cf_store_commit when the write set's commit finished the last child of
 * a sealed branch (or stalled or failed one of its children): the parent to wake. */
typedef struct cf_ws_wake {
    bool set;
    char wf_class[129], key[257], queue[65];
} cf_ws_wake;
/* cf_ws_signal_use: a signal (its row id, store/signals.h) consumed by the await step
 * step_name (borrowed), atomically with the write set (issue 13). */
typedef struct cf_ws_signal_use {
    int64_t signal_row_id;
    const char *step_name;
} cf_ws_signal_use;

/* cf_write_set: everything one run writes at one point (after a step, or at the end). All
 * pointers are borrowed for the call. */
typedef struct cf_write_set {
    int64_t workflow_id, fence; /* from cf_store_run_begin */
    const cf_ws_step *steps;    /* distinct names; at most CF_WS_MAX_STEPS */
    size_t nsteps;
    const cf_ws_error *errors;
    size_t nerrors;
    json_t *context; /* the full context document to store; NULL = unchanged */
    cf_ws_outcome outcome;
    int64_t next_wake_at_ms; /* HALT only: when it next wants to run; 0 = nothing scheduled */
    int attempt;             /* workflow-level; < 0 = unchanged */
    json_t *retry_counts;    /* workflow-level; NULL = unchanged */
    cf_ws_lazy *lazy;        /* non-NULL: begin the run here (workflow_id and fence ignored) */
    const cf_ws_repeat_prune *repeat_prune; /* non-NULL: delete these old tick rows */
    bool *cancel_out;             /* non-NULL: on CF_OK, whether the row carries a cancel request */
    const cf_ws_branch *branches; /* branch changes (engine/branch.c); distinct names */
    size_t nbranches;
    cf_ws_wake *wake_out; /* may be NULL: receives the parent this commit wakes */
    bool child; /* the workflow is a child (its cf_wf_row.parent_id): required for its end to
                   count for its branch (the store then runs the branch part, BRANCH_CTES) */
    const cf_ws_signal_use *signal_uses; /* signals the write set's awaits consume */
    size_t nsignal_uses;
} cf_write_set;

#define CF_WS_MAX_STEPS 1000

/* cf_store_commit applies ws atomically under its fence, in ONE statement inside a commit
 * shared with other runs' write sets (group commit), and blocks until that commit is durable:
 * a step's completion and the context written with it are durable together before this
 * returns. Outcomes other than CONTINUE release the lock (locked_by=NULL, crash_count=0)
 * and the store writes the marker rows itself: COMPLETE the `$workflow_completion$` row,
 * FAIL the `$workflow_failure$<id>` row whose id is the last error-log row of ws (FAIL needs
 * at least one error; metadata {"error_log_id": id}).
 * Returns CF_OK; CF_ERR_CONFLICT when the fence moved or the workflow is no longer running
 * (nothing applied); CF_ERR_INVALID for a malformed write set (duplicate or marker step
 * names, FAIL without errors, too many steps) or one Postgres refused (its data, e.g. a NUL in
 * a string) — the other runs of the batch are not affected; transient errors when Postgres
 * stayed unreachable. An unknown COMMIT outcome is resolved by reading back, never assumed.
 * With ws->lazy, the run's begin is made in the same statement as the write set, by
 * compare-and-set: the row read idle and unlocked at fence F gets fence F + 1 and the write
 * set's state, locked by lock_value when the outcome is CONTINUE (F = 0: inserted so, or a
 * never-begun idle row taken over); CF_ERR_CONFLICT when it changed since it was read
 * (nothing applied). On CF_OK lazy->id_out and fence_out are set;
 * later write sets of the run use them.
 * Cancellation (store/cancel.h): on a row with a cancel request, an outcome other than CONTINUE
 * and CANCELLED leaves it cancelling and due now instead; with
 * ws->lazy, a row cancelled since it was read idle (cancelling, unlocked, same fence) is begun
 * too. *ws->cancel_out (when given) says whether the row carries a cancel request; it stays
 * false when an unknown outcome was resolved by reading back. */
CF_MUST_CHECK cf_status cf_store_commit(cf_store *s, const cf_write_set *ws);

/* ---- Lookups ---- */

/* cf_store_wf_ensure finds the (class, key) workflow or creates it born idle (SELECT first;
 * two concurrent creators make one row), without locking it. queue NULL = "default", kwargs
 * and options borrowed (NULL: {}). *out owned (cf_wf_row_deinit), out->created set. Blocks. */
CF_MUST_CHECK cf_status cf_store_wf_ensure(cf_store *s, const char *wf_class, const char *key,
                                           const char *queue, json_t *kwargs, json_t *options,
                                           cf_wf_row *out);

/* cf_store_find reads the workflow with this key and class (wf_class NULL: any class;
 * CF_ERR_INVALID when several classes use the key). CF_ERR_NOT_FOUND when none. *out owned. */
CF_MUST_CHECK cf_status cf_store_find(cf_store *s, const char *wf_class, const char *key,
                                      cf_wf_row *out);

/* cf_store_find_id reads the workflow by id; CF_ERR_NOT_FOUND when none. *out owned. */
CF_MUST_CHECK cf_status cf_store_find_id(cf_store *s, int64_t id, cf_wf_row *out);

/* cf_store_errstr describes the calling thread's last failed call on s ("" after a success or
 * before any failure). Per thread and per store: other threads' calls and other stores never
 * change it. Valid until this thread's next call on s. Never contains a password. */
const char *cf_store_errstr(const cf_store *s);

/* cf_store_stats: counters since open, for logs and benchmarks. */
typedef struct cf_store_stats {
    int64_t batches;          /* shared commits the writer made */
    int64_t durable_commits;  /* of them, the batches that wrote (not lazy begins' reads alone) */
    int64_t write_sets;       /* run_begin + commit operations applied through them */
    int64_t reconnects;       /* connections re-established after a failure */
    int64_t unknown_outcomes; /* commits whose outcome had to be read back */
} cf_store_stats;
void cf_store_get_stats(cf_store *s, cf_store_stats *out);

#endif
