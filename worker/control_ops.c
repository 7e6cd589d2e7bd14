// SPDX-License-Identifier: MIT
/* worker/control_ops.c: the control ops a worker applies (worker/control.h), one table entry
 * each: `signal` and `cancel`. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/cancel.h"
#include "store/signals.h"
#include "worker/control.h"

void cf_control_refuse(cf_control_result *out, const char *code, const char *fmt, ...)
{
    out->answer.accepted = false;
    snprintf(out->answer.code, sizeof out->answer.code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->answer.reason, sizeof out->answer.reason, fmt, ap);
    va_end(ap);
}

/* op_signal stores a signal (store/signals.h): refused for an unknown workflow
 * (unknown_workflow), one that takes no signals (finished) or a bad name, id or payload
 * (bad_request). */
static cf_status op_signal(cf_store *store, const cf_control_request *req, cf_control_result *out)
{
    if (!req->name) {
        cf_control_refuse(out, "missing_field", "a signal request needs name");
        return CF_OK;
    }
    cf_signal_send_req s = {
        .wf_class = req->wf_class,
        .key = req->key,
        .name = req->name,
        .signal_id = req->signal_id ? req->signal_id : req->id,
        .payload_json = req->payload,
        .sender = req->by ? req->by : "control",
    };
    cf_signal_send_result res;
    cf_status st = cf_store_signal_send(store, &s, &res);
    if (st == CF_OK) {
        out->answer.accepted = true;
        if (res.woke) {
            out->wake = true;
            snprintf(out->wake_class, sizeof out->wake_class, "%s", req->wf_class);
            snprintf(out->wake_key, sizeof out->wake_key, "%s", req->key);
            snprintf(out->wake_queue, sizeof out->wake_queue, "%s", res.queue);
        }
        return CF_OK;
    }
    if (st == CF_ERR_NOT_FOUND)
        cf_control_refuse(out, "unknown_workflow", "no workflow %s/%s", req->wf_class, req->key);
    else if (st == CF_ERR_STATE)
        cf_control_refuse(out, "finished", "workflow %s/%s is %s; it takes no more signals",
                          req->wf_class, req->key, cf_wf_state_name(res.state));
    else if (st == CF_ERR_INVALID)
        cf_control_refuse(out, "bad_request", "%s", cf_store_errstr(store));
    else
        return st; /* transient: taken again later */
    return CF_OK;
}

/* op_cancel cancels a workflow (store/cancel.h) for the request's `by` (default "control") with
 * its `reason`. The request's sent_at names the cancel (its `$workflow_cancel$<ms>` row), so a
 * request taken again after its answer was lost is recognised and answered accepted again.
 * Refusals carry store/cancel.h's codes (not_found, completed, failed, cancelled, cancelling,
 * unknown_state); an accepted idle or stalled workflow is woken for its on_cancel pass. */
static cf_status op_cancel(cf_store *store, const cf_control_request *req, cf_control_result *out)
{
    int64_t at_ms = req->sent_at > 0 ? (int64_t)(req->sent_at * 1000.0) : 0;
    cf_cancel_req c = {.requested_by = req->by && *req->by ? req->by : "control",
                       .reason = req->reason,
                       .requested_at_ms = at_ms};
    cf_cancel_result res;
    cf_status st = cf_store_cancel(store, req->wf_class, req->key, &c, &res);
    if (st == CF_ERR_INVALID) {
        cf_control_refuse(out, "bad_request", "%s", cf_store_errstr(store));
        return CF_OK;
    }
    if (st != CF_OK)
        return st; /* transient: taken again later */
    if (!res.accepted) {
        cf_control_refuse(out, res.code, "%s", res.reason);
        return CF_OK;
    }
    out->answer.accepted = true;
    snprintf(out->answer.code, sizeof out->answer.code, "%s", res.code);
    if (strcmp(res.code, "cancelling") == 0) { /* running: its own run ends the pass */
        out->wake = true;
        snprintf(out->wake_class, sizeof out->wake_class, "%s", res.wf_class);
        snprintf(out->wake_key, sizeof out->wake_key, "%s", res.key);
        snprintf(out->wake_queue, sizeof out->wake_queue, "%s", res.queue);
    }
    return CF_OK;
}

const cf_control_op cf_control_ops[] = {
    {"signal", op_signal},
    {"cancel", op_cancel},
    {NULL, NULL},
};
