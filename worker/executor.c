// SPDX-License-Identifier: MIT
/* worker/executor.c: one delivery from fetch to ack. The order of the last steps matters:
 * Postgres records the outcome (and next_wake_at) first, then the Redis lock is released, then
 * the pass's effects are published, then the delivery is acked. A crash between any two leaves
 * either the envelope in flight (recovered and run again, harmlessly) or a workflow whose
 * next_wake_at in Postgres says when it wants to run (the sweeper publishes it again). */
#include "worker/executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/rand.h"
#include "engine/class_stats.h"
#include "engine/finish.h"
#include "engine/registry.h"
#include "engine/run.h"
#include "queue/deadletter.h"
#include "queue/delivery.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/fetch.h"
#include "queue/keys.h"
#include "queue/lock.h"
#include "queue/redis_conn.h"
#include "queue/schedule.h"
#include "store/requeue.h"
#include "worker/cancel.h"
#include "worker/delivery_end.h"
#include "worker/pass_metrics.h"

static cf_log_limiter redis_limiter, store_limiter;

#ifdef CF_TEST_HOOKS
/* Test builds only (make's chronoforge-test-hooks binary; never the library or the stock
 * binary): CHRONOFORGE_TEST_CRASH_AFTER_RELEASE=1 makes a pass abort() between releasing its
 * lock and publishing its continuation, for tests/e2e/test_e2e_healing.c. */
static bool test_crash_after_release(void)
{
    const char *v = getenv("CHRONOFORGE_TEST_CRASH_AFTER_RELEASE");
    return v && strcmp(v, "1") == 0;
}
#endif

/* redis_retry_wait decides what to do after a Redis call gave st: true means "done" (success,
 * a permanent error, logged, or a stop requested while Redis is unreachable: then the caller
 * gives up with the transient st and the envelope stays in flight, recovered by the fleet once
 * this worker's lease passes), false means "transient: backed off, call again". */
static bool redis_retry_wait(cf_executor *ex, cf_status st, const char *what)
{
    if (st == CF_OK || st == CF_ERR_NOT_FOUND) {
        ex->consecutive_errors = 0;
        return true;
    }
    atomic_fetch_add(&ex->stats->redis_errors, 1);
    int64_t suppressed = 0;
    if (!cf_status_is_transient(st)) {
        log_error("event=redis_error op=%s status=%s: %s", what, cf_status_str(st),
                  cf_queue_errstr(ex->queue));
        return true;
    }
    if (ex->stopping && atomic_load(ex->stopping)) {
        log_warn("event=redis_gave_up op=%s status=%s: %s; stopping, so the delivery stays in "
                 "flight and is recovered by the fleet after this worker's lease",
                 what, cf_status_str(st), cf_queue_errstr(ex->queue));
        return true;
    }
    if (cf_log_ratelimit(&redis_limiter, 5000, &suppressed))
        log_warn("redis unavailable during %s (%s: %s); retrying with backoff (%lld similar "
                 "messages suppressed)",
                 what, cf_status_str(st), cf_queue_errstr(ex->queue), (long long)suppressed);
    ex->consecutive_errors++;
    cf_clock_sleep_ms(cf_backoff_delay_ms(100, 5000, ex->consecutive_errors, true), ex->stopping);
    return false;
}

/* REDIS_RETRY_ST runs call until redis_retry_wait says done; st gets the last status (a
 * transient one only when it gave up because the worker is stopping). */
#define REDIS_RETRY_ST(st, ex, what, call)                                                         \
    do {                                                                                           \
        do {                                                                                       \
            (st) = (call);                                                                         \
        } while (!redis_retry_wait((ex), (st), (what)));                                           \
    } while (0)

/* outcome_unknown: st says the command may have run on the server though no reply came (the
 * connection broke or timed out after the request went out). A retry that then finds the work
 * already done (lock not held, envelope not in flight) was preceded by our own attempt. */
static bool outcome_unknown(cf_status st)
{
    return st == CF_ERR_IO || st == CF_ERR_TIMEOUT;
}

/* lock_not_released logs a release that found the lock no longer ours: after an attempt whose
 * outcome was unknown, that attempt released it (info); otherwise it expired or was taken. */
