// SPDX-License-Identifier: MIT
/* tests/integration/test_store_schedules.c: schedules against a real Postgres
 * (store/schedules.h, worker/schedule_fire.h): a fire creates the workflow idle and due at its
 * tick with the schedule's kwargs and the tick in its options, and advances the last fire in
 * the same commit; threads racing on one tick fire it once; an older tick after a newer one
 * fires nothing; overlap skip consumes ticks while the previous workflow is unfinished and
 * allow does not; a manual fire leaves the ticks alone; after downtime the latest tick alone is
 * due; the due list; pause and resume; schedules declared in code are applied (added, then
 * unchanged, then changed keeping pause and last fire); refused definitions. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "chronoforge.h"
#include "common/clock.h"
#include "common/duration.h"
#include "store/schedules.h"
#include "store/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/test.h"
#include "worker/schedule_fire.h"

static char dsn[512];
static cf_store *st_;
static PGconn *admin;

static int group_setup(void **state)
{
    (void)state;
    cf_store_config cfg = {.max_connections = 8};
    cf_test_store_setup(dsn, sizeof dsn, &cfg, &st_, &admin);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cf_test_store_teardown(st_, admin);
    return 0;
}

static int64_t at(const char *iso)
{
    int64_t ms = 0;
    assert_int_equal(cf_time_parse_unix_ms(iso, &ms, NULL), CF_OK);
    return ms;
}

/* put stores schedule name (class Sched, every every_ms or cron) with next fire next_ms. */
static void put(const char *name, int64_t every_ms, const char *cron, bool allow, int64_t next_ms)
{
    cf_schedule s = {0};
    snprintf(s.name, sizeof s.name, "%s", name);
    snprintf(s.wf_class, sizeof s.wf_class, "Sched");
    snprintf(s.queue, sizeof s.queue, "default");
    snprintf(s.cron, sizeof s.cron, "%s", cron ? cron : "");
    s.every_ms = every_ms;
    snprintf(s.tz, sizeof s.tz, "UTC");
    snprintf(s.key_template, sizeof s.key_template, "{schedule}@{tick}");
    s.kwargs = json_pack("{s:i}", "n", 7);
    s.overlap_allow = allow;
    s.next_fire_ms = next_ms;
    assert_int_equal(cf_schedule_check(&s, NULL), CF_OK);
    cf_schedule_put_result r;
    assert_int_equal(cf_store_schedule_put(st_, &s, "test", &r), CF_OK);
    cf_schedule_deinit(&s);
}

static cf_fire_outcome fire(const char *name, int64_t tick, bool manual)
{
    cf_schedule s;
    assert_int_equal(cf_store_schedule_get(st_, name, &s), CF_OK);
    char key[257];
    assert_int_equal(cf_schedule_key(s.key_template, s.name, tick, key, sizeof key), CF_OK);
    json_t *opts = json_pack("{s:s, s:I}", "schedule", name, "scheduled_at", (json_int_t)tick);
    cf_fire_req req = {name, tick, key, opts, tick + 1000, manual};
    cf_fire_result r;
    assert_int_equal(cf_store_schedule_fire(st_, &req, &r), CF_OK);
    json_decref(opts);
    cf_fire_outcome o = r.outcome;
    cf_fire_result_deinit(&r);
    cf_schedule_deinit(&s);
    return o;
}

static void test_a_fire_creates_the_workflow_and_advances_in_one_commit(void **state)
{
    (void)state;
    int64_t tick = at("2026-12-06T10:00:00Z");
    put("one", 1000, NULL, true, tick);
    assert_int_equal(fire("one", tick, false), CF_FIRE_FIRED);
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_workflows"
                               " WHERE key = 'one@2026-12-06T10:00:00Z' AND job_class = 'Sched'"
                               " AND state = 'idle' AND kwargs = '{\"n\": 7}'"
                               " AND (options->>'scheduled_at')::bigint = 1796551200000"
                               " AND next_wake_at = '2026-12-06T10:00:00Z'"),
        1);
    assert_int_equal(cf_test_sql_int(admin,
                                     "SELECT (extract(epoch FROM last_fire_at) * 1000)::bigint"
                                     " FROM chrono_forge_schedules WHERE name = 'one'"),
                     tick);
    assert_int_equal(cf_test_sql_int(admin,
                                     "SELECT (extract(epoch FROM next_fire_at) * 1000)::bigint"
                                     " FROM chrono_forge_schedules WHERE name = 'one'"),
                     tick + 1000);
    /* the same tick again, and an older one, fire nothing */
    assert_int_equal(fire("one", tick, false), CF_FIRE_NONE);
    assert_int_equal(fire("one", tick - 1000, false), CF_FIRE_NONE);
    assert_int_equal(
        cf_test_sql_int(admin,
                        "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE 'one@%'"),
        1);
}

