// SPDX-License-Identifier: MIT
/* bench/bench_dashboard.c: the dashboard's reads on a large table. Fills chrono_forge_workflows
 * with N workflows (90% completed, then idle, running, stalled and failed ones with errors; 20
 * classes) when it holds fewer, analyses it, then for representative filter combinations of the
 * workflows page: whether the generic plan reads a table sequentially or by bitmap (EXPLAIN),
 * and the time of a first page and of the page after (median of 5, through cf_dash_list_*);
 * and the home page's counts and throughput.
 *   bench_dashboard DSN [N]     (N default 10000000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "store/dashboard.h"
#include "store/migrate.h"
#include "store/store.h"

static PGconn *admin;
static cf_store *store;

static int64_t scalar(const char *sql)
{
    PGresult *r = PQexec(admin, sql);
    int64_t v = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

static void exec(const char *sql)
{
    PGresult *r = PQexec(admin, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(admin));
        exit(1);
    }
    PQclear(r);
}

static void fill(int64_t n)
{
    int64_t have = scalar("SELECT count(*) FROM chrono_forge_workflows");
    if (have >= n)
        return;
    char sql[2048];
    int64_t t0 = cf_clock_mono_ms();
    for (int64_t from = have + 1; from <= n; from += 1000000) {
        int64_t to = from + 999999 < n ? from + 999999 : n;
        snprintf(sql, sizeof sql,
                 "INSERT INTO chrono_forge_workflows (key, job_class, state, completed_at,"
                 " created_at, next_wake_at, retry_counts)"
                 " SELECT 'k-' || g, 'Class' || (g %% 20),"
                 "  CASE WHEN g %% 100 < 90 THEN 'completed' WHEN g %% 100 < 95 THEN 'idle'"
                 "       WHEN g %% 100 < 96 THEN 'running' WHEN g %% 100 < 99 THEN 'stalled'"
                 "       ELSE 'failed' END,"
                 "  CASE WHEN g %% 100 < 90 THEN now() - (%lld - g) * interval '10 ms' END,"
                 "  now() - (%lld - g) * interval '10 ms',"
                 "  CASE WHEN g %% 100 BETWEEN 90 AND 93 THEN now() + interval '1 hour' END,"
                 "  CASE WHEN g %% 100 = 93 THEN '{\"$workflow\": 1}'::jsonb ELSE '{}' END"
                 " FROM generate_series(%lld, %lld) g",
                 (long long)n, (long long)n, (long long)from, (long long)to);
        exec(sql);
    }
    exec("INSERT INTO chrono_forge_error_logs (workflow_id, attempt, error_class, error_message)"
         " SELECT id, 1, CASE WHEN id % 7 = 0 THEN 'Net.Timeout' ELSE 'Db' END, 'boom'"
         " FROM chrono_forge_workflows w WHERE state IN ('stalled', 'failed')"
         " AND NOT EXISTS (SELECT 1 FROM chrono_forge_error_logs x WHERE x.workflow_id = w.id)");
    exec("VACUUM ANALYZE chrono_forge_workflows");
    exec("VACUUM ANALYZE chrono_forge_error_logs");
    printf("filled %lld workflows in %.1f s\n", (long long)n,
           (double)(cf_clock_mono_ms() - t0) / 1000.0);
}

static const char *plan_verdict(const cf_dash_filter *f)
{
    static char verdict[64];
    exec("SET plan_cache_mode = force_generic_plan");
    exec("DEALLOCATE ALL");
    PGresult *r = PQprepare(admin, "q", cf_dash_list_sql(f), 10, NULL);
    PQclear(r);
    char q[600];
    snprintf(q, sizeof q,
             "EXPLAIN EXECUTE q(%s%s%s, 9223372036854775807, %s%s%s, %s%s%s, NULL,"
             " NULL, %s%s%s, %s%s%s, 50, 1000)",
             f->state ? "'" : "", f->state ? f->state : "NULL", f->state ? "'" : "",
             f->wf_class ? "'" : "", f->wf_class ? f->wf_class : "NULL", f->wf_class ? "'" : "",
             f->key_prefix ? "'" : "", f->key_prefix ? f->key_prefix : "NULL",
             f->key_prefix ? "'" : "", f->error_class ? "'" : "",
             f->error_class ? f->error_class : "NULL", f->error_class ? "'" : "",
             f->waits ? "'" : "", f->waits ? f->waits : "NULL", f->waits ? "'" : "");
    r = PQexec(admin, q);
    bool seq = false, bitmap = false;
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        const char *l = PQgetvalue(r, i, 0);
        seq |= strstr(l, "Seq Scan on chrono_forge_workflows") != NULL;
        bitmap |= strstr(l, "Bitmap Heap Scan on chrono_forge_workflows") != NULL;
    }
    snprintf(verdict, sizeof verdict, "%s",
             PQresultStatus(r) != PGRES_TUPLES_OK ? "explain failed"
             : seq                                ? "SEQ SCAN"
             : bitmap                             ? "bitmap"
                                                  : "index, ordered");
    PQclear(r);
    return verdict;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* page_ms: median time of the first page (and, in *next_ms, of the page after it). */
