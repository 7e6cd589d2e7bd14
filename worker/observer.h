// SPDX-License-Identifier: MIT
/* worker/observer.h: a hook that lets a layer above worker/ (http/: /metrics, /healthz,
 * /readyz) watch a running worker without worker/ depending on it. The CLI's `worker` command
 * installs http/'s observer; cf_worker_run starts it once the store, heartbeat and
 * housekeeping run, and stops it before they close. */
#ifndef CF_WORKER_OBSERVER_H
#define CF_WORKER_OBSERVER_H

#include <stdatomic.h>

#include "common/status.h"
#include "store/store.h"
#include "worker/config.h"
#include "worker/executor.h"

/* What an observer may read of a running worker; every pointer is valid until its stop. */
typedef struct cf_worker_view {
    const cf_config *cfg;
    const char *worker_id;
    cf_worker_stats *stats;
    cf_store *store;
    const atomic_int *busy; /* executors inside a delivery */
} cf_worker_view;

typedef struct cf_worker_observer {
    /* start: CF_OK with *handle set (NULL when the observer has nothing to run); another
     * status refuses to start the worker (the reason logged by start). */
    cf_status (*start)(const cf_worker_view *view, void **handle);
    void (*stop)(void *handle); /* NULL-safe on handle */
} cf_worker_observer;

/* cf_worker_set_observer installs o (borrowed, static) for later cf_worker_run calls; NULL: none.
 */
void cf_worker_set_observer(const cf_worker_observer *o);

/* Used by cf_worker_run: start the installed observer (CF_OK and *handle NULL when none). */
cf_status cf_worker_observer_start(const cf_worker_view *view, void **handle);
void cf_worker_observer_stop(void *handle);

#endif
