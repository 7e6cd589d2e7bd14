// SPDX-License-Identifier: MIT
/* cli/resume_now.c: cf_cli_resume_now, one pass of a requeued workflow in this process, with the
 * same lock, fence and markers as a worker's delivery (worker/executor.c): lock -> requeue ->
 * begin -> replay -> commit -> release -> publish. */
#include "cli/resume_now.h"

#include <stdio.h>
#include <string.h>

#include "cli/render.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/rand.h"
#include "engine/finish.h"
#include "engine/registry.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/heartbeat.h"
#include "queue/keys.h"
#include "queue/lock.h"
#include "queue/schedule.h"
#include "store/query.h"
#include "worker/delivery_end.h"

typedef struct now_run {
    cf_cli_ctx *ctx;
    cf_queue *q; /* this process's worker handle (worker_id), for the lock and the effects */
    const cf_workflow_def *def;
    char worker_id[CF_WORKER_ID_MAX];
    char token[CF_WORKER_ID_MAX + 16];
    char jid[32];
    char wf_class[129], key[257], queue[65];
    int64_t ttl_ms; /* the lock's lifetime as taken */
} now_run;

/* ttl_for: the workflow's options > registration > setting, as a worker's delivery takes it. */
static int64_t ttl_for(const now_run *n, const json_t *options)
{
    json_t *md = json_object_get(options, "max_duration");
    int64_t ms;
    if (json_is_number(md) && json_number_value(md) > 0)
        return (int64_t)(json_number_value(md) * 1000.0);
    if (json_is_string(md) && cf_duration_parse_ms(json_string_value(md), &ms, NULL) == CF_OK &&
        ms > 0)
        return ms;
    return n->def->max_duration_ms > 0 ? n->def->max_duration_ms : n->ctx->args.cfg.max_duration_ms;
}

/* publish carries out the pass's effects (its continuation, removals, any envelopes it asked
 * for), after the lock is released (SPEC §2's order). */
static cf_status publish(now_run *n, const cf_finish_result *fin)
{
    cf_delivery_effects fx;
    cf_status st = cf_delivery_effects_build(&fin->effects, n->queue, &fx);
    for (size_t i = 0; st == CF_OK && i < fx.npublish; i++) {
        const cf_delivery_publish *p = &fx.publish[i];
        st = p->continuation
                 ? cf_continuation_publish(n->q, p->queue, p->member, p->member_len, p->due_unix_ms,
                                           NULL)
                 : cf_enqueue_at(n->q, p->queue, p->member, p->member_len, p->due_unix_ms);
    }
    for (size_t i = 0; st == CF_OK && i < fx.nremove; i++)
        st = cf_continuation_remove(n->q, fx.remove[i].queue, fx.remove[i].member,
                                    fx.remove[i].member_len, NULL);
    cf_delivery_effects_deinit(&fx);
    return st;
}

/* run_pass begins the run in Postgres and replays one pass. *fin says how it ended. */
static cf_status run_pass(now_run *n, cf_finish_result *fin)
{
    static const atomic_bool never = false;
    cf_wf_row row = {0};
    cf_step_list steps = {0};
    cf_run_begin_args args = {
        .wf_class = n->wf_class,
        .key = n->key,
        .queue = n->queue,
        .lock_value = n->token,
        .steps = &steps,
    };
    cf_status st = cf_store_run_begin(n->ctx->store, &args, &row);
    if (st == CF_ERR_STATE)
        st = cf_cli_refuse(n->ctx, st, "workflow %s/%s became %s before it could run", n->wf_class,
                           n->key, cf_wf_state_name(row.state));
    if (st == CF_OK) {
        cf_run run;
        cf_store_port port = cf_store_port_pg(n->ctx->store);
        st = cf_run_init(&run, n->def, &port, &row, &steps, &never, n->jid);
        if (st == CF_OK)
            *fin = cf_finish_run(&run);
        cf_run_deinit(&run);
    }
    cf_wf_row_deinit(&row);
    cf_step_list_deinit(&steps);
    return st;
}

/* locked: the lock is ours; requeue, run, release, publish. */
static cf_status locked(now_run *n, const cf_requeue_req *req, cf_finish_result *fin)
{
    cf_requeue_result res;
    cf_status st = cf_store_requeue(n->ctx->store, n->wf_class, n->key, req, &res);
    if (st == CF_ERR_STATE)
        st = cf_cli_refuse(n->ctx, st,
                           "workflow %s/%s is %s; only stalled or failed workflows can be "
                           "requeued",
                           n->wf_class, n->key, cf_wf_state_name(res.previous_state));
    if (st == CF_OK) {
        snprintf(n->queue, sizeof n->queue, "%s", res.queue[0] ? res.queue : "default");
        fprintf(stderr, "chronoforge requeue: %s/%s requeued (was %s); running it here\n",
                n->wf_class, n->key, cf_wf_state_name(res.previous_state));
        st = run_pass(n, fin);
    }
    cf_status rel = cf_lock_release(n->q, n->wf_class, n->key, n->token);
    if (rel != CF_OK && rel != CF_ERR_CONFLICT && st == CF_OK)
        return rel;
    if (st == CF_OK) {
        st = publish(n, fin);
        if (st != CF_OK)
            fprintf(stderr,
                    "chronoforge requeue: publishing the pass's effects failed (%s); the healing "
                    "pass will publish its wake\n",
                    cf_queue_errstr(n->q));
        st = CF_OK; /* the outcome is durable; healing repairs Redis */
    }
    return st;
}

