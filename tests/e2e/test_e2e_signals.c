// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_signals.c: signals (issue 13) end to end with the Exerciser's await_signal
 * knobs: signals sent before and after the await, consumed in send order, one per await; a
 * resend with the same id counted once; a signal that survives a worker's kill -9 and Redis
 * losing everything (it is in Postgres, its workflow due: healing wakes it), or one a lost
 * recheck missed (healing makes its workflow due); an await timing out both ways; refusals
 * (unknown, finished workflows); and the control protocol (SPEC §2): a producer's request with no
 * worker running stays pending, then is applied by the next worker and answered; malformed requests
 * are answered refused or dead-lettered, never lost. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "queue/control.h"
#include "queue/deadletter.h"
#include "tests/support/e2e.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000

static cf_e2e E;
/* short healing settings: a wake lost with Redis is republished within about a second */
static const char *const WORKER_ARGS[] = {"-c",    "2", "--sweep-grace", "1s", "--sweep-interval",
                                          "300ms", NULL};

CF_E2E_EACH(E)

/* enqueue_awaiting enqueues an Exerciser with 2 steps awaiting `count` signals "go" after
 * step_1, with extra kwargs (", ..." or ""). */
static void enqueue_awaiting(const char *key, int count, const char *extra)
{
    char kw[600];
    snprintf(kw, sizeof kw,
             "{\"steps\": 2, \"await_signal\": \"go\", \"await_signal_count\": %d%s}", count,
             extra);
    cf_e2e_enqueue(&E, "Exerciser", key, kw);
}

/* signal_cli runs `chronoforge signal`; returns its exit code, stdout in out. */
static int signal_cli(const char *key, const char *payload, const char *id, char *out, size_t cap)
{
    const char *args[12] = {getenv("CF_BIN"), "signal", key, "go", "--class", "Exerciser"};
    int n = 6;
    if (payload) {
        args[n++] = "--payload";
        args[n++] = payload;
    }
    if (id) {
        args[n++] = "--id";
        args[n++] = id;
    }
    args[n] = NULL;
    return cf_e2e_cli(&E, out, cap, args);
}

/* step_state returns the state of step name of workflow key ("" when absent), owned. */
static char *step_state(const char *key, const char *step)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT l.state FROM chrono_forge_execution_logs l JOIN chrono_forge_workflows w"
             " ON w.id = l.workflow_id WHERE w.key = $1 AND l.step_name = '%s'",
             step);
    return cf_e2e_sql(&E, sql, key);
}

typedef struct step_wait {
    const char *key, *step, *state;
} step_wait;

static bool step_in_state(void *arg)
{
    step_wait *w = arg;
    char *s = step_state(w->key, w->step);
    bool ok = strcmp(s, w->state) == 0;
    free(s);
    char st[32];
    return ok && strcmp(cf_e2e_state(&E, w->key, st, sizeof st), "idle") == 0;
}

/* wait_awaiting waits until key is idle with await step n pending (it waits for a signal). */
static void wait_awaiting(const char *key, int n)
{
    char step[64];
    snprintf(step, sizeof step, "await_signal$signal_%d", n);
    step_wait w = {key, step, "pending"};
    assert_true(cf_test_wait_for(step_in_state, &w, DEADLINE_MS));
}

static void assert_payloads(const char *key, const char *want)
{
    char *got = cf_e2e_sql(
        &E, "SELECT context->'signal_payloads' FROM chrono_forge_workflows WHERE key = $1", key);
    assert_string_equal(got, want);
    free(got);
}

/* Two signals sent while the workflow waits before its awaits (kept for them), then a third
 * after the third await began waiting: consumed in send order, one per await, each marked
 * consumed by its await's step. */
