// SPDX-License-Identifier: MIT
/* tests/e2e/test_e2e_metrics.c: a worker with --metrics-listen scraped by a real Prometheus
 * (Debian's `prometheus`, every 1 s, listening on 127.0.0.1 with its storage in the test's
 * scratch dir): the target is up, the series exist with their labels, counters move as
 * workflows run; the shipped alert rules and Grafana board evaluate with only metrics we export;
 * /healthz and /readyz answer 200 while healthy, /readyz 503 while Postgres is
 * stopped (the worker stays alive) and 200 again once it is back; `chronoforge health` agrees. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/metrics.h"
#include "engine/class_stats.h"
#include "tests/support/e2e.h"
#include "tests/support/http.h"
#include "tests/support/test.h"

#define DEADLINE_MS 30000

static cf_e2e E;
static int worker_port, worker2_port, prom_port;
static pid_t prom_pid = -1;
static char worker_url[64];

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* http_get GETs path from 127.0.0.1:port; returns the status (-1: no answer), body in out. */
static int http_get(int port, const char *path, char *out, size_t cap)
{
    static char buf[1 << 20];
    int status = cf_test_http(port, "GET", path, NULL, NULL, buf, sizeof buf);
    snprintf(out, cap, "%s", status < 0 ? "" : cf_test_http_body(buf));
    return status;
}

typedef struct probe {
    int port;
    const char *path;
    int want;
} probe;

static bool answers(void *arg)
{
    probe *p = arg;
    char body[4096];
    return http_get(p->port, p->path, body, sizeof body) == p->want;
}

static bool wait_status(int port, const char *path, int want)
{
    probe p = {port, path, want};
    return cf_test_wait_for(answers, &p, DEADLINE_MS);
}

/* query runs a PromQL instant query; returns the parsed result array (owned by *root). */
static json_t *query(const char *promql, json_t **root)
{
    char path[1024] = "/api/v1/query?query=";
    size_t n = strlen(path);
    for (const unsigned char *s = (const unsigned char *)promql; *s && n + 4 < sizeof path; s++)
        n += (size_t)(isalnum(*s) || strchr("_-.", *s)
                          ? snprintf(path + n, sizeof path - n, "%c", *s)
                          : snprintf(path + n, sizeof path - n, "%%%02X", *s));
    static char body[1 << 20];
    *root = NULL;
    if (http_get(prom_port, path, body, sizeof body) != 200)
        return NULL;
    *root = json_loads(body, 0, NULL);
    json_t *result = json_object_get(json_object_get(*root, "data"), "result");
    return json_is_array(result) ? result : NULL;
}

/* scalar: the value of a query returning one series, or -1 when it returns none. */
static double scalar(const char *promql)
{
    json_t *root = NULL;
    json_t *r = query(promql, &root);
    double v = -1;
    if (r && json_array_size(r) == 1)
        v = atof(
            json_string_value(json_array_get(json_object_get(json_array_get(r, 0), "value"), 1)));
    json_decref(root);
    return v;
}

typedef struct at_least {
    const char *promql;
    double min;
} at_least;

static bool reaches(void *arg)
{
    at_least *a = arg;
    return scalar(a->promql) >= a->min;
}

static bool wait_value(const char *promql, double min)
{
    at_least a = {promql, min};
    return cf_test_wait_for(reaches, &a, DEADLINE_MS);
}

static void start_prometheus(void)
{
    const char *bin = getenv("CF_PROMETHEUS") ? getenv("CF_PROMETHEUS") : "/usr/bin/prometheus";
    assert_int_equal(access(bin, X_OK), 0); /* deploy/install-deps.sh installs it */
    char cfg[400], data[400], log[400], listen[64], cfg_arg[420], data_arg[420], listen_arg[90];
    snprintf(cfg, sizeof cfg, "%s/prometheus.yml", E.dir);
    snprintf(data, sizeof data, "%s/prometheus-data", E.dir);
    snprintf(log, sizeof log, "%s/prometheus.log", E.dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: chronoforge\n    static_configs:\n"
            "      - targets: ['127.0.0.1:%d', '127.0.0.1:%d']\n",
            worker_port, worker2_port);
    fclose(f);
    prom_port = free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", prom_port);
    snprintf(cfg_arg, sizeof cfg_arg, "--config.file=%s", cfg);
    snprintf(data_arg, sizeof data_arg, "--storage.tsdb.path=%s", data);
    snprintf(listen_arg, sizeof listen_arg, "--web.listen-address=%s", listen);
    prom_pid = fork();
    assert_true(prom_pid >= 0);
    if (prom_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(bin, bin, cfg_arg, data_arg, listen_arg, "--log.level=warn", (char *)NULL);
        _exit(127);
    }
    assert_true(wait_status(prom_port, "/-/ready", 200));
}