static void lock_not_released(const cf_envelope *env, bool unknown)
{
    cf_log_ctx lc = {.wf_class = env->wf_class, .wf_key = env->key, .jid = env->jid};
    if (unknown)
        cf_logkv(CF_LOG_INFO, &lc, "event=release_retried",
                 "the lock was already released: an earlier attempt whose reply was lost did it");
    else
        cf_logkv(CF_LOG_WARN, &lc, "event=lock_lost",
                 "the Redis lock expired or was taken over before release (the run outlived "
                 "max_duration?)");
}

#define REDIS_RETRY(ex, what, call)                                                                \
    do {                                                                                           \
        cf_status rr_st_;                                                                          \
        REDIS_RETRY_ST(rr_st_, ex, what, call);                                                    \
    } while (0)

static void ack(cf_executor *ex, const char *queue, const char *raw, size_t len)
{
    REDIS_RETRY(ex, "ack", cf_fetch_ack(ex->queue, queue, raw, len));
}

static void dead_letter(cf_executor *ex, const char *queue, const char *raw, size_t len,
                        const cf_error *err)
{
    cf_deadletter_reason why = {.code = err->code, .reason = err->msg, .field = err->field};
    log_warn("event=dead_letter queue=%s code=%s field=%s reason=\"%s\"", queue, err->code,
             err->field[0] ? err->field : "-", err->msg);
    REDIS_RETRY(ex, "dead_letter",
                cf_deadletter_move(ex->queue, queue, raw, len, &why, 0, ex->cfg->dead_letter_cap));
    atomic_fetch_add(&ex->stats->dead_lettered, 1);
    cf_metrics_add(&cf_metrics_g.dead_letters, 1);
}

/* unknown_class puts an envelope of a class this worker does not know back, delayed with
 * capped backoff (another worker of a rolling deploy may know it); after unknown_class_grace
 * (measured from created_at, which is stamped on the first put-back) it is dead-lettered. */
static void unknown_class(cf_executor *ex, const char *queue, const char *raw, size_t len,
                          cf_envelope *env)
{
    atomic_fetch_add(&ex->stats->unknown_class, 1);
    int64_t now = cf_clock_unix_ms();
    if (!env->has_created_at) {
        env->has_created_at = true;
        env->created_at = (double)now / 1000.0;
    }
    int64_t age = now - (int64_t)(env->created_at * 1000.0);
    if (age > ex->cfg->unknown_class_grace_ms) {
        cf_error err;
        cf_error_set(&err, "unknown_class", "class",
                     "no worker knows workflow class '%s' after %llds", env->wf_class,
                     (long long)(age / 1000));
        dead_letter(ex, queue, raw, len, &err);
        return;
    }
    int64_t delay = age < 1000 ? 1000 : age > 300000 ? 300000 : age;
    cf_buf out = CF_BUF_INIT;
    if (cf_envelope_encode(env, &out) != CF_OK) {
        cf_buf_deinit(&out);
        return; /* left in flight: recovered later */
    }
    log_warn("event=unknown_class class=%s queue=%s: not registered in this worker; retrying in "
             "%llds",
             env->wf_class, queue, (long long)(delay / 1000));
    if (out.len == len && memcmp(out.data, raw, len) == 0) {
        REDIS_RETRY(ex, "unknown_class",
                    cf_fetch_reschedule(ex->queue, queue, raw, len, now + delay));
    } else {
        /* First put-back: the delayed copy carries the created_at stamp. A crash between the
         * two calls leaves a harmless duplicate, never a loss. */
        cf_status st;
        REDIS_RETRY_ST(st, ex, "unknown_class",
                       cf_enqueue_at(ex->queue, queue, out.data, out.len, now + delay));
        if (st == CF_OK) /* else stopping with Redis gone: left in flight */
            ack(ex, queue, raw, len);
    }
    cf_buf_deinit(&out);
}

/* lock_ttl_ms: the workflow's options > registration > worker setting (docs/SPEC.md §5).
 * options: the envelope's before the row is read (they are the stored ones when this delivery
 * creates the workflow), then the stored ones (adjust_lock_ttl). */
static int64_t lock_ttl_ms(const cf_executor *ex, const cf_workflow_def *def, const json_t *options)
{
    json_t *md = json_object_get(options, "max_duration");
    int64_t ms;
    if (json_is_number(md) && json_number_value(md) > 0)
        return (int64_t)(json_number_value(md) * 1000.0);
    if (json_is_string(md) && cf_duration_parse_ms(json_string_value(md), &ms, NULL) == CF_OK &&
        ms > 0)
        return ms;
    return def->max_duration_ms > 0 ? def->max_duration_ms : ex->cfg->max_duration_ms;
}

