// SPDX-License-Identifier: MIT
/* tests/integration/test_store_migrate.c: `migrate` creates the schema once, is idempotent,
 * survives 8 concurrent runs (separate processes), refuses a foreign table of the same name (a
 * Ruby ChronoForge table whose state is an integer), and upgrades a populated version 1
 * database to version 2 in place (docs/indexes.md): rows kept, log FKs replaced by delete
 * triggers, the documented indexes, list/requeue plans on the partial index, and the version a
 * version 1 binary reads still 1 (a revision). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/migrate.h"
#include "store/query.h"
#include "store/sql.h"
#include "store/store.h"
#include "tests/support/test.h"

static int64_t scalar(const char *dsn, const char *sql_text)
{
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, sql_text);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql_text, PQerrorMessage(c));
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static void test_migrate_concurrent_once(void **state)
{
    (void)state;
    char dsn[512];
    cf_test_fresh_database(dsn, sizeof dsn);
    enum { N = 8 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            cf_error err = {0};
            int applied = 0;
            cf_status st = cf_store_migrate_counted(dsn, &applied, &err);
            if (st != CF_OK)
                fprintf(stderr, "migrate: %s\n", err.msg);
            _exit(st == CF_OK ? 10 + applied : 1);
        }
    }
    int did = 0;
    for (int i = 0; i < N; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 1);
        did += WEXITSTATUS(status) - 10;
    }
    /* each migration was applied by exactly one process */
    assert_int_equal(did, CF_SCHEMA_VERSION);
    assert_int_equal(scalar(dsn, "SELECT count(DISTINCT v) FROM ("
                                 " SELECT version AS v FROM chronoforge_schema_migrations"
                                 " UNION ALL SELECT revision FROM chronoforge_schema_revisions"
                                 " UNION ALL SELECT version FROM chronoforge_schema_changes) x"),
                     CF_SCHEMA_VERSION);
    /* from version 3 on every migration says which binaries still run on it */
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chronoforge_schema_changes"),
                     CF_SCHEMA_VERSION - 2);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM pg_class WHERE relname LIKE "
                                 "'chrono_forge_%' AND relkind = 'r'"),
                     8);
    cf_error err = {0};
    int applied = -1;
    assert_int_equal(cf_store_migrate_counted(dsn, &applied, &err), CF_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(cf_store_schema_version(dsn, &err), CF_SCHEMA_VERSION);
}

/* text_of returns the first column of the first row of sql_text, in buf. */
static const char *text_of(const char *dsn, const char *sql_text, char *buf, size_t cap)
{
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, sql_text);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql_text, PQerrorMessage(c));
    snprintf(buf, cap, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return buf;
}

static void exec_on(PGconn *c, const char *sql_text)
{
    PGresult *r = PQexec(c, sql_text);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql_text, PQerrorMessage(c));
    PQclear(r);
}

static void exec_sql(const char *dsn, const char *sql_text)
{
    PGconn *c = PQconnectdb(dsn);
    exec_on(c, sql_text);
    PQfinish(c);
}