static int setup(void **state)
{
    (void)state;
    cf_e2e_setup(&E);
    worker_port = free_port();
    do
        worker2_port = free_port();
    while (worker2_port == worker_port);
    snprintf(worker_url, sizeof worker_url, "http://127.0.0.1:%d", worker_port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (prom_pid > 0) {
        kill(prom_pid, SIGTERM);
        waitpid(prom_pid, NULL, 0);
    }
    cf_e2e_teardown(&E);
    return 0;
}

/* check_alert_rules_and_dashboard: tests/e2e/check_promql.py runs `promtool check rules` on
 * deploy/prometheus/chronoforge-alerts.yml and evaluates every rule's and every Grafana panel's
 * expression (deploy/grafana/chronoforge-dashboard.json) against the live Prometheus, checking
 * each chronoforge_* name in them is one Prometheus scraped from the workers. */
static void check_alert_rules_and_dashboard(void)
{
    char line[600];
    snprintf(line, sizeof line,
             "/usr/bin/python3 tests/e2e/check_promql.py http://127.0.0.1:%d "
             "deploy/prometheus/chronoforge-alerts.yml deploy/grafana/chronoforge-dashboard.json",
             prom_port);
    assert_int_equal(system(line), 0);
}

/* check_json_log: every line of worker slot's log is one JSON object with ts, level and msg; its
 * worker_start event names its Redis URL with the password hidden (teardown checks the whole
 * log for the test services' passwords, as for every worker). */
static void check_json_log(int slot)
{
    FILE *f = fopen(E.logs[slot], "r");
    assert_non_null(f);
    static char line[8192];
    int lines = 0, starts = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        if (!json_is_object(o))
            fail_msg("not a JSON object (%s): %s", jerr.text, line);
        assert_non_null(json_string_value(json_object_get(o, "ts")));
        assert_non_null(json_string_value(json_object_get(o, "level")));
        assert_non_null(json_string_value(json_object_get(o, "msg")));
        const char *ev = json_string_value(json_object_get(o, "event"));
        if (ev && strcmp(ev, "worker_start") == 0) {
            const char *redis = json_string_value(json_object_get(o, "redis"));
            assert_non_null(redis);
            assert_true(strncmp(redis, "redis://", 8) == 0 ||
                        strncmp(redis, "redis+cluster://", 16) == 0);
            assert_null(strstr(redis, cf_test_env("CF_TEST_REDIS_PASSWORD")));
            starts++;
        }
        json_decref(o);
        lines++;
    }
    fclose(f);
    assert_true(lines > 0);
    assert_int_equal(starts, 1);
}

static void services(const char *cmd)
{
    char line[600];
    snprintf(line, sizeof line, "deploy/services.sh %s '%s' >/dev/null 2>&1", cmd,
             cf_test_env("CF_SERVICES_DIR"));
    assert_int_equal(system(line), 0);
}

#define cli(...)                                                                                   \
    cf_e2e_cli(&E, NULL, 0, (const char *const[]){cf_test_env("CF_BIN"), __VA_ARGS__, NULL})

