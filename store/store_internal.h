// SPDX-License-Identifier: MIT
/* store/store_internal.h: the cf_store structure shared by store/store.c (open, close, reader
 * pool, lookups) and store/query.c (operator queries). The writer is a cf_writer of its own
 * (store/writer.h) that the store owns. Not for use outside store/. */
#ifndef CF_STORE_STORE_INTERNAL_H
#define CF_STORE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/pg.h"
#include "store/store.h"
#include "store/writer.h"

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
    cf_pg_limits limits;
    int batch_max;

    cf_writer *writer; /* run begins and write sets */
    atomic_bool stop;  /* cuts reader reconnect backoff short */

    pthread_mutex_t mu;     /* guards the reader slots */
    pthread_cond_t cv_pool; /* a reader slot became free */
    cf_pg *readers;
    int *reader_state;
    int nreaders;

    _Atomic int64_t n_reconnects; /* readers'; the writer counts its own */
};

/* cf_store_read runs read statement id on a pooled reader connection (retrying once on a
 * fresh connection when the old one broke) and returns its rows in *out (owned; PQclear). */
CF_MUST_CHECK cf_status cf_store_read(cf_store *s, cf_sql_id id, const char *const *vals,
                                      PGresult **out);

/* cf_store_set_error records msg as the calling thread's last message on s
 * (cf_store_errstr); "" clears it. */
void cf_store_set_error(cf_store *s, const char *msg);

#endif
