// SPDX-License-Identifier: MIT
/* store/migrate.c: the versioned schema (SPEC §3) kept in the binary and the migration that
 * applies it. Each migration runs in its own transaction holding a transaction-scoped advisory
 * lock, re-reading the applied version after taking it, so any number of processes may migrate
 * at once. Tables this tool creates carry a COMMENT naming it; a chrono_forge_* table without it
 * was made by someone else (e.g. the Ruby gem) and is refused, never altered.
 * A migration that the binaries of the previous versions still run on (same tables and columns;
 * indexes, constraints or storage settings change) is recorded in chronoforge_schema_revisions,
 * not in chronoforge_schema_migrations, whose max(version) is what those binaries compare with
 * their own: so a fleet keeps running, and restarting, on its old binaries while it rolls onto
 * the new one after `migrate`. The applied version is the highest number in either table. */
#include "store/migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/redact.h"
#include "store/pg.h"

/* pg_advisory_xact_lock key: "cfmigrat" as a big-endian int64, unlikely to collide. */
/* The schema check at every store open waits at most this long for each answer (the migration
 * itself has no client-side deadline: its lock and DDL may legitimately wait, and an operator
 * runs it). */
#define CHECK_TIMEOUT_MS 30000

#define SQL_LOCK "SELECT pg_advisory_xact_lock(7162536043113964916)"

#define SQL_HAS_TABLE     "SELECT to_regclass('chronoforge_schema_migrations') IS NOT NULL"
#define SQL_VERSION       "SELECT coalesce(max(version), 0) FROM chronoforge_schema_migrations"
#define SQL_HAS_REVISIONS "SELECT to_regclass('chronoforge_schema_revisions') IS NOT NULL"
#define SQL_REVISION      "SELECT coalesce(max(revision), 0) FROM chronoforge_schema_revisions"
#define SQL_HAS_CHANGES   "SELECT to_regclass('chronoforge_schema_changes') IS NOT NULL"
#define SQL_CHANGE        "SELECT coalesce(max(version), 0) FROM chronoforge_schema_changes"

/* The oldest binary version that runs on the applied migrations newer than $1 (a binary's
 * CF_SCHEMA_VERSION): each change's runs_from, and, for a migration recorded only in the
 * first table (a version newer than $1 without a change row), its own version. 0 when nothing
 * is newer. Needs chronoforge_schema_changes. */
#define SQL_NEWER_NEEDS                                                                            \
    "SELECT coalesce(max(n.needs), 0) FROM ("                                                      \
    "  SELECT c.runs_from AS needs FROM chronoforge_schema_changes c WHERE c.version > $1::int"    \
    "  UNION ALL"                                                                                  \
    "  SELECT m.version FROM chronoforge_schema_migrations m"                                      \
    "  WHERE m.version > $1::int"                                                                  \
    "    AND NOT EXISTS (SELECT 1 FROM chronoforge_schema_changes c WHERE c.version = m.version)"  \
    ") n"

/* From version 3 on, every migration is recorded here with the oldest binary version that
 * still runs on the schema it leaves (see `migration` below); created by the first of them. */
#define SQL_CHANGES_TABLE                                                                          \
    "CREATE TABLE IF NOT EXISTS chronoforge_schema_changes (version int PRIMARY KEY,"              \
    " name text NOT NULL, runs_from int NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());" \
    "COMMENT ON TABLE chronoforge_schema_changes IS 'chronoforge schema changes'"

/* Every chrono_forge_* table that exists without chronoforge's comment, with its state type. */
#define SQL_FOREIGN                                                                                \
    "SELECT c.relname, coalesce((SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"  \
    " WHERE a.attrelid = c.oid AND a.attname = 'state' AND NOT a.attisdropped), '')"               \
    " FROM pg_class c WHERE c.relname IN ('chrono_forge_workflows',"                               \
    " 'chrono_forge_execution_logs', 'chrono_forge_error_logs', 'chronoforge_schema_migrations',"  \
    " 'chronoforge_schema_revisions', 'chronoforge_schema_changes', 'chrono_forge_schedules',"     \
    " 'chrono_forge_queues', 'chrono_forge_branches', 'chrono_forge_signals',"                     \
    " 'chrono_forge_control_requests')"                                                            \
    " AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND pg_table_is_visible(c.oid)"                   \
    " AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE 'chronoforge schema%'"         \
    " ORDER BY c.relname"

#define SQL_RECORD "INSERT INTO chronoforge_schema_migrations (version, name) VALUES ($1::int, $2)"
#define SQL_RECORD_REVISION                                                                        \
    "INSERT INTO chronoforge_schema_revisions (revision, name) VALUES ($1::int, $2)"
#define SQL_RECORD_CHANGE                                                                          \
    "INSERT INTO chronoforge_schema_changes (version, name, runs_from) VALUES ($1::int, $2, "      \
    "$3::int)"