static void test_prometheus_scrapes_a_worker_and_probes_follow_postgres(void **state)
{
    (void)state;
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", worker_port);
    const char *args[] = {"--metrics-listen", listen, "-c", "4", NULL};
    cf_e2e_worker(&E, 0, args, NULL);
    char listen2[64];
    snprintf(listen2, sizeof listen2, "127.0.0.1:%d", worker2_port);
    const char *args2[] = {"--metrics-listen", listen2, "-c", "2", "--log-format", "json", NULL};
    cf_e2e_worker(&E, 1, args2, NULL);
    assert_true(wait_status(worker_port, "/healthz", 200));
    assert_true(wait_status(worker_port, "/readyz", 200));
    assert_true(wait_status(worker2_port, "/healthz", 200));
    assert_int_equal(cli("health", "--url", worker_url), 0);
    assert_int_equal(cli("health", "--ready", "--url", worker_url), 0);

    start_prometheus();
    assert_true(wait_value("count(up{job=\"chronoforge\"} == 1)", 2)); /* both targets up */
    double before = scalar("sum(chronoforge_delivery_outcomes_total{outcome=\"completed\"})");
    assert_true(before >= 0);
    int n = 5;
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "metrics-%d", i);
        cf_e2e_enqueue(&E, "Exerciser", key, "{\"steps\": 2}");
    }
    /* one that fails its step once (a retry halt, an error class, 2 attempts), then waits */
    cf_e2e_enqueue(&E, "Exerciser", "metrics-flaky",
                   "{\"steps\": 1, \"fail_first\": 1, \"step_max_attempts\": 3, "
                   "\"step_backoff_ms\": 50, \"wait_ms\": 100}");
    n++;
    assert_true(cf_e2e_wait_states(&E, "completed", n, DEADLINE_MS));
    /* counters moved as the workflows ran, as Prometheus saw them */
    assert_true(
        wait_value("sum(chronoforge_delivery_outcomes_total{outcome=\"completed\"})", before + n));
    assert_true(wait_value("sum(chronoforge_deliveries_total)", n));
    assert_true(wait_value("sum(chronoforge_store_write_sets_total)", n));
    /* Each delivery takes at least one Redis round trip (its fetch). */
    assert_true(wait_value("sum(chronoforge_redis_round_trips_total)", n));
    assert_true(wait_value(
        "sum(chronoforge_workflow_passes_total{class=\"Exerciser\",outcome=\"completed\"})", n));
    assert_true(wait_value(
        "sum(chronoforge_step_duration_seconds_count{class=\"Exerciser\",outcome=\"ok\"})",
        2 * n - 1)); /* two steps each, one for the flaky one */
    assert_true(scalar("sum(chronoforge_step_duration_seconds_bucket{class=\"Exerciser\","
                       "outcome=\"ok\",le=\"+Inf\"})") >= 2 * n - 1);
    /* workflows started and finished, attempts, halts and errors by their labels */
    assert_true(wait_value("sum(chronoforge_workflows_started_total{class=\"Exerciser\"})", n));
    assert_true(wait_value("sum(chronoforge_workflows_finished_total{class=\"Exerciser\","
                           "outcome=\"completed\"})",
                           n));
    assert_true(scalar("count(chronoforge_workflows_finished_total)") ==
                2 * (CF_WF_EVENT_COUNT - 1));
    assert_true(wait_value("sum(chronoforge_step_attempts_count{class=\"Exerciser\"})", 2 * n - 1));
    assert_true(wait_value("sum(chronoforge_step_attempts_bucket{class=\"Exerciser\",le=\"2\"})"
                           " - sum(chronoforge_step_attempts_bucket{class=\"Exerciser\",le=\"1\"})",
                           1)); /* the flaky step's 2 attempts */
    assert_true(wait_value("sum(chronoforge_halts_total{reason=\"retry\"})", 1));
    assert_true(wait_value("sum(chronoforge_halts_total{reason=\"wait\"})", 1));
    assert_true(scalar("count(chronoforge_halts_total)") == 2 * CF_HALT_REASON_COUNT);
    assert_true(
        wait_value("sum(chronoforge_workflow_errors_total{error_class=\"Exerciser.Flaky\"})", 1));
    assert_true(wait_value("sum(chronoforge_enqueue_to_start_seconds_count)", n));
    assert_true(wait_value("sum(chronoforge_wake_lateness_seconds_count)", 1)); /* retry, wait */
    assert_true(wait_value("sum(chronoforge_postgres_commit_seconds_count)", 1));
    assert_true(wait_value("sum(chronoforge_postgres_commit_batch_size_sum)", n));
    assert_true(wait_value("sum(chronoforge_redis_round_trip_seconds_count)", n));
    assert_true(scalar("count(chronoforge_in_flight_envelopes)") == 2);
    assert_true(scalar("count(chronoforge_dead_letters_total)") == 2);
    assert_true(scalar("count(chronoforge_redis_reconnects_total)") == 2);
    assert_true(scalar("count(chronoforge_healing_republished_total)") == 2);
    assert_true(wait_value("sum(chronoforge_healing_passes_total)", 1));
    json_t *hroot = NULL; /* a dashboard's quantile query evaluates */
    assert_non_null(query("histogram_quantile(0.9, sum by (le) "
                          "(rate(chronoforge_step_duration_seconds_bucket[1m])))",
                          &hroot));
    json_decref(hroot);
    /* the series exist with their labels */
    assert_true(scalar("count(chronoforge_executors{state=\"busy\"})") == 2);
    assert_true(wait_value("sum(chronoforge_executors{state=\"idle\"})", 6));
    assert_true(scalar("count(chronoforge_errors_total{dependency=\"store\"})") == 2);
    assert_true(scalar("count(chronoforge_loop_tick_age_seconds{loop=\"housekeeping\"})") == 2);
    assert_true(scalar("count(chronoforge_loop_tick_age_seconds{loop=\"heartbeat\"})") == 2);
    assert_true(scalar("count(chronoforge_loop_tick_age_seconds{loop=\"fetch\"})") == 2);
    assert_true(scalar("sum(chronoforge_alive)") == 2);
    /* one series per outcome per worker, no more: a bounded label set */
    assert_true(scalar("count(chronoforge_delivery_outcomes_total)") == 18); /* 9 outcomes x 2 */
    /* two workers, one exporter of the fleet gauges (the healing lease's holder) */
    assert_true(wait_value("count(chronoforge_queue_ready{queue=\"default\"})", 1));
    assert_true(wait_value("count(chronoforge_queue_due_not_taken{queue=\"default\"})", 1));
    /* a queue no worker serves: its ready envelope ages, its scheduled one falls due untaken */
    assert_int_equal(cli("enqueue", "Exerciser", "unserved-1", "-q", "unserved"), 0);
    assert_int_equal(cli("enqueue", "Exerciser", "unserved-2", "-q", "unserved", "--in", "1s"), 0);
    assert_true(
        wait_value("max(chronoforge_queue_oldest_ready_age_seconds{queue=\"unserved\"})", 2));
    assert_true(wait_value("max(chronoforge_queue_due_not_taken{queue=\"unserved\"})", 1));
    assert_true(scalar("max(chronoforge_queue_ready{queue=\"unserved\"})") == 1);
    assert_true(wait_value("max(chronoforge_fleet_workers{state=\"live\"})", 2));
    assert_true(scalar("count(chronoforge_fleet_exporter)") == 2);
    /* one exporter at a time in steady state; while the healing lease changes hands, the two
     * targets' scrapes can overlap for up to one scrape interval (docs/metrics.md), so the
     * fleet gauges are aggregated with max, never sum, in the rules */
    assert_true(wait_value("sum(chronoforge_fleet_exporter)", 1));
    /* a paused queue shows in the fleet's paused gauge */
    assert_true(scalar("max(chronoforge_queue_paused{queue=\"default\"})") == 0);
    assert_int_equal(cli("queue", "pause", "default"), 0);
    assert_true(wait_value("max(chronoforge_queue_paused{queue=\"default\"})", 1));
    assert_int_equal(cli("queue", "resume", "default"), 0);

    check_alert_rules_and_dashboard();
    check_json_log(1);

    /* Postgres stops: not ready, still alive; back: ready again */
    services("stop-pg");
    assert_true(wait_status(worker_port, "/readyz", 503));
    assert_int_equal(cli("health", "--ready", "--url", worker_url), 1);
    char body[2048];
    assert_int_equal(http_get(worker_port, "/readyz", body, sizeof body), 503);
    assert_non_null(strstr(body, "postgres"));
    assert_int_equal(http_get(worker_port, "/healthz", body, sizeof body), 200);
    assert_int_equal(cli("health", "--url", worker_url), 0);
    services("start-pg");
    assert_true(wait_status(worker_port, "/readyz", 200));
    assert_int_equal(cli("health", "--ready", "--url", worker_url), 0);
}

static void test_health_fails_when_nothing_listens(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", free_port());
    assert_int_equal(cli("health", "--url", url), 1);
    assert_int_equal(cli("health", "--url", "127.0.0.1:9"), 1); /* not http:// */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_scrapes_a_worker_and_probes_follow_postgres),
        cmocka_unit_test(test_health_fails_when_nothing_listens),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("e2e_metrics", tests, setup, teardown);
}