/* drop_continuation removes any pending continuation of a workflow that has ended. */
static void drop_continuation(cf_executor *ex, const char *queue, const char *wf_class,
                              const char *key)
{
    cf_buf member = CF_BUF_INIT;
    if (cf_envelope_encode_continuation(wf_class, key, queue, &member) == CF_OK)
        REDIS_RETRY(ex, "continuation_remove",
                    cf_continuation_remove(ex->queue, queue, member.data, member.len, NULL));
    cf_buf_deinit(&member);
}

static void store_unavailable(cf_executor *ex, const char *queue, const char *raw, size_t len,
                              cf_status st);

/* store_refused dead-letters an envelope whose data Postgres refused for good, with the reason. */
static void store_refused(cf_executor *ex, const char *queue, const char *raw, size_t len,
                          cf_status st)
{
    char why[256];
    snprintf(why, sizeof why, "%s", cf_store_errstr(ex->store));
    cf_error err;
    cf_error_set(&err, "bad_value", "", "the store refused this workflow: %s (%s)", why,
                 cf_status_str(st));
    dead_letter(ex, queue, raw, len, &err);
}

/* first_delivery: a producer's envelope (it may carry kwargs and may create its workflow), as
 * opposed to a continuation (no kwargs) or a retry_workflow envelope (resumes, never creates). */
static bool first_delivery(const cf_envelope *env)
{
    return !env->retry_workflow && !cf_envelope_is_continuation(env);
}

/* busy: the workflow is held by a live run; this delivery becomes its continuation, due when
 * the lock would expire or after busy_recheck, whichever is sooner (never a silent drop).
 * A first delivery is the only copy of its kwargs: before it is acked, its workflow is made to
 * exist in Postgres (born idle with those kwargs, unless it exists already), so the
 * kwargs-less continuation finds it (docs/retries.md). */
static void busy(cf_executor *ex, const char *queue, const char *raw, size_t len,
                 const cf_envelope *env, const cf_lock_holder *holder)
{
    atomic_fetch_add(&ex->stats->busy, 1);
    cf_metrics_halt(CF_HALT_REASON_BUSY);
    if (first_delivery(env)) {
        cf_wf_row row = {0};
        cf_status st = cf_store_wf_ensure(ex->store, env->wf_class, env->key, queue, env->kwargs,
                                          env->options, &row);
        cf_wf_row_deinit(&row);
        if (st != CF_OK) {
            if (cf_status_is_transient(st) || st == CF_ERR_NOMEM)
                store_unavailable(ex, queue, raw, len, st); /* the envelope itself waits */
            else
                store_refused(ex, queue, raw, len, st);
            return;
        }
    }
    int64_t wait = ex->cfg->busy_recheck_ms;
    if (holder->pttl_ms >= 0 && holder->pttl_ms < wait)
        wait = holder->pttl_ms;
    cf_buf member = CF_BUF_INIT;
    if (cf_envelope_encode_continuation(env->wf_class, env->key, queue, &member) != CF_OK) {
        cf_buf_deinit(&member);
        return;
    }
    cf_log_ctx lc = {.wf_class = env->wf_class, .wf_key = env->key, .jid = env->jid};
    cf_logkv(CF_LOG_DEBUG, &lc, "event=busy", "held by %s; continuation due in %lldms",
             holder->value, (long long)wait);
    REDIS_RETRY(ex, "busy_continuation",
                cf_fetch_ack_and_continue(ex->queue, queue, raw, len, member.data, member.len,
                                          cf_clock_unix_ms() + wait));
    cf_buf_deinit(&member);
}

/* store_unavailable puts the delivery back with backoff when Postgres cannot be reached. */
static void store_unavailable(cf_executor *ex, const char *queue, const char *raw, size_t len,
                              cf_status st)
{
    atomic_fetch_add(&ex->stats->store_errors, 1);
    char why[256];
    snprintf(why, sizeof why, "%s", cf_store_errstr(ex->store));
    int64_t suppressed = 0;
    if (cf_log_ratelimit(&store_limiter, 5000, &suppressed))
        log_warn("event=store_unavailable status=%s: %s; deliveries are put back with backoff "
                 "(%lld similar messages suppressed)",
                 cf_status_str(st), why, (long long)suppressed);
    ex->consecutive_errors++;
    int64_t delay = cf_backoff_delay_ms(500, 10000, ex->consecutive_errors, true);
    REDIS_RETRY(ex, "reschedule",
                cf_fetch_reschedule(ex->queue, queue, raw, len, cf_clock_unix_ms() + delay));
}