#define SQL_MIGRATION_1                                                                            \
    "CREATE TABLE chronoforge_schema_migrations (version int PRIMARY KEY, name text NOT NULL,"     \
    " applied_at timestamptz NOT NULL DEFAULT now());"                                             \
    "COMMENT ON TABLE chronoforge_schema_migrations IS 'chronoforge schema migrations';"           \
    "CREATE TABLE chrono_forge_workflows ("                                                        \
    " id bigserial PRIMARY KEY, key text NOT NULL, job_class text NOT NULL,"                       \
    " queue text NOT NULL DEFAULT 'default', kwargs jsonb NOT NULL DEFAULT '{}',"                  \
    " options jsonb NOT NULL DEFAULT '{}', context jsonb NOT NULL DEFAULT '{}',"                   \
    " state text NOT NULL DEFAULT 'idle'"                                                          \
    " CHECK (state IN ('idle', 'running', 'completed', 'failed', 'stalled')),"                     \
    " locked_by text, locked_at timestamptz, fence bigint NOT NULL DEFAULT 0,"                     \
    " attempt int NOT NULL DEFAULT 0, retry_counts jsonb NOT NULL DEFAULT '{}',"                   \
    " crash_count int NOT NULL DEFAULT 0, write_token text, next_wake_at timestamptz,"             \
    " started_at timestamptz, completed_at timestamptz,"                                           \
    " created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT "     \
    "now(),"                                                                                       \
    " CONSTRAINT chrono_forge_workflows_key_class UNIQUE (key, job_class));"                       \
    "COMMENT ON TABLE chrono_forge_workflows IS 'chronoforge schema: workflows';"                  \
    "CREATE INDEX chrono_forge_workflows_state_completed"                                          \
    " ON chrono_forge_workflows (state, completed_at);"                                            \
    "CREATE INDEX chrono_forge_workflows_state_id ON chrono_forge_workflows (state, id);"          \
    "CREATE INDEX chrono_forge_workflows_class_id ON chrono_forge_workflows (job_class, id)"       \
    " WHERE state IS NOT NULL;"                                                                    \
    "CREATE INDEX chrono_forge_workflows_wake ON chrono_forge_workflows (next_wake_at)"            \
    " WHERE state = 'idle' AND next_wake_at IS NOT NULL;"                                          \
    "CREATE TABLE chrono_forge_execution_logs ("                                                   \
    " id bigserial PRIMARY KEY,"                                                                   \
    " workflow_id bigint NOT NULL REFERENCES chrono_forge_workflows (id) ON DELETE CASCADE,"       \
    " step_name text NOT NULL, attempts int NOT NULL DEFAULT 0,"                                   \
    " state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'completed', 'failed')),"  \
    " started_at timestamptz, last_executed_at timestamptz, completed_at timestamptz,"             \
    " metadata jsonb, error_class text, error_message text,"                                       \
    " created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT "     \
    "now(),"                                                                                       \
    " CONSTRAINT chrono_forge_execution_logs_wf_step UNIQUE (workflow_id, step_name));"            \
    "COMMENT ON TABLE chrono_forge_execution_logs IS 'chronoforge schema: execution logs';"        \
    "CREATE TABLE chrono_forge_error_logs ("                                                       \
    " id bigserial PRIMARY KEY,"                                                                   \
    " workflow_id bigint NOT NULL REFERENCES chrono_forge_workflows (id) ON DELETE CASCADE,"       \
    " step_name text, attempt int NOT NULL CHECK (attempt >= 1), error_class text NOT NULL,"       \
    " error_message text, backtrace text, context jsonb,"                                          \
    " created_at timestamptz NOT NULL DEFAULT now());"                                             \
    "COMMENT ON TABLE chrono_forge_error_logs IS 'chronoforge schema: error logs';"                \
    "CREATE INDEX chrono_forge_error_logs_wf ON chrono_forge_error_logs (workflow_id, id);"

/* Version 2 (docs/indexes.md): fewer index entries, no FK check and less WAL per workflow.
 * The log tables' foreign keys go (every log row is written joined to its fenced, locked
 * workflow row, so the FK re-checked what the statement already guarantees); deleting or
 * truncating workflows still removes their logs, in the same statement, through the two
 * statement-level triggers below (they cost nothing on the insert/update path). The unused
 * (state, completed_at) index goes; (state, id) becomes partial over rows not completed
 * (completed rows, the bulk, no longer get an entry when they complete); a BRIN index on
 * created_at gives retention a cheap time-ordered scan of old rows; fillfactor 85 leaves room
 * on each page for HOT updates of running workflows. Builds the indexes in place (not
 * CONCURRENTLY: one transaction, so a crash leaves version 1 intact). Version 1 binaries run on
 * it unchanged (their statements name no index and rely on no FK), so it is a revision. */
