// SPDX-License-Identifier: MIT
/* store/writer.h: the group-commit writer (internal to store/). A cf_writer is one thread with
 * one Postgres connection, its own request queue, lock and batch plan: any number of writers
 * (one per cf_store) live in one process without sharing anything. store/store.c owns one per
 * store and hands it requests (cf_op, encoded by store/writeset.c); the writer knows nothing of
 * the store. How a batch is applied and an unknown outcome resolved: store/writer.c. */
#ifndef CF_STORE_WRITER_H
#define CF_STORE_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "store/pg.h"
#include "store/store.h"

/* BEGIN: a durable run begin; COMMIT: a write set (maybe with a lazy begin); PEEK: the read of
 * a lazy begin (cf_store_run_peek), carried in the batch, read-only. */
typedef enum cf_op_kind { CF_OP_BEGIN, CF_OP_COMMIT, CF_OP_PEEK } cf_op_kind;

#define CF_WRITER_BATCH_CAP 256 /* batch_max is clamped to this */

/* The writer's application_name in pg_stat_activity (readers are "chronoforge"). */
#define CF_WRITER_APP_NAME "chronoforge-writer"

/* cf_op: one request for the writer. It lives on the caller's stack; the caller waits on cv
 * until done, the writer fills st/err (and *begin_out) before setting done. */
typedef struct cf_op {
    cf_op_kind kind;
    char *obj;                      /* owned: the request as one JSON object (store/writeset.c) */
    size_t obj_len;                 /* strlen(obj) */
    const cf_run_begin_args *begin; /* BEGIN, PEEK: the request, and where the row goes */
    cf_wf_row *begin_out;
    int64_t workflow_id; /* COMMIT: for resolving an unknown outcome */
    cf_ws_lazy *lazy;    /* COMMIT with a lazy begin (store.h): identity in, id/fence out */
    bool full;        /* COMMIT: needs CF_SQL_WRITE_SETS_FULL (a child; branch changes, a repeat's
                         prune or consumed signals) */
    bool *cancel_out; /* COMMIT: the row carries a cancel request (cx), out */
    cf_ws_wake *wake; /* COMMIT: the parent its commit wakes (may be NULL; store.h) */
    int transient_tries;
    cf_status st;
    char err[256];
    bool done;
    pthread_cond_t cv;
    struct cf_op *next;
} cf_op;

/* cf_op_encode_begin / cf_op_encode_commit validate a request and fill op->obj
 * (store/writeset.c); CF_ERR_INVALID with op->err set, or CF_ERR_NOMEM. cf_op_deinit frees the
 * owned texts; call it whatever the encoder returned. */
CF_MUST_CHECK cf_status cf_op_encode_begin(cf_op *op, const cf_run_begin_args *args,
                                           cf_wf_row *out);
CF_MUST_CHECK cf_status cf_op_encode_commit(cf_op *op, const cf_write_set *ws);
CF_MUST_CHECK cf_status cf_op_encode_peek(cf_op *op, const cf_run_begin_args *args, cf_wf_row *out);
void cf_op_deinit(cf_op *op);

typedef struct cf_writer_config {
    const char *dsn;          /* borrowed for the call */
    cf_pg_limits limits;      /* the connection's time limits (store/pg.h) */
    int batch_max;            /* requests per shared commit, 1..CF_WRITER_BATCH_CAP */
    const char *token_prefix; /* unique per process and store: "<pid>.<random>" */
} cf_writer_config;

typedef struct cf_writer cf_writer; /* opaque: store/writer.c */

typedef struct cf_writer_stats {
    int64_t batches, durable_commits, write_sets, reconnects, unknown_outcomes; /* cf_store_stats */
} cf_writer_stats;

/* cf_writer_start connects (preparing the statements) and starts the thread. On failure *out
 * is NULL and err (may be NULL) says why (password-free): CF_ERR_INVALID, CF_ERR_UNAVAILABLE,
 * CF_ERR_STATE, CF_ERR_NOMEM as cf_store_open documents. Blocks. */
CF_MUST_CHECK cf_status cf_writer_start(const cf_writer_config *cfg, cf_writer **out,
                                        cf_error *err);

/* cf_writer_submit queues op (encoded) and blocks until the writer answered it; returns op->st
 * (op->err says why when not CF_OK). CF_ERR_UNAVAILABLE once the writer is stopping.
 * Thread-safe. */
CF_MUST_CHECK cf_status cf_writer_submit(cf_writer *w, cf_op *op);

/* cf_writer_stop answers every queued request (committing it when Postgres allows), joins the
 * thread and frees w. NULL-safe. No submit may be in flight or follow. */
void cf_writer_stop(cf_writer *w);

/* cf_writer_get_stats reads the counters since start. Thread-safe. */
void cf_writer_get_stats(cf_writer *w, cf_writer_stats *out);

#endif
