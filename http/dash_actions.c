// SPDX-License-Identifier: MIT
/* http/dash_actions.c: what an operator can do from the dashboard, each a POST to
 * /action/<name>: requeue one workflow or every one a filter matches, cancel one, retry or purge
 * a queue's dead letters, pause or resume a queue, quiet or resume a worker. None runs in
 * --read-only mode, without a signed-in session, or without that session's CSRF token; each is
 * logged (event=dashboard_action) with who did it. Adding an action is one row in the table below
 * and one handler. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "http/dash_internal.h"
#include "queue/deadletter.h"
#include "queue/envelope.h"
#include "queue/keys.h"
#include "queue/schedule.h"
#include "store/query.h"
#include "store/requeue.h"
#include "worker/cancel.h"
#include "worker/queue_pause.h"

#define BULK_BATCH 100
#define BULK_MAX   10000 /* one click requeues at most this many; click again for more */

typedef struct action_result {
    char msg[600];  /* what happened, shown and logged */
    char back[600]; /* where the result page links to */
} action_result;

typedef cf_status (*action_fn)(dash_req *r, action_result *res);

/* field reads a form field (URL-decoded); "" when absent. */
static const char *field(dash_req *r, const char *name, char *buf, size_t cap)
{
    if (!cf_dash_form_get(r->form, name, buf, cap))
        buf[0] = '\0';
    return buf;
}

static void back_to_workflow(action_result *res, const char *wf_class, const char *key)
{
    char *p = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&p, &len);
    if (o == NULL)
        return;
    fputs("/workflow?class=", o);
    cf_dash_url(o, wf_class);
    fputs("&key=", o);
    cf_dash_url(o, key);
    fclose(o);
    snprintf(res->back, sizeof res->back, "%s", p);
    free(p);
}

/* requeue_one resumes (class, key) and publishes its wake; a lost wake is republished by the
 * healing pass (the workflow is idle and due in Postgres). */
static cf_status requeue_one(dash_req *r, const char *wf_class, const char *key,
                             cf_requeue_result *res)
{
    char by[96];
    snprintf(by, sizeof by, "dashboard:%s", r->session->who);
    cf_requeue_req req = {.requested_by = by, .reason = "requeued from the dashboard"};
    cf_status st = cf_store_requeue(r->d->store, *wf_class ? wf_class : NULL, key, &req, res);
    if (st != CF_OK)
        return st;
    if (cf_continuation_wake(r->d->queue, res->wf_class, res->key, res->queue) != CF_OK)
        log_warn("event=dashboard_wake_lost: %s/%s is requeued but its wake was not published; "
                 "the healing pass will publish it",
                 res->wf_class, res->key);
    return CF_OK;
}

static cf_status act_requeue(dash_req *r, action_result *res)
{
    char wf_class[129], key[257];
    field(r, "class", wf_class, sizeof wf_class);
    field(r, "key", key, sizeof key);
    back_to_workflow(res, wf_class, key);
    cf_requeue_result out;
    cf_status st = *key ? requeue_one(r, wf_class, key, &out) : CF_ERR_INVALID;
    if (st == CF_OK)
        snprintf(res->msg, sizeof res->msg, "requeued %s/%s (was %s)", out.wf_class, out.key,
                 cf_wf_state_name(out.previous_state));
    else if (st == CF_ERR_STATE)
        snprintf(res->msg, sizeof res->msg,
                 "%s/%s is %s; only stalled or failed workflows can be requeued", wf_class, key,
                 cf_wf_state_name(out.previous_state));
    else
        snprintf(res->msg, sizeof res->msg, "requeue of %s/%s refused: %s", wf_class, key,
                 cf_store_errstr(r->d->store));
    return st;
}

