// SPDX-License-Identifier: MIT
/* worker/schedule_fire.c: schedule ticks, keys, definition checks and the fire (see
 * worker/schedule_fire.h). */
#include "worker/schedule_fire.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/cron.h"
#include "common/log.h"
#include "common/tz.h"
#include "engine/effects.h"
#include "engine/registry.h"
#include "queue/envelope.h"
#include "queue/keys.h"
#include "queue/schedule.h"
#include "worker/delivery_end.h"

#define DUE_BATCH 16

static cf_log_limiter sched_limiter;

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > CF_SCHEDULE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
            !(s[i] >= '0' && s[i] <= '9') && !strchr("_.:@-", s[i]))
            return false;
    return true;
}

/* format_tick writes tick as ISO-8601 UTC, without a fraction when it is a whole second. */
static void format_tick(int64_t tick_ms, char *buf, size_t cap)
{
    cf_civil c;
    cf_tz_to_civil(cf_tz_utc(), tick_ms, &c, NULL);
    if (c.ms == 0)
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour, c.min,
                 c.sec);
    else
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day, c.hour,
                 c.min, c.sec, c.ms);
}

cf_status cf_schedule_key(const char *tmpl, const char *name, int64_t tick_ms, char *buf,
                          size_t cap)
{
    char iso[40], ms[24];
    format_tick(tick_ms, iso, sizeof iso);
    snprintf(ms, sizeof ms, "%lld", (long long)tick_ms);
    size_t n = 0;
    for (const char *p = tmpl; *p != '\0';) {
        const char *put = NULL;
        size_t skip = 1, len = 1;
        if (strncmp(p, "{schedule}", 10) == 0)
            put = name, skip = 10;
        else if (strncmp(p, "{tick}", 6) == 0)
            put = iso, skip = 6;
        else if (strncmp(p, "{tick_ms}", 9) == 0)
            put = ms, skip = 9;
        if (put != NULL)
            len = strlen(put);
        else
            put = p;
        if (n + len >= cap)
            return CF_ERR_INVALID;
        memcpy(buf + n, put, len);
        n += len;
        p += skip;
    }
    buf[n] = '\0';
    return n > 0 ? CF_OK : CF_ERR_INVALID;
}

cf_status cf_schedule_check(const cf_schedule *def, cf_error *err)
{
    if (!name_ok(def->name))
        return cf_error_set(err, "bad_value", "name",
                            "schedule name must be 1-128 bytes of [A-Za-z0-9_.:@-]");
    if (!cf_envelope_class_is_valid(def->wf_class, strlen(def->wf_class)))
        return cf_error_set(err, "bad_value", "class",
                            "class must be 1-128 bytes of [A-Za-z0-9_.:]");
    if (def->queue[0] && !cf_queue_name_valid(def->queue))
        return cf_error_set(err, "bad_value", "queue", "queue must be [A-Za-z0-9_.-]{1,64}");
    if ((def->cron[0] != '\0') == (def->every_ms > 0))
        return cf_error_set(err, "bad_value", "cron",
                            "a schedule needs exactly one of --cron and --every (> 0)");
    cf_cron c;
    if (def->cron[0] && cf_cron_parse(def->cron, &c, err) != CF_OK)
        return CF_ERR_INVALID;
    if (cf_tz_get(def->tz[0] ? def->tz : "UTC", err) == NULL) {
        if (err)
            snprintf(err->field, sizeof err->field, "tz");
        return CF_ERR_INVALID;
    }
    if (def->kwargs != NULL && !json_is_object(def->kwargs))
        return cf_error_set(err, "bad_value", "kwargs", "kwargs must be a JSON object");
    if (strstr(def->key_template, "{tick}") == NULL &&
        strstr(def->key_template, "{tick_ms}") == NULL)
        return cf_error_set(err, "bad_value", "key_template",
                            "key template '%s' has no {tick} or {tick_ms}: every tick would "
                            "get the same key",
                            def->key_template);
    char key[257];
    if (cf_schedule_key(def->key_template, def->name, 4102444799999LL, key, sizeof key) != CF_OK)
        return cf_error_set(err, "bad_value", "key_template",
                            "key template gives keys over 256 bytes");
    return CF_OK;
}

/* spec reads the parts of a stored schedule the tick arithmetic needs. */
static cf_status spec(const cf_schedule *s, cf_cron *c, const cf_tz **tz)
{
    if (s->every_ms > 0)
        return CF_OK;
    *tz = cf_tz_get(s->tz[0] ? s->tz : "UTC", NULL);
    if (*tz == NULL || cf_cron_parse(s->cron, c, NULL) != CF_OK)
        return CF_ERR_INVALID;
    return CF_OK;
}