#define SQL_MIGRATION_2                                                                            \
    "CREATE TABLE chronoforge_schema_revisions (revision int PRIMARY KEY, name text NOT NULL,"     \
    " applied_at timestamptz NOT NULL DEFAULT now());"                                             \
    "COMMENT ON TABLE chronoforge_schema_revisions IS 'chronoforge schema revisions';"             \
    "DO $$ DECLARE r record; BEGIN"                                                                \
    " FOR r IN SELECT c.conname, c.conrelid::regclass AS tab FROM pg_constraint c"                 \
    "  WHERE c.contype = 'f' AND c.confrelid = 'chrono_forge_workflows'::regclass"                 \
    "  AND c.conrelid IN ('chrono_forge_execution_logs'::regclass,"                                \
    "                     'chrono_forge_error_logs'::regclass)"                                    \
    " LOOP EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tab, r.conname); END LOOP;"       \
    " END $$;"                                                                                     \
    "CREATE FUNCTION chrono_forge_workflows_delete_logs() RETURNS trigger"                         \
    " LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN"                                   \
    " DELETE FROM chrono_forge_execution_logs l USING gone g WHERE l.workflow_id = g.id;"          \
    " DELETE FROM chrono_forge_error_logs e USING gone g WHERE e.workflow_id = g.id;"              \
    " RETURN NULL; END $$;"                                                                        \
    "CREATE TRIGGER chrono_forge_workflows_delete_logs AFTER DELETE ON chrono_forge_workflows"     \
    " REFERENCING OLD TABLE AS gone FOR EACH STATEMENT"                                            \
    " EXECUTE FUNCTION chrono_forge_workflows_delete_logs();"                                      \
    "CREATE FUNCTION chrono_forge_workflows_truncate_logs() RETURNS trigger"                       \
    " LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN"                                   \
    " TRUNCATE chrono_forge_execution_logs, chrono_forge_error_logs; RETURN NULL; END $$;"         \
    "CREATE TRIGGER chrono_forge_workflows_truncate_logs AFTER TRUNCATE ON chrono_forge_workflows" \
    " FOR EACH STATEMENT EXECUTE FUNCTION chrono_forge_workflows_truncate_logs();"                 \
    "DROP INDEX IF EXISTS chrono_forge_workflows_state_completed;"                                 \
    "DROP INDEX IF EXISTS chrono_forge_workflows_state_id;"                                        \
    "CREATE INDEX chrono_forge_workflows_not_completed ON chrono_forge_workflows (state, id)"      \
    " WHERE state <> 'completed';"                                                                 \
    "CREATE INDEX chrono_forge_workflows_created_brin ON chrono_forge_workflows"                   \
    " USING brin (created_at);"                                                                    \
    "ALTER TABLE chrono_forge_workflows SET (fillfactor = 85);"

/* Where a migration is recorded, which decides which binaries keep running on its schema (a
 * binary reads the tables it knows, SPEC §3 "Which binaries run on a schema"):
 *   MIGRATION: chronoforge_schema_migrations: binaries older than it refuse it (version 1);
 *   REVISION:  chronoforge_schema_revisions: version 1 binaries run on it (version 2 only);
 *   CHANGE:    chronoforge_schema_changes with runs_from, from version 3 on: binaries of version
 *              runs_from and later run on it; when runs_from > 2 it is also recorded in
 *              chronoforge_schema_migrations, so that binaries of versions 1 and 2, which do not
 *              read the changes table, refuse it too. */
typedef enum migration_record { RECORD_MIGRATION, RECORD_REVISION, RECORD_CHANGE } migration_record;
/* Version 3 (SPEC §3; the issue-13 plan numbers it 6): schedules and the Postgres mirror of
 * queue pause flags. New tables only, so binaries of version 2 run on it unchanged (runs_from
 * 2; they neither fire schedules nor honour pauses). The partial index on next_fire_at is the one
 * a worker's schedule tick reads. */
#define SQL_MIGRATION_3                                                                            \
    "CREATE TABLE chrono_forge_schedules ("                                                        \
    " name text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 128),"                               \
    " job_class text NOT NULL, queue text NOT NULL DEFAULT 'default',"                             \
    " cron text, every_ms bigint CHECK (every_ms > 0),"                                            \
    " tz text NOT NULL DEFAULT 'UTC', kwargs jsonb NOT NULL DEFAULT '{}',"                         \
    " key_template text NOT NULL,"                                                                 \
    " overlap text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),"                  \
    " paused boolean NOT NULL DEFAULT false,"                                                      \
    " last_fire_at timestamptz, last_key text, next_fire_at timestamptz,"                          \
    " created_at timestamptz NOT NULL DEFAULT now(),"                                              \
    " updated_at timestamptz NOT NULL DEFAULT now(), updated_by text NOT NULL,"                    \
    " CHECK ((cron IS NULL) <> (every_ms IS NULL)));"                                              \
    "COMMENT ON TABLE chrono_forge_schedules IS 'chronoforge schema: schedules';"                  \
    "CREATE INDEX chrono_forge_schedules_due ON chrono_forge_schedules (next_fire_at)"             \
    " WHERE NOT paused;"                                                                           \
    "CREATE TABLE chrono_forge_queues ("                                                           \
    " name text PRIMARY KEY, paused boolean NOT NULL DEFAULT false,"                               \
    " paused_at timestamptz, paused_by text,"                                                      \
    " updated_at timestamptz NOT NULL DEFAULT now());"                                             \
    "COMMENT ON TABLE chrono_forge_queues IS 'chronoforge schema: queue pause flags';"