static cf_status act_requeue_matching(dash_req *r, action_result *res)
{
    char state[16], wf_class[129], error[129];
    field(r, "state", state, sizeof state);
    field(r, "class", wf_class, sizeof wf_class);
    field(r, "error", error, sizeof error);
    snprintf(res->back, sizeof res->back, "/workflows?state=%s",
             cf_wf_state_retryable(cf_wf_state_parse(state)) ? state : "stalled");
    cf_resumable_filter f = {state, *wf_class ? wf_class : NULL, *error ? error : NULL, 0};
    int64_t after = 0, done = 0, skipped = 0;
    cf_status st = CF_OK;
    while (st == CF_OK && done + skipped < BULK_MAX) {
        cf_wf_ref_list page = {0};
        st = cf_store_select_resumable(r->d->store, &f, after, BULK_BATCH, &page);
        for (size_t i = 0; st == CF_OK && i < page.n; i++) {
            after = page.rows[i].id;
            cf_requeue_result out;
            cf_status one = requeue_one(r, page.rows[i].wf_class, page.rows[i].key, &out);
            if (one == CF_OK)
                done++;
            else if (one == CF_ERR_STATE || one == CF_ERR_NOT_FOUND)
                skipped++; /* it changed state since the page was read */
            else
                st = one;
        }
        size_t n = page.n;
        cf_wf_ref_list_deinit(&page);
        if (n < BULK_BATCH)
            break;
    }
    if (st != CF_OK)
        snprintf(res->msg, sizeof res->msg, "stopped after %lld requeued: %s", (long long)done,
                 cf_store_errstr(r->d->store));
    else
        snprintf(res->msg, sizeof res->msg, "requeued %lld %s workflow%s%s", (long long)done, state,
                 done == 1 ? "" : "s",
                 done + skipped >= BULK_MAX ? " (the limit of one click; there may be more)" : "");
    return st;
}

static bool queue_field(dash_req *r, action_result *res, char queue[65])
{
    field(r, "queue", queue, 65);
    snprintf(res->back, sizeof res->back, "/queues");
    if (!cf_queue_name_valid(queue)) {
        snprintf(res->msg, sizeof res->msg, "not a queue name");
        return false;
    }
    snprintf(res->back, sizeof res->back, "/queues?queue=%s", queue);
    return true;
}

static cf_status act_dead_retry(dash_req *r, action_result *res)
{
    char queue[65];
    if (!queue_field(r, res, queue))
        return CF_ERR_INVALID;
    int64_t moved = 0, skipped = 0;
    cf_status st = cf_deadletter_retry(r->d->queue, queue, 0, &moved, &skipped);
    snprintf(res->msg, sizeof res->msg,
             st == CF_OK ? "queue %s: retried %lld dead letters (%lld truncated or undecodable "
                           "kept)"
                         : "queue %s: retry failed (Redis)",
             queue, (long long)moved, (long long)skipped);
    return st;
}

static cf_status act_dead_purge(dash_req *r, action_result *res)
{
    char queue[65];
    if (!queue_field(r, res, queue))
        return CF_ERR_INVALID;
    int64_t removed = 0;
    cf_status st = cf_deadletter_purge(r->d->queue, queue, 0, &removed);
    snprintf(res->msg, sizeof res->msg,
             st == CF_OK ? "queue %s: purged %lld dead letters" : "queue %s: purge failed (Redis)",
             queue, (long long)removed);
    return st;
}

static cf_status set_quiet(dash_req *r, action_result *res, bool quiet)
{
    char id[256];
    field(r, "worker", id, sizeof id);
    snprintf(res->back, sizeof res->back, "/workers");
    cf_status st = *id ? cf_workers_set_quiet(r->d->queue, id, quiet) : CF_ERR_INVALID;
    snprintf(res->msg, sizeof res->msg,
             st == CF_OK              ? "%s requested for %s (applied at its next heartbeat)"
             : st == CF_ERR_NOT_FOUND ? "%s refused: %s publishes no state (not running?)"
                                      : "%s of %s failed",
             quiet ? "quiet" : "resume", id);
    return st;
}

static cf_status act_worker_quiet(dash_req *r, action_result *res)
{
    return set_quiet(r, res, true);
}

static cf_status act_worker_resume(dash_req *r, action_result *res)
{
    return set_quiet(r, res, false);
}

/* act_cancel cancels one workflow (worker/cancel.h): the request in Postgres, then its queue
 * effects; the reason field (optional) is recorded with who asked. */
static cf_status act_cancel(dash_req *r, action_result *res)
{
    char wf_class[129], key[257], reason[513], by[96];
    field(r, "class", wf_class, sizeof wf_class);
    field(r, "key", key, sizeof key);
    field(r, "reason", reason, sizeof reason);
    back_to_workflow(res, wf_class, key);
    snprintf(by, sizeof by, "dashboard:%s", r->session->who);
    cf_cancel_result out = {0};
    cf_status st = *wf_class && *key ? cf_cancel_workflow(r->d->store, r->d->queue, wf_class, key,
                                                          *reason ? reason
                                                                  : "cancelled from the "
                                                                    "dashboard",
                                                          by, &out)
                                     : CF_ERR_INVALID;
    if (st == CF_OK && out.accepted)
        snprintf(res->msg, sizeof res->msg, "cancel of %.60s/%.200s accepted (%s)", wf_class, key,
                 out.code);
    else if (st == CF_OK)
        snprintf(res->msg, sizeof res->msg, "cancel of %.60s/%.200s refused: %s (%s)", wf_class,
                 key, out.reason, out.code);
    else
        snprintf(res->msg, sizeof res->msg, "cancel of %.60s/%.200s failed: %.200s", wf_class, key,
                 st == CF_ERR_INVALID ? "class and key are required"
                                      : cf_store_errstr(r->d->store));
    return st == CF_OK && !out.accepted ? CF_ERR_STATE : st;
}