/* report prints the timeline and maps the pass's end to the command's result. */
static cf_status report(now_run *n, const cf_finish_result *fin)
{
    cf_wf_detail d = {0};
    cf_status st = cf_store_show(n->ctx->store, n->wf_class, n->key, 0, &d);
    if (st != CF_OK)
        return st;
    cf_render_detail_text(stdout, &d);
    cf_wf_detail_deinit(&d);
    switch (fin->end) {
    case CF_PASS_COMPLETED:
    case CF_PASS_HALTED:
    case CF_PASS_CANCELLED: /* cancelled while it ran: its on_cancel runs next */
        return CF_OK;
    case CF_PASS_STALLED:
    case CF_PASS_FAILED:
        return cf_cli_refuse(n->ctx, CF_ERR_STATE, "%s/%s %s again (see its errors above)",
                             n->wf_class, n->key,
                             fin->end == CF_PASS_STALLED ? "stalled" : "failed");
    case CF_PASS_CONFLICT:
        return cf_cli_refuse(n->ctx, CF_ERR_CONFLICT,
                             "another run took %s/%s over during this pass", n->wf_class, n->key);
    case CF_PASS_STORE_ERROR:
        break;
    }
    return cf_cli_refuse(n->ctx, CF_ERR_UNAVAILABLE,
                         "Postgres failed during the pass; what was committed stays");
}

cf_status cf_cli_resume_now(cf_cli_ctx *ctx, const char *wf_class, const char *key,
                            const cf_requeue_req *req)
{
    now_run n = {.ctx = ctx};
    cf_wf_row row = {0};
    cf_status st = cf_store_find(ctx->store, wf_class, key, &row);
    if (st == CF_ERR_NOT_FOUND)
        return cf_cli_refuse(ctx, st, "no workflow with key '%s'%s%s", key,
                             wf_class ? " and class " : "", wf_class ? wf_class : "");
    if (st != CF_OK)
        return st;
    snprintf(n.wf_class, sizeof n.wf_class, "%s", row.wf_class);
    snprintf(n.key, sizeof n.key, "%s", row.key);
    cf_wf_row_deinit(&row);
    n.def = cf_registry_find(n.wf_class);
    if (n.def == NULL)
        return cf_cli_refuse(ctx, CF_ERR_INVALID,
                             "class '%s' is not registered in this binary; requeue it without "
                             "--now for a worker that knows it",
                             n.wf_class);
    char run_id[13];
    cf_rand_hex(run_id, 12);
    snprintf(n.jid, sizeof n.jid, "now-%s", run_id);
    if (cf_worker_id_make(n.worker_id, sizeof n.worker_id) != CF_OK ||
        cf_lock_token_make(n.token, sizeof n.token, n.worker_id, run_id) != CF_OK)
        return CF_ERR_INVALID;
    /* Registered like a worker, so that if this process dies holding the lock the fleet
     * recovers it after the lease and healing resumes the run. */
    const cf_config *cfg = &ctx->args.cfg;
    cf_heartbeat *hb = NULL;
    cf_error err = {0};
    st = cf_heartbeat_start(cfg->redis_url, NULL, cfg->prefix, n.worker_id, cfg->heartbeat_ms, &hb,
                            &err);
    if (st != CF_OK)
        return cf_cli_refuse(ctx, st, "cannot register with Redis: %s", err.msg);
    st = cf_queue_open(cfg->redis_url, cfg->prefix, n.worker_id, NULL, &n.q, &err);
    if (st != CF_OK) {
        cf_heartbeat_stop(hb);
        return cf_cli_refuse(ctx, st, "cannot reach Redis: %s", err.msg);
    }
    n.ttl_ms = ttl_for(&n, NULL);
    cf_lock_holder holder;
    cf_finish_result fin = {0};
    st = cf_lock_acquire(n.q, n.wf_class, n.key, n.token, n.ttl_ms, &holder);
    if (st == CF_ERR_BUSY)
        st = cf_cli_refuse(ctx, st, "%s/%s is held by %s; nothing was changed", n.wf_class, n.key,
                           holder.value);
    else if (st == CF_OK)
        st = locked(&n, req, &fin);
    cf_heartbeat_stop(hb);
    if (cf_heartbeat_deregister(n.q) != CF_OK)
        fprintf(stderr, "chronoforge requeue: could not deregister %s: %s (it expires)\n",
                n.worker_id, cf_queue_errstr(n.q));
    cf_queue_free(n.q);
    if (st == CF_OK)
        st = report(&n, &fin);
    cf_finish_result_deinit(&fin);
    return st;
}
