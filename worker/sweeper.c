// SPDX-License-Identifier: MIT
/* worker/sweeper.c: the healing pass of worker/sweeper.h: the store says which workflows want
 * to run, Redis is checked and repaired to match. Only queue/ and store/ APIs are used here. */
#include "worker/sweeper.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "engine/registry.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/lock.h"
#include "queue/pause.h"
#include "queue/queue.h"
#include "queue/redis_conn.h"
#include "queue/schedule.h"
#include "queue/sweep.h"
#include "store/queue_flags.h"
#include "store/signals.h"

struct cf_sweeper {
    const cf_config *cfg;
    cf_store *store;
    cf_queue *queue;
    int64_t running_after_id; /* keyset cursor of the running scan, kept between passes */
    int64_t next_try_mono_ms;
    int64_t passes, republished, locks_removed; /* totals of this process */
};

/* One pass's working state. */
typedef struct pass {
    cf_sweeper *sw;
    bool dry_run;
    cf_heal_note_fn note;
    void *arg;
    cf_sweep_stats st;
    cf_sweep_suspects suspects;
    bool suspects_changed;
    int64_t now_ms;
    cf_queue_flag_list flags; /* the queues' pause flags, from Postgres */
    const char *paused[64];   /* the paused ones' names (into flags): their rows are skipped */
    size_t npaused;
    cf_status err; /* first error */
} pass;

static cf_log_limiter sweep_limiter;

const char *cf_heal_reason_str(cf_heal_reason r)
{
    switch (r) {
    case CF_HEAL_OVERDUE:
        return "overdue";
    case CF_HEAL_NO_LOCK:
        return "no_lock";
    case CF_HEAL_DEAD_HOLDER:
        return "dead_holder";
    case CF_HEAL_STALE_LOCK:
        return "stale_lock";
    case CF_HEAL_WATCHING:
        return "watching";
    }
    return "?";
}

/* Locks must disagree with the store this long before a pass removes them; also the reaper's
 * grace for a running row (a run that is starting has its begin committed well within it). */
static int64_t confirm_ms(const cf_config *cfg)
{
    return 2 * cfg->lease_ms;
}

static size_t batch_of(const cf_config *cfg)
{
    return cfg->sweep_batch < 1 ? 1 : cfg->sweep_batch > 10000 ? 10000 : (size_t)cfg->sweep_batch;
}

cf_status cf_sweeper_new(const cf_config *cfg, cf_store *store, cf_queue *queue, cf_sweeper **out)
{
    *out = cf_calloc(1, sizeof **out);
    if (*out == NULL)
        return CF_ERR_NOMEM;
    (*out)->cfg = cfg;
    (*out)->store = store;
    (*out)->queue = queue;
    return CF_OK;
}

void cf_sweeper_free(cf_sweeper *sw)
{
    cf_free(sw);
}

static void fail(pass *p, cf_status st)
{
    if (p->err == CF_OK)
        p->err = st;
}

static const char *wf_queue(const cf_wf_ref *row)
{
    return row->queue && row->queue[0] ? row->queue : "default";
}

static void emit(pass *p, cf_heal_reason reason, const cf_wf_ref *row, const char *lock_value,
                 bool published, bool lock_removed, int64_t watch_left_ms)
{
    cf_heal_event ev = {reason, row, lock_value, published, lock_removed, watch_left_ms};
    if (p->note)
        p->note(p->arg, &ev);
}

/* publish puts the workflow's canonical continuation, due now, into its scheduled set. */
static bool publish(pass *p, const cf_wf_ref *row)
{
    if (p->dry_run) {
        p->st.republished++;
        return true;
    }
    cf_buf member = CF_BUF_INIT;
    cf_status st = cf_envelope_encode_continuation(row->wf_class, row->key, wf_queue(row), &member);
    if (st == CF_OK)
        st = cf_continuation_publish(p->sw->queue, wf_queue(row), member.data, member.len,
                                     cf_clock_unix_ms(), NULL);
    cf_buf_deinit(&member);
    if (st != CF_OK) {
        fail(p, st);
        return false;
    }
    p->st.republished++;
    p->sw->republished++;
    cf_metrics_add(&cf_metrics_g.heal_republished, 1);
    return true;
}