/* Version 4 (SPEC §3, cancellation): the states cancelling and cancelled, and where a cancel
 * request is recorded on its workflow: when (which also names its `$workflow_cancel$<ms>` row),
 * who asked ("user@host" for the CLI, a client-passed name) and why. New nullable columns and a
 * wider CHECK; older binaries never read the columns, but a run of theirs would ignore a cancel
 * request and complete the workflow, so only binaries from this version on run on it
 * (runs_from 4). */
#define SQL_MIGRATION_4                                                                            \
    "ALTER TABLE chrono_forge_workflows DROP CONSTRAINT IF EXISTS "                                \
    "chrono_forge_workflows_state_check;"                                                          \
    "ALTER TABLE chrono_forge_workflows ADD CONSTRAINT chrono_forge_workflows_state_check"         \
    " CHECK (state IN ('idle', 'running', 'completed', 'failed', 'stalled', 'cancelling',"         \
    " 'cancelled'));"                                                                              \
    "ALTER TABLE chrono_forge_workflows ADD COLUMN cancel_requested_at timestamptz,"               \
    " ADD COLUMN cancel_requested_by text, ADD COLUMN cancel_reason text;"
/* Version 5 (branches, docs/SPEC.md §3): a child workflow names its parent (parent_id) and the
 * branch that spawned it (branch); the partial (parent_id, branch, state) index serves the
 * children's listing and counts, a cancel of a parent's unfinished children and retention's
 * "never a child whose parent exists". chrono_forge_branches holds one row per (parent, branch
 * name): open or sealed (its body never runs again) or merged, how many children it spawned,
 * and how many of them have not finished yet (remaining: raised in the commit that inserts the
 * children, lowered in each child's first terminal commit; the commit that brings a sealed
 * branch to 0 wakes the parent). A deleted or truncated parent takes its branch rows with it,
 * through statement triggers as in version 2 (no FK: nothing to check on the write path). A
 * child finished by an older binary would never lower its branch's remaining, so only binaries
 * from this version on run on it (runs_from 5). */
#define SQL_MIGRATION_5                                                                            \
    "ALTER TABLE chrono_forge_workflows ADD COLUMN parent_id bigint, ADD COLUMN branch text;"      \
    "CREATE INDEX chrono_forge_workflows_parent ON chrono_forge_workflows"                         \
    " (parent_id, branch, state) WHERE parent_id IS NOT NULL;"                                     \
    "CREATE TABLE chrono_forge_branches ("                                                         \
    " id bigserial PRIMARY KEY,"                                                                   \
    " workflow_id bigint NOT NULL,"                                                                \
    " name text NOT NULL,"                                                                         \
    " state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'sealed', 'merged')),"           \
    " spawned bigint NOT NULL DEFAULT 0 CHECK (spawned >= 0),"                                     \
    " remaining bigint NOT NULL DEFAULT 0,"                                                        \
    " created_at timestamptz NOT NULL DEFAULT now(),"                                              \
    " updated_at timestamptz NOT NULL DEFAULT now(),"                                              \
    " CONSTRAINT chrono_forge_branches_wf_name UNIQUE (workflow_id, name));"                       \
    "COMMENT ON TABLE chrono_forge_branches IS 'chronoforge schema: branches';"                    \
    "CREATE FUNCTION chrono_forge_workflows_delete_branches() RETURNS trigger"                     \
    " LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN"                                   \
    " DELETE FROM chrono_forge_branches b USING gone g WHERE b.workflow_id = g.id;"                \
    " RETURN NULL; END $$;"                                                                        \
    "CREATE TRIGGER chrono_forge_workflows_delete_branches AFTER DELETE"                           \
    " ON chrono_forge_workflows REFERENCING OLD TABLE AS gone FOR EACH STATEMENT"                  \
    " EXECUTE FUNCTION chrono_forge_workflows_delete_branches();"                                  \
    "CREATE FUNCTION chrono_forge_workflows_truncate_branches() RETURNS trigger"                   \
    " LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN"                                   \
    " TRUNCATE chrono_forge_branches; RETURN NULL; END $$;"                                        \
    "CREATE TRIGGER chrono_forge_workflows_truncate_branches AFTER TRUNCATE"                       \
    " ON chrono_forge_workflows FOR EACH STATEMENT"                                                \
    " EXECUTE FUNCTION chrono_forge_workflows_truncate_branches();"
/* Version 6 (issue 13, signals and the control protocol): two new tables and the workflows' delete
 * and truncate triggers extended to them. chrono_forge_signals holds every signal sent to a
 * workflow, unique per (workflow, signal id) so a resend counts once, consumed by exactly one await
 * (consumed_by, the await's step name, written in the await's write set); the partial index serves
 * the await's lookup of the oldest unconsumed signal of a name. chrono_forge_control_requests
 * records the answer given to each control request (SPEC §2), so a request taken again after a
 * worker died is answered the same. New tables only: binaries of version 5 run on it unchanged
 * (runs_from 5; they answer no control request and heal no missed signal). */
