// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_dashboard.c: `chronoforge dashboard` against a live fleet (a worker, a
 * completed, a waiting and two stalled workflows, one keyed `<script>alert(1)</script>`, and a
 * dead letter): every page answers 200 with what a person should see and the security headers;
 * user values are escaped; no action without signing in with the token, none at all in
 * --read-only mode or without a token; an action without or with a wrong CSRF token is refused
 * and changes nothing; a signed-in requeue with its CSRF token is logged with who did it and the
 * workflow completes. Then tests/e2e/dashboard_browser.py drives headless Chromium through the
 * pages (screenshots under build/test-artifacts/dashboard/). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue/keys.h"
#include "tests/support/e2e.h"
#include "tests/support/http.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000
#define TOKEN       "dash-test-token-4c1b9e0f7a"
#define XSS_KEY     "<script>alert(1)</script>"
#define XSS_QUERY   "class=Exerciser&key=%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
#define XSS_PAGE    ("/workflow?" XSS_QUERY)
#define WORKER      0
#define DASH        1 /* token from the environment */
#define DASH_RO     2 /* --read-only (the token is in its environment too) */
#define DASH_NONE   3 /* no token */

static cf_e2e E;
static int port[4];
static char resp[1 << 20];

static int get(int slot, const char *path)
{
    return cf_test_http(port[slot], "GET", path, NULL, NULL, resp, sizeof resp);
}

static int post(int slot, const char *path, const char *cookie, const char *form)
{
    char h[300] = "";
    if (cookie)
        snprintf(h, sizeof h, "Cookie: %s\r\n", cookie);
    return cf_test_http(port[slot], "POST", path, h, form, resp, sizeof resp);
}

static bool answers(void *arg)
{
    int slot = *(int *)arg;
    return cf_test_http(port[slot], "GET", "/", NULL, NULL, resp, sizeof resp) == 200;
}

static void start_dashboard(int slot, const char *const *args, const char *const *env)
{
    char listen[32];
    port[slot] = cf_test_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port[slot]);
    const char *argv[8] = {"--listen", listen};
    int n = 2;
    for (int i = 0; args && args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    cf_e2e_process(&E, slot, "dashboard", argv, env);
    assert_true(cf_test_wait_for(answers, &slot, DEADLINE_MS));
}

static int group_setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    cf_e2e_worker(&E, WORKER, (const char *const[]){"-c", "2", NULL}, NULL);
    cf_e2e_enqueue(&E, "Exerciser", "done-1", "{\"steps\": 2}");
    cf_e2e_enqueue(&E, "Exerciser", "waiting-1", "{\"steps\": 2, \"wait_ms\": 3600000}");
    const char *stall = "{\"steps\": 1, \"fail_first\": 1, \"step_max_attempts\": 1}";
    cf_e2e_enqueue(&E, "Exerciser", XSS_KEY, stall);
    cf_e2e_enqueue(&E, "Exerciser", "stalled-2", stall);
    char ready[200];
    assert_true(cf_key_ready(ready, sizeof ready, E.prefix, "default") > 0);
    cf_e2e_redis_int((const char *const[]){"LPUSH", ready, "\xc1junk<b>", NULL});
    assert_true(cf_e2e_wait_state(&E, "done-1", "completed", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, XSS_KEY, "stalled", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "stalled-2", "stalled", DEADLINE_MS));
    char dead[200];
    assert_true(cf_key_dead(dead, sizeof dead, E.prefix, "default") > 0);
    assert_true(
        cf_e2e_wait_redis_int((const char *const[]){"LLEN", dead, NULL}, 1, 1, DEADLINE_MS));
    const char *env[] = {"CHRONOFORGE_DASHBOARD_TOKEN=" TOKEN, NULL};
    start_dashboard(DASH, NULL, env);
    start_dashboard(DASH_RO, (const char *const[]){"--read-only", NULL}, env);
    start_dashboard(DASH_NONE, NULL, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int slot = DASH; slot <= DASH_NONE; slot++) { /* a clean exit: LSan checks it */
        cf_e2e_signal(&E, slot, SIGTERM);
        assert_int_equal(cf_e2e_wait_exit(&E, slot, DEADLINE_MS), 0);
        assert_false(cf_e2e_log_contains(&E, slot, TOKEN));
    }
    cf_e2e_teardown(&E);
    return 0;
}