/* pending says whether the workflow's continuation already waits in its scheduled set, due
 * within the grace (promotion will deliver it: publishing again would change nothing). */
static bool pending(pass *p, const cf_wf_ref *row)
{
    cf_buf member = CF_BUF_INIT;
    int64_t due = 0;
    cf_status st = cf_envelope_encode_continuation(row->wf_class, row->key, wf_queue(row), &member);
    if (st == CF_OK)
        st = cf_schedule_due_ms(p->sw->queue, wf_queue(row), member.data, member.len, &due);
    cf_buf_deinit(&member);
    if (st != CF_OK && st != CF_ERR_NOT_FOUND)
        fail(p, st);
    return st == CF_OK && due <= p->now_ms + p->sw->cfg->sweep_grace_ms;
}

/* holder_worker copies the worker-id part of a lock value "<worker-id>/<run-id>". */
static void holder_worker(const char *value, char *buf, size_t cap)
{
    const char *slash = strrchr(value, '/');
    size_t n = slash ? (size_t)(slash - value) : strlen(value);
    snprintf(buf, cap, "%.*s", (int)n, value);
}

/* suspect handles a lock that disagrees with the store or whose holder is not live: watched
 * first, removed once it has been seen unchanged for the confirmation window. Returns true
 * when the lock was (dry run: would be) removed. */
static bool suspect(pass *p, const cf_wf_ref *row, const char *lock_id, const char *value,
                    int64_t *left_ms)
{
    int64_t first = cf_sweep_suspects_note(&p->suspects, lock_id, value, p->now_ms);
    if (first < 0) {
        fail(p, CF_ERR_NOMEM);
        return false;
    }
    p->suspects_changed = true;
    *left_ms = first + confirm_ms(p->sw->cfg) - p->now_ms;
    if (*left_ms > 0)
        return false;
    cf_sweep_suspects_drop(&p->suspects, lock_id);
    if (p->dry_run) {
        p->st.locks_removed++;
        return true;
    }
    cf_status st = cf_lock_release(p->sw->queue, row->wf_class, row->key, value);
    if (st == CF_ERR_CONFLICT)
        return false; /* it changed meanwhile: the next pass looks again */
    if (st != CF_OK) {
        fail(p, st);
        return false;
    }
    p->st.locks_removed++;
    p->sw->locks_removed++;
    cf_metrics_add(&cf_metrics_g.heal_locks_removed, 1);
    return true;
}

/* heal_row checks one workflow the store says should be running or woken. The lock is looked
 * at first, so a stale lock is confirmed and removed even while the workflow's continuation
 * keeps bouncing off it as a busy redelivery. */