static void release(cf_executor *ex, const cf_envelope *env, const char *token)
{
    cf_status st;
    bool unknown = false;
    do {
        st = cf_lock_release(ex->queue, env->wf_class, env->key, token);
        unknown = unknown || outcome_unknown(st);
    } while (st != CF_ERR_CONFLICT && !redis_retry_wait(ex, st, "lock_release"));
    if (st == CF_ERR_CONFLICT)
        lock_not_released(env, unknown);
}

/* finish_delivery releases the lock, carries out the pass's effects (publishes, then removes)
 * and acks, in one round trip (queue/delivery.h), after Postgres has recorded the outcome. */
static void finish_delivery(cf_executor *ex, const char *queue, const char *raw, size_t len,
                            const cf_envelope *env, const char *token, const char *wf_queue,
                            const cf_finish_result *fin)
{
    cf_log_ctx lc = {.wf_class = env->wf_class, .wf_key = env->key, .jid = env->jid};
    cf_delivery_effects fx;
    cf_status st = cf_delivery_effects_build(&fin->effects, wf_queue, &fx);
    if (st != CF_OK) {
        /* The outcome is durable in Postgres: the sweeper publishes a lost wake from it. */
        cf_logkv(CF_LOG_ERROR, &lc, "event=effects_dropped",
                 "cannot encode this pass's effects (%s); released and acked without them",
                 cf_status_str(st));
        cf_delivery_effects_deinit(&fx);
        memset(&fx, 0, sizeof fx);
    }
    cf_delivery_end d = {
        .queue = queue,
        .env = raw,
        .env_len = len,
        .wf_class = env->wf_class,
        .wf_key = env->key,
        .token = token,
        .publish = fx.publish,
        .npublish = fx.npublish,
        .remove = fx.remove,
        .nremove = fx.nremove,
    };
    bool released = false, acked = false;
    /* Every command of the pipeline is idempotent; after an unknown outcome the retry reports
     * "not held" / "not in flight" for what the lost attempt already did. */
    bool unknown = false;
    do {
        st = cf_delivery_finish(ex->queue, &d, &released, &acked);
        unknown = unknown || outcome_unknown(st);
    } while (!redis_retry_wait(ex, st, "finish_delivery"));
    if (cf_status_is_transient(st)) {
        /* Stopping with Redis gone: Postgres holds the outcome and next_wake_at; the envelope
         * stays in flight and the lock expires or is freed by recovery. */
        cf_delivery_effects_deinit(&fx);
        return;
    }
    if (!released && !fin->abandoned)
        lock_not_released(env, unknown);
    if (!acked && unknown)
        cf_logkv(CF_LOG_INFO, &lc, "event=ack_retried",
                 "the envelope was already acked: an earlier attempt whose reply was lost did it");
    else if (!acked)
        cf_logkv(CF_LOG_WARN, &lc, "event=ack_missing",
                 "the envelope was no longer in flight (recovered while this worker was presumed "
                 "dead?)");
    cf_delivery_effects_deinit(&fx);
}

/* The children a branch dispatched mid-pass (engine/branch.c) are published right after the
 * commit that stored them, with a few retries; stored children whose envelopes could not be
 * published are due now in Postgres, and the sweeper publishes them. */
typedef struct spawn_sink {
    cf_executor *ex;
    const char *queue; /* the parent's queue: the default of an effect without one */
} spawn_sink;

static cf_status publish_children(void *arg, const cf_effects *fx)
{
    spawn_sink *sk = arg;
    cf_status st;
    do
        st = cf_effects_enqueue(sk->ex->queue, fx, sk->queue);
    while (!redis_retry_wait(sk->ex, st, "publish_children"));
    return st;
}

/* cancel_children is the cleanup pass's cascade (engine/run.h): a cancelled workflow's
 * unfinished children are cancelled before its on_cancel runs. */