static void has(const char *needle)
{
    if (!strstr(resp, needle))
        fail_msg("missing '%s' in:\n%.3000s", needle, resp);
}

static void lacks(const char *needle)
{
    if (strstr(resp, needle))
        fail_msg("unexpected '%s' in:\n%.3000s", needle, resp);
}

static void test_every_page_shows_the_fleet(void **state)
{
    (void)state;
    assert_int_equal(get(DASH, "/"), 200);
    has("Content-Security-Policy: default-src 'none'; script-src 'self'");
    has("frame-ancestors 'none'");
    has("X-Content-Type-Options: nosniff");
    has("<div class=card id=\"count-stalled\"><a href=\"/workflows?state=stalled\"><b>2</b>");
    has("<div class=card id=\"count-idle\"><a href=\"/workflows?state=idle\"><b>1</b>");
    has("<div class=card id=\"count-completed\"><a href=\"/workflows?state=completed\"><b>1</b>");
    has("<code>Exerciser.Flaky</code> step_1 fails on attempt 1 by request");
    has("1 dead letter");
    lacks("<script>alert");

    assert_int_equal(get(DASH, "/workflows?state=stalled"), 200);
    has("stalled-2");
    lacks("waiting-1");
    assert_int_equal(get(DASH, "/workflows?waits=timer"), 200);
    has("waiting-1");
    lacks("stalled-2");
    assert_int_equal(get(DASH, "/workflows?key=stalled"), 200);
    has("stalled-2");
    lacks("done-1");
    assert_int_equal(get(DASH, "/workflows?state=sleeping"), 400);

    assert_int_equal(get(DASH, "/workflow?class=Exerciser&key=stalled-2"), 200);
    has("<table id=timeline>");
    has("<td>durably_execute$step_1</td><td><span class=\"state state-failed\">failed</span>");
    has("<span class=errmsg>step_1 fails on attempt 1 by request</span>");
    has("id=wf-state>stalled</span>");
    assert_int_equal(get(DASH, "/workflow?class=Exerciser&key=waiting-1"), 200);
    has("<th>pending wake</th><td><time>");
    assert_int_equal(get(DASH, "/workflow?class=Exerciser&key=no-such"), 404);

    assert_int_equal(get(DASH, "/queues"), 200);
    has("<a href=\"/queues?queue=default\">default</a>");
    assert_int_equal(get(DASH, "/queues?queue=default"), 200);
    has("<code>not_msgpack</code>");
    has("000000  c1 6a 75 6e 6b 3c 62 3e"); /* the raw bytes, in hex */
    assert_int_equal(get(DASH, "/workers"), 200);
    has("<b id=live-workers>1</b>");

    assert_int_equal(get(DASH, "/static/app.js"), 200);
    has("Content-Type: text/javascript");
    assert_int_equal(get(DASH, "/favicon.ico"), 200);
    assert_int_equal(get(DASH, "/nope"), 404);
    /* a loopback listener answers only to a loopback Host (DNS rebinding) */
    assert_int_equal(
        cf_test_http(port[DASH], "GET", "/", "Host: evil.example:80\r\n", NULL, resp, sizeof resp),
        403);
    lacks("stalled-2");
    assert_int_equal(
        cf_test_http(port[DASH], "GET", "/", "Host: localhost:1\r\n", NULL, resp, sizeof resp),
        200);
}

static void test_user_values_are_escaped(void **state)
{
    (void)state;
    const char *paths[] = {"/", "/workflows", XSS_PAGE, "/workflows?key=%3Cscript"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        assert_int_equal(get(DASH, paths[i]), 200);
        has("&lt;script&gt;alert(1)&lt;/script&gt;");
        lacks(XSS_KEY);
        /* the one script element is the dashboard's own */
        const char *first = strstr(resp, "<script");
        assert_non_null(first);
        assert_null(strstr(first + 1, "<script"));
    }
}