typedef struct racer {
    int64_t tick;
    cf_fire_outcome out;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    r->out = fire("race", r->tick, false);
    return NULL;
}

static void test_racing_fires_of_one_tick_fire_it_once(void **state)
{
    (void)state;
    int64_t tick = at("2026-12-06T11:00:00Z");
    put("race", 1000, NULL, true, tick);
    for (int round = 0; round < 5; round++) {
        racer r[6];
        pthread_t t[6];
        for (int i = 0; i < 6; i++) {
            r[i] = (racer){tick + round * 1000, CF_FIRE_NONE};
            assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
        }
        int fired = 0;
        for (int i = 0; i < 6; i++) {
            pthread_join(t[i], NULL);
            fired += r[i].out == CF_FIRE_FIRED;
            assert_true(r[i].out == CF_FIRE_FIRED || r[i].out == CF_FIRE_NONE);
        }
        assert_int_equal(fired, 1);
    }
    assert_int_equal(
        cf_test_sql_int(admin,
                        "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE 'race@%'"),
        5);
}

static void test_overlap_skip_waits_for_the_previous_workflow(void **state)
{
    (void)state;
    int64_t tick = at("2026-12-06T12:00:00Z");
    put("skip", 1000, NULL, false, tick);
    put("allow", 1000, NULL, true, tick);
    assert_int_equal(fire("skip", tick, false), CF_FIRE_FIRED);
    assert_int_equal(fire("skip", tick + 1000, false), CF_FIRE_SKIPPED); /* idle: unfinished */
    cf_test_sql_exec(admin, "UPDATE chrono_forge_workflows SET state = 'stalled'"
                            " WHERE key = 'skip@2026-12-06T12:00:00Z'");
    assert_int_equal(fire("skip", tick + 2000, false), CF_FIRE_SKIPPED); /* stalled too */
    cf_test_sql_exec(admin, "UPDATE chrono_forge_workflows SET state = 'completed'"
                            " WHERE key = 'skip@2026-12-06T12:00:00Z'");
    assert_int_equal(fire("skip", tick + 3000, false), CF_FIRE_FIRED);
    assert_int_equal(
        cf_test_sql_int(admin,
                        "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE 'skip@%'"),
        2);
    /* a skipped tick is consumed */
    assert_int_equal(fire("skip", tick + 2000, false), CF_FIRE_NONE);
    assert_int_equal(fire("allow", tick, false), CF_FIRE_FIRED);
    assert_int_equal(fire("allow", tick + 1000, false), CF_FIRE_FIRED);
}

static void test_a_manual_fire_leaves_the_ticks_alone(void **state)
{
    (void)state;
    int64_t tick = at("2026-12-06T13:00:00Z");
    put("manual", 1000, NULL, false, tick);
    cf_test_sql_exec(admin,
                     "UPDATE chrono_forge_schedules SET paused = true WHERE name = 'manual'");
    assert_int_equal(fire("manual", tick, false), CF_FIRE_NONE); /* paused */
    assert_int_equal(fire("manual", tick + 500, true), CF_FIRE_FIRED);
    assert_int_equal(
        cf_test_sql_int(admin,
                        "SELECT count(*) FROM chrono_forge_schedules WHERE name = 'manual'"
                        " AND last_fire_at IS NULL AND last_key = 'manual@2026-12-06T13:00:00.500Z'"
                        " AND next_fire_at = '2026-12-06T13:00:00Z'"),
        1);
    assert_int_equal(fire("manual", tick + 500, true), CF_FIRE_EXISTS);
}