#define SQL_MIGRATION_6                                                                            \
    "CREATE TABLE chrono_forge_signals ("                                                          \
    " id bigserial PRIMARY KEY, workflow_id bigint NOT NULL, name text NOT NULL,"                  \
    " signal_id text NOT NULL, payload jsonb, sender text NOT NULL,"                               \
    " sent_at timestamptz NOT NULL DEFAULT now(), consumed_by text, consumed_at timestamptz,"      \
    " CONSTRAINT chrono_forge_signals_wf_sid UNIQUE (workflow_id, signal_id));"                    \
    "COMMENT ON TABLE chrono_forge_signals IS 'chronoforge schema: signals';"                      \
    "CREATE INDEX chrono_forge_signals_pending ON chrono_forge_signals (workflow_id, name, id)"    \
    " WHERE consumed_by IS NULL;"                                                                  \
    "CREATE TABLE chrono_forge_control_requests ("                                                 \
    " request_id text PRIMARY KEY, op text NOT NULL, job_class text, key text,"                    \
    " outcome text NOT NULL CHECK (outcome IN ('accepted', 'refused')), code text, reason text,"   \
    " answered_at timestamptz NOT NULL DEFAULT now());"                                            \
    "COMMENT ON TABLE chrono_forge_control_requests IS 'chronoforge schema: control requests';"    \
    "CREATE INDEX chrono_forge_control_requests_at ON chrono_forge_control_requests"               \
    " USING brin (answered_at);"                                                                   \
    "CREATE OR REPLACE FUNCTION chrono_forge_workflows_delete_logs() RETURNS trigger"              \
    " LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN"                                   \
    " DELETE FROM chrono_forge_execution_logs l USING gone g WHERE l.workflow_id = g.id;"          \
    " DELETE FROM chrono_forge_error_logs e USING gone g WHERE e.workflow_id = g.id;"              \
    " DELETE FROM chrono_forge_signals s USING gone g WHERE s.workflow_id = g.id;"                 \
    " RETURN NULL; END $$;"                                                                        \
    "CREATE OR REPLACE FUNCTION chrono_forge_workflows_truncate_logs() RETURNS trigger"            \
    " LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN"                                   \
    " TRUNCATE chrono_forge_execution_logs, chrono_forge_error_logs, chrono_forge_signals;"        \
    " RETURN NULL; END $$;"

typedef struct migration {
    int version;
    const char *name;
    const char *sql;
    migration_record record;
    int runs_from; /* CHANGE: the oldest binary version that runs on the schema it leaves */
} migration;

static const migration migrations[] = {
    {1, "create workflows, execution logs, error logs", SQL_MIGRATION_1, RECORD_MIGRATION, 1},
    {2, "log FKs become delete triggers; fewer, partial and BRIN indexes; fillfactor 85",
     SQL_MIGRATION_2, RECORD_REVISION, 1},
    {3, "schedules; queue pause flags", SQL_MIGRATION_3, RECORD_CHANGE, 2},
    {4, "states cancelling and cancelled; cancel requests on the workflow", SQL_MIGRATION_4,
     RECORD_CHANGE, 4},
    {5, "branches: parent link on workflows, chrono_forge_branches", SQL_MIGRATION_5, RECORD_CHANGE,
     5},
    {6, "signals and control requests", SQL_MIGRATION_6, RECORD_CHANGE, 5},
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

_Static_assert(sizeof migrations / sizeof migrations[0] == CF_SCHEMA_VERSION,
               "CF_SCHEMA_VERSION must name the last migration");

static void set_msg(char *errbuf, size_t errcap, const char *prefix, const char *msg)
{
    if (!errbuf || !errcap)
        return;
    snprintf(errbuf, errcap, "%s%s", prefix, msg ? msg : "");
    size_t n = strlen(errbuf);
    while (n > 0 && errbuf[n - 1] == '\n')
        errbuf[--n] = '\0';
}

/* Runs a constant statement with a client-side deadline (timeout_ms, 0: none); NULL with
 * errbuf set when the connection failed or the deadline passed. */
static PGresult *migrate_query(PGconn *c, const char *sql_text, int nparams,
                               const char *const *vals, int64_t timeout_ms, char *errbuf,
                               size_t errcap)
{
    cf_sql_stmt q = {.name = "", .sql = sql_text, .nparams = nparams};
    bool timed_out;
    PGresult *r = cf_pg_conn_query(c, &q, vals, timeout_ms, &timed_out);
    if (!r && timed_out && errbuf && errcap)
        snprintf(errbuf, errcap, "postgres did not answer within %lld ms", (long long)timeout_ms);
    else if (!r)
        set_msg(errbuf, errcap, "postgres connection lost: ", PQerrorMessage(c));
    return r;
}

static PGconn *connect_quiet(const char *dsn, int64_t timeout_ms, char *errbuf, size_t errcap,
                             cf_status *st)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn ? dsn : "", &perr);
    if (!opts) {
        set_msg(errbuf, errcap, "invalid database DSN: ", perr ? perr : "out of memory");
        PQfreemem(perr);
        *st = CF_ERR_INVALID;
        return NULL;
    }
    PQconninfoFree(opts);
    PGconn *c = cf_pg_connectdb(dsn, 10000); /* connect_timeout and keepalives (store/pg.h) */
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char red[256];
        cf_redact_dsn(dsn ? dsn : "", red, sizeof red);
        if (errbuf && errcap)
            snprintf(errbuf, errcap, "cannot connect to postgres (%s): %s", red,
                     c ? PQerrorMessage(c) : "out of memory");
        for (size_t n = errbuf ? strlen(errbuf) : 0; n > 0 && errbuf[n - 1] == '\n'; n--)
            errbuf[n - 1] = '\0';
        PQfinish(c);
        *st = CF_ERR_UNAVAILABLE;
        return NULL;
    }
    PQclear(migrate_query(c, "SET client_min_messages = warning", 0, NULL, timeout_ms, NULL, 0));
    *st = CF_OK;
    return c;
}