/* login signs in on slot and returns the cookie ("cf_session=...") in cookie. */
static int login(int slot, const char *token, char *cookie, size_t cap)
{
    char form[200];
    snprintf(form, sizeof form, "who=tester&token=%s", token);
    int status = post(slot, "/login", NULL, form);
    cookie[0] = '\0';
    const char *c = strstr(resp, "Set-Cookie: ");
    if (c && strncmp(c + 12, "cf_session=", 11) == 0)
        snprintf(cookie, cap, "%.*s", (int)strcspn(c + 12, ";\r"), c + 12);
    return status;
}

/* csrf scrapes the hidden CSRF field from the last page. */
static void csrf(char *out, size_t cap)
{
    const char *f = strstr(resp, "name=csrf value=\"");
    assert_non_null(f);
    snprintf(out, cap, "%.*s", (int)strcspn(f + 17, "\""), f + 17);
}

static void assert_stalled(const char *key)
{
    char buf[32];
    assert_string_equal(cf_e2e_state(&E, key, buf, sizeof buf), "stalled");
}

static void test_no_action_without_the_token_or_in_read_only_mode(void **state)
{
    (void)state;
    const char *form = "class=Exerciser&key=stalled-2&csrf=x";
    assert_int_equal(post(DASH, "/action/requeue", NULL, form), 403);
    has("Sign in first");
    char cookie[200];
    assert_int_equal(login(DASH, "wrong-token-wrong-token", cookie, sizeof cookie), 403);
    assert_string_equal(cookie, "");
    assert_int_equal(post(DASH, "/action/requeue",
                          "cf_session=0123456789abcdef0123456789abcdef"
                          "0123456789abcdef0123456789abcdef",
                          form),
                     403);
    /* an anonymous page offers no action */
    assert_int_equal(get(DASH, "/workflow?class=Exerciser&key=stalled-2"), 200);
    lacks("action=\"/action/");

    /* --read-only: the right token opens nothing, and there is no action to post */
    assert_int_equal(login(DASH_RO, TOKEN, cookie, sizeof cookie), 403);
    assert_string_equal(cookie, "");
    assert_int_equal(post(DASH_RO, "/action/requeue", NULL, form), 403);
    has("read-only");
    assert_int_equal(get(DASH_RO, "/workflow?class=Exerciser&key=stalled-2"), 200);
    lacks("action=\"/action/");
    /* no token at all: the same */
    assert_int_equal(login(DASH_NONE, TOKEN, cookie, sizeof cookie), 403);
    assert_int_equal(post(DASH_NONE, "/action/requeue", NULL, form), 403);
    assert_int_equal(get(DASH, "/action/requeue"), 405); /* actions are POSTs */
    assert_stalled("stalled-2");
    assert_int_equal(cf_e2e_log_events(&E, DASH, "dashboard_action", NULL), 0);
}