static double page_ms(cf_dash_filter f, double *next_ms, size_t *rows)
{
    double t[5], t2[5];
    for (int i = 0; i < 5; i++) {
        cf_dash_list l = {0};
        int64_t a = cf_clock_mono_us();
        if (cf_dash_list_workflows(store, &f, &l) != CF_OK)
            return -1;
        t[i] = (double)(cf_clock_mono_us() - a) / 1000.0;
        *rows = l.n;
        cf_dash_filter g = f;
        g.before_id = l.next_before_id;
        cf_dash_list_deinit(&l);
        t2[i] = 0;
        if (g.before_id) {
            a = cf_clock_mono_us();
            if (cf_dash_list_workflows(store, &g, &l) == CF_OK)
                t2[i] = (double)(cf_clock_mono_us() - a) / 1000.0;
            cf_dash_list_deinit(&l);
        }
    }
    qsort(t, 5, sizeof t[0], cmp);
    qsort(t2, 5, sizeof t2[0], cmp);
    *next_ms = t2[2];
    return t[2];
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_dashboard DSN [N]\n");
        return 2;
    }
    int64_t n = argc > 2 ? strtoll(argv[2], NULL, 10) : 10000000;
    cf_error err;
    if (cf_store_migrate(argv[1], &err) != CF_OK) {
        fprintf(stderr, "migrate: %s\n", err.msg);
        return 1;
    }
    admin = PQconnectdb(argv[1]);
    if (PQstatus(admin) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(admin));
        return 1;
    }
    fill(n);
    cf_store_config cfg = {.dsn = argv[1], .max_connections = 2};
    if (cf_store_open(&cfg, &store, &err) != CF_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    static const struct {
        const char *name;
        cf_dash_filter f;
    } cases[] = {
        {"(none)", {0}},
        {"state=completed", {.state = "completed"}},
        {"state=stalled", {.state = "stalled"}},
        {"state=failed error=Net", {.state = "failed", .error_class = "Net"}},
        {"class=Class7", {.wf_class = "Class7"}},
        {"class=Class16 state=stalled", {.wf_class = "Class16", .state = "stalled"}},
        {"waits=timer", {.waits = "timer"}},
        {"state=idle waits=retry", {.state = "idle", .waits = "retry"}},
        {"key=k-99999 (rare)", {.key_prefix = "k-99999"}},
        {"error=Net (any state)", {.error_class = "Net"}},
    };
    printf("%-28s %-16s %6s %12s %12s\n", "filter", "plan", "rows", "page 1 ms", "page 2 ms");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double next = 0;
        size_t rows = 0;
        double ms = page_ms(cases[i].f, &next, &rows);
        printf("%-28s %-16s %6zu %12.2f %12.2f\n", cases[i].name, plan_verdict(&cases[i].f), rows,
               ms, next);
    }
    cf_dash_counts_out c;
    int64_t pm[60];
    int64_t a = cf_clock_mono_us();
    cf_status st = cf_dash_counts(store, 100000, 100000, &c);
    printf("home counts: %.1f ms (%s, completed %s%lld, by queue %s)\n",
           (double)(cf_clock_mono_us() - a) / 1000.0, cf_status_str(st),
           c.completed_exact ? "" : "~", (long long)c.by_state[CF_WF_COMPLETED],
           c.queues_counted ? "counted" : "skipped");
    cf_dash_counts_deinit(&c);
    a = cf_clock_mono_us();
    st = cf_dash_throughput(store, cf_clock_unix_ms(), 50000, pm);
    printf("home throughput: %.1f ms (%s)\n", (double)(cf_clock_mono_us() - a) / 1000.0,
           cf_status_str(st));
    cf_store_close(store);
    PQfinish(admin);
    return 0;
}
