// SPDX-License-Identifier: MIT
/* worker/config.c: the settings table and its parser. */
#include "worker/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/log.h"
#include "common/redact.h"
#include "store/states.h"

#define OFF(f)  offsetof(cf_config, f)
#define STR(f)  OFF(f), sizeof(((cf_config *)0)->f)
#define SCAL(f) OFF(f), 0

const cf_config_key cf_config_keys[] = {
    {"redis-url", 0, "CHRONOFORGE_REDIS_URL", CF_CFG_URL, "redis://127.0.0.1:6379/0", CF_CFG_ALL,
     "Redis URL: redis://[user:password@]host:port/db, unix://[:password@]/path?db=N, or "
     "redis+cluster://[user:password@]host:port,host:port (a Redis Cluster's seed nodes)",
     STR(redis_url)},
    {"database-url", 0, "CHRONOFORGE_DATABASE_URL", CF_CFG_URL, "", CF_CFG_ALL,
     "Postgres conninfo or URI (default: libpq's own defaults, PGHOST etc.)", STR(database_url)},
    {"prefix", 0, "CHRONOFORGE_PREFIX", CF_CFG_STR, "chronoforge", CF_CFG_ALL,
     "Redis key prefix (isolates deployments sharing one Redis)", STR(prefix)},
    {"queues", 'q', "CHRONOFORGE_QUEUES", CF_CFG_STR, "default", CF_CFG_ALL,
     "comma-separated queues, highest priority first", STR(queues_csv)},
    {"concurrency", 'c', "CHRONOFORGE_CONCURRENCY", CF_CFG_INT, "8", CF_CFG_WORKER,
     "workflows run at once by this process (executor threads)", SCAL(concurrency)},
    {"max-duration", 0, "CHRONOFORGE_MAX_DURATION", CF_CFG_DURATION, "10m", CF_CFG_ALL,
     "lock lifetime of one run (a workflow's registration and envelope options override it)",
     SCAL(max_duration_ms)},
    {"lease", 0, "CHRONOFORGE_LEASE", CF_CFG_DURATION, "10s", CF_CFG_ALL,
     "a worker silent this long is dead; its work is recovered", SCAL(lease_ms)},
    {"heartbeat", 0, "CHRONOFORGE_HEARTBEAT", CF_CFG_DURATION, "2s", CF_CFG_WORKER,
     "heartbeat interval (well below the lease)", SCAL(heartbeat_ms)},
    {"db-pool", 0, "CHRONOFORGE_DB_POOL", CF_CFG_INT, "4", CF_CFG_ALL,
     "Postgres connections this process opens at most", SCAL(db_pool)},
    {"shutdown-grace", 0, "CHRONOFORGE_SHUTDOWN_GRACE", CF_CFG_DURATION, "25s", CF_CFG_WORKER,
     "on SIGTERM, how long running steps may take to finish", SCAL(shutdown_grace_ms)},
    {"unknown-class-grace", 0, "CHRONOFORGE_UNKNOWN_CLASS_GRACE", CF_CFG_DURATION, "1h",
     CF_CFG_WORKER, "how long an envelope of an unknown class is retried before dead-lettering",
     SCAL(unknown_class_grace_ms)},
    {"busy-recheck", 0, "CHRONOFORGE_BUSY_RECHECK", CF_CFG_DURATION, "1s", CF_CFG_WORKER,
     "a delivery finding its workflow running becomes a continuation due this much later",
     SCAL(busy_recheck_ms)},
    {"lazy-begin", 0, "CHRONOFORGE_LAZY_BEGIN", CF_CFG_DURATION, "2s", CF_CFG_WORKER,
     "a run of an idle or new workflow begins with its first commit if it gets there within "
     "this bound, far below the lease (docs/healing.md, lazy window); 0: every run begins with "
     "a commit of its own",
     SCAL(lazy_begin_ms)},
    {"dead-letter-cap", 0, "CHRONOFORGE_DEAD_LETTER_CAP", CF_CFG_INT, "10000", CF_CFG_ALL,
     "dead letters kept per queue (oldest dropped)", SCAL(dead_letter_cap)},
    {"batch-max", 0, "CHRONOFORGE_BATCH_MAX", CF_CFG_INT, "64", CF_CFG_WORKER,
     "write sets of concurrent runs sharing one Postgres commit", SCAL(batch_max)},
    {"statement-timeout", 0, "CHRONOFORGE_STATEMENT_TIMEOUT", CF_CFG_DURATION, "30s", CF_CFG_ALL,
     "Postgres statement_timeout", SCAL(statement_timeout_ms)},
    {"db-io-timeout", 0, "CHRONOFORGE_DB_IO_TIMEOUT", CF_CFG_DURATION, "0", CF_CFG_ALL,
     "longest wait for any Postgres answer before the connection counts as lost, outcome "
     "unknown (0: statement-timeout + 5s)",
     SCAL(db_io_timeout_ms)},
    {"promote-interval", 0, "CHRONOFORGE_PROMOTE_INTERVAL", CF_CFG_DURATION, "1s", CF_CFG_WORKER,
     "longest sleep of the promoter (it wakes at the earliest due time, or when an earlier one is "
     "published); a producer's delayed envelope is promoted at most this late",
     SCAL(promote_interval_ms)},
    {"sweep-grace", 0, "CHRONOFORGE_SWEEP_GRACE", CF_CFG_DURATION, "30s", CF_CFG_ALL,
     "a wake this late in Postgres is published again by the sweeper", SCAL(sweep_grace_ms)},
    {"sweep-interval", 0, "CHRONOFORGE_SWEEP_INTERVAL", CF_CFG_DURATION, "5s", CF_CFG_ALL,
     "how often the fleet runs one healing pass (sweeper and reaper; docs/healing.md)",
     SCAL(sweep_interval_ms)},
    {"sweep-batch", 0, "CHRONOFORGE_SWEEP_BATCH", CF_CFG_INT, "500", CF_CFG_ALL,
     "workflows one healing pass looks at, per kind (overdue, running); at most 10000",
     SCAL(sweep_batch)},
    {"retention", 0, "CHRONOFORGE_RETENTION", CF_CFG_DURATION, "0", CF_CFG_WORKER,
     "delete workflows in --retention-states that finished longer ago than this, with their logs "
     "(one worker at a time, in small batches; 0: keep them forever)",
     SCAL(retention_ms)},
    {"retention-states", 0, "CHRONOFORGE_RETENTION_STATES", CF_CFG_STR, "completed,cancelled",
     CF_CFG_WORKER,
     "the finished states --retention deletes (comma-separated; failed only when "
     "named)",
     STR(retention_states)},
    {"retention-dead", 0, "CHRONOFORGE_RETENTION_DEAD", CF_CFG_DURATION, "0", CF_CFG_WORKER,
     "delete dead letters older than this from the worker's queues (0: keep them; the list is "
     "capped at --dead-letter-cap anyway)",
     SCAL(retention_dead_ms)},
    {"repeat-keep-ticks", 0, "CHRONOFORGE_REPEAT_KEEP_TICKS", CF_CFG_INT, "1000", CF_CFG_WORKER,
     "tick rows a durably_repeat keeps: a tick's commit deletes those more than this many periods "
     "old (docs/SPEC.md §4)",
     SCAL(repeat_keep_ticks)},
    {"log-level", 0, "CHRONOFORGE_LOG_LEVEL", CF_CFG_STR, "info", CF_CFG_ALL,
     "debug, info, warn or error", STR(log_level)},
    {"log-format", 0, "CHRONOFORGE_LOG_FORMAT", CF_CFG_STR, "logfmt", CF_CFG_ALL,
     "logfmt or json: one line per event on stderr, the same keys either way (README, Logs)",
     STR(log_format)},
    {"metrics-listen", 0, "CHRONOFORGE_METRICS_LISTEN", CF_CFG_STR, "", CF_CFG_ALL,
     "ADDR:PORT serving /metrics, /healthz and /readyz over HTTP (off when empty; docs/metrics.md)",
     STR(metrics_listen)},
    {"pg-prepared-statements", 0, "CHRONOFORGE_PG_PREPARED_STATEMENTS", CF_CFG_BOOL, "on",
     CF_CFG_ALL,
     "off through a transaction-mode pooler (pgbouncer 1.18): unnamed statements and no session "
     "settings (docs/scaling.md)",
     SCAL(pg_prepared_statements)},
};
const size_t cf_config_nkeys = sizeof cf_config_keys / sizeof cf_config_keys[0];

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

