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

/* Reader slot states. */
enum { CF_READER_CLOSED, CF_READER_IDLE, CF_READER_BUSY };

struct cf_store {
    char *dsn;
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

/* cf_store_set_error records msg as this thread's last error (cf_store_errstr). */
void cf_store_set_error(const char *msg);

#endif
