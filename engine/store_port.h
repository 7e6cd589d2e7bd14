// SPDX-License-Identifier: MIT
/* engine/store_port.h: the seam between the replay engine and a store. The engine (run, primitives,
 * finish) needs only this of a store: commit a write set under its fence, and say why the last
 * call on this thread failed. Everything else (beginning a run, loading its steps) happens before
 * the engine is handed the row and the steps.
 *
 * Two implementations: cf_store_port_pg adapts the Postgres store (store/store.h), the one the
 * worker uses; tests/support/memstore.c applies write sets to one in-memory workflow, so replay is
 * unit-tested pass after pass without Postgres. A port is a value: copy it freely; impl is
 * borrowed and must outlive every run that uses the port. */
#ifndef CF_ENGINE_STORE_PORT_H
#define CF_ENGINE_STORE_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "store/branches.h"
#include "store/signals.h"
#include "store/store.h"

typedef struct cf_store_port {
    void *impl;
    /* commit applies ws atomically under ws->fence, as cf_store_commit documents: CF_OK, or
     * CF_ERR_CONFLICT (fence moved or not running; nothing applied), CF_ERR_INVALID, transient
     * errors. Blocks until durable. */
    cf_status (*commit)(void *impl, const cf_write_set *ws);
    /* errstr says why this thread's last failing commit failed ("" when none; valid until the
     * thread's next call on impl), as cf_store_errstr does. */
    const char *(*errstr)(void *impl);
    /* Reads for branches (engine/branch.c); NULL: the store has none, and a merge or an outcome
     * read fails with CF_ERR_STATE. branch_get is cf_store_branch_get; wf_get reads the
     * workflow with key (any class) as cf_store_find(s, NULL, key, out) does. */
    cf_status (*branch_get)(void *impl, int64_t workflow_id, const char *name, bool counts,
                            cf_branch_row *out);
    cf_status (*wf_get)(void *impl, const char *key, cf_wf_row *out);
    /* Signals (engine/signals.c; NULL in a store without them: an await then finds none).
     * signal_next: the oldest unconsumed signal `name` of workflow_id, skipping the row ids in
     * skip (store/signals.h cf_store_signal_next: CF_OK, CF_ERR_NOT_FOUND, transient errors).
     * signal_recheck: after a pass halted awaiting `name` committed, make the workflow due now
     * when such a signal waits (*woke). */
    cf_status (*signal_next)(void *impl, int64_t workflow_id, const char *name, const int64_t *skip,
                             size_t n, cf_signal_row *out);
    cf_status (*signal_recheck)(void *impl, int64_t workflow_id, const char *name, bool *woke);
} cf_store_port;

/* cf_store_port_pg returns the port of a Postgres store (s borrowed). */
cf_store_port cf_store_port_pg(cf_store *s);

#endif