/* The generic plan (the store's plan_cache_mode) of a prepared statement reads `index`. */
static void assert_generic_plan_uses(const char *dsn, const char *sql_text, const char *execute,
                                     const char *index)
{
    PGconn *c = PQconnectdb(dsn);
    exec_on(c, "SET plan_cache_mode = force_generic_plan");
    PGresult *r = PQprepare(c, "p", sql_text, 0, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    char sql[200];
    snprintf(sql, sizeof sql, "EXPLAIN EXECUTE %s", execute);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char plan[8192] = "";
    for (int i = 0; i < PQntuples(r); i++) {
        strncat(plan, PQgetvalue(r, i, 0), sizeof plan - strlen(plan) - 2);
        strcat(plan, "\n");
    }
    PQclear(r);
    PQfinish(c);
    if (!strstr(plan, index) || strstr(plan, "Seq Scan"))
        fail_msg("%s does not read %s:\n%s", execute, index, plan);
}

static void test_migrate_upgrades_a_populated_v1_database(void **state)
{
    (void)state;
    char dsn[512], buf[1024];
    cf_test_fresh_database(dsn, sizeof dsn);
    cf_error err = {0};
    int applied = 0;
    assert_int_equal(cf_store_migrate_to(dsn, 1, &applied, &err), CF_OK);
    assert_int_equal(applied, 1);
    assert_int_equal(cf_store_schema_version(dsn, &err), 1);
    /* 2,000 workflows (10% failed, 10% idle, 10% running, the rest completed), 3 steps each,
     * one error row per failed workflow */
    exec_sql(dsn, "INSERT INTO chrono_forge_workflows (key, job_class, state, completed_at)"
                  " SELECT 'k' || i, CASE i % 2 WHEN 0 THEN 'A' ELSE 'B' END,"
                  " CASE i % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'idle' WHEN 2 THEN 'running'"
                  " ELSE 'completed' END, CASE WHEN i % 10 > 2 THEN now() END"
                  " FROM generate_series(1, 2000) AS i");
    exec_sql(dsn, "INSERT INTO chrono_forge_execution_logs (workflow_id, step_name, state)"
                  " SELECT w.id, 'durably_execute$s' || j, 'completed'"
                  " FROM chrono_forge_workflows w, generate_series(1, 3) AS j");
    exec_sql(dsn, "INSERT INTO chrono_forge_error_logs (workflow_id, attempt, error_class)"
                  " SELECT id, 1, 'Boom' FROM chrono_forge_workflows WHERE state = 'failed'");
    /* The plan checks below assume the error log has no statistics (as right after an
     * upgrade): an autoanalyze during a slow run made its 200 rows a seq scan. */
    exec_sql(dsn, "ALTER TABLE chrono_forge_error_logs SET (autovacuum_enabled = false)");
    const char *fks = "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
                      " AND confrelid = 'chrono_forge_workflows'::regclass";
    assert_int_equal(scalar(dsn, fks), 2);

    /* four processes upgrade it at once: one applies version 2 */
    enum { N = 4 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            cf_error e = {0};
            int n = 0;
            cf_status st = cf_store_migrate_to(dsn, 2, &n, &e); /* this test is version 2's */
            if (st != CF_OK)
                fprintf(stderr, "migrate: %s\n", e.msg);
            _exit(st == CF_OK ? 10 + n : 1);
        }
    }
    int did = 0;
    for (int i = 0; i < N; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 1);
        did += WEXITSTATUS(status) - 10;
    }
    assert_int_equal(did, 1); /* version 2, once */
    assert_int_equal(cf_store_schema_version(dsn, &err), 2);
    /* what a version 1 binary compares with its own version: still 1, so a fleet keeps
     * starting its old workers while it rolls onto the new binary */
    assert_int_equal(scalar(dsn, "SELECT max(version) FROM chronoforge_schema_migrations"), 1);
    assert_int_equal(scalar(dsn, "SELECT max(revision) FROM chronoforge_schema_revisions"), 2);
    assert_int_equal(cf_store_migrate_to(dsn, 2, &applied, &err), CF_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(cf_store_migrate_counted(dsn, &applied, &err), CF_OK);
    assert_int_equal(applied, CF_SCHEMA_VERSION - 2); /* the later migrations */

    /* the rows are all there; the FKs are gone; the indexes are docs/indexes.md's */
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_workflows"), 2000);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_execution_logs"), 6000);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_error_logs"), 200);
    assert_int_equal(scalar(dsn, fks), 0);
    assert_string_equal(text_of(dsn,
                                "SELECT string_agg(indexname, ' ' ORDER BY indexname)"
                                " FROM pg_indexes WHERE tablename = 'chrono_forge_workflows'",
                                buf, sizeof buf),
                        "chrono_forge_workflows_class_id chrono_forge_workflows_created_brin "
                        "chrono_forge_workflows_key_class chrono_forge_workflows_not_completed "
                        "chrono_forge_workflows_parent chrono_forge_workflows_pkey "
                        "chrono_forge_workflows_wake");
    assert_string_equal(text_of(dsn,
                                "SELECT string_agg(indexname, ' ' ORDER BY indexname)"
                                " FROM pg_indexes WHERE tablename IN"
                                " ('chrono_forge_execution_logs', 'chrono_forge_error_logs')",
                                buf, sizeof buf),
                        "chrono_forge_error_logs_pkey chrono_forge_error_logs_wf "
                        "chrono_forge_execution_logs_pkey chrono_forge_execution_logs_wf_step");
    assert_string_equal(text_of(dsn,
                                "SELECT array_to_string(reloptions, ',') FROM pg_class"
                                " WHERE relname = 'chrono_forge_workflows'",
                                buf, sizeof buf),
                        "fillfactor=85");
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_workflows"
                                 " WHERE state <> 'completed'"),
                     600);

    /* listing a state and the bulk requeue's and bulk cancel's selections read the partial
     * index, with the store's generic plans, over a table of mostly completed rows (the
     * store's statements are the newest schema's) */
    assert_int_equal(cf_store_migrate(dsn, &err), CF_OK);
    exec_sql(dsn, "INSERT INTO chrono_forge_workflows (key, job_class, state, completed_at)"
                  " SELECT 'bulk' || i, 'A', 'completed', now()"
                  " FROM generate_series(1, 100000) AS i");
    exec_sql(dsn, "ANALYZE chrono_forge_workflows");
    assert_generic_plan_uses(dsn, cf_sql_stmts[CF_SQL_LIST_STATE].sql, "p('failed', 0, 50)",
                             "chrono_forge_workflows_not_completed");
    assert_generic_plan_uses(dsn, cf_sql_stmts[CF_SQL_RESUMABLE].sql,
                             "p('failed', NULL, NULL, 0, 0, 50)",
                             "chrono_forge_workflows_not_completed");
    assert_generic_plan_uses(dsn, cf_sql_stmts[CF_SQL_CANCELLABLE].sql, "p('idle', NULL, 0, 0, 50)",
                             "chrono_forge_workflows_not_completed");
    exec_sql(dsn, "DELETE FROM chrono_forge_workflows WHERE key LIKE 'bulk%'");

    /* deleting workflows deletes their logs and signals in the same statement; the others keep
     * theirs */
    exec_sql(dsn, "INSERT INTO chrono_forge_signals (workflow_id, name, signal_id, sender)"
                  " SELECT id, 'go', 's-' || id, 't' FROM chrono_forge_workflows");
    int64_t signals_kept = scalar(dsn, "SELECT count(*) FROM chrono_forge_workflows"
                                       " WHERE state <> 'failed'");
    exec_sql(dsn, "DELETE FROM chrono_forge_workflows WHERE state = 'failed'");
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_signals"), signals_kept);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_execution_logs"), 5400);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_error_logs"), 0);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_execution_logs l"
                                 " WHERE NOT EXISTS (SELECT 1 FROM chrono_forge_workflows w"
                                 " WHERE w.id = l.workflow_id)"),
                     0);
    /* and so does a rolled-back delete nothing: the logs come back with their workflows */
    PGconn *c = PQconnectdb(dsn);
    exec_on(c, "BEGIN");
    exec_on(c, "DELETE FROM chrono_forge_workflows WHERE job_class = 'A'");
    exec_on(c, "ROLLBACK");
    PQfinish(c);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_execution_logs"), 5400);
    exec_sql(dsn, "TRUNCATE chrono_forge_workflows");
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_execution_logs"), 0);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_signals"), 0);
}