int64_t cf_config_liveness_bound_ms(const cf_config *cfg)
{
    int64_t db =
        cfg->db_io_timeout_ms > 0 ? cfg->db_io_timeout_ms : cfg->statement_timeout_ms + 5000;
    int64_t longest =
        max64(max64(db, cfg->heartbeat_ms),
              max64(max64(cfg->promote_interval_ms, cfg->sweep_interval_ms), cfg->lease_ms));
    return 2 * longest + 10000;
}

static cf_status parse_queues(cf_config *cfg, cf_error *err)
{
    cfg->nqueues = 0;
    const char *p = cfg->queues_csv;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > 64)
            return cf_error_set(err, "bad_value", "queues",
                                "queue names must be 1-64 characters: '%s'", cfg->queues_csv);
        for (size_t i = 0; i < n; i++) {
            char c = p[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == '-';
            if (!ok)
                return cf_error_set(err, "bad_value", "queues",
                                    "queue names use [A-Za-z0-9_.-]: '%s'", cfg->queues_csv);
        }
        if (cfg->nqueues == CF_MAX_QUEUES)
            return cf_error_set(err, "bad_value", "queues", "at most %d queues", CF_MAX_QUEUES);
        memcpy(cfg->queues[cfg->nqueues], p, n);
        cfg->queues[cfg->nqueues][n] = '\0';
        cfg->nqueues++;
        p += n;
        if (*p == ',')
            p++;
    }
    if (cfg->nqueues == 0)
        return cf_error_set(err, "bad_value", "queues", "no queue given");
    return CF_OK;
}

