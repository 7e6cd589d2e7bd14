// SPDX-License-Identifier: MIT
/* worker/observer.c: the installed observer of worker/observer.h. */
#include "worker/observer.h"

static _Atomic(const cf_worker_observer *) installed;

void cf_worker_set_observer(const cf_worker_observer *o)
{
    atomic_store(&installed, o);
}

cf_status cf_worker_observer_start(const cf_worker_view *view, void **handle)
{
    *handle = NULL;
    const cf_worker_observer *o = atomic_load(&installed);
    return o ? o->start(view, handle) : CF_OK;
}

void cf_worker_observer_stop(void *handle)
{
    const cf_worker_observer *o = atomic_load(&installed);
    if (o && handle)
        o->stop(handle);
}