/* The store's sessions never JIT-compile (store/pg.c): with the database's JIT threshold at 0,
 * every statement planned by a session with JIT on is compiled (the control below), but none
 * of the store's. Before statistics exist, generic plans over a million rows are estimated
 * above the default threshold and were compiled at every execution (docs/indexes.md). */
#define JIT_OF                                                                                     \
    "SELECT coalesce(sum(s.jit_functions), 0) FROM pg_stat_statements s"                           \
    " JOIN pg_database d ON d.oid = s.dbid"                                                        \
    " WHERE d.datname = current_database() AND s.query LIKE '%%%s%%'"

/* Version 4 (cancellation) on a populated version 2 database: the rows stay as they were, the
 * new states are accepted, anything else is still refused, the cancel columns start NULL. */
static void test_migrate_4_adds_the_cancel_states_and_columns(void **state)
{
    (void)state;
    char dsn[512];
    cf_test_fresh_database(dsn, sizeof dsn);
    cf_error err = {0};
    int applied = 0;
    assert_int_equal(cf_store_migrate_to(dsn, 2, &applied, &err), CF_OK);
    exec_sql(dsn, "INSERT INTO chrono_forge_workflows (key, job_class, state)"
                  " SELECT 'k' || i, 'A', CASE i % 2 WHEN 0 THEN 'idle' ELSE 'stalled' END"
                  " FROM generate_series(1, 100) AS i");
    assert_int_equal(cf_store_migrate_to(dsn, 4, &applied, &err), CF_OK);
    assert_int_equal(applied, 2); /* 3 (schedules) and 4 */
    assert_int_equal(cf_store_schema_version(dsn, &err), 4);
    /* binaries before version 4 would ignore a cancel request: they refuse this schema */
    assert_int_equal(scalar(dsn, "SELECT runs_from FROM chronoforge_schema_changes WHERE version"
                                 " = 4"),
                     4);
    assert_int_equal(scalar(dsn, "SELECT max(version) FROM chronoforge_schema_migrations"), 4);
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_workflows WHERE state = 'idle'"
                                 " AND cancel_requested_at IS NULL AND cancel_reason IS NULL"
                                 " AND cancel_requested_by IS NULL"),
                     50);
    exec_sql(dsn, "UPDATE chrono_forge_workflows SET state = 'cancelling' WHERE key = 'k1'");
    exec_sql(dsn, "UPDATE chrono_forge_workflows SET state = 'cancelled' WHERE key = 'k2'");
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_workflows"
                                 " WHERE state IN ('cancelling', 'cancelled')"),
                     2);
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, "UPDATE chrono_forge_workflows SET state = 'paused' WHERE key = 'k3'");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR); /* the CHECK still refuses others */
    PQclear(r);
    PQfinish(c);
}