static void heal_row(pass *p, const cf_wf_ref *row, bool running)
{
    if (cf_registry_find(row->wf_class) == NULL) {
        /* another worker of a rolling deploy may know it; publishing from here would make a
         * delivery this fleet puts back delayed, again at every pass */
        p->st.unknown_class++;
        return;
    }
    char lock_id[512];
    snprintf(lock_id, sizeof lock_id, "%s/%s", row->wf_class, row->key);
    cf_lock_holder h;
    cf_status st = cf_lock_inspect(p->sw->queue, row->wf_class, row->key, &h);
    if (st == CF_ERR_NOT_FOUND) {
        cf_sweep_suspects_drop(&p->suspects, lock_id);
        if (!running && pending(p, row)) {
            p->st.pending++;
            return;
        }
        bool ok = p->err == CF_OK && publish(p, row);
        emit(p, running ? CF_HEAL_NO_LOCK : CF_HEAL_OVERDUE, row, NULL, ok, false, 0);
        return;
    }
    if (st != CF_OK) {
        fail(p, st);
        return;
    }
    if (cf_lock_is_tombstone(h.value)) {
        /* A dead worker's lock, freed by recovery (queue/lock.h): never a suspect to remove,
         * since the next acquirer takes it over and counts the crash; the workflow is
         * published so that one comes. */
        cf_sweep_suspects_drop(&p->suspects, lock_id);
        if (!running && pending(p, row)) {
            p->st.pending++;
            return;
        }
        bool ok = p->err == CF_OK && publish(p, row);
        emit(p, running ? CF_HEAL_DEAD_HOLDER : CF_HEAL_OVERDUE, row, h.value, ok, false, 0);
        return;
    }
    char worker[512];
    holder_worker(h.value, worker, sizeof worker);
    cf_worker_liveness live;
    st = cf_sweep_worker_liveness(p->sw->queue, worker, p->sw->cfg->lease_ms, &live);
    if (st != CF_OK) {
        fail(p, st);
        return;
    }
    bool agrees = row->locked_by && strcmp(row->locked_by, h.value) == 0;
    if (agrees && live == CF_WORKER_LIVE) {
        cf_sweep_suspects_drop(&p->suspects, lock_id); /* a healthy run */
        return;
    }
    int64_t left = 0;
    if (suspect(p, row, lock_id, h.value, &left)) {
        bool ok = publish(p, row);
        emit(p, CF_HEAL_STALE_LOCK, row, h.value, ok, true, 0);
    } else if (running && live != CF_WORKER_LIVE) {
        bool ok =
            publish(p, row); /* its lock goes with the holder's recovery, or on a later pass */
        emit(p, CF_HEAL_DEAD_HOLDER, row, h.value, ok, false, left);
    } else if (!running && !pending(p, row) && p->err == CF_OK) {
        bool ok = publish(p, row); /* a busy redelivery until the lock is gone */
        emit(p, CF_HEAL_OVERDUE, row, h.value, ok, false, left);
    } else {
        emit(p, CF_HEAL_WATCHING, row, h.value, false, false, left);
    }
}

static void sweep_overdue(pass *p, int64_t deadline)
{
    cf_wf_ref_list rows = {0};
    cf_status st = cf_store_sweep_overdue(p->sw->store, p->sw->cfg->sweep_grace_ms,
                                          batch_of(p->sw->cfg), p->paused, p->npaused, &rows);
    if (st != CF_OK) {
        fail(p, st);
        return;
    }
    p->st.overdue_seen += (int64_t)rows.n;
    for (size_t i = 0; i < rows.n && p->err == CF_OK; i++) {
        if (cf_clock_mono_ms() > deadline) {
            p->st.out_of_time = true;
            break;
        }
        heal_row(p, &rows.rows[i], false);
    }
    cf_wf_ref_list_deinit(&rows);
}

static void reap_running(pass *p, int64_t deadline)
{
    cf_sweeper *sw = p->sw;
    cf_wf_ref_list rows = {0};
    size_t batch = batch_of(sw->cfg);
    cf_status st = cf_store_sweep_running(sw->store, sw->running_after_id, batch, p->paused,
                                          p->npaused, &rows);
    if (st != CF_OK) {
        fail(p, st);
        return;
    }
    p->st.running_seen += (int64_t)rows.n;
    int64_t cursor = rows.n < batch ? 0 : sw->running_after_id;
    for (size_t i = 0; i < rows.n && p->err == CF_OK; i++) {
        const cf_wf_ref *row = &rows.rows[i];
        if (cf_clock_mono_ms() > deadline) {
            p->st.out_of_time = true;
            cursor = row->id - 1; /* resume here next pass */
            break;
        }
        if (rows.n == batch)
            cursor = row->id;
        /* a run that began recently is left alone: it is starting or healthy */
        if (row->locked_at_ms > 0 && p->now_ms - row->locked_at_ms < confirm_ms(sw->cfg))
            continue;
        heal_row(p, row, true);
    }
    if (!p->dry_run)
        sw->running_after_id = cursor;
    cf_wf_ref_list_deinit(&rows);
}

