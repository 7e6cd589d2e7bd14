// SPDX-License-Identifier: MIT
/* worker/cancel.c: cf_cancel_effects and cf_cancel_workflow (worker/cancel.h). */
#include "worker/cancel.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "queue/envelope.h"
#include "queue/schedule.h"
#include "store/branches.h"

#define CHILDREN_PAGE 500

cf_status cf_cancel_effects(cf_queue *q, const cf_cancel_result *res)
{
    if (!res->accepted || strcmp(res->code, "cancelling") != 0)
        return CF_OK; /* refused, or running: its own run ends the pass and publishes */
    /* due now: a later pending continuation (a wait, a retry) is lowered to now, never kept */
    return cf_continuation_wake(q, res->wf_class, res->key, res->queue);
}

cf_status cf_cancel_workflow(cf_store *s, cf_queue *q, const char *wf_class, const char *key,
                             const char *reason, const char *requested_by, cf_cancel_result *out)
{
    cf_cancel_req req = {requested_by, reason, cf_clock_unix_ms()};
    cf_status st;
    for (int attempt = 1;; attempt++) {
        st = cf_store_cancel(s, wf_class, key, &req, out);
        if (!cf_status_is_transient(st) || attempt == 3)
            break;
        cf_clock_sleep_ms(cf_backoff_delay_ms(200, 2000, attempt, true), NULL);
    }
    if (st != CF_OK)
        return st;
    cf_status fx = cf_cancel_effects(q, out);
    if (fx != CF_OK) {
        cf_log_ctx lc = {.wf_class = out->wf_class, .wf_key = out->key};
        cf_logkv(CF_LOG_WARN, &lc, "event=cancel_wake_lost",
                 "cancelling, but its wake was not published (%s); the healing pass will",
                 cf_status_str(fx));
    }
    return CF_OK;
}

/* cancel_page cancels the unfinished ones of a page of children and carries out their effects. */
static cf_status cancel_page(cf_store *s, cf_queue *q, const cf_wf_list *page,
                             const cf_cancel_req *req, int64_t *cancelled)
{
    int64_t ids[CHILDREN_PAGE];
    size_t n = 0;
    for (size_t i = 0; i < page->n && n < CHILDREN_PAGE; i++) {
        cf_wf_state st = page->rows[i].state;
        if (st == CF_WF_IDLE || st == CF_WF_STALLED || st == CF_WF_RUNNING)
            ids[n++] = page->rows[i].id;
    }
    if (n == 0)
        return CF_OK;
    cf_cancel_result *res = cf_calloc(n, sizeof *res); /* ~0.7 KiB each: not on the stack */
    if (res == NULL)
        return CF_ERR_NOMEM;
    cf_status st = cf_store_cancel_ids(s, ids, n, req, res);
    for (size_t i = 0; st == CF_OK && i < n; i++) {
        if (!res[i].accepted)
            continue;
        (*cancelled)++;
        if (cf_cancel_effects(q, &res[i]) != CF_OK) {
            cf_log_ctx lc = {.wf_class = res[i].wf_class, .wf_key = res[i].key};
            cf_logkv(CF_LOG_WARN, &lc, "event=cancel_wake_lost",
                     "cancelling with its parent, but its wake was not published; the healing "
                     "pass will");
        }
    }
    cf_free(res);
    return st;
}

cf_status cf_cancel_children(cf_store *s, cf_queue *q, int64_t parent_id, const char *parent_class,
                             const char *parent_key, const char *reason, int64_t *cancelled)
{
    int64_t count = 0, after = 0;
    char by[257];
    snprintf(by, sizeof by, "parent:%.120s/%.128s", parent_class, parent_key);
    cf_cancel_req req = {by, reason, cf_clock_unix_ms()};
    cf_status st = CF_OK;
    for (;;) {
        cf_wf_list page = {0};
        st = cf_store_children_of(s, parent_id, after, CHILDREN_PAGE, &page);
        if (st == CF_OK)
            st = cancel_page(s, q, &page, &req, &count);
        size_t n = page.n;
        if (n > 0)
            after = page.rows[n - 1].id;
        cf_wf_list_deinit(&page);
        if (st != CF_OK || n < CHILDREN_PAGE)
            break;
    }
    if (cancelled)
        *cancelled = count;
    return st;
}
