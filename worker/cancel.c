// SPDX-License-Identifier: MIT
/* worker/cancel.c: cf_cancel_effects and cf_cancel_workflow (worker/cancel.h). */
#include "worker/cancel.h"

#include <string.h>

#include "common/backoff.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "queue/envelope.h"
#include "queue/schedule.h"

cf_status cf_cancel_effects(cf_queue *q, const cf_cancel_result *res)
{
    if (!res->accepted || strcmp(res->code, "cancelling") != 0)
        return CF_OK; /* refused, or running: its own run ends the pass and publishes */
    cf_buf member = CF_BUF_INIT;
    cf_status st = cf_envelope_encode_continuation(res->wf_class, res->key, res->queue, &member);
    if (st == CF_OK)
        st = cf_continuation_remove(q, res->queue, member.data, member.len, NULL);
    if (st == CF_OK)
        st = cf_continuation_publish(q, res->queue, member.data, member.len, cf_clock_unix_ms(),
                                     NULL);
    cf_buf_deinit(&member);
    return st;
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