/* The states --retention deletes: finished ones (store/states.h), at least one. */
static cf_status check_retention_states(const char *csv, const char *source, cf_error *err)
{
    cf_wf_state states[CF_WF_STATE_COUNT];
    size_t n = 0;
    const char *bad = csv;
    bool ok = cf_wf_states_parse_csv(csv, states, CF_WF_STATE_COUNT, &n, &bad) && n > 0;
    for (size_t i = 0; ok && i < n; i++)
        if (!cf_wf_state_finished(states[i]))
            ok = false;
    if (ok)
        return CF_OK;
    return cf_error_set(
        err, "bad_value", "retention-states",
        "retention-states (%s) must list finished states (completed, failed, cancelled), "
        "comma-separated, each once: '%s'",
        source, csv);
}

cf_status cf_config_set(cf_config *cfg, const cf_config_key *key, const char *value,
                        const char *source, cf_error *err)
{
    char *base = (char *)cfg;
    switch (key->kind) {
    case CF_CFG_STR:
    case CF_CFG_URL: {
        size_t n = strlen(value);
        if (n >= key->size)
            return cf_error_set(err, "bad_value", key->name, "%s (%s) is longer than %zu bytes",
                                key->name, source, key->size - 1);
        cf_log_level lvl;
        if (key->offset == offsetof(cf_config, log_level) && !cf_log_level_parse(value, &lvl))
            return cf_error_set(err, "bad_value", key->name,
                                "%s (%s) must be debug, info, warn or error, not '%s'", key->name,
                                source, value);
        cf_log_format fmt;
        if (key->offset == offsetof(cf_config, log_format) && !cf_log_format_parse(value, &fmt))
            return cf_error_set(err, "bad_value", key->name,
                                "%s (%s) must be logfmt or json, not '%s'", key->name, source,
                                value);
        memcpy(base + key->offset, value, n + 1);
        if (key->offset == offsetof(cf_config, queues_csv))
            return parse_queues(cfg, err);
        if (key->offset == offsetof(cf_config, retention_states))
            return check_retention_states(value, source, err);
        return CF_OK;
    }
    case CF_CFG_INT: {
        errno = 0;
        char *end;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < 1 || v > 100000)
            return cf_error_set(err, "bad_value", key->name,
                                "%s (%s) must be a whole number from 1 to 100000, not '%s'",
                                key->name, source, value);
        *(int *)(void *)(base + key->offset) = (int)v;
        return CF_OK;
    }
    case CF_CFG_BOOL:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            return cf_error_set(err, "bad_value", key->name, "%s (%s) must be on or off, not '%s'",
                                key->name, source, value);
        *(bool *)(void *)(base + key->offset) = strcmp(value, "on") == 0;
        return CF_OK;
    case CF_CFG_DURATION: {
        int64_t ms;
        cf_error derr;
        if (cf_duration_parse_ms(value, &ms, &derr) != CF_OK)
            return cf_error_set(err, "bad_value", key->name, "%s (%s): %s", key->name, source,
                                derr.msg);
        *(int64_t *)(void *)(base + key->offset) = ms;
        return CF_OK;
    }
    }
    return CF_ERR_INVALID;
}