static void test_store_sessions_never_jit(void **state)
{
    (void)state;
    char dsn[512];
    cf_test_fresh_database(dsn, sizeof dsn);
    cf_error err = {0};
    assert_int_equal(cf_store_migrate(dsn, &err), CF_OK);
    if (scalar(dsn, "SELECT count(*) FROM pg_settings WHERE name = 'shared_preload_libraries'"
                    " AND setting LIKE '%pg_stat_statements%'") == 0 ||
        scalar(dsn, "SELECT pg_jit_available()::int") == 0)
        skip(); /* nothing to observe JIT with on this server */
    exec_sql(dsn, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    exec_sql(dsn, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET jit = on',"
                  " current_database()); EXECUTE format('ALTER DATABASE %I SET jit_above_cost"
                  " = 0', current_database()); END $$");
    exec_sql(dsn, "INSERT INTO chrono_forge_workflows (key, job_class, state)"
                  " SELECT 'k' || i, 'A', 'failed' FROM generate_series(1, 10) AS i");
    /* control: a plain session compiles its statement */
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM chrono_forge_workflows WHERE key <> 'x'"),
                     10);
    char q[512];
    snprintf(q, sizeof q, JIT_OF, "key <> ");
    assert_true(scalar(dsn, q) > 0);

    cf_store *s = NULL;
    cf_store_config cfg = {.dsn = dsn};
    assert_int_equal(cf_store_open(&cfg, &s, &err), CF_OK);
    cf_wf_list_filter f = {.state = "failed"};
    cf_wf_list l;
    assert_int_equal(cf_store_list(s, &f, &l), CF_OK);
    assert_int_equal((int)l.n, 10);
    cf_wf_list_deinit(&l);
    cf_store_close(s);
    snprintf(q, sizeof q, JIT_OF, "WHERE w.state = $1");
    assert_int_equal(scalar(dsn, q), 0);
}