static cf_status cancel_children(void *arg, cf_run *run)
{
    cf_executor *ex = arg;
    int64_t n = 0;
    cf_status st = cf_cancel_children(ex->store, ex->queue, run->row.id, run->row.wf_class,
                                      run->row.key, run->row.cancel_reason, &n);
    if (n > 0)
        cf_logkv(CF_LOG_INFO, &run->log, "event=cancel_children", "cancelled %lld children",
                 (long long)n);
    return st;
}

static void count_pass_end(cf_worker_stats *stats, cf_pass_end end)
{
    switch (end) {
    case CF_PASS_COMPLETED:
        atomic_fetch_add(&stats->completed, 1);
        break;
    case CF_PASS_HALTED:
        atomic_fetch_add(&stats->halted, 1);
        break;
    case CF_PASS_STALLED:
        atomic_fetch_add(&stats->stalled, 1);
        break;
    case CF_PASS_FAILED:
        atomic_fetch_add(&stats->failed, 1);
        break;
    case CF_PASS_CONFLICT:
        atomic_fetch_add(&stats->conflicts, 1);
        break;
    case CF_PASS_STORE_ERROR:
        atomic_fetch_add(&stats->store_errors, 1);
        break;
    case CF_PASS_CANCELLED:
        atomic_fetch_add(&stats->cancelled, 1);
        break;
    }
}

/* adjust_lock_ttl gives the lock the lifetime the workflow's stored options ask for, when it
 * was taken with another one (a continuation carries no options): every run's lock lives the
 * workflow's max_duration. Compare-and-PEXPIRE: only while the lock is still ours. */
static void adjust_lock_ttl(cf_executor *ex, const cf_envelope *env, const cf_workflow_def *def,
                            const cf_wf_row *row, const char *token, int64_t ttl_used_ms)
{
    int64_t ttl = lock_ttl_ms(ex, def, row->options);
    if (ttl == ttl_used_ms)
        return;
    cf_status st;
    REDIS_RETRY_ST(st, ex, "lock_set_ttl",
                   cf_lock_set_ttl(ex->queue, env->wf_class, env->key, token, ttl));
    cf_log_ctx lc = {.wf_class = env->wf_class, .wf_key = env->key, .jid = env->jid};
    if (st == CF_ERR_CONFLICT)
        cf_logkv(CF_LOG_WARN, &lc, "event=lock_lost",
                 "the Redis lock expired or was taken over before its lifetime was set to the "
                 "workflow's max_duration (%lldms); the fence refuses this run if it was",
                 (long long)ttl);
    else if (st == CF_OK)
        cf_logkv(CF_LOG_DEBUG, &lc, "event=lock_ttl", "set to the workflow's max_duration %lldms",
                 (long long)ttl);
}

/* unknown_state: the workflow is in a state this binary does not know (a newer release wrote
 * it, during a rolling deploy). It is never run here, and the delivery is not dropped either:
 * it goes back, due later, for a worker that knows the state; the delay grows with how long the
 * workflow has been in that state (1 s to 5 min), so an old worker left behind costs little. */
static void unknown_state(cf_executor *ex, const char *queue, const char *raw, size_t len,
                          const cf_envelope *env, const char *token, const cf_wf_row *row)
{
    atomic_fetch_add(&ex->stats->not_executable, 1);
    int64_t now = cf_clock_unix_ms();
    int64_t age = row->updated_at_ms > 0 ? now - row->updated_at_ms : 0;
    int64_t delay = age < 1000 ? 1000 : age > 300000 ? 300000 : age;
    cf_log_ctx lc = {.wf_class = env->wf_class, .wf_key = env->key, .jid = env->jid};
    cf_logkv(CF_LOG_WARN, &lc, "event=unknown_state",
             "the workflow is in a state this release does not know (a newer release's?); not "
             "run here, the delivery is put back for %lldms",
             (long long)delay);
    release(ex, env, token);
    REDIS_RETRY(ex, "unknown_state", cf_fetch_reschedule(ex->queue, queue, raw, len, now + delay));
}

/* lazy_bound_ms: the lazy window's bound (docs/healing.md): the lazy-begin setting, at most a
 * quarter of the lease; 0: every run takes the durable begin. */
static int64_t lazy_bound_ms(const cf_executor *ex)
{
    int64_t b = ex->cfg->lazy_begin_ms, cap = ex->cfg->lease_ms / 4;
    return b > cap ? cap : b;
}

