// SPDX-License-Identifier: MIT
/* cli/cmd_schedule.c: `chronoforge schedule add|list|pause|resume|remove|run`: schedules in
 * Postgres (SPEC §4, schedules). Definitions are checked here (worker/schedule_fire.h) before they
 * are stored; `run` fires once now, as a worker's tick would, without moving the schedule's ticks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/connect.h"
#include "cli/render.h"
#include "cli/runner.h"
#include "common/clock.h"
#include "common/duration.h"
#include "engine/registry.h"
#include "worker/schedule_fire.h"

typedef struct schedule_opts {
    const char *wf_class, *cron, *every, *tz, *kwargs, *key_template, *overlap;
    bool as_json;
    char by[320];
} schedule_opts;

static const char *const SUBS[] = {"add", "list", "pause", "resume", "remove", "run", NULL};

static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    schedule_opts *o = arg;
    cf_cli_who(o->by, sizeof o->by);
    if (ctx->args.npos < 1)
        return cf_cli_usage(ctx, "give a subcommand: add, list, pause, resume, remove or run");
    const char *sub = ctx->args.pos[0];
    size_t i = 0;
    while (SUBS[i] && strcmp(SUBS[i], sub) != 0)
        i++;
    if (SUBS[i] == NULL)
        return cf_cli_usage(ctx, "unknown subcommand '%s' (add, list, pause, resume, remove, run)",
                            sub);
    bool list = strcmp(sub, "list") == 0, add = strcmp(sub, "add") == 0;
    if (ctx->args.npos != (list ? 1 : 2))
        return cf_cli_usage(ctx, list ? "schedule list takes no NAME" : "schedule %s takes NAME",
                            sub);
    if (!add &&
        (o->wf_class || o->cron || o->every || o->tz || o->kwargs || o->key_template || o->overlap))
        return cf_cli_usage(ctx, "--class, --cron, --every, --tz, --kwargs, --key-template and "
                                 "--overlap go with schedule add");
    if (add && (!o->wf_class || (!o->cron == !o->every)))
        return cf_cli_usage(ctx, "schedule add needs --class and one of --cron or --every");
    if (o->overlap && strcmp(o->overlap, "skip") != 0 && strcmp(o->overlap, "allow") != 0)
        return cf_cli_usage(ctx, "--overlap takes skip or allow, not '%s'", o->overlap);
    return CF_OK;
}

static void print_tick(const char *label, int64_t ms)
{
    char t[40];
    cf_render_time(ms, t, sizeof t);
    printf("%s%s", label, ms > 0 ? t : "-");
}

static cf_status add(cf_cli_ctx *ctx, const schedule_opts *o, const char *name)
{
    const cf_workflow_def *def = cf_registry_find(o->wf_class);
    if (def == NULL)
        return cf_cli_refuse(ctx, CF_ERR_INVALID,
                             "--class: no workflow class '%s' is registered in this binary "
                             "(`chronoforge classes` lists them)",
                             o->wf_class);
    cf_schedule s = {0};
    snprintf(s.name, sizeof s.name, "%s", name);
    snprintf(s.wf_class, sizeof s.wf_class, "%s", o->wf_class);
    snprintf(s.queue, sizeof s.queue, "%s", def->queue ? def->queue : "default");
    snprintf(s.cron, sizeof s.cron, "%s", o->cron ? o->cron : "");
    snprintf(s.tz, sizeof s.tz, "%s", o->tz ? o->tz : "UTC");
    snprintf(s.key_template, sizeof s.key_template, "%s",
             o->key_template ? o->key_template : "{schedule}@{tick}");
    s.overlap_allow = o->overlap && strcmp(o->overlap, "allow") == 0;
    cf_error err = {0};
    if (o->every && (cf_duration_parse_ms(o->every, &s.every_ms, &err) != CF_OK || s.every_ms < 1))
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "--every: %s",
                             err.msg[0] ? err.msg : "must be at least 1ms");
    if (o->kwargs) {
        json_error_t jerr;
        s.kwargs = json_loads(o->kwargs, 0, &jerr);
        if (s.kwargs == NULL)
            return cf_cli_refuse(ctx, CF_ERR_INVALID, "--kwargs: not JSON: %s", jerr.text);
    }
    cf_status st = cf_schedule_check(&s, &err);
    if (st == CF_OK) {
        st = cf_schedule_next_tick(&s, cf_clock_unix_ms(), &s.next_fire_ms);
        if (st == CF_ERR_NOT_FOUND)
            snprintf(err.msg, sizeof err.msg, "the cron expression never fires");
    }
    if (st != CF_OK) {
        cf_schedule_deinit(&s);
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "%s", err.msg);
    }
    cf_schedule_put_result res = CF_SCHEDULE_ADDED;
    st = cf_store_schedule_put(ctx->store, &s, o->by, &res);
    if (st == CF_OK) {
        printf("%s schedule %s (%s)",
               res == CF_SCHEDULE_ADDED     ? "added"
               : res == CF_SCHEDULE_CHANGED ? "updated"
                                            : "unchanged:",
               s.name, s.wf_class);
        if (res != CF_SCHEDULE_UNCHANGED)
            print_tick(": next fire ", s.next_fire_ms);
        printf("\n");
    }
    cf_schedule_deinit(&s);
    return st;
}

static void spec_text(const cf_schedule *s, char *buf, size_t cap)
{
    if (s->every_ms > 0) {
        char d[32];
        cf_duration_format(s->every_ms, d, sizeof d);
        snprintf(buf, cap, "every %s", d);
    } else {
        snprintf(buf, cap, "%s %s", s->cron, s->tz);
    }
}

static void list_json(const cf_schedule_list *l)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < l->n; i++) {
        const cf_schedule *s = &l->items[i];
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s?, s:I, s:s, s:O, s:s, s:s, s:b, s:I, s:s, s:I, s:I, s:s}", "name",
            s->name, "class", s->wf_class, "queue", s->queue, "cron", s->cron[0] ? s->cron : NULL,
            "every_ms", (json_int_t)s->every_ms, "tz", s->tz, "kwargs", s->kwargs, "key_template",
            s->key_template, "overlap", s->overlap_allow ? "allow" : "skip", "paused", s->paused,
            "last_fire_ms", (json_int_t)s->last_fire_ms, "last_key", s->last_key, "next_fire_ms",
            (json_int_t)s->next_fire_ms, "updated_ms", (json_int_t)s->updated_ms, "updated_by",
            s->updated_by);
        json_array_append_new(arr, o);
    }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    printf("%s\n", text ? text : "[]");
    free(text);
    json_decref(arr);
}

static cf_status list(cf_cli_ctx *ctx, const schedule_opts *o)
{
    cf_schedule_list l;
    cf_status st = cf_store_schedule_list(ctx->store, &l);
    if (st == CF_OK && o->as_json) {
        list_json(&l);
    } else if (st == CF_OK) {
        printf("%-24s %-20s %-28s %-7s %-8s %-20s %s\n", "NAME", "CLASS", "WHEN", "OVERLAP",
               "STATE", "NEXT FIRE", "LAST FIRE");
        for (size_t i = 0; i < l.n; i++) {
            const cf_schedule *s = &l.items[i];
            char when[340], next[40] = "-", last[40] = "-";
            spec_text(s, when, sizeof when);
            if (s->next_fire_ms > 0 && !s->paused)
                cf_render_time(s->next_fire_ms, next, sizeof next);
            if (s->last_fire_ms > 0)
                cf_render_time(s->last_fire_ms, last, sizeof last);
            printf("%-24s %-20s %-28s %-7s %-8s %-20s %s\n", s->name, s->wf_class, when,
                   s->overlap_allow ? "allow" : "skip", s->paused ? "paused" : "active", next,
                   last);
        }
    }
    cf_schedule_list_deinit(&l);
    return st;
}

static cf_status not_found(cf_cli_ctx *ctx, cf_status st, const char *name)
{
    return st == CF_ERR_NOT_FOUND ? cf_cli_refuse(ctx, st, "no schedule named '%s'", name) : st;
}

static cf_status pause_resume(cf_cli_ctx *ctx, const schedule_opts *o, const char *name,
                              bool paused)
{
    cf_schedule s;
    cf_status st = cf_store_schedule_get(ctx->store, name, &s);
    if (st != CF_OK)
        return not_found(ctx, st, name);
    int64_t next = 0;
    if (!paused && cf_schedule_next_tick(&s, cf_clock_unix_ms(), &next) == CF_ERR_INVALID) {
        cf_schedule_deinit(&s);
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "schedule %s's definition no longer parses",
                             name);
    }
    cf_schedule_deinit(&s);
    st = cf_store_schedule_pause(ctx->store, name, paused, next, o->by, NULL);
    if (st != CF_OK)
        return not_found(ctx, st, name);
    printf("%s schedule %s", paused ? "paused" : "resumed", name);
    if (!paused)
        print_tick(": next fire ", next);
    printf("\n");
    return CF_OK;
}

static cf_status run_now(cf_cli_ctx *ctx, const char *name)
{
    cf_schedule s;
    cf_status st = cf_store_schedule_get(ctx->store, name, &s);
    if (st != CF_OK)
        return not_found(ctx, st, name);
    cf_queue *q = NULL;
    if (cf_cli_open_queue(ctx->cmd, &ctx->args.cfg, &q) != 0) {
        cf_schedule_deinit(&s);
        return cf_cli_refuse(ctx, CF_ERR_UNAVAILABLE, "cannot reach Redis");
    }
    int64_t now = cf_clock_unix_ms();
    cf_fire_outcome out = CF_FIRE_NONE;
    char key[257] = "";
    st = cf_schedule_fire(ctx->store, q, &s, now, now, true, &out, key);
    if (st != CF_OK && out == CF_FIRE_FIRED)
        fprintf(stderr,
                "chronoforge schedule: %s/%s is created but its envelope was not published (%s); "
                "the healing pass will publish it\n",
                s.wf_class, key, cf_queue_errstr(q));
    cf_queue_free(q);
    if (st == CF_OK && out == CF_FIRE_FIRED)
        printf("fired schedule %s: %s/%s\n", name, s.wf_class, key);
    else if (st == CF_OK && out == CF_FIRE_EXISTS)
        st = cf_cli_refuse(ctx, CF_ERR_STATE, "a workflow %s/%s exists already", s.wf_class, key);
    else if (st == CF_OK)
        st = cf_cli_refuse(ctx, CF_ERR_NOT_FOUND, "no schedule named '%s'", name);
    else if (out == CF_FIRE_FIRED)
        st = CF_OK; /* created; healing publishes it */
    cf_schedule_deinit(&s);
    return st;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const schedule_opts *o = arg;
    const char *sub = ctx->args.pos[0], *name = ctx->args.npos > 1 ? ctx->args.pos[1] : NULL;
    if (strcmp(sub, "add") == 0)
        return add(ctx, o, name);
    if (strcmp(sub, "list") == 0)
        return list(ctx, o);
    if (strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0)
        return pause_resume(ctx, o, name, strcmp(sub, "pause") == 0);
    if (strcmp(sub, "remove") == 0) {
        cf_status st = cf_store_schedule_remove(ctx->store, name);
        if (st == CF_OK)
            printf("removed schedule %s (its workflows stay)\n", name);
        return not_found(ctx, st, name);
    }
    return run_now(ctx, name);
}