/* restore_pauses makes Redis's pause flags (P:{Q}:paused) agree with their Postgres mirror:
 * a flag Redis lost (a restart without persistence, a FLUSHALL) is set again, a stale one
 * deleted. Idempotent; a resume racing a pass is put right by the next pass. */
static void restore_pauses(pass *p)
{
    cf_queue_flag_list *flags = &p->flags;
    cf_status st = cf_store_queue_flags(p->sw->store, flags);
    for (size_t i = 0; st == CF_OK && i < flags->n; i++) {
        const cf_queue_flag *f = &flags->items[i];
        if (f->paused && p->npaused < sizeof p->paused / sizeof p->paused[0])
            p->paused[p->npaused++] = f->name;
        bool in_redis = false;
        st = cf_queue_is_paused(p->sw->queue, f->name, &in_redis);
        if (st != CF_OK || in_redis == f->paused)
            continue;
        p->st.pauses_restored++;
        if (p->dry_run)
            continue;
        st = cf_queue_pause_set(p->sw->queue, f->name, f->paused, f->paused_by);
        if (st == CF_OK)
            log_warn("event=queue_pause_restored queue=%s paused=%s: Redis's pause flag "
                     "disagreed with Postgres",
                     f->name, f->paused ? "true" : "false");
    }
    if (st != CF_OK)
        fail(p, st);
}

/* heal_signals makes due the workflows whose await missed a signal (its recheck was lost with
 * its worker, docs/healing.md); a later overdue sweep publishes them. */
static void heal_signals(pass *p)
{
    if (p->dry_run)
        return;
    int64_t marked = 0;
    cf_status st = cf_store_signal_heal(p->sw->store, p->sw->cfg->sweep_grace_ms, 1000, &marked);
    if (st != CF_OK)
        fail(p, st);
    else if (marked > 0)
        cf_log(CF_LOG_WARN, NULL,
               "event=signal_heal marked=%lld: workflows awaiting a signal that waits for them "
               "were made due (a worker died before its recheck)",
               (long long)marked);
}

cf_status cf_sweeper_pass(cf_sweeper *sw, bool dry_run, int64_t budget_ms, cf_heal_note_fn note,
                          void *arg, cf_sweep_stats *stats)
{
    pass p = {.sw = sw, .dry_run = dry_run, .note = note, .arg = arg, .err = CF_OK};
    int64_t deadline = cf_clock_mono_ms() + budget_ms;
    cf_status st = cf_sweep_suspects_load(sw->queue, &p.suspects);
    if (st == CF_OK) {
        p.now_ms = cf_clock_unix_ms();
        restore_pauses(&p);
        if (p.err == CF_OK)
            heal_signals(&p);
        if (p.err == CF_OK)
            sweep_overdue(&p, deadline);
        if (p.err == CF_OK)
            reap_running(&p, deadline);
        /* entries no pass has looked at for many windows belong to workflows that moved on */
        size_t before = p.suspects.n;
        cf_sweep_suspects_expire(&p.suspects, p.now_ms - 10 * confirm_ms(sw->cfg));
        p.suspects_changed |= p.suspects.n != before;
        if (!dry_run && p.suspects_changed) {
            cf_status sst =
                cf_sweep_suspects_save(sw->queue, &p.suspects, 20 * confirm_ms(sw->cfg));
            if (sst != CF_OK)
                fail(&p, sst);
        }
        p.st.watching = (int64_t)p.suspects.n;
        st = p.err;
    }
    cf_sweep_suspects_deinit(&p.suspects);
    cf_queue_flag_list_deinit(&p.flags);
    if (!dry_run) {
        sw->passes++;
        cf_metrics_add(&cf_metrics_g.heal_passes, 1);
    }
    if (stats)
        *stats = p.st;
    return st;
}