cf_status cf_schedule_next_tick(const cf_schedule *s, int64_t after_ms, int64_t *out_ms)
{
    cf_cron c;
    const cf_tz *tz = NULL;
    cf_status st = spec(s, &c, &tz);
    if (st != CF_OK)
        return st;
    if (s->every_ms > 0) {
        int64_t k = after_ms / s->every_ms - (after_ms % s->every_ms < 0);
        *out_ms = (k + 1) * s->every_ms;
        return CF_OK;
    }
    return cf_cron_next(&c, tz, after_ms, out_ms);
}

cf_status cf_schedule_latest_tick(const cf_schedule *s, int64_t from_ms, int64_t now_ms,
                                  int64_t *out_ms)
{
    if (s->every_ms > 0) {
        int64_t t = now_ms / s->every_ms * s->every_ms;
        if (t < from_ms || now_ms < 0)
            return CF_ERR_NOT_FOUND;
        *out_ms = t;
        return CF_OK;
    }
    /* windows growing backwards from now: a frequent entry is answered from the first */
    static const int64_t windows[] = {60000LL,         3600000LL,        86400000LL,
                                      32 * 86400000LL, 400 * 86400000LL, 4100 * 86400000LL};
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        int64_t start = now_ms - windows[w] > from_ms - 1 ? now_ms - windows[w] : from_ms - 1;
        int64_t t = start, last = -1;
        for (;;) {
            cf_status st = cf_schedule_next_tick(s, t, &t);
            if (st == CF_ERR_NOT_FOUND || (st == CF_OK && t > now_ms))
                break;
            if (st != CF_OK)
                return st;
            last = t;
        }
        if (last >= 0) {
            *out_ms = last;
            return CF_OK;
        }
        if (start == from_ms - 1)
            break;
    }
    return CF_ERR_NOT_FOUND;
}

/* publish_first publishes the first envelope of the workflow a fire created: a PUBLISH effect
 * with the schedule's kwargs, encoded as a delivery's end encodes a child's. */
static cf_status publish_first(cf_queue *q, const cf_fire_result *r, const char *key,
                               int64_t due_ms)
{
    cf_effects fx = CF_EFFECTS_INIT;
    cf_delivery_effects d;
    memset(&d, 0, sizeof d);
    cf_status st = cf_effects_publish(&fx, r->wf_class, key, r->queue, r->kwargs, due_ms);
    if (st == CF_OK)
        st = cf_delivery_effects_build(&fx, r->queue, &d);
    for (size_t i = 0; st == CF_OK && i < d.npublish; i++)
        st = cf_first_envelope_publish(q, d.publish[i].queue, d.publish[i].member,
                                       d.publish[i].member_len, d.publish[i].due_unix_ms, NULL);
    cf_delivery_effects_deinit(&d);
    cf_effects_deinit(&fx);
    return st;
}

cf_status cf_schedule_fire(cf_store *store, cf_queue *q, const cf_schedule *s, int64_t tick_ms,
                           int64_t now_ms, bool manual, cf_fire_outcome *out, char *key_out)
{
    if (out)
        *out = CF_FIRE_NONE;
    char key[257];
    cf_status st = cf_schedule_key(s->key_template, s->name, tick_ms, key, sizeof key);
    if (st != CF_OK)
        return st;
    if (key_out)
        snprintf(key_out, 257, "%s", key);
    int64_t next = 0;
    if (!manual) {
        st = cf_schedule_next_tick(s, tick_ms > now_ms ? tick_ms : now_ms, &next);
        if (st == CF_ERR_NOT_FOUND)
            next = 0; /* it never fires again */
        else if (st != CF_OK)
            return st;
    }
    json_t *options =
        json_pack("{s:s, s:I}", "schedule", s->name, "scheduled_at", (json_int_t)tick_ms);
    if (options == NULL)
        return CF_ERR_NOMEM;
    cf_fire_req req = {s->name, tick_ms, key, options, next, manual};
    cf_fire_result r;
    st = cf_store_schedule_fire(store, &req, &r);
    json_decref(options);
    if (st == CF_OK && out)
        *out = r.outcome;
    if (st == CF_OK && r.outcome == CF_FIRE_FIRED)
        st = publish_first(q, &r, key, tick_ms);
    cf_fire_result_deinit(&r);
    return st;
}

static void report(const char *name, const char *what, cf_status st, const char *why)
{
    int64_t suppressed = 0;
    if (cf_log_ratelimit(&sched_limiter, 10000, &suppressed))
        log_warn("event=schedule_error schedule=%s op=%s status=%s: %s (%lld similar suppressed)",
                 name, what, cf_status_str(st), why, (long long)suppressed);
}