static void test_signals_before_and_after_the_await_in_order(void **state)
{
    (void)state;
    enqueue_awaiting("ba-1", 3, ", \"wait_ms\": 1500");
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    step_wait w = {"ba-1", "wait$pause", "pending"};
    assert_true(cf_test_wait_for(step_in_state, &w, DEADLINE_MS));
    char out[400];
    assert_int_equal(signal_cli("ba-1", "{\"n\": 1}", "s1", out, sizeof out), 0);
    assert_non_null(strstr(out, "sent signal go (id s1)"));
    assert_int_equal(signal_cli("ba-1", "{\"n\": 2}", "s2", NULL, 0), 0);
    wait_awaiting("ba-1", 3);
    assert_int_equal(signal_cli("ba-1", "[3, \"three\"]", NULL, NULL, 0), 0);
    assert_true(cf_e2e_wait_state(&E, "ba-1", "completed", DEADLINE_MS));
    assert_payloads("ba-1", "[{\"n\": 1}, {\"n\": 2}, [3, \"three\"]]");
    char *by = cf_e2e_sql(&E,
                          "SELECT string_agg(s.signal_id || '=' || s.consumed_by, ',' ORDER BY "
                          "s.id) FROM chrono_forge_signals s JOIN chrono_forge_workflows w ON "
                          "w.id = s.workflow_id WHERE w.key = $1 AND s.signal_id IN ('s1', 's2')",
                          "ba-1");
    assert_string_equal(by, "s1=await_signal$signal_1,s2=await_signal$signal_2");
    free(by);
    /* a resend of an accepted signal is answered as the first time, though the workflow is
     * completed now */
    assert_int_equal(signal_cli("ba-1", "{\"n\": 1}", "s1", out, sizeof out), 0);
    assert_non_null(strstr(out, "already had signal go (id s1)"));
}

/* The same id sent twice is stored once: the first await consumes it and the second still
 * waits, with no signal left for it. */
static void test_resend_with_same_id_counts_once(void **state)
{
    (void)state;
    enqueue_awaiting("dup-1", 2, "");
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    wait_awaiting("dup-1", 1);
    char out[400];
    assert_int_equal(signal_cli("dup-1", "1", "same", NULL, 0), 0);
    assert_int_equal(signal_cli("dup-1", "1", "same", out, sizeof out), 0);
    assert_non_null(strstr(out, "already had signal go (id same)"));
    wait_awaiting("dup-1", 2);
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_signals s JOIN "
                                    "chrono_forge_workflows w ON w.id = s.workflow_id WHERE "
                                    "w.key = $1",
                                    "dup-1"),
                     1);
    assert_int_equal(
        cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_signals WHERE consumed_by IS NULL",
                       NULL),
        0);
}

/* A signal sent while no worker lives (the last one was killed -9) and then Redis loses all it
 * held (its wake included): it is in Postgres and its workflow due, so the next worker's
 * healing pass wakes the workflow, which takes it. */
static void test_signal_survives_kill9_and_flushall(void **state)
{
    (void)state;
    enqueue_awaiting("lost-1", 1, "");
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    wait_awaiting("lost-1", 1);
    cf_e2e_signal(&E, 0, SIGKILL);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, DEADLINE_MS), 128 + SIGKILL);
    assert_int_equal(signal_cli("lost-1", "\"kept\"", NULL, NULL, 0), 0);
    const char *flush[] = {"FLUSHALL", NULL};
    cf_e2e_redis_int(flush);
    cf_e2e_worker(&E, 1, WORKER_ARGS, NULL);
    assert_true(cf_e2e_wait_state(&E, "lost-1", "completed", DEADLINE_MS));
    assert_payloads("lost-1", "[\"kept\"]");
    assert_true(cf_e2e_log_events(&E, 1, "sweep_republished", "key=lost-1") >= 1);
}

/* The state a worker dying between an await's halt commit and its recheck leaves: a signal
 * stored (sent while the pass ran, after it looked) for an idle workflow that is not due. The
 * healing pass makes it due and republishes it; the workflow takes the signal. */
static void test_signal_missed_by_a_lost_recheck_is_healed(void **state)
{
    (void)state;
    enqueue_awaiting("heal-1", 1, "");
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    wait_awaiting("heal-1", 1);
    free(cf_e2e_sql(
        &E,
        "INSERT INTO chrono_forge_signals (workflow_id, name, signal_id, payload,"
        " sender, sent_at) SELECT id, 'go', 'missed', '\"healed\"', 'test',"
        " now() - interval '10 seconds' FROM chrono_forge_workflows WHERE key = $1 RETURNING id",
        "heal-1"));
    assert_true(cf_e2e_wait_state(&E, "heal-1", "completed", DEADLINE_MS));
    assert_payloads("heal-1", "[\"healed\"]");
    assert_true(cf_e2e_log_events(&E, 0, "signal_heal", NULL) >= 1);
}