static void test_after_downtime_only_the_latest_tick_is_due(void **state)
{
    (void)state;
    cf_schedule s = {0};
    snprintf(s.cron, sizeof s.cron, "*/5 * * * *");
    snprintf(s.tz, sizeof s.tz, "Europe/Berlin");
    int64_t t = 0;
    /* next fire 10:00, now 11:07:30: 13 ticks passed, 11:05 is the one fired */
    assert_int_equal(
        cf_schedule_latest_tick(&s, at("2026-12-06T10:00:00Z"), at("2026-12-06T11:07:30Z"), &t),
        CF_OK);
    assert_int_equal(t, at("2026-12-06T11:05:00Z"));
    assert_int_equal(
        cf_schedule_latest_tick(&s, at("2026-12-06T11:06:00Z"), at("2026-12-06T11:07:30Z"), &t),
        CF_ERR_NOT_FOUND);
    snprintf(s.cron, sizeof s.cron, "0 3 1 * *"); /* monthly: found in a wider window */
    assert_int_equal(
        cf_schedule_latest_tick(&s, at("2026-01-01T00:00:00Z"), at("2026-12-06T11:07:30Z"), &t),
        CF_OK);
    assert_int_equal(t, at("2026-12-01T02:00:00Z"));
    s.cron[0] = '\0';
    s.every_ms = 60000;
    assert_int_equal(cf_schedule_latest_tick(&s, 0, at("2026-12-06T11:07:30Z"), &t), CF_OK);
    assert_int_equal(t, at("2026-12-06T11:07:00Z"));
    assert_int_equal(cf_schedule_next_tick(&s, at("2026-12-06T11:07:00Z"), &t), CF_OK);
    assert_int_equal(t, at("2026-12-06T11:08:00Z"));
}

static void test_due_list_pause_and_resume(void **state)
{
    (void)state;
    int64_t now = cf_clock_unix_ms();
    put("due-a", 60000, NULL, false, now - 120000);
    put("due-b", 0, "0 0 1 1 *", false, now + 3600000);
    cf_schedule_list l;
    assert_int_equal(cf_store_schedules_due(st_, now, 100, &l), CF_OK);
    bool a = false, b = false;
    for (size_t i = 0; i < l.n; i++) {
        a |= strcmp(l.items[i].name, "due-a") == 0;
        b |= strcmp(l.items[i].name, "due-b") == 0;
    }
    cf_schedule_list_deinit(&l);
    assert_true(a && !b);
    cf_schedule s;
    assert_int_equal(cf_store_schedule_pause(st_, "due-a", true, 0, "op", &s), CF_OK);
    assert_true(s.paused);
    cf_schedule_deinit(&s);
    assert_int_equal(cf_store_schedules_due(st_, now, 100, &l), CF_OK);
    for (size_t i = 0; i < l.n; i++)
        assert_string_not_equal(l.items[i].name, "due-a");
    cf_schedule_list_deinit(&l);
    assert_int_equal(cf_store_schedule_pause(st_, "due-a", false, now + 60000, "op", &s), CF_OK);
    assert_false(s.paused);
    assert_int_equal(s.next_fire_ms, now + 60000); /* missed ticks do not fire after a resume */
    assert_string_equal(s.updated_by, "op");
    cf_schedule_deinit(&s);
    assert_int_equal(cf_store_schedule_pause(st_, "nope", true, 0, "op", NULL), CF_ERR_NOT_FOUND);
    assert_int_equal(cf_store_schedule_remove(st_, "due-b"), CF_OK);
    assert_int_equal(cf_store_schedule_remove(st_, "due-b"), CF_ERR_NOT_FOUND);
}

static cf_flow noop(cf_run *run)
{
    (void)run;
    return CF_FLOW_OK;
}

static cf_schedule_def declared[] = {
    {"code-nightly", "30 2 * * *", 0, "Europe/Berlin", "{\"full\": true}", NULL, false},
    {"code-often", NULL, 60000, NULL, NULL, "often-{tick_ms}", true},
};