/* A constant statement text (wrapped so the SQL lint can see it is never built at run time). */
typedef struct sql_text {
    const char *sql;
} sql_text;

/* The integer (or boolean, as 0/1) in the first cell of a constant query's answer; -1 with
 * errbuf and *st set when it failed. */
static int query_int(PGconn *c, sql_text q, int64_t timeout_ms, char *errbuf, size_t errcap,
                     cf_status *st)
{
    PGresult *r = migrate_query(c, q.sql, 0, NULL, timeout_ms, errbuf, errcap);
    if (r && PQresultStatus(r) != PGRES_TUPLES_OK)
        set_msg(errbuf, errcap, "postgres: ", PQerrorMessage(c));
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        *st = CF_ERR_IO;
        return -1;
    }
    const char *cell = PQgetvalue(r, 0, 0);
    int v = cell[0] == 't' ? 1 : cell[0] == 'f' ? 0 : (int)strtol(cell, NULL, 10);
    PQclear(r);
    return v;
}

/* Reads the applied version (the highest of chronoforge_schema_migrations' versions and
 * chronoforge_schema_revisions' revisions); -1 with errbuf set when a foreign table is in the
 * way or a query failed. */
static int read_version(PGconn *c, int64_t timeout_ms, char *errbuf, size_t errcap, cf_status *st)
{
    PGresult *r = migrate_query(c, SQL_FOREIGN, 0, NULL, timeout_ms, errbuf, errcap);
    if (!r) {
        *st = CF_ERR_IO;
        return -1;
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_msg(errbuf, errcap, "postgres: ", PQerrorMessage(c));
        PQclear(r);
        *st = CF_ERR_IO;
        return -1;
    }
    if (PQntuples(r) > 0) {
        const char *type = PQgetvalue(r, 0, 1);
        if (errbuf && errcap)
            snprintf(errbuf, errcap,
                     "table %s exists but was not created by chronoforge migrate%s; refusing to "
                     "touch it (use another database or schema)",
                     PQgetvalue(r, 0, 0),
                     strcmp(type, "integer") == 0
                         ? " (its state column is an integer: a Ruby ChronoForge database?)"
                         : "");
        PQclear(r);
        *st = CF_ERR_STATE;
        return -1;
    }
    PQclear(r);
    int v = query_int(c, (sql_text){SQL_HAS_TABLE}, timeout_ms, errbuf, errcap, st);
    if (v > 0)
        v = query_int(c, (sql_text){SQL_VERSION}, timeout_ms, errbuf, errcap, st);
    int has_rev =
        v < 0 ? -1 : query_int(c, (sql_text){SQL_HAS_REVISIONS}, timeout_ms, errbuf, errcap, st);
    int rev = has_rev > 0 ? query_int(c, (sql_text){SQL_REVISION}, timeout_ms, errbuf, errcap, st)
                          : has_rev;
    int has_chg =
        rev < 0 ? -1 : query_int(c, (sql_text){SQL_HAS_CHANGES}, timeout_ms, errbuf, errcap, st);
    int chg = has_chg > 0 ? query_int(c, (sql_text){SQL_CHANGE}, timeout_ms, errbuf, errcap, st)
                          : has_chg;
    if (v < 0 || rev < 0 || chg < 0)
        return -1;
    *st = CF_OK;
    int max = v > rev ? v : rev;
    return max > chg ? max : chg;
}

/* The oldest binary version that runs on the applied migrations newer than this binary's
 * (SQL_NEWER_NEEDS): CF_SCHEMA_VERSION or less when this binary runs on schema version v; -1
 * with errbuf and *st set when a query failed. */