/* An await with a timeout and no signal: by default it stalls the workflow with a Timeout
 * error; with signal_on_timeout "return" it returns no payload and the workflow goes on. */
static void test_await_timeout_stalls_or_returns(void **state)
{
    (void)state;
    enqueue_awaiting("to-stall", 1, ", \"signal_timeout_ms\": 300");
    enqueue_awaiting("to-return", 1,
                     ", \"signal_timeout_ms\": 300, \"signal_on_timeout\": "
                     "\"return\"");
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    assert_true(cf_e2e_wait_state(&E, "to-stall", "stalled", DEADLINE_MS));
    char *cls = cf_e2e_sql(&E,
                           "SELECT e.error_class FROM chrono_forge_error_logs e JOIN "
                           "chrono_forge_workflows w ON w.id = e.workflow_id WHERE w.key = $1",
                           "to-stall");
    assert_string_equal(cls, "Timeout");
    free(cls);
    assert_true(cf_e2e_wait_state(&E, "to-return", "completed", DEADLINE_MS));
    assert_payloads("to-return", "[null]");
}

/* Unknown and finished workflows refuse a signal: the CLI exits 1 and stores nothing. */
static void test_signal_refused_for_unknown_and_finished(void **state)
{
    (void)state;
    assert_int_equal(signal_cli("nobody", NULL, NULL, NULL, 0), 1);
    cf_e2e_enqueue(&E, "Exerciser", "done-1", "{\"steps\": 1}");
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    assert_true(cf_e2e_wait_state(&E, "done-1", "completed", DEADLINE_MS));
    assert_int_equal(signal_cli("done-1", NULL, NULL, NULL, 0), 1);
    assert_int_equal(signal_cli("done-1", "{bad json", NULL, NULL, 0), 1);
    assert_int_equal(cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_signals", NULL), 0);
}

/* push_request encodes and pushes a control request on the default queue. */
static void push_request(cf_queue *q, const char *id, const char *op, const char *key,
                         const char *payload)
{
    char reply[300];
    snprintf(reply, sizeof reply, "%s:reply:%s", E.prefix, id);
    cf_control_request r = {.id = (char *)id,
                            .op = (char *)op,
                            .wf_class = (char *)"Exerciser",
                            .key = (char *)key,
                            .reply = reply,
                            .name = (char *)"go",
                            .payload = (char *)payload,
                            .by = (char *)"e2e",
                            .sent_at = 1765000000.5};
    cf_buf b = CF_BUF_INIT;
    assert_int_equal(cf_control_request_encode(&r, &b), CF_OK);
    assert_int_equal(cf_control_push(q, "default", b.data, b.len), CF_OK);
    cf_buf_deinit(&b);
}

/* A producer with only Redis: no worker runs, so its request stays queued and the wait ends
 * pending; the next worker applies it (Postgres first), answers accepted, and the workflow
 * takes the signal. The same request id pushed again is answered the same and counts once. */
static void test_client_signal_pending_then_applied(void **state)
{
    (void)state;
    enqueue_awaiting("cl-1", 1, "");
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    wait_awaiting("cl-1", 1);
    cf_e2e_signal(&E, 0, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, 0, DEADLINE_MS), 0);
    cf_queue *q = cf_test_queue_open(E.prefix, NULL);
    push_request(q, "req-1", "signal", "cl-1", "{\"via\": \"redis\"}");
    cf_control_reply rep;
    assert_int_equal(cf_control_wait_reply(q, "req-1", 300, &rep), CF_ERR_NOT_FOUND);
    cf_e2e_worker(&E, 1, WORKER_ARGS, NULL);
    assert_int_equal(cf_control_wait_reply(q, "req-1", DEADLINE_MS, &rep), CF_OK);
    assert_true(rep.accepted);
    assert_string_equal(rep.id, "req-1");
    assert_true(cf_e2e_wait_state(&E, "cl-1", "completed", DEADLINE_MS));
    assert_payloads("cl-1", "[{\"via\": \"redis\"}]");
    push_request(q, "req-1", "signal", "cl-1", "{\"via\": \"redis\"}"); /* resent */
    assert_int_equal(cf_control_wait_reply(q, "req-1", DEADLINE_MS, &rep), CF_OK);
    assert_true(rep.accepted); /* the recorded answer, though the workflow is completed now */
    assert_int_equal(cf_e2e_sql_int(&E, "SELECT count(*) FROM chrono_forge_signals", NULL), 1);
    /* refusals through the protocol: unknown and finished workflows */
    push_request(q, "req-2", "signal", "nobody", NULL);
    assert_int_equal(cf_control_wait_reply(q, "req-2", DEADLINE_MS, &rep), CF_OK);
    assert_false(rep.accepted);
    assert_string_equal(rep.code, "unknown_workflow");
    push_request(q, "req-3", "signal", "cl-1", NULL);
    assert_int_equal(cf_control_wait_reply(q, "req-3", DEADLINE_MS, &rep), CF_OK);
    assert_false(rep.accepted);
    assert_string_equal(rep.code, "finished");
    cf_queue_free(q);
    cf_e2e_assert_quiet(&E, DEADLINE_MS);
}