/* lazy_begin decides whether this run begins lazily (docs/healing.md, "lazy window") and then
 * fills row and steps from reads alone (no commit): true for a producer's first delivery of a
 * workflow with no row (the run's first commit creates it) and for a delivery of an idle,
 * unlocked workflow. Every other run takes the durable begin: a retry_workflow delivery, a
 * lock taken over from a crash tombstone (a crash to count), a row locked by a run that never
 * released (a crash Postgres knows), a running, stalled, failed or completed row, a failed
 * read, and every run when the setting is 0. */
static bool lazy_begin(cf_executor *ex, const char *queue, const cf_envelope *env, bool crashed,
                       cf_wf_row *row, cf_step_list *steps)
{
    if (lazy_bound_ms(ex) <= 0 || crashed || env->retry_workflow)
        return false;
    cf_run_begin_args peek = {.wf_class = env->wf_class, .key = env->key, .steps = steps};
    cf_status st = cf_store_run_peek(ex->store, &peek, row);
    if (st == CF_ERR_NOT_FOUND && first_delivery(env)) {
        memset(row, 0, sizeof *row);
        snprintf(row->wf_class, sizeof row->wf_class, "%s", env->wf_class);
        snprintf(row->key, sizeof row->key, "%s", env->key);
        snprintf(row->queue, sizeof row->queue, "%s", queue);
        row->state = CF_WF_RUNNING;
        row->kwargs = env->kwargs ? json_incref(env->kwargs) : json_object();
        row->options = env->options ? json_incref(env->options) : json_object();
        row->context = json_object();
        row->retry_counts = json_object();
        if (row->kwargs && row->options && row->context && row->retry_counts)
            return true;
    } else if (st == CF_OK && row->state == CF_WF_IDLE && row->locked_by[0] == '\0') {
        return true;
    }
    cf_wf_row_deinit(row);
    cf_step_list_deinit(steps);
    return false;
}