/* log_event is the worker's note function: one line per workflow acted on. */
static void log_event(void *arg, const cf_heal_event *ev)
{
    (void)arg;
    cf_log_ctx lc = {.wf_class = ev->row->wf_class, .wf_key = ev->row->key};
    char kv[160];
    snprintf(kv, sizeof kv, "event=%s reason=%s wf_id=%lld",
             ev->reason == CF_HEAL_WATCHING ? "sweep_watching" : "sweep_republished",
             cf_heal_reason_str(ev->reason), (long long)ev->row->id);
    if (ev->reason == CF_HEAL_WATCHING)
        cf_logkv(CF_LOG_INFO, &lc, kv,
                 "lock %s disagrees with the store (locked_by %s); removed "
                 "if unchanged in %lldms",
                 ev->lock_value, ev->row->locked_by ? ev->row->locked_by : "none",
                 (long long)ev->watch_left_ms);
    else
        cf_logkv(CF_LOG_WARN, &lc, kv, "published again from the store%s%s",
                 ev->lock_removed ? "; removed stale lock " : "",
                 ev->lock_removed ? ev->lock_value : "");
}

static void report_error(cf_sweeper *sw, const char *what, cf_status st)
{
    int64_t suppressed = 0;
    if (!cf_log_ratelimit(&sweep_limiter, 10000, &suppressed))
        return;
    char why[256];
    snprintf(why, sizeof why, "%s", cf_queue_errstr(sw->queue));
    if (why[0] == '\0')
        snprintf(why, sizeof why, "%s", cf_store_errstr(sw->store));
    log_warn("event=sweep_error op=%s status=%s: %s (%lld similar suppressed)", what,
             cf_status_str(st), why, (long long)suppressed);
}

bool cf_sweeper_tick(cf_sweeper *sw, const char *const *queues, size_t nqueues)
{
    int64_t now = cf_clock_mono_ms();
    if (now < sw->next_try_mono_ms)
        return false;
    sw->next_try_mono_ms = now + sw->cfg->sweep_interval_ms;
    cf_status st = cf_queues_register(sw->queue, queues, nqueues);
    if (st != CF_OK) {
        report_error(sw, "queues_register", st);
        return false;
    }
    bool won = false;
    st = cf_sweep_claim(sw->queue, sw->cfg->sweep_interval_ms, &won);
    if (st != CF_OK) {
        report_error(sw, "sweep_claim", st);
        return false;
    }
    if (!won)
        return false;
    int64_t budget = sw->cfg->sweep_interval_ms / 2 > 1000 ? sw->cfg->sweep_interval_ms / 2 : 1000;
    cf_sweep_stats ss;
    st = cf_sweeper_pass(sw, false, budget, log_event, NULL, &ss);
    if (st != CF_OK)
        report_error(sw, "sweep", st);
    cf_log_level lvl = ss.republished || ss.locks_removed ? CF_LOG_WARN : CF_LOG_DEBUG;
    if (cf_log_enabled(lvl))
        cf_log(lvl, NULL,
               "event=sweep_pass republished=%lld locks_removed=%lld watching=%lld overdue=%lld "
               "running=%lld pending=%lld out_of_time=%d: healing pass done",
               (long long)ss.republished, (long long)ss.locks_removed, (long long)ss.watching,
               (long long)ss.overdue_seen, (long long)ss.running_seen, (long long)ss.pending,
               ss.out_of_time ? 1 : 0);
    return true;
}

void cf_sweeper_log_totals(const cf_sweeper *sw)
{
    if (sw == NULL)
        return;
    log_info("event=sweep_totals passes=%lld republished=%lld locks_removed=%lld: this "
             "process's healing passes",
             (long long)sw->passes, (long long)sw->republished, (long long)sw->locks_removed);
}