/* Malformed requests: bytes that are not msgpack have no reply key, so they are dead-lettered
 * with their code; a request whose id and reply key can be read is answered refused (a missing
 * field, an unknown op); the worker goes on and applies the next good one. */
static void test_malformed_control_requests(void **state)
{
    (void)state;
    enqueue_awaiting("bad-1", 1, "");
    cf_e2e_worker(&E, 0, WORKER_ARGS, NULL);
    wait_awaiting("bad-1", 1);
    cf_queue *q = cf_test_queue_open(E.prefix, NULL);
    assert_int_equal(cf_control_push(q, "default", "\xc1garbage", 8), CF_OK);
    push_request(q, "bad-op", "explode", "bad-1", NULL);
    char reply[300];
    snprintf(reply, sizeof reply, "%s:reply:no-class", E.prefix);
    cf_control_request r = {
        .id = (char *)"no-class", .op = (char *)"signal", .key = (char *)"bad-1", .reply = reply};
    cf_buf b = CF_BUF_INIT;
    assert_int_equal(cf_control_request_encode(&r, &b), CF_OK);
    assert_int_equal(cf_control_push(q, "default", b.data, b.len), CF_OK);
    cf_buf_deinit(&b);
    cf_control_reply rep;
    assert_int_equal(cf_control_wait_reply(q, "bad-op", DEADLINE_MS, &rep), CF_OK);
    assert_false(rep.accepted);
    assert_string_equal(rep.code, "unknown_op");
    assert_int_equal(cf_control_wait_reply(q, "no-class", DEADLINE_MS, &rep), CF_OK);
    assert_false(rep.accepted);
    assert_string_equal(rep.code, "missing_field");
    assert_non_null(strstr(rep.reason, "class"));
    cf_deadletter *dl = NULL;
    size_t n = 0;
    assert_int_equal(cf_deadletter_list(q, "default", 0, 10, &dl, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_string_equal(dl[0].code, "not_msgpack");
    assert_int_equal(dl[0].raw_len, 8);
    cf_deadletter_list_free(dl, n);
    push_request(q, "good", "signal", "bad-1", "true");
    assert_int_equal(cf_control_wait_reply(q, "good", DEADLINE_MS, &rep), CF_OK);
    assert_true(rep.accepted);
    assert_true(cf_e2e_wait_state(&E, "bad-1", "completed", DEADLINE_MS));
    cf_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signals_before_and_after_the_await_in_order,
                                        setup_each, teardown_each),
        cmocka_unit_test_setup_teardown(test_resend_with_same_id_counts_once, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_signal_survives_kill9_and_flushall, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_signal_missed_by_a_lost_recheck_is_healed, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_await_timeout_stalls_or_returns, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_signal_refused_for_unknown_and_finished, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_client_signal_pending_then_applied, setup_each,
                                        teardown_each),
        cmocka_unit_test_setup_teardown(test_malformed_control_requests, setup_each, teardown_each),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_signals", tests, NULL, NULL);
}
