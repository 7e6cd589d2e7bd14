// SPDX-License-Identifier: MIT
/* store/store_internal.h: the cf_store structure shared by store/store.c (open, close, reader
 * pool, lookups), store/writer.c (the group-commit writer thread) and store/writeset.c (turning
 * a run's request into statement parameters). Not for use outside store/. */
#ifndef CF_STORE_STORE_INTERNAL_H
#define CF_STORE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/pg.h"
#include "store/store.h"

typedef enum cf_op_kind { CF_OP_BEGIN, CF_OP_COMMIT } cf_op_kind;

#define CF_STORE_BATCH_CAP 256 /* batch_max is clamped to this */

/* cf_op: one request queued for the writer. It lives on the caller's stack; the caller waits on
 * cv until done, the writer fills st/err (and begin_out) before setting done. */
typedef struct cf_op {
    cf_op_kind kind;
    char *obj;                      /* owned: the request as one JSON object (store/writeset.c) */
    size_t obj_len;                 /* strlen(obj) */
    const cf_run_begin_args *begin; /* BEGIN: the request, and where the row goes */
    cf_wf_row *begin_out;
    int64_t workflow_id; /* COMMIT: for resolving an unknown outcome */
    int transient_tries;
    cf_status st;
    char err[256];
    bool done;
    pthread_cond_t cv;
    struct cf_op *next;
} cf_op;

typedef struct cf_store_err cf_store_err; /* one thread's message on one store (store.c) */

/* Reader slot states. */
enum { CF_READER_CLOSED, CF_READER_IDLE, CF_READER_BUSY };

struct cf_store {
    char *dsn;
    pthread_key_t err_key; /* this store's cf_store_err of the calling thread */
    bool err_key_made;
    pthread_mutex_t err_mu; /* guards errs */
    cf_store_err *errs;     /* every slot made, freed at close */
    int max_connections;
    int64_t statement_timeout_ms;
    int batch_max;

    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* the writer waits here for ops */
    cf_op *head, *tail;     /* queued ops, FIFO */
    bool closing;
    atomic_bool stop; /* cuts reconnect backoff short at close */

    pthread_t writer;
    bool writer_started;
    cf_pg wpg;
    char token_prefix[48]; /* "<pid>.<random>": unique per store instance */
    int64_t batch_seq;

    pthread_cond_t cv_pool;
    cf_pg *readers;
    int *reader_state;
    int nreaders;

    _Atomic int64_t n_batches, n_write_sets, n_reconnects, n_unknown;
};

/* cf_store_enqueue_and_wait hands op to the writer and blocks until it is answered; returns
 * op->st, and records op->err as this thread's error string. */
cf_status cf_store_enqueue_and_wait(cf_store *s, cf_op *op);

/* cf_store_writer_main is the writer thread's body (arg: the cf_store). */
void *cf_store_writer_main(void *arg);

/* cf_op_encode_begin / cf_op_encode_commit validate a request and fill op->obj;
 * CF_ERR_INVALID with op->err set, or CF_ERR_NOMEM. cf_op_deinit frees the owned texts. */
CF_MUST_CHECK cf_status cf_op_encode_begin(cf_op *op, const cf_run_begin_args *args,
                                           cf_wf_row *out);
CF_MUST_CHECK cf_status cf_op_encode_commit(cf_op *op, const cf_write_set *ws);
void cf_op_deinit(cf_op *op);

/* cf_store_read runs read statement id on a pooled reader connection (retrying once on a
 * fresh connection when the old one broke) and returns its rows in *out (owned; PQclear). */
CF_MUST_CHECK cf_status cf_store_read(cf_store *s, cf_sql_id id, const char *const *vals,
                                      PGresult **out);

/* cf_store_set_error records msg as the calling thread's last message on s
 * (cf_store_errstr); "" clears it. */
void cf_store_set_error(cf_store *s, const char *msg);

#endif