static int newer_needs(PGconn *c, int v, int64_t timeout_ms, char *errbuf, size_t errcap,
                       cf_status *st)
{
    if (v <= CF_SCHEMA_VERSION)
        return 0;
    int has = query_int(c, (sql_text){SQL_HAS_CHANGES}, timeout_ms, errbuf, errcap, st);
    if (has <= 0)
        return has < 0 ? -1 : v; /* newer, and recorded only where older binaries refuse it */
    char mine[16];
    snprintf(mine, sizeof mine, "%d", CF_SCHEMA_VERSION);
    const char *vals[] = {mine};
    PGresult *r = migrate_query(c, SQL_NEWER_NEEDS, 1, vals, timeout_ms, errbuf, errcap);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        if (r)
            set_msg(errbuf, errcap, "postgres: ", PQerrorMessage(c));
        PQclear(r);
        *st = CF_ERR_IO;
        return -1;
    }
    int needs = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return needs;
}

/* Whether this binary runs on schema version v (needs: newer_needs): CF_OK, or CF_ERR_STATE
 * with the reason in errbuf. */
static cf_status judge(int v, int needs, char *errbuf, size_t errcap)
{
    if (v < CF_SCHEMA_VERSION)
        snprintf(errbuf, errcap,
                 "database schema version is %d, this binary needs %d: run `chronoforge migrate`",
                 v, CF_SCHEMA_VERSION);
    else if (needs > CF_SCHEMA_VERSION)
        snprintf(errbuf, errcap,
                 "database schema version %d needs binaries of schema version %d or later; this "
                 "binary's is %d: upgrade it",
                 v, needs, CF_SCHEMA_VERSION);
    else
        return CF_OK;
    return CF_ERR_STATE;
}

static bool exec_ok(PGconn *c, sql_text q, char *errbuf, size_t errcap)
{
    PGresult *r = migrate_query(c, q.sql, 0, NULL, 0, errbuf, errcap);
    if (!r)
        return false;
    ExecStatusType t = PQresultStatus(r);
    bool ok = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
    if (!ok)
        set_msg(errbuf, errcap, "postgres: ", PQerrorMessage(c));
    PQclear(r);
    return ok;
}

/* Runs one recording statement; false with errbuf set when it failed. */
static bool record_in(PGconn *c, sql_text q, int nparams, const char *const *vals, char *errbuf,
                      size_t errcap)
{
    PGresult *r = migrate_query(c, q.sql, nparams, vals, 0, errbuf, errcap);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (r && !ok)
        set_msg(errbuf, errcap, "postgres: ", PQerrorMessage(c));
    PQclear(r);
    return ok;
}

/* Records migration m where its kind says (see `migration`). */
static bool record(PGconn *c, const migration *m, char *errbuf, size_t errcap)
{
    char ver[16], from[16];
    snprintf(ver, sizeof ver, "%d", m->version);
    snprintf(from, sizeof from, "%d", m->runs_from);
    const char *vals[] = {ver, m->name, from};
    switch (m->record) {
    case RECORD_MIGRATION:
        return record_in(c, (sql_text){SQL_RECORD}, 2, vals, errbuf, errcap);
    case RECORD_REVISION:
        return record_in(c, (sql_text){SQL_RECORD_REVISION}, 2, vals, errbuf, errcap);
    case RECORD_CHANGE:
        return record_in(c, (sql_text){SQL_RECORD_CHANGE}, 3, vals, errbuf, errcap) &&
               (m->runs_from <= 2 || record_in(c, (sql_text){SQL_RECORD}, 2, vals, errbuf, errcap));
    }
    return false;
}

/* A migration's DDL takes strong locks on tables a running fleet uses (the documented order is
 * to migrate while it runs): it waits at most this long for one, then gives up and is tried
 * again, so it never queues the fleet's statements behind it for long; a deadlock with a
 * worker's statement is tried again the same way. */
#define SQL_LOCK_TIMEOUT "SET LOCAL lock_timeout = '5s'"
#define MIGRATE_TRIES    30

/* exec_migration runs a migration's text; false with errbuf set when it failed, *busy true when
 * it failed on a lock (lock_not_available 55P03, deadlock_detected 40P01: worth trying again). */
static bool exec_migration(PGconn *c, sql_text q, char *errbuf, size_t errcap, bool *busy)
{
    *busy = false;
    PGresult *r = migrate_query(c, q.sql, 0, NULL, 0, errbuf, errcap);
    if (!r)
        return false;
    ExecStatusType t = PQresultStatus(r);
    bool ok = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
    if (!ok) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        *busy = state && (strcmp(state, "55P03") == 0 || strcmp(state, "40P01") == 0);
        set_msg(errbuf, errcap, "postgres: ", PQerrorMessage(c));
    }
    PQclear(r);
    return ok;
}

/* Applies migration m unless another process already did; *did says whether this call did.
 * CF_ERR_BUSY when its DDL met a lock it could not take in time or a deadlock (nothing
 * applied: try again). */