int cf_schedules_tick(cf_store *store, cf_queue *q, int64_t now_ms)
{
    cf_schedule_list due;
    cf_status st = cf_store_schedules_due(store, now_ms, DUE_BATCH, &due);
    if (st != CF_OK) {
        report("-", "due", st, cf_store_errstr(store));
        cf_schedule_list_deinit(&due);
        return -1;
    }
    int fired = 0;
    for (size_t i = 0; i < due.n; i++) {
        const cf_schedule *s = &due.items[i];
        int64_t tick = 0;
        st = cf_schedule_latest_tick(s, s->next_fire_ms, now_ms, &tick);
        if (st != CF_OK) {
            report(s->name, "tick", st, "its definition gives no tick at its next fire");
            continue;
        }
        cf_fire_outcome o = CF_FIRE_NONE;
        char key[257] = "";
        st = cf_schedule_fire(store, q, s, tick, now_ms, false, &o, key);
        if (st != CF_OK) {
            report(s->name, "fire", st,
                   o == CF_FIRE_FIRED ? cf_queue_errstr(q) : cf_store_errstr(store));
            if (o != CF_FIRE_FIRED)
                continue;
        }
        char iso[40];
        format_tick(tick, iso, sizeof iso);
        if (o == CF_FIRE_FIRED) {
            fired++;
            log_info("event=schedule_fired schedule=%s class=%s key=%s tick=%s", s->name,
                     s->wf_class, key, iso);
        } else if (o == CF_FIRE_SKIPPED) {
            log_info("event=schedule_skipped schedule=%s tick=%s reason=overlap: the previous "
                     "workflow (%s) is unfinished",
                     s->name, iso, s->last_key);
        } else if (o == CF_FIRE_EXISTS) {
            log_warn("event=schedule_key_exists schedule=%s key=%s tick=%s", s->name, key, iso);
        }
    }
    cf_schedule_list_deinit(&due);
    return fired;
}

/* from_def builds the stored form of a declared schedule (out->kwargs owned). */
static cf_status from_def(const cf_workflow_def *wf, const cf_schedule_def *d, cf_schedule *out,
                          cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (d->name == NULL || strlen(d->name) > CF_SCHEDULE_NAME_MAX)
        return cf_error_set(err, "bad_value", "name", "a declared schedule of %s has no valid name",
                            wf->name);
    snprintf(out->name, sizeof out->name, "%s", d->name);
    snprintf(out->wf_class, sizeof out->wf_class, "%s", wf->name);
    snprintf(out->queue, sizeof out->queue, "%s", wf->queue ? wf->queue : "default");
    snprintf(out->cron, sizeof out->cron, "%s", d->cron ? d->cron : "");
    out->every_ms = d->every_ms;
    snprintf(out->tz, sizeof out->tz, "%s", d->tz ? d->tz : "UTC");
    snprintf(out->key_template, sizeof out->key_template, "%s",
             d->key_template ? d->key_template : "{schedule}@{tick}");
    out->overlap_allow = d->overlap_allow;
    if (d->kwargs_json != NULL) {
        out->kwargs = json_loads(d->kwargs_json, 0, NULL);
        if (out->kwargs == NULL)
            return cf_error_set(err, "bad_value", "kwargs", "kwargs_json is not JSON");
    }
    cf_status st = cf_schedule_check(out, err);
    if (st == CF_OK && cf_schedule_next_tick(out, cf_clock_unix_ms(), &out->next_fire_ms) != CF_OK)
        st = cf_error_set(err, "bad_value", "cron", "the cron expression never fires");
    return st;
}

cf_status cf_schedules_apply_declared(cf_store *store, const char *by, int counts[3], cf_error *err)
{
    if (counts)
        counts[0] = counts[1] = counts[2] = 0;
    for (size_t i = 0; i < cf_registry_count(); i++) {
        const cf_workflow_def *wf = cf_registry_at(i);
        for (size_t j = 0; wf->schedules && j < wf->nschedules; j++) {
            cf_schedule s;
            cf_status st = from_def(wf, &wf->schedules[j], &s, err);
            if (st != CF_OK) {
                if (err) {
                    char msg[sizeof err->msg + 200];
                    snprintf(msg, sizeof msg, "schedule %.64s of %.64s: %.120s",
                             s.name[0] ? s.name : "?", wf->name, err->msg);
                    snprintf(err->msg, sizeof err->msg, "%.255s", msg);
                }
                cf_schedule_deinit(&s);
                return st;
            }
            cf_schedule_put_result r = CF_SCHEDULE_UNCHANGED;
            st = cf_store_schedule_put(store, &s, by, &r);
            cf_schedule_deinit(&s);
            if (st != CF_OK) {
                cf_error_set(err, "store", "", "%s", cf_store_errstr(store));
                return st;
            }
            if (counts)
                counts[r]++;
        }
    }
    return CF_OK;
}