static void test_schedules_declared_in_code_are_applied(void **state)
{
    (void)state;
    static cf_workflow_def def = {.name = "Declared", .fn = noop};
    def.schedules = declared;
    def.nschedules = 2;
    assert_int_equal(cf_register(&def), 0);
    int counts[3];
    cf_error err;
    assert_int_equal(cf_schedules_apply_declared(st_, "migrate", counts, &err), CF_OK);
    assert_int_equal(counts[0], 2);
    cf_test_sql_exec(admin, "UPDATE chrono_forge_schedules SET paused = true,"
                            " last_fire_at = '2026-12-01T01:30:00Z' WHERE name = 'code-nightly'");
    assert_int_equal(cf_schedules_apply_declared(st_, "migrate", counts, &err), CF_OK);
    assert_int_equal(counts[2], 2); /* unchanged */
    declared[0].cron = "45 2 * * *";
    assert_int_equal(cf_schedules_apply_declared(st_, "migrate", counts, &err), CF_OK);
    assert_int_equal(counts[1], 1);
    assert_int_equal(counts[2], 1);
    assert_int_equal(
        cf_test_sql_int(admin, "SELECT count(*) FROM chrono_forge_schedules WHERE name ="
                               " 'code-nightly' AND paused AND cron = '45 2 * * *'"
                               " AND last_fire_at = '2026-12-01T01:30:00Z' AND tz = 'Europe/Berlin'"
                               " AND kwargs = '{\"full\": true}' AND updated_by = 'migrate'"),
        1);
    declared[1].key_template = "often"; /* no tick: refused, naming the schedule */
    assert_int_equal(cf_schedules_apply_declared(st_, "migrate", counts, &err), CF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "schedule code-often of Declared"));
    assert_non_null(strstr(err.msg, "{tick}"));
    declared[1].key_template = "often-{tick_ms}";
}

static void test_refused_definitions(void **state)
{
    (void)state;
    cf_schedule s = {0};
    snprintf(s.name, sizeof s.name, "bad");
    snprintf(s.wf_class, sizeof s.wf_class, "Sched");
    snprintf(s.cron, sizeof s.cron, "* * *");
    snprintf(s.key_template, sizeof s.key_template, "{schedule}@{tick}");
    cf_error err;
    assert_int_equal(cf_schedule_check(&s, &err), CF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "needs 5 fields"));
    snprintf(s.cron, sizeof s.cron, "0 * * * *");
    snprintf(s.tz, sizeof s.tz, "Mars/Olympus");
    assert_int_equal(cf_schedule_check(&s, &err), CF_ERR_INVALID);
    assert_string_equal(err.field, "tz");
    snprintf(s.tz, sizeof s.tz, "UTC");
    s.every_ms = 1000;
    assert_int_equal(cf_schedule_check(&s, &err), CF_ERR_INVALID); /* both */
    s.every_ms = 0;
    snprintf(s.name, sizeof s.name, "bad name");
    assert_int_equal(cf_schedule_check(&s, &err), CF_ERR_INVALID);
    assert_string_equal(err.field, "name");
    snprintf(s.name, sizeof s.name, "ok");
    assert_int_equal(cf_schedule_check(&s, &err), CF_OK);
    char key[257];
    assert_int_equal(
        cf_schedule_key("{schedule}@{tick}", "ok", at("2026-12-06T10:00:00Z"), key, sizeof key),
        CF_OK);
    assert_string_equal(key, "ok@2026-12-06T10:00:00Z");
    assert_int_equal(cf_schedule_key("x-{tick_ms}", "ok", 1500, key, sizeof key), CF_OK);
    assert_string_equal(key, "x-1500");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_fire_creates_the_workflow_and_advances_in_one_commit),
        cmocka_unit_test(test_racing_fires_of_one_tick_fire_it_once),
        cmocka_unit_test(test_overlap_skip_waits_for_the_previous_workflow),
        cmocka_unit_test(test_a_manual_fire_leaves_the_ticks_alone),
        cmocka_unit_test(test_after_downtime_only_the_latest_tick_is_due),
        cmocka_unit_test(test_due_list_pause_and_resume),
        cmocka_unit_test(test_schedules_declared_in_code_are_applied),
        cmocka_unit_test(test_refused_definitions),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_schedules", tests, group_setup, group_teardown);
}
