// SPDX-License-Identifier: MIT
/* engine/repeat.c: cf_durably_repeat, a periodic step (docs/SPEC.md §4, docs/replay.md).
 *
 * One coordination row, `durably_repeat$<name>`, carries everything a replay needs in its
 * metadata: the grid (anchor and period, common/calendar.h), the index of the current tick,
 * the current tick's executions and retry budget, and counts. Tick rows,
 * `durably_repeat$<name>$<tick ms>`, are written (one per tick run, plus one summary row per
 * fast-forward) and never read back: the one-query preload leaves them out, so a repeat with
 * 100,000 past ticks replays from one row, like one with none. The oldest tick rows are deleted
 * with a later tick's commit (the worker's repeat-keep-ticks).
 *
 * Per pass: till met -> done; expired ticks (older than timeout) -> skipped in one summary row;
 * the current tick in the future -> halt until it; otherwise run it once, then advance the
 * coordination row in the same commit as the tick's row (so a completed tick never runs again)
 * and halt until the next tick. Avoids the gem's R-4 (a completed tick falls through) and R-5
 * (attempts count executions only). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/calendar.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "engine/class_stats.h"
#include "engine/primitives.h"
#include "engine/retry.h"
#include "engine/run.h"

#define DEFAULT_TIMEOUT_MS 3600000LL

/* One call's view of its repeat. */
typedef struct repeat {
    cf_run *run;
    const char *name;
    const cf_repeat_opts *opts;
    char step[256];   /* the coordination row */
    char prefix[260]; /* "durably_repeat$<name>$": tick rows are prefix<tick ms> */
    cf_period_unit unit;
    int64_t every;
    const cf_tz *tz;
    int64_t timeout_ms;
    const cf_retry_policy *policy;
    cf_grid grid;
    json_t *meta; /* owned: the coordination row's metadata as it will be written */
    int attempts; /* the coordination row's: tick executions, all ticks together */
    bool dirty;   /* meta changed: the coordination row is written */
} repeat;

static cf_flow invalid(repeat *r, const char *why)
{
    return cf_fail(r->run, "Workflow.InvalidRepeat", "durably_repeat('%s'): %s", r->name, why);
}

/* parse_opts checks the options and resolves period, zone, timeout and policy. */
static cf_flow parse_opts(repeat *r, cf_tick_fn tick_fn)
{
    const cf_repeat_opts *o = r->opts;
    char why[400];
    if (o == NULL)
        return invalid(r, "options are required (a period: every_ms, days or months)");
    if (tick_fn == NULL)
        return invalid(r, "a tick function is required");
    if (o->every_ms < 0 || o->days < 0 || o->months < 0 || o->start_at_ms < 0 || o->timeout_ms < 0)
        return invalid(r, "every_ms, days, months, start_at_ms and timeout_ms must not be "
                          "negative");
    int periods = (o->every_ms > 0) + (o->days > 0) + (o->months > 0);
    if (periods != 1)
        return invalid(r, periods ? "set only one of every_ms, days and months"
                                  : "a period is required: every_ms, days or months");
    r->unit = o->every_ms > 0 ? CF_PERIOD_MS : o->days > 0 ? CF_PERIOD_DAYS : CF_PERIOD_MONTHS;
    r->every = o->every_ms > 0 ? o->every_ms : o->days > 0 ? o->days : o->months;
    if ((unsigned)o->on_error > CF_REPEAT_STALL)
        return invalid(r, "on_error must be CF_REPEAT_CONTINUE or CF_REPEAT_STALL");
    cf_error err = {0};
    r->tz = o->tz ? cf_tz_get(o->tz, &err) : cf_tz_utc();
    if (r->tz == NULL) {
        snprintf(why, sizeof why, "time zone: %s", err.msg);
        return invalid(r, why);
    }
    if (!cf_retry_policy_check(o->policy, "policy", why, sizeof why))
        return invalid(r, why);
    r->policy = o->policy                  ? o->policy
                : r->run->def->step_policy ? r->run->def->step_policy
                                           : &cf_retry_step_default;
    r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    /* Checks the period against its limits (the anchor is checked when it is known). */
    if (cf_grid_init(&r->grid, r->unit, r->every, r->tz, 0, &err) != CF_OK)
        return invalid(r, err.msg);
    return CF_FLOW_OK;
}