/* run_workflow: begin in Postgres (durably, or lazily with the first commit), replay, finish. */
static void run_workflow(cf_executor *ex, const char *queue, const char *raw, size_t len,
                         cf_envelope *env, const cf_workflow_def *def, const char *token,
                         int64_t ttl_used_ms, bool crashed)
{
    cf_wf_row row = {0};
    cf_step_list steps = {0};
    cf_run_begin_args args = {
        .wf_class = env->wf_class,
        .key = env->key,
        .queue = queue,
        .lock_value = token,
        .kwargs = env->kwargs,
        .options = env->options,
        /* Only a producer's envelope creates its workflow: a continuation has no kwargs and
         * retry_later resumes (SPEC §4). */
        .must_exist = !first_delivery(env),
        .steps = &steps,
        .crashed = crashed,
    }; /* a retry_workflow delivery was applied by requeue_first: now a plain begin */
    cf_log_ctx lc = {.wf_class = env->wf_class, .wf_key = env->key, .jid = env->jid};
    bool lazy = lazy_begin(ex, queue, env, crashed, &row, &steps);
    int64_t fence_read = row.fence;
    cf_status st = lazy ? CF_OK : cf_store_run_begin(ex->store, &args, &row);
    if (crashed)
        cf_logkv(CF_LOG_WARN, &lc, "event=crash_counted",
                 "the previous holder of this workflow's lock died (recovered from a dead "
                 "worker); its run is counted as a crash");
    if (st == CF_ERR_NOT_FOUND) {
        atomic_fetch_add(&ex->stats->not_executable, 1);
        if (env->retry_workflow)
            cf_logkv(CF_LOG_INFO, &lc, "event=not_executable state=none",
                     "retry_workflow for a workflow that does not exist; nothing to resume");
        else
            cf_logkv(CF_LOG_INFO, &lc, "event=orphan_continuation",
                     "continuation of a workflow that does not exist; dropped (a continuation "
                     "never creates a workflow)");
        release(ex, env, token);
        ack(ex, queue, raw, len);
        cf_wf_row_deinit(&row);
        cf_step_list_deinit(&steps);
        return;
    }
    if (st == CF_ERR_STATE && row.state == CF_WF_UNKNOWN) {
        unknown_state(ex, queue, raw, len, env, token, &row);
        cf_wf_row_deinit(&row);
        cf_step_list_deinit(&steps);
        return;
    }
    if (st == CF_ERR_STATE) {
        atomic_fetch_add(&ex->stats->not_executable, 1);
        cf_log(CF_LOG_INFO, &lc,
               "event=not_executable state=%s: workflow is %s; delivery acked without running%s",
               cf_wf_state_name(row.state), cf_wf_state_name(row.state),
               row.state == CF_WF_COMPLETED || row.state == CF_WF_CANCELLED
                   ? ""
                   : " (use requeue to resume it)");
        release(ex, env, token);
        if (row.state == CF_WF_COMPLETED || row.state == CF_WF_CANCELLED)
            drop_continuation(ex, row.queue[0] ? row.queue : queue, env->wf_class, env->key);
        ack(ex, queue, raw, len);
        cf_wf_row_deinit(&row);
        cf_step_list_deinit(&steps);
        return;
    }
    if (st != CF_OK) {
        release(ex, env, token);
        if (cf_status_is_transient(st) || st == CF_ERR_NOMEM)
            store_unavailable(ex, queue, raw, len, st);
        else
            store_refused(ex, queue, raw, len, st); /* Postgres refused its data for good */
        cf_wf_row_deinit(&row);
        cf_step_list_deinit(&steps);
        return;
    }
    ex->consecutive_errors = 0;
    adjust_lock_ttl(ex, env, def, &row, token, ttl_used_ms);
    cf_run run;
    char wf_queue[65];
    snprintf(wf_queue, sizeof wf_queue, "%s", row.queue[0] ? row.queue : queue);
    cf_store_port port = cf_store_port_pg(ex->store);
    if (cf_run_init(&run, def, &port, &row, &steps, ex->stopping, env->jid) != CF_OK ||
        (lazy && cf_run_set_lazy(&run, wf_queue, token, fence_read, lazy_bound_ms(ex)) != CF_OK)) {
        log_error("event=oom: cannot set up the run of %s/%s", env->wf_class, env->key);
        cf_run_deinit(&run);
        cf_step_list_deinit(&steps);
        release(ex, env, token);
        store_unavailable(ex, queue, raw, len, CF_ERR_NOMEM);
        return;
    }
    cf_step_list_deinit(&steps);
    cf_pass_metrics_begin(run.class_stats, env, first_delivery(env), &run.row,
                          lazy ? fence_read == 0 : run.row.created, cf_clock_unix_ms());
    run.repeat_keep_ticks = ex->cfg->repeat_keep_ticks;
    spawn_sink sink = {.ex = ex, .queue = wf_queue};
    run.sink = (cf_run_sink){.publish = publish_children, .arg = &sink};
    run.cascade = (cf_run_cascade){.cancel_children = cancel_children, .arg = ex};
    cf_finish_result fin = cf_finish_run(&run);
    count_pass_end(ex->stats, fin.end);
    cf_class_stats_note_pass(run.class_stats, fin.end); /* per class, for /metrics */
    cf_pass_metrics_end(run.class_stats, fin.end);
    cf_run_deinit(&run);

    if (fin.abandoned && fin.abandon_status != CF_ERR_CONFLICT) {
        /* Postgres failed mid-run: the run's effects so far are durable; try again later. */
        cf_finish_result_deinit(&fin);
        release(ex, env, token);
        store_unavailable(ex, queue, raw, len, fin.abandon_status);
        return;
    }
#ifdef CF_TEST_HOOKS
    if (test_crash_after_release()) {
        release(ex, env, token);
        abort(); /* the gap between release and publish */
    }
#endif
    finish_delivery(ex, queue, raw, len, env, token, wf_queue, &fin);
    cf_finish_result_deinit(&fin);
}

/* requeue_first applies a retry_workflow delivery (a client's retry_later) as a requeue in
 * Postgres (store/requeue.h) before the lock is tried: the intent is durable first, so a busy
 * lock, a lost continuation or a crash can no longer lose it, and the delivery goes on as a
 * plain wake. The envelope's created_at is when it was asked for, so a redelivery of the same
 * envelope is recognised; its requested_by (default "retry_later") and reason are recorded.
 * Returns false when the delivery was settled here. */