static cf_status apply_one(PGconn *c, const migration *m, bool *did, char *errbuf, size_t errcap)
{
    *did = false;
    cf_status st = CF_ERR_IO;
    if (!exec_ok(c, (sql_text){"BEGIN"}, errbuf, errcap))
        return CF_ERR_IO;
    if (!exec_ok(c, (sql_text){SQL_LOCK}, errbuf, errcap))
        goto rollback;
    int v = read_version(c, 0, errbuf, errcap, &st);
    if (v < 0)
        goto rollback;
    if (v >= m->version) {
        st = exec_ok(c, (sql_text){"COMMIT"}, errbuf, errcap) ? CF_OK : CF_ERR_IO;
        return st;
    }
    st = CF_ERR_IO;
    if (!exec_ok(c, (sql_text){SQL_LOCK_TIMEOUT}, errbuf, errcap))
        goto rollback;
    if (m->record == RECORD_CHANGE && !exec_ok(c, (sql_text){SQL_CHANGES_TABLE}, errbuf, errcap))
        goto rollback;
    bool busy = false;
    if (!exec_migration(c, (sql_text){m->sql}, errbuf, errcap, &busy)) {
        st = busy ? CF_ERR_BUSY : CF_ERR_IO;
        goto rollback;
    }
    if (!record(c, m, errbuf, errcap))
        goto rollback;
    if (!exec_ok(c, (sql_text){"COMMIT"}, errbuf, errcap))
        return CF_ERR_IO;
    *did = true;
    return CF_OK;
rollback:
    PQclear(migrate_query(c, "ROLLBACK", 0, NULL, 0, NULL, 0));
    return st;
}

/* fail_to fills err (may be NULL) from a one-line reason left in msg. */
static void fail_to(cf_error *err, cf_status st, const char *msg)
{
    if (err == NULL)
        return;
    snprintf(err->code, sizeof err->code, "%s", cf_status_str(st));
    snprintf(err->field, sizeof err->field, "%s", "database_url");
    snprintf(err->msg, sizeof err->msg, "%s", msg);
}

static cf_status migrate_counted(const char *dsn, int target, int *applied, char *errbuf,
                                 size_t errcap)
{
    if (applied)
        *applied = 0;
    if (errbuf && errcap)
        errbuf[0] = '\0';
    cf_status st;
    PGconn *c = connect_quiet(dsn, 0, errbuf, errcap, &st);
    if (!c)
        return st;
    int v = read_version(c, 0, errbuf, errcap, &st);
    if (v > CF_SCHEMA_VERSION) { /* nothing to apply; refused unless this binary runs on it */
        int needs = newer_needs(c, v, 0, errbuf, errcap, &st);
        if (needs >= 0)
            st = judge(v, needs, errbuf, errcap);
    }
    for (int i = 0; st == CF_OK && i < NMIGRATIONS; i++) {
        if (migrations[i].version <= v || migrations[i].version > target)
            continue;
        bool did = false;
        st = apply_one(c, &migrations[i], &did, errbuf, errcap);
        for (int try = 1; st == CF_ERR_BUSY && try < MIGRATE_TRIES; try++) {
            cf_clock_sleep_ms(cf_backoff_delay_ms(200, 2000, try, true), NULL);
            st = apply_one(c, &migrations[i], &did, errbuf, errcap);
        }
        if (did && applied)
            (*applied)++;
    }
    PQfinish(c);
    return st;
}

cf_status cf_store_migrate_to(const char *dsn, int version, int *applied, cf_error *err)
{
    char why[512] = "";
    cf_status st = CF_ERR_INVALID;
    if (applied)
        *applied = 0;
    if (version < 1 || version > CF_SCHEMA_VERSION)
        snprintf(why, sizeof why, "no schema version %d (this binary knows 1 to %d)", version,
                 CF_SCHEMA_VERSION);
    else
        st = migrate_counted(dsn, version, applied, why, sizeof why);
    if (st != CF_OK)
        fail_to(err, st, why);
    return st;
}

cf_status cf_store_migrate_counted(const char *dsn, int *applied, cf_error *err)
{
    return cf_store_migrate_to(dsn, CF_SCHEMA_VERSION, applied, err);
}

cf_status cf_store_migrate(const char *dsn, cf_error *err)
{
    return cf_store_migrate_counted(dsn, NULL, err);
}

cf_status cf_store_schema_check(const char *dsn, int *version, cf_error *err)
{
    char why[512] = "";
    cf_status st = CF_OK;
    *version = -1;
    PGconn *c = connect_quiet(dsn, CHECK_TIMEOUT_MS, why, sizeof why, &st);
    int v = c ? read_version(c, CHECK_TIMEOUT_MS, why, sizeof why, &st) : -1;
    int needs = v >= 0 ? newer_needs(c, v, CHECK_TIMEOUT_MS, why, sizeof why, &st) : -1;
    PQfinish(c);
    if (needs >= 0) {
        *version = v;
        st = judge(v, needs, why, sizeof why);
    }
    if (st != CF_OK)
        fail_to(err, st, why);
    return st;
}

int cf_store_schema_version(const char *dsn, cf_error *err)
{
    char why[512] = "";
    cf_status st = CF_OK;
    PGconn *c = connect_quiet(dsn, CHECK_TIMEOUT_MS, why, sizeof why, &st);
    int v = c ? read_version(c, CHECK_TIMEOUT_MS, why, sizeof why, &st) : -1;
    PQfinish(c);
    if (v < 0)
        fail_to(err, st, why);
    return v;
}