cf_status cf_config_load(cf_config *cfg, cf_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < cf_config_nkeys; i++) {
        const cf_config_key *k = &cf_config_keys[i];
        cf_status st = cf_config_set(cfg, k, k->dflt, "default", err);
        if (st != CF_OK)
            return st;
        const char *env = getenv(k->env);
        if (env && *env) {
            st = cf_config_set(cfg, k, env, k->env, err);
            if (st != CF_OK)
                return st;
        }
    }
    return CF_OK;
}

const cf_config_key *cf_config_find_flag(const char *name, char short_flag)
{
    for (size_t i = 0; i < cf_config_nkeys; i++) {
        const cf_config_key *k = &cf_config_keys[i];
        if ((name && strcmp(k->name, name) == 0) ||
            (!name && short_flag && k->short_flag == short_flag))
            return k;
    }
    return NULL;
}

void cf_config_print_help(FILE *out, int scope)
{
    for (size_t i = 0; i < cf_config_nkeys; i++) {
        const cf_config_key *k = &cf_config_keys[i];
        if (!(k->scope & scope))
            continue;
        char flag[64];
        if (k->short_flag)
            snprintf(flag, sizeof flag, "-%c, --%s", k->short_flag, k->name);
        else
            snprintf(flag, sizeof flag, "    --%s", k->name);
        fprintf(out, "  %-26s %s\n  %-26s [%s, default %s]\n", flag, k->help, "", k->env,
                *k->dflt ? k->dflt : "(none)");
    }
}

void cf_config_show(const cf_config *cfg, FILE *out)
{
    const char *base = (const char *)cfg;
    for (size_t i = 0; i < cf_config_nkeys; i++) {
        const cf_config_key *k = &cf_config_keys[i];
        char buf[1100];
        switch (k->kind) {
        case CF_CFG_URL:
            cf_redact_dsn(base + k->offset, buf, sizeof buf);
            break;
        case CF_CFG_STR:
            snprintf(buf, sizeof buf, "%s", base + k->offset);
            break;
        case CF_CFG_INT:
            snprintf(buf, sizeof buf, "%d", *(const int *)(const void *)(base + k->offset));
            break;
        case CF_CFG_BOOL:
            snprintf(buf, sizeof buf, "%s",
                     *(const bool *)(const void *)(base + k->offset) ? "on" : "off");
            break;
        case CF_CFG_DURATION:
            cf_duration_format(*(const int64_t *)(const void *)(base + k->offset), buf, sizeof buf);
            break;
        }
        fprintf(out, "%-20s %s\n", k->name, buf);
    }
}