static void test_actions_need_the_sessions_csrf_token(void **state)
{
    (void)state;
    char cookie[200], hdr[300], token[100], form[400];
    assert_int_equal(login(DASH, TOKEN, cookie, sizeof cookie), 303);
    has("HttpOnly; SameSite=Strict");
    assert_int_equal((int)strlen(cookie), 11 + 64);
    snprintf(hdr, sizeof hdr, "Cookie: %s\r\n", cookie);
    assert_int_equal(
        cf_test_http(port[DASH], "GET", "/workflow?" XSS_QUERY, hdr, NULL, resp, sizeof resp), 200);
    has("signed in as <b>tester</b>");
    has("action=\"/action/requeue\"");
    csrf(token, sizeof token);

    const char *form_no = "class=Exerciser&key=%3Cscript%3Ealert%281%29%3C%2Fscript%3E";
    assert_int_equal(post(DASH, "/action/requeue", cookie, form_no), 403);
    has("CSRF");
    snprintf(form, sizeof form, "%s&csrf=%.63s0", form_no, token);
    if (token[63] == '0')
        form[strlen(form) - 1] = '1';
    assert_int_equal(post(DASH, "/action/requeue", cookie, form), 403);
    assert_stalled(XSS_KEY);
    assert_int_equal(cf_e2e_log_events(&E, DASH, "dashboard_csrf_refused", NULL), 2);

    snprintf(form, sizeof form, "%s&csrf=%s", form_no, token);
    assert_int_equal(post(DASH, "/action/requeue", cookie, form), 200);
    has("requeued Exerciser/&lt;script&gt;alert(1)&lt;/script&gt; (was stalled)");
    assert_true(cf_e2e_wait_state(&E, XSS_KEY, "completed", DEADLINE_MS));
    assert_int_equal(
        cf_e2e_log_events(&E, DASH, "dashboard_action", "action=requeue who=tester outcome=done"),
        1);
    /* the requeue row names the operator */
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_execution_logs l JOIN "
                                    "chrono_forge_workflows w ON w.id = l.workflow_id WHERE "
                                    "w.key = $1 AND l.metadata->>'requested_by' = "
                                    "'dashboard:tester'",
                                    XSS_KEY),
                     1);
    /* signing out ends the session: its cookie no longer acts */
    snprintf(form, sizeof form, "csrf=%s", token);
    assert_int_equal(post(DASH, "/logout", cookie, form), 303);
    snprintf(form, sizeof form, "class=Exerciser&key=stalled-2&csrf=%s", token);
    assert_int_equal(post(DASH, "/action/requeue", cookie, form), 403);
    assert_stalled("stalled-2");
}

static void test_a_short_or_missing_token_file_is_refused(void **state)
{
    (void)state;
    char path[400], out[256];
    snprintf(path, sizeof path, "%s/short-token", E.dir);
    FILE *f = fopen(path, "w");
    fputs("short\n", f);
    fclose(f);
    const char *bin = cf_test_env("CF_BIN");
    assert_int_equal(
        cf_e2e_cli(&E, out, sizeof out,
                   (const char *const[]){bin, "dashboard", "--token-file", path, NULL}),
        1);
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out,
                                (const char *const[]){bin, "dashboard", "--token-file",
                                                      "/nonexistent/token", NULL}),
                     1);
    assert_int_equal(cf_e2e_cli(&E, out, sizeof out,
                                (const char *const[]){bin, "dashboard", "--listen", "nope", NULL}),
                     2);
}

/* The browser test: Chromium (Debian's chromium, chromium-driver, python3-selenium) through
 * tests/e2e/dashboard_browser.py against slot DASH; it requeues stalled-2 through the UI. */
static void test_a_browser_sees_the_pages_and_requeues(void **state)
{
    (void)state;
    const char *bin = cf_test_env("CF_BIN");
    char script[600], artifacts[600], cmd[2000];
    snprintf(script, sizeof script, "%s", __FILE__);
    *strrchr(script, '/') = '\0';
    strcat(script, "/dashboard_browser.py");
    snprintf(artifacts, sizeof artifacts, "%s", bin); /* build/<mode>/chronoforge */
    *strrchr(artifacts, '/') = '\0';
    *strrchr(artifacts, '/') = '\0';
    strcat(artifacts, "/test-artifacts/dashboard");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s --url http://127.0.0.1:%d --out %s", script,
             port[DASH], artifacts);
    char env[200];
    snprintf(env, sizeof env, "CF_DASHBOARD_TOKEN=%s", TOKEN);
    putenv(env);
    int rc = system(cmd);
    assert_int_equal(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
    assert_true(cf_e2e_wait_state(&E, "stalled-2", "completed", DEADLINE_MS));
    assert_int_equal(
        cf_e2e_log_events(&E, DASH, "dashboard_action", "action=requeue who=browser outcome=done"),
        1);
}