static int64_t meta_int(json_t *meta, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(meta, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static void set_int(repeat *r, const char *key, int64_t v)
{
    json_object_set_new(r->meta, key, json_integer(v));
    r->dirty = true;
}

static void add_int(repeat *r, const char *key, int64_t n)
{
    set_int(r, key, meta_int(r->meta, key, 0) + n);
}

static cf_flow oom(repeat *r)
{
    return cf_run_abandon(r->run, CF_ERR_NOMEM);
}

/* load reads the coordination row's metadata (s: the row, NULL on the first pass) and sets up
 * the grid: anchored at start_at_ms or now on the first pass; re-anchored at the current tick
 * when the code's period differs from the stored one. */
static cf_flow load(repeat *r, const cf_run_step *s, int64_t now)
{
    r->meta = s && json_is_object(s->metadata) ? json_deep_copy(s->metadata) : json_object();
    if (r->meta == NULL)
        return oom(r);
    r->attempts = s ? s->attempts : 0;
    char period[96];
    cf_grid_describe(&r->grid, period, sizeof period);
    int64_t anchor = meta_int(r->meta, "anchor_ms", -1);
    const char *stored = json_string_value(json_object_get(r->meta, "period"));
    if (anchor < 0) { /* the first pass */
        anchor = r->opts->start_at_ms > 0 ? r->opts->start_at_ms : now;
        set_int(r, "anchor_ms", anchor);
        set_int(r, "next", 0);
        set_int(r, "timeout_ms", r->timeout_ms);
        json_object_set_new(r->meta, "period", json_string(period));
    } else if (stored == NULL || strcmp(stored, period) != 0) {
        int64_t from = meta_int(r->meta, "next_ms", now);
        cf_logkv(CF_LOG_WARN, &r->run->log, "event=repeat_regrid",
                 "%s: the period changed from '%s' to '%s'; the grid restarts at the current "
                 "tick %" PRId64,
                 r->step, stored ? stored : "", period, from);
        anchor = from;
        set_int(r, "anchor_ms", anchor);
        set_int(r, "next", 0);
        json_object_set_new(r->meta, "period", json_string(period));
    }
    if (meta_int(r->meta, "timeout_ms", -1) != r->timeout_ms)
        set_int(r, "timeout_ms", r->timeout_ms);
    cf_error err = {0};
    if (cf_grid_init(&r->grid, r->unit, r->every, r->tz, anchor, &err) != CF_OK)
        return invalid(r, err.msg);
    return CF_FLOW_OK;
}

/* note_coordination queues the coordination row's write, when it changed or state/error says
 * so. */
static cf_flow note_coordination(repeat *r, cf_step_state state, const char *cls, const char *msg)
{
    if (!r->dirty && state == CF_STEP_PENDING && cls == NULL)
        return CF_FLOW_OK;
    cf_status st = cf_run_note_step(r->run, r->step, state, r->attempts, r->meta, cls, msg);
    r->dirty = false;
    return st == CF_OK ? CF_FLOW_OK : cf_run_abandon(r->run, st);
}

/* finish marks the repeat done (till met, or the grid's end): the workflow goes on. */
static cf_flow finish(repeat *r, const char *why, int64_t now)
{
    set_int(r, "done_at_ms", now);
    json_object_set_new(r->meta, "done", json_string(why));
    CF_TRY(note_coordination(r, CF_STEP_COMPLETED, NULL, NULL));
    cf_logkv(CF_LOG_INFO, &r->run->log, "event=repeat_done",
             "%s: %s after %" PRId64 " completed tick(s)", r->step, why,
             meta_int(r->meta, "completed", 0));
    return CF_FLOW_OK;
}

/* stall records an error on the coordination row (failed: a requeue gives the current tick a
 * fresh budget, as for any failed step) and stalls the workflow. */
static cf_flow stall(repeat *r, const char *cls, const char *msg)
{
    r->dirty = true;
    CF_TRY(note_coordination(r, CF_STEP_FAILED, cls, msg));
    return cf_run_halt(r->run, CF_HALT_STALL, 0);
}

/* check_till evaluates till as a step-like call: *done when it is met. An error from it stalls
 * the workflow. */
static cf_flow check_till(repeat *r, int64_t now, bool *done)
{
    cf_run *run = r->run;
    *done = false;
    if (r->opts->till == NULL)
        return CF_FLOW_OK;
    bool met = false;
    run->in_step = true;
    run->attempt = 0;
    run->failed = false;
    cf_flow f = r->opts->till(run, r->opts->till_arg, &met);
    run->in_step = false;
    if (run->halt == CF_HALT_ABANDON)
        return CF_FLOW_HALT;
    if (f != CF_FLOW_OK) {
        const char *cls = cf_prim_fail_class(run), *msg = cf_prim_fail_message(run);
        cf_status st = cf_run_note_error(run, r->step, r->attempts > 0 ? r->attempts : 1, cls, msg);
        if (st != CF_OK)
            return cf_run_abandon(run, st);
        cf_logkv(CF_LOG_ERROR, &run->log, "event=repeat_till_error",
                 "%s: its till condition failed (%s: %s); stalling the workflow", r->step, cls,
                 msg);
        return stall(r, cls, msg);
    }
    if (met) {
        *done = true;
        return finish(r, "till met", now);
    }
    return CF_FLOW_OK;
}

static void tick_step(const repeat *r, int64_t tick_ms, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%" PRId64, r->prefix, tick_ms);
}

/* fast_forward skips the expired ticks from..j-1 (j: the first tick within its timeout) in one
 * summary row, named after the last tick it skips, and makes j the current tick. */
static cf_flow fast_forward(repeat *r, int64_t from, int64_t j, int64_t now)
{
    int64_t from_ms = cf_grid_tick(&r->grid, from), last = j - 1;
    int64_t n = last - from + 1, last_ms = cf_grid_tick(&r->grid, last);
    int64_t tick_attempts = meta_int(r->meta, "tick_attempts", 0);
    char name[300], msg[300];
    cf_status st = CF_OK;
    if (tick_attempts > 0 && last != from) { /* the current tick ran and was retrying */
        tick_step(r, from_ms, name, sizeof name);
        snprintf(msg, sizeof msg, "tick expired after %" PRId64 " attempt(s)", tick_attempts);
        json_t *m =
            json_pack("{sIsI}", "scheduled_ms", (json_int_t)from_ms, "index", (json_int_t)from);
        st = m ? cf_run_note_step(r->run, name, CF_STEP_FAILED, (int)tick_attempts, m, "Timeout",
                                  msg)
               : CF_ERR_NOMEM;
        json_decref(m);
    }
    tick_step(r, last_ms, name, sizeof name);
    snprintf(msg, sizeof msg,
             "fast-forwarded %" PRId64 " expired tick(s) from %" PRId64 " to %" PRId64
             " (each more than %" PRId64 "ms late)",
             n, from_ms, last_ms, r->timeout_ms);
    json_t *sm =
        json_pack("{sIsIsIsIsIsI}", "fast_forwarded", (json_int_t)n, "from_ms", (json_int_t)from_ms,
                  "to_ms", (json_int_t)last_ms, "from_index", (json_int_t)from, "to_index",
                  (json_int_t)last, "timeout_ms", (json_int_t)r->timeout_ms);
    json_t *lf = json_pack("{sIsIsIsI}", "n", (json_int_t)n, "from_ms", (json_int_t)from_ms,
                           "to_ms", (json_int_t)last_ms, "at_ms", (json_int_t)now);
    if (st == CF_OK)
        st = sm && lf ? cf_run_note_step(r->run, name, CF_STEP_FAILED,
                                         last == from ? (int)tick_attempts : 0, sm, "Timeout", msg)
                      : CF_ERR_NOMEM;
    json_decref(sm);
    if (st != CF_OK) {
        json_decref(lf);
        return cf_run_abandon(r->run, st);
    }
    json_object_set_new(r->meta, "last_fast_forward", lf);
    add_int(r, "fast_forwarded", n);
    json_object_del(r->meta, "tick_attempts");
    json_object_del(r->meta, "retry_counts");
    set_int(r, "next", j);
    cf_logkv(CF_LOG_INFO, &r->run->log, "event=repeat_fast_forward", "%s: %s", r->step, msg);
    return CF_FLOW_OK;
}

/* advance moves past tick k (completed, or failed under CF_REPEAT_CONTINUE), asks the next
 * commit to prune tick rows older than repeat_keep_ticks periods, and halts until the next
 * tick; the coordination row commits with the tick's row. */
static cf_flow advance(repeat *r, int64_t k, int64_t tick_ms, int64_t now)
{
    int64_t next = k + 1, next_ms = cf_grid_tick(&r->grid, next);
    while (next_ms != CF_GRID_NEVER && next_ms <= tick_ms) /* a zone skipped a whole day */
        next_ms = cf_grid_tick(&r->grid, ++next);
    json_object_del(r->meta, "tick_attempts");
    json_object_del(r->meta, "retry_counts");
    set_int(r, "next", next);
    int keep = r->run->repeat_keep_ticks;
    if (keep > 0 && k - keep + 1 > 0) {
        r->run->repeat_prune = (cf_ws_repeat_prune){
            .prefix = cf_arena_strdup(&r->run->arena, r->prefix),
            .before_ms = cf_grid_tick(&r->grid, k - keep + 1),
        };
        r->run->repeat_prune_set = r->run->repeat_prune.prefix != NULL;
    }
    if (next_ms == CF_GRID_NEVER)
        return finish(r, "the grid ended (year 9999)", now);
    set_int(r, "next_ms", next_ms);
    CF_TRY(note_coordination(r, CF_STEP_PENDING, NULL, NULL));
    cf_metrics_halt(CF_HALT_REASON_REPEAT);
    return cf_run_halt(r->run, CF_HALT_WAKE, next_ms > now ? next_ms : now);
}

/* run_tick runs tick k (due) once and records how it went. */
static cf_flow run_tick(repeat *r, cf_tick_fn tick_fn, void *arg, int64_t k, int64_t tick_ms)
{
    cf_run *run = r->run;
    CF_TRY(note_coordination(r, CF_STEP_PENDING, NULL, NULL));
    CF_TRY(cf_prim_begin_execution(run)); /* every earlier write is durable before it runs */
    int attempts = (int)meta_int(r->meta, "tick_attempts", 0) + 1;
    int64_t started = cf_run_now(run);
    run->in_step = true;
    run->attempt = attempts;
    run->failed = false;
    int64_t t0 = cf_clock_mono_us();
    cf_flow f = tick_fn(run, arg, tick_ms);
    cf_class_stats_note_step(run->class_stats, f == CF_FLOW_OK, cf_clock_mono_us() - t0);
    run->in_step = false;
    if (run->halt == CF_HALT_ABANDON)
        return CF_FLOW_HALT;
    int64_t now = cf_run_now(run);
    r->attempts++;
    r->dirty = true;
    char name[300];
    tick_step(r, tick_ms, name, sizeof name);
    json_t *tm = json_pack("{sIsIsI}", "scheduled_ms", (json_int_t)tick_ms, "index", (json_int_t)k,
                           "late_ms", (json_int_t)(started > tick_ms ? started - tick_ms : 0));
    if (tm == NULL)
        return oom(r);
    cf_status st;
    if (f == CF_FLOW_OK) {
        st = cf_run_note_step(run, name, CF_STEP_COMPLETED, attempts, tm, NULL, NULL);
        json_decref(tm);
        if (st != CF_OK)
            return cf_run_abandon(run, st);
        add_int(r, "completed", 1);
        cf_logkv(CF_LOG_DEBUG, &run->log, "event=repeat_tick", "%s: tick %" PRId64 " completed",
                 r->step, tick_ms);
        return advance(r, k, tick_ms, now);
    }
    const char *cls = cf_prim_fail_class(run), *msg = cf_prim_fail_message(run);
    json_t *counts = json_object_get(r->meta, "retry_counts");
    if (!json_is_object(counts)) {
        counts = json_object();
        json_object_set_new(r->meta, "retry_counts", counts);
    }
    cf_retry_decision d = cf_retry_decide(r->policy, cls, counts);
    st = cf_run_note_error(run, name, attempts, cls, msg);
    if (st == CF_OK)
        st = cf_run_note_step(run, name, d.retry ? CF_STEP_PENDING : CF_STEP_FAILED, attempts, tm,
                              cls, msg);
    json_decref(tm);
    if (st != CF_OK)
        return cf_run_abandon(run, st);
    run->log.attempt = attempts;
    set_int(r, "tick_attempts", attempts);
    if (d.retry) {
        cf_logkv(CF_LOG_WARN, &run->log, "event=step_retry",
                 "%s failed (%s: %s); retry %d/%d in %lldms", name, cls, msg, d.budget_used + 1,
                 d.budget_max, (long long)d.delay_ms);
        CF_TRY(note_coordination(r, CF_STEP_PENDING, NULL, NULL));
        return cf_run_halt(run, CF_HALT_WAKE, now + d.delay_ms);
    }
    add_int(r, "failed", 1);
    if (r->opts->on_error == CF_REPEAT_STALL) {
        cf_logkv(CF_LOG_ERROR, &run->log, "event=step_exhausted",
                 "%s failed (%s: %s) and its retry policy is exhausted; stalling the workflow "
                 "(on_error: stall)",
                 name, cls, msg);
        return stall(r, cls, msg);
    }
    cf_logkv(CF_LOG_WARN, &run->log, "event=repeat_tick_failed",
             "%s failed (%s: %s) and its retry policy is exhausted; going on with the next tick "
             "(on_error: continue)",
             name, cls, msg);
    return advance(r, k, tick_ms, now);
}

/* repeat_pass is one pass's decision (the body of cf_durably_repeat once r is set up). */
static cf_flow repeat_pass(repeat *r, cf_tick_fn tick_fn, void *arg)
{
    cf_run *run = r->run;
    cf_run_step *s;
    CF_TRY(cf_prim_lookup(run, r->step, &s));
    if (s && cf_step_state_done(s->state))
        return CF_FLOW_OK;
    int64_t now = cf_run_now(run);
    CF_TRY(load(r, s, now));
    bool done;
    CF_TRY(check_till(r, now, &done));
    if (done)
        return CF_FLOW_OK;
    int64_t k = meta_int(r->meta, "next", 0);
    int64_t tick_ms = cf_grid_tick(&r->grid, k < 0 ? 0 : k);
    if (tick_ms != CF_GRID_NEVER && tick_ms < now - r->timeout_ms) { /* expired: skip */
        int64_t j = cf_grid_index_at_or_after(&r->grid, now - r->timeout_ms);
        tick_ms = j < 0 ? CF_GRID_NEVER : cf_grid_tick(&r->grid, j);
        if (j > k) {
            CF_TRY(fast_forward(r, k, j, now));
            k = j;
        }
    }
    if (tick_ms == CF_GRID_NEVER)
        return finish(r, "the grid ended (year 9999)", now);
    if (meta_int(r->meta, "next_ms", -1) != tick_ms)
        set_int(r, "next_ms", tick_ms);
    if (tick_ms > now) {
        CF_TRY(note_coordination(r, CF_STEP_PENDING, NULL, NULL));
        cf_metrics_halt(CF_HALT_REASON_REPEAT);
        return cf_run_halt(run, CF_HALT_WAKE, tick_ms);
    }
    return run_tick(r, tick_fn, arg, k, tick_ms);
}

cf_flow cf_durably_repeat(cf_run *run, const char *name, cf_tick_fn tick_fn, void *arg,
                          const cf_repeat_opts *opts)
{
    repeat r = {.run = run, .name = name, .opts = opts};
    CF_TRY(cf_prim_precheck(run, "durably_repeat", name, r.step, sizeof r.step));
    snprintf(r.prefix, sizeof r.prefix, "%s$", r.step);
    CF_TRY(parse_opts(&r, tick_fn));
    cf_flow f = repeat_pass(&r, tick_fn, arg);
    json_decref(r.meta);
    return f;
}
