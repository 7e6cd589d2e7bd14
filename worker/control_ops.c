// SPDX-License-Identifier: MIT
/* worker/control_ops.c: the control ops a worker applies (worker/control.h), one table entry
 * each: `signal` here; `cancel` plugs in beside it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

const cf_control_op cf_control_ops[] = {
    {"signal", op_signal},
    {NULL, NULL},
};