/* signed_in signs in as who on DASH, loads path and leaves the cookie and CSRF token. */
static void signed_in(const char *path, char *cookie, size_t ccap, char *token, size_t tcap)
{
    char hdr[300];
    assert_int_equal(login(DASH, TOKEN, cookie, ccap), 303);
    snprintf(hdr, sizeof hdr, "Cookie: %s\r\n", cookie);
    assert_int_equal(cf_test_http(port[DASH], "GET", path, hdr, NULL, resp, sizeof resp), 200);
    csrf(token, tcap);
}

static bool dead_is(void *arg)
{
    char dead[200];
    assert_true(cf_key_dead(dead, sizeof dead, E.prefix, "default") > 0);
    return cf_e2e_redis_int((const char *const[]){"LLEN", dead, NULL}) == *(int64_t *)arg;
}

static bool worker_state_is(void *arg)
{
    char want[64];
    snprintf(want, sizeof want, "<td class=\"\">%s</td>", (const char *)arg);
    return get(DASH, "/workers") == 200 && strstr(resp, want) != NULL;
}

static void test_dead_letter_worker_and_bulk_actions(void **state)
{
    (void)state;
    char cookie[200], token[100], form[600];
    signed_in("/queues?queue=default", cookie, sizeof cookie, token, sizeof token);
    has("action=\"/action/dead_retry\"");
    snprintf(form, sizeof form, "queue=default&csrf=%s", token);
    assert_int_equal(post(DASH, "/action/dead_retry", cookie, form), 200);
    has("queue default: retried 1 dead letters");
    int64_t one = 1, none = 0;
    assert_true(cf_test_wait_for(dead_is, &one, DEADLINE_MS)); /* the worker refuses it again */
    assert_int_equal(post(DASH, "/action/dead_purge", cookie, form), 200);
    has("queue default: purged 1 dead letters");
    assert_true(dead_is(&none));
    snprintf(form, sizeof form, "queue=no%%20such&csrf=%s", token);
    assert_int_equal(post(DASH, "/action/dead_purge", cookie, form), 409);
    has("not a queue name");

    /* quiet, then resume, the worker */
    char hdr[300];
    snprintf(hdr, sizeof hdr, "Cookie: %s\r\n", cookie);
    assert_int_equal(cf_test_http(port[DASH], "GET", "/workers", hdr, NULL, resp, sizeof resp),
                     200);
    const char *w = strstr(resp, "name=\"worker\" value=\"");
    assert_non_null(w);
    char id[200];
    snprintf(id, sizeof id, "%.*s", (int)strcspn(w + 21, "\""), w + 21);
    snprintf(form, sizeof form, "worker=%s&csrf=%s", id, token);
    assert_int_equal(post(DASH, "/action/worker_quiet", cookie, form), 200);
    has("quiet requested for");
    assert_true(cf_test_wait_for(worker_state_is, (char[]){"quiet"}, DEADLINE_MS));
    assert_int_equal(post(DASH, "/action/worker_resume", cookie, form), 200);
    assert_true(cf_test_wait_for(worker_state_is, (char[]){"running"}, DEADLINE_MS));

    /* requeue every stalled workflow whose last error is under Exerciser */
    const char *stall = "{\"steps\": 1, \"fail_first\": 1, \"step_max_attempts\": 1}";
    cf_e2e_enqueue(&E, "Exerciser", "bulk-1", stall);
    cf_e2e_enqueue(&E, "Exerciser", "bulk-2", stall);
    assert_true(cf_e2e_wait_state(&E, "bulk-1", "stalled", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "bulk-2", "stalled", DEADLINE_MS));
    assert_int_equal(cf_test_http(port[DASH], "GET", "/workflows?state=stalled&error=Exerciser",
                                  hdr, NULL, resp, sizeof resp),
                     200);
    has("action=\"/action/requeue_matching\"");
    snprintf(form, sizeof form, "state=stalled&class=&error=Exerciser&csrf=%s", token);
    assert_int_equal(post(DASH, "/action/requeue_matching", cookie, form), 200);
    has("requeued 2 stalled workflows");
    assert_true(cf_e2e_wait_state(&E, "bulk-1", "completed", DEADLINE_MS));
    assert_true(cf_e2e_wait_state(&E, "bulk-2", "completed", DEADLINE_MS));
    assert_int_equal(cf_e2e_log_events(&E, DASH, "dashboard_action", "who=tester outcome=done"),
                     6); /* the requeue before, retry, purge, quiet, resume, this one */
    assert_int_equal(cf_e2e_log_events(&E, DASH, "dashboard_action", "outcome=refused"), 1);
}