int cf_cli_cmd_schedule(int argc, char **argv)
{
    schedule_opts o = {0};
    const cf_cli_opt opts[] = {
        {"class", 0, "CLASS", "add: the workflow class each tick starts", &o.wf_class, NULL},
        {"cron", 0, "EXPR", "add: a cron entry (5 fields, or 6 with seconds first; @daily...)",
         &o.cron, NULL},
        {"every", 0, "DURATION", "add: a tick every DURATION, counted from the Unix epoch",
         &o.every, NULL},
        {"tz", 0, "ZONE", "add: the cron entry's time zone (default UTC)", &o.tz, NULL},
        {"kwargs", 0, "JSON", "add: the kwargs of every workflow it starts", &o.kwargs, NULL},
        {"key-template", 0, "T",
         "add: the workflows' key; {tick} (required, or {tick_ms}) and {schedule} are replaced "
         "(default {schedule}@{tick})",
         &o.key_template, NULL},
        {"overlap", 0, "skip|allow",
         "add: skip (default) fires nothing while the previous workflow is unfinished", &o.overlap,
         NULL},
        {"json", 0, NULL, "list: print JSON", NULL, &o.as_json},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "schedule add NAME --class C (--cron EXPR | --every DURATION) [--tz "
                         "ZONE] [--kwargs JSON] [--key-template T] [--overlap skip|allow] | "
                         "schedule list [--json] | schedule pause|resume|remove|run NAME",
                .summary = "Schedules in Postgres: each tick starts one workflow, fired by "
                           "exactly one worker of the fleet. add creates a schedule or replaces "
                           "its definition (keeping its pause flag and last fire); pause and "
                           "resume stop and restart its ticks (ticks missed while paused do not "
                           "fire); remove deletes it (its workflows stay); run fires it once now "
                           "(with the current time as its tick), whatever its pause flag and "
                           "overlap policy.",
                .max_positional = 2,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_STORE,
        .check = check,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}