static void test_migrate_to_an_unknown_version_is_refused(void **state)
{
    (void)state;
    cf_error err = {0};
    int applied = -1;
    assert_int_equal(cf_store_migrate_to("dbname=none", CF_SCHEMA_VERSION + 1, &applied, &err),
                     CF_ERR_INVALID);
    assert_int_equal(applied, 0);
    assert_non_null(strstr(err.msg, "no schema version"));
}

/* A store, the readiness probe's check and migrate agree on which schemas this binary runs on:
 * its own; a newer one whose newer migrations all say binaries of this version run on them;
 * never an older one, a newer one that needs a newer binary, or one newer than this binary in
 * the first table only (what binaries of versions 1 and 2 read). */
static void test_binaries_run_on_newer_schemas_that_say_so(void **state)
{
    (void)state;
    char dsn[512];
    cf_test_fresh_database(dsn, sizeof dsn);
    cf_error err = {0};
    int v = 0;
    assert_int_equal(cf_store_migrate_to(dsn, 1, NULL, &err), CF_OK);
    assert_int_equal(cf_store_schema_check(dsn, &v, &err), CF_ERR_STATE);
    assert_int_equal(v, 1);
    assert_non_null(strstr(err.msg, "run `chronoforge migrate`"));
    assert_int_equal(cf_store_migrate(dsn, &err), CF_OK);
    assert_int_equal(cf_store_schema_check(dsn, &v, &err), CF_OK);
    assert_int_equal(v, CF_SCHEMA_VERSION);
    /* a newer release's change that binaries of this version run on */
    char q[512];
    exec_sql(dsn, "CREATE TABLE IF NOT EXISTS chronoforge_schema_changes (version int PRIMARY KEY,"
                  " name text NOT NULL, runs_from int NOT NULL, applied_at timestamptz NOT NULL"
                  " DEFAULT now());"
                  "COMMENT ON TABLE chronoforge_schema_changes IS 'chronoforge schema changes'");
    snprintf(q, sizeof q,
             "INSERT INTO chronoforge_schema_changes (version, name, runs_from) VALUES (%d, "
             "'newer', %d)",
             CF_SCHEMA_VERSION + 1, CF_SCHEMA_VERSION);
    exec_sql(dsn, q);
    assert_int_equal(cf_store_schema_check(dsn, &v, &err), CF_OK);
    assert_int_equal(v, CF_SCHEMA_VERSION + 1);
    cf_store *s = NULL;
    cf_store_config cfg = {.dsn = dsn};
    assert_int_equal(cf_store_open(&cfg, &s, &err), CF_OK);
    cf_store_close(s);
    int applied = -1;
    assert_int_equal(cf_store_migrate_counted(dsn, &applied, &err), CF_OK);
    assert_int_equal(applied, 0);
    /* the same change needing binaries newer than this one */
    exec_sql(dsn, "UPDATE chronoforge_schema_changes SET runs_from = runs_from + 1");
    assert_int_equal(cf_store_schema_check(dsn, &v, &err), CF_ERR_STATE);
    assert_non_null(strstr(err.msg, "upgrade it"));
    assert_int_equal(cf_store_open(&cfg, &s, &err), CF_ERR_STATE);
    assert_null(s);
    assert_int_equal(cf_store_migrate(dsn, &err), CF_ERR_STATE);
    /* a newer version in the first table without a change row: older binaries refuse it */
    exec_sql(dsn, "DELETE FROM chronoforge_schema_changes");
    snprintf(q, sizeof q,
             "INSERT INTO chronoforge_schema_migrations (version, name) VALUES (%d, 'newer')",
             CF_SCHEMA_VERSION + 1);
    exec_sql(dsn, q);
    assert_int_equal(cf_store_schema_check(dsn, &v, &err), CF_ERR_STATE);
    assert_int_equal(v, CF_SCHEMA_VERSION + 1);
}