static bool page_has(void *arg)
{
    const char *const *pp = arg; /* {path, needle} */
    return get(DASH, pp[0]) == 200 && strstr(resp, pp[1]) != NULL;
}

/* A parent waiting on its merge shows its branch and children, and the workflows page finds it
 * by what it waits for (merge), as it finds one awaiting a signal (signal). */
static void test_branches_children_and_what_they_wait_for(void **state)
{
    (void)state;
    char kw[600];
    snprintf(kw, sizeof kw, "{\"steps\": 1, \"children\": 2, \"child_gate_file\": \"%s/never\"}",
             E.dir);
    cf_e2e_enqueue(&E, "Exerciser", "fan-1", kw);
    cf_e2e_enqueue(&E, "Exerciser", "sig-1", "{\"steps\": 1, \"await_signal\": \"go\"}");
    const char *merge[] = {"/workflows?waits=merge",
                           "Exerciser / <span class=key>fan-1</span></a>"};
    assert_true(cf_test_wait_for(page_has, merge, DEADLINE_MS));
    const char *sig[] = {"/workflows?waits=signal", "Exerciser / <span class=key>sig-1</span></a>"};
    assert_true(cf_test_wait_for(page_has, sig, DEADLINE_MS));
    assert_int_equal(get(DASH, "/workflows?waits=signal"), 200);
    assert_null(strstr(resp, "Exerciser / <span class=key>fan-1</span></a>"));
    assert_int_equal(get(DASH, "/workflow?class=Exerciser&key=fan-1"), 200);
    has("<table id=branches>");
    has("<td>kids</td><td>sealed</td><td class=n>2</td><td class=n>2</td>");
    has("<table id=children>");
    has("fan-1$kids$kid_1</a>");
}

static bool paused_flag_is(void *arg)
{
    char key[200];
    assert_true(cf_key_paused(key, sizeof key, E.prefix, "default") > 0);
    return cf_e2e_redis_int((const char *const[]){"EXISTS", key, NULL}) == *(int64_t *)arg;
}

/* Cancel from a workflow's page (its on_cancel cleanup runs, who and why are recorded), and
 * pause then resume a queue from the queues page (Postgres and Redis both follow). */
static void test_cancel_and_queue_pause_actions(void **state)
{
    (void)state;
    char cookie[200], token[100], form[600];
    cf_e2e_enqueue(&E, "Exerciser", "to-cancel",
                   "{\"steps\": 1, \"fail_first\": 1, \"step_max_attempts\": 1}");
    assert_true(cf_e2e_wait_state(&E, "to-cancel", "stalled", DEADLINE_MS));
    signed_in("/workflow?class=Exerciser&key=to-cancel", cookie, sizeof cookie, token,
              sizeof token);
    has("action=\"/action/cancel\"");
    snprintf(form, sizeof form, "class=Exerciser&key=to-cancel&reason=wrong%%20plan&csrf=%s",
             token);
    assert_int_equal(post(DASH, "/action/cancel", cookie, form), 200);
    has("cancel of Exerciser/to-cancel accepted");
    assert_true(cf_e2e_wait_state(&E, "to-cancel", "cancelled", DEADLINE_MS));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_workflows WHERE key ="
                                    " $1 AND cancel_requested_by = 'dashboard:tester' AND"
                                    " cancel_reason = 'wrong plan'",
                                    "to-cancel"),
                     1);
    /* a second cancel is refused: it is cancelled already */
    assert_int_equal(post(DASH, "/action/cancel", cookie, form), 409);
    has("refused");

    int64_t one = 1, none = 0;
    snprintf(form, sizeof form, "queue=default&csrf=%s", token);
    assert_int_equal(post(DASH, "/action/queue_pause", cookie, form), 200);
    has("queue default: pause (workers follow within a second)");
    assert_true(paused_flag_is(&one));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_queues WHERE name ="
                                    " $1 AND paused",
                                    "default"),
                     1);
    char hdr[300];
    snprintf(hdr, sizeof hdr, "Cookie: %s\r\n", cookie);
    assert_int_equal(cf_test_http(port[DASH], "GET", "/queues", hdr, NULL, resp, sizeof resp), 200);
    has("<td class=\"bad paused\">paused ");
    has("action=\"/action/queue_resume\"");
    assert_int_equal(post(DASH, "/action/queue_resume", cookie, form), 200);
    assert_true(paused_flag_is(&none));
    assert_int_equal(cf_e2e_sql_int(&E,
                                    "SELECT count(*) FROM chrono_forge_queues WHERE name ="
                                    " $1 AND paused",
                                    "default"),
                     0);
}