static cf_status set_paused(dash_req *r, action_result *res, bool pause)
{
    char queue[65], by[96];
    if (!queue_field(r, res, queue))
        return CF_ERR_INVALID;
    snprintf(res->back, sizeof res->back, "/queues");
    snprintf(by, sizeof by, "dashboard:%s", r->session->who);
    bool told = false;
    cf_status st = cf_queue_pause_apply(r->d->store, r->d->queue, queue, pause, by, &told);
    snprintf(res->msg, sizeof res->msg,
             st != CF_OK ? "queue %s: %s failed (Postgres)"
             : told      ? "queue %s: %s (workers follow within a second)"
                         : "queue %s: %s in Postgres; Redis could not be told, the healing pass "
                           "will set it",
             queue, pause ? "pause" : "resume");
    return st;
}

static cf_status act_queue_pause(dash_req *r, action_result *res)
{
    return set_paused(r, res, true);
}

static cf_status act_queue_resume(dash_req *r, action_result *res)
{
    return set_paused(r, res, false);
}

/* The actions. A new one: a row here and its handler above; its button is
 * cf_dash_action_button(r, "<name>", ...) on the page it belongs to. */
static const struct {
    const char *name;
    action_fn run;
} actions[] = {
    {"requeue", act_requeue},
    {"requeue_matching", act_requeue_matching},
    {"dead_retry", act_dead_retry},
    {"dead_purge", act_dead_purge},
    {"worker_quiet", act_worker_quiet},
    {"worker_resume", act_worker_resume},
    {"cancel", act_cancel},
    {"queue_pause", act_queue_pause},
    {"queue_resume", act_queue_resume},
};

static void refuse(dash_req *r, unsigned status, const char *why)
{
    r->status = status;
    cf_dash_begin(r, "Refused", "");
    fprintf(r->out, "<p class=\"msg err\" id=result>%s</p>", why);
    cf_dash_end(r);
}

void cf_dash_page_action(dash_req *r, const char *name)
{
    if (r->d->read_only || r->d->token == NULL) {
        refuse(r, MHD_HTTP_FORBIDDEN, "This dashboard is read-only: no action.");
        return;
    }
    if (r->session == NULL) {
        refuse(r, MHD_HTTP_FORBIDDEN, "Sign in first: actions need the token.");
        return;
    }
    char csrf[DASH_TOKEN_HEX + 1];
    if (!cf_dash_form_get(r->form, "csrf", csrf, sizeof csrf) ||
        !cf_dash_csrf_ok(r->session, csrf)) {
        log_warn("event=dashboard_csrf_refused action=%s who=%s session=%u: an action without "
                 "its session's CSRF token",
                 name, r->session->who, r->session->number);
        refuse(r, MHD_HTTP_FORBIDDEN,
               "The form's CSRF token is missing or wrong; reload the page.");
        return;
    }
    action_fn run = NULL;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i].name, name) == 0)
            run = actions[i].run;
    if (run == NULL) {
        refuse(r, MHD_HTTP_NOT_FOUND, "No such action.");
        return;
    }
    action_result res = {.back = "/"};
    cf_status st = run(r, &res);
    log_info("event=dashboard_action action=%s who=%s session=%u outcome=%s: %s", name,
             r->session->who, r->session->number, st == CF_OK ? "done" : "refused", res.msg);
    if (st != CF_OK)
        r->status = st == CF_ERR_STATE || st == CF_ERR_INVALID || st == CF_ERR_NOT_FOUND
                        ? MHD_HTTP_CONFLICT
                        : MHD_HTTP_SERVICE_UNAVAILABLE;
    cf_dash_begin(r, st == CF_OK ? "Done" : "Not done", "");
    fprintf(r->out, "<p class=\"msg%s\" id=result>", st == CF_OK ? "" : " err");
    cf_dash_esc(r->out, res.msg);
    fputs("</p><p><a id=back href=\"", r->out);
    cf_dash_esc(r->out, res.back);
    fputs("\">Back</a></p>", r->out);
    cf_dash_end(r);
}