static bool requeue_first(cf_executor *ex, const char *queue, const char *raw, size_t len,
                          cf_envelope *env)
{
    cf_requeue_req req = {
        .requested_by = env->requested_by[0] ? env->requested_by : "retry_later",
        .reason = env->reason,
        .job_id = env->jid,
        .requested_at_ms = env->has_created_at ? (int64_t)(env->created_at * 1000.0) : 0,
    };
    cf_requeue_result res;
    cf_status st = cf_store_requeue(ex->store, env->wf_class, env->key, &req, &res);
    cf_log_ctx lc = {.wf_class = env->wf_class, .wf_key = env->key, .jid = env->jid};
    if (st == CF_OK) {
        cf_logkv(CF_LOG_INFO, &lc, "event=requeued", "previous_state=%s%s; runs as a plain wake",
                 cf_wf_state_name(res.previous_state),
                 res.already_applied ? " (already applied)" : "");
        return true;
    }
    if (st == CF_ERR_STATE) {
        cf_logkv(CF_LOG_INFO, &lc, "event=requeue_refused",
                 "state=%s: only stalled or failed workflows are requeued; delivered as a plain "
                 "wake",
                 cf_wf_state_name(res.previous_state));
        return true;
    }
    if (st == CF_ERR_NOT_FOUND) {
        /* retry_later resumes a workflow; it never creates one (SPEC §4). */
        atomic_fetch_add(&ex->stats->not_executable, 1);
        cf_logkv(CF_LOG_INFO, &lc, "event=not_executable state=none",
                 "retry_workflow for a workflow that does not exist; nothing to resume");
        ack(ex, queue, raw, len);
        return false;
    }
    if (cf_status_is_transient(st) || st == CF_ERR_NOMEM) {
        store_unavailable(ex, queue, raw, len, st);
        return false;
    }
    char why[256];
    snprintf(why, sizeof why, "%s", cf_store_errstr(ex->store));
    cf_error err;
    cf_error_set(&err, "bad_value", "", "the store refused this requeue: %s (%s)", why,
                 cf_status_str(st));
    dead_letter(ex, queue, raw, len, &err);
    return false;
}

void cf_executor_handle(cf_executor *ex, const char *queue, const char *raw, size_t len)
{
    atomic_fetch_add(&ex->stats->deliveries, 1);
    cf_envelope env;
    cf_error err = {0};
    cf_status st = cf_envelope_decode(raw, len, NULL, &env, &err);
    if (st != CF_OK) {
        if (st == CF_ERR_NOMEM)
            cf_error_set(&err, "too_large", "", "out of memory decoding the envelope");
        dead_letter(ex, queue, raw, len, &err);
        cf_envelope_deinit(&env);
        return;
    }
    const cf_workflow_def *def = cf_registry_find(env.wf_class);
    if (def == NULL) {
        unknown_class(ex, queue, raw, len, &env);
        cf_envelope_deinit(&env);
        return;
    }
    if (env.retry_workflow && !requeue_first(ex, queue, raw, len, &env)) {
        cf_envelope_deinit(&env);
        return;
    }
    char run_id[13], token[CF_WORKER_ID_MAX + 16];
    cf_rand_hex(run_id, 12);
    if (cf_lock_token_make(token, sizeof token, ex->worker_id, run_id) != CF_OK) {
        cf_envelope_deinit(&env);
        return;
    }
    if (ex->active)
        cf_active_token(ex->active, ex->slot, token); /* before the lock exists in Redis */
    cf_lock_holder holder;
    int64_t ttl = lock_ttl_ms(ex, def, env.options);
    do {
        st = cf_lock_acquire(ex->queue, env.wf_class, env.key, token, ttl, &holder);
    } while (st != CF_ERR_BUSY && !redis_retry_wait(ex, st, "lock_acquire"));
    if (cf_status_is_transient(st)) {
        /* stopping with Redis gone: left in flight (recovered after this worker's lease) */
    } else if (st == CF_ERR_BUSY) {
        busy(ex, queue, raw, len, &env, &holder);
    } else if (st == CF_OK) {
        run_workflow(ex, queue, raw, len, &env, def, token, ttl, holder.crashed);
    } else {
        /* A permanent Redis refusal (e.g. a foreign value of another type at the lock key):
         * keep the envelope, with the reason, where an operator will see it. */
        cf_error_set(&err, "lock_error", "key", "cannot take the lock of %s/%s: %s (%s)",
                     env.wf_class, env.key, cf_queue_errstr(ex->queue), cf_status_str(st));
        dead_letter(ex, queue, raw, len, &err);
    }
    cf_envelope_deinit(&env);
}