static void *commit_later(void *arg)
{
    sleep(7); /* longer than the migration's lock_timeout (5 s): it gives up at least once */
    PGresult *r = PQexec(arg, "COMMIT");
    PQclear(r);
    return NULL;
}

/* Migrating while the fleet runs (the documented order): a migration whose DDL cannot get its
 * lock in time (a long transaction, or a deadlock with a worker's statement) gives up, rolls
 * back and is tried again, instead of failing or queueing the fleet behind it. */
static void test_migrate_waits_out_a_transaction_holding_its_table(void **state)
{
    (void)state;
    char dsn[512];
    cf_test_fresh_database(dsn, sizeof dsn);
    cf_error err = {0};
    assert_int_equal(cf_store_migrate_to(dsn, 3, NULL, &err), CF_OK);
    PGconn *holder = PQconnectdb(dsn);
    PQclear(PQexec(holder, "BEGIN"));
    PGresult *r = PQexec(holder, "SELECT count(*) FROM chrono_forge_workflows");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK); /* holds ACCESS SHARE until COMMIT */
    PQclear(r);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, commit_later, holder), 0);
    int applied = 0;
    cf_status st = cf_store_migrate_counted(dsn, &applied, &err);
    pthread_join(t, NULL);
    PQfinish(holder);
    if (st != CF_OK)
        fail_msg("migrate: %s", err.msg);
    assert_int_equal(applied, CF_SCHEMA_VERSION - 3);
    assert_int_equal(cf_store_schema_version(dsn, &err), CF_SCHEMA_VERSION);
}

static void test_migrate_refuses_foreign_table(void **state)
{
    (void)state;
    char dsn[512];
    cf_test_fresh_database(dsn, sizeof dsn);
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, "CREATE TABLE chrono_forge_workflows (id bigserial PRIMARY KEY, key "
                            "varchar NOT NULL, job_class varchar NOT NULL, state integer NOT NULL "
                            "DEFAULT 0)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    cf_error err = {0};
    assert_int_equal(cf_store_migrate(dsn, &err), CF_ERR_STATE);
    assert_non_null(strstr(err.msg, "chrono_forge_workflows"));
    assert_non_null(strstr(err.msg, "Ruby ChronoForge"));
    assert_int_equal(scalar(dsn, "SELECT count(*) FROM pg_class WHERE relname = "
                                 "'chronoforge_schema_migrations'"),
                     0);
    /* A store refuses to open on it too. */
    cf_store *s = NULL;
    cf_store_config cfg = {.dsn = dsn};
    assert_int_equal(cf_store_open(&cfg, &s, &err), CF_ERR_STATE);
    assert_null(s);
}

static void test_migrate_bad_dsn_and_no_password_in_errors(void **state)
{
    (void)state;
    cf_error err = {0};
    assert_int_equal(cf_store_migrate("host=127.0.0.1 port=1 user=x password=hunter2 "
                                      "connect_timeout=2",
                                      &err),
                     CF_ERR_UNAVAILABLE);
    assert_null(strstr(err.msg, "hunter2"));
    assert_int_equal(cf_store_migrate("not a dsn ===", &err), CF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_concurrent_once),
        cmocka_unit_test(test_migrate_upgrades_a_populated_v1_database),
        cmocka_unit_test(test_migrate_to_an_unknown_version_is_refused),
        cmocka_unit_test(test_migrate_4_adds_the_cancel_states_and_columns),
        cmocka_unit_test(test_store_sessions_never_jit),
        cmocka_unit_test(test_binaries_run_on_newer_schemas_that_say_so),
        cmocka_unit_test(test_migrate_waits_out_a_transaction_holding_its_table),
        cmocka_unit_test(test_migrate_refuses_foreign_table),
        cmocka_unit_test(test_migrate_bad_dsn_and_no_password_in_errors),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("store_migrate", tests, NULL, NULL);
}