/* With the worker stopped, a run past its max_duration and an overdue wake stay put: the home
 * page's attention panel names both. */
static void test_home_shows_stuck_runs_and_overdue_wakes(void **state)
{
    (void)state;
    cf_e2e_signal(&E, WORKER, SIGTERM);
    assert_int_equal(cf_e2e_wait_exit(&E, WORKER, DEADLINE_MS), 0);
    cf_e2e_sql_exec(&E, "INSERT INTO chrono_forge_workflows (key, job_class, state, locked_by,"
                        " locked_at, options) VALUES ('ghost-run', 'Ghost', 'running',"
                        " 'gone-worker', now() - interval '1 hour', '{\"max_duration\": 60}')");
    cf_e2e_sql_exec(&E, "INSERT INTO chrono_forge_workflows (key, job_class, state,"
                        " next_wake_at) VALUES ('late-wake', 'Ghost', 'idle',"
                        " now() - interval '1 hour')");
    assert_int_equal(get(DASH, "/"), 200);
    has("past its max_duration: <a href=\"/workflow?class=Ghost&amp;key=ghost-run\">"
        "Ghost/ghost-run</a> running for 1h");
    has(" on gone-worker</li>");
    has("<li class=warn>wake overdue by 1h");
    has("Ghost/late-wake</a>");
    /* its page names the holder in Postgres and the Redis lock's value */
    char lk[300];
    assert_true(cf_key_lock(lk, sizeof lk, E.prefix, "Ghost", "ghost-run") > 0);
    cf_e2e_redis_int((const char *const[]){"SET", lk, "gone-worker/run-<1>", "PX", "600000", NULL});
    assert_int_equal(get(DASH, "/workflow?class=Ghost&key=ghost-run"), 200);
    has("<th>lock holder (Postgres)</th><td>gone-worker since <time>");
    has("<span id=redis-lock>gone-worker/run-&lt;1&gt;</span>, expires in ");
    assert_int_equal(get(DASH, "/workflow?class=Ghost&key=late-wake"), 200);
    has("<th>lock (Redis)</th><td>free</td>");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_page_shows_the_fleet),
        cmocka_unit_test(test_user_values_are_escaped),
        cmocka_unit_test(test_no_action_without_the_token_or_in_read_only_mode),
        cmocka_unit_test(test_actions_need_the_sessions_csrf_token),
        cmocka_unit_test(test_a_short_or_missing_token_file_is_refused),
        cmocka_unit_test(test_a_browser_sees_the_pages_and_requeues),
        cmocka_unit_test(test_dead_letter_worker_and_bulk_actions),
        cmocka_unit_test(test_cancel_and_queue_pause_actions),
        cmocka_unit_test(test_branches_children_and_what_they_wait_for),
        cmocka_unit_test(test_home_shows_stuck_runs_and_overdue_wakes),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_dashboard", tests, group_setup, group_teardown);
}
