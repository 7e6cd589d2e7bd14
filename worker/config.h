// SPDX-License-Identifier: MIT
/* worker/config.h: every setting of the worker and the CLI, from one table (docs/SPEC.md §5):
 * built-in default < environment variable (CHRONOFORGE_*) < command-line flag. The same table
 * drives parsing, `--help` text and `chronoforge config` output (secrets redacted). */
#ifndef CF_WORKER_CONFIG_H
#define CF_WORKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/status.h"

#define CF_MAX_QUEUES 16

typedef struct cf_config {
    char redis_url[1024];
    char database_url[1024];
    char prefix[128];
    char queues_csv[1024];
    char queues[CF_MAX_QUEUES][65]; /* parsed from queues_csv, priority order */
    int nqueues;
    int concurrency;
    int64_t max_duration_ms;
    int64_t lease_ms;
    int64_t heartbeat_ms;
    int db_pool;
    int64_t shutdown_grace_ms;
    int64_t unknown_class_grace_ms;
    int64_t busy_recheck_ms;
    int64_t lazy_begin_ms; /* the lazy window's bound (docs/healing.md); 0: durable begins */
    int dead_letter_cap;
    int batch_max;
    int64_t statement_timeout_ms;
    int64_t db_io_timeout_ms; /* 0: the store's default (statement timeout + 5 s) */
    int64_t promote_interval_ms;
    int64_t sweep_grace_ms;
    int64_t sweep_interval_ms;
    int sweep_batch;
    int64_t retention_ms;       /* finished workflows older than this are deleted; 0: kept */
    char retention_states[128]; /* which finished states --retention deletes (csv) */
    int64_t retention_dead_ms;  /* dead letters older than this are deleted; 0: kept */
    int repeat_keep_ticks;      /* tick rows a durably_repeat keeps (engine/repeat.c) */
    char log_level[16];
    char log_format[16];         /* "logfmt" or "json" */
    char metrics_listen[128];    /* ADDR:PORT of /metrics, /healthz, /readyz; "": off */
    bool pg_prepared_statements; /* off through a transaction-mode pooler (pgbouncer) */
} cf_config;

/* Which commands a setting applies to, as a bit set. */
enum { CF_CFG_ALL = 1, CF_CFG_WORKER = 2 };

typedef enum cf_config_kind {
    CF_CFG_STR,
    CF_CFG_URL,
    CF_CFG_INT,
    CF_CFG_DURATION,
    CF_CFG_BOOL, /* "on" or "off" */
} cf_config_kind;

typedef struct cf_config_key {
    const char *name; /* flag name without dashes, e.g. "redis-url" */
    char short_flag;  /* e.g. 'q', or 0 */
    const char *env;  /* e.g. "CHRONOFORGE_REDIS_URL" */
    cf_config_kind kind;
    const char *dflt; /* as text; "" = empty */
    int scope;        /* CF_CFG_ALL or CF_CFG_WORKER */
    const char *help;
    size_t offset; /* into cf_config */
    size_t size;   /* of the char array for STR/URL */
} cf_config_key;

extern const cf_config_key cf_config_keys[];
extern const size_t cf_config_nkeys;

/* cf_config_load fills cfg from defaults and the environment. Returns CF_ERR_INVALID with a
 * message naming the variable in err. */
CF_MUST_CHECK cf_status cf_config_load(cf_config *cfg, cf_error *err);

/* cf_config_set applies one setting by flag name or short flag (from the command line). */
CF_MUST_CHECK cf_status cf_config_set(cf_config *cfg, const cf_config_key *key, const char *value,
                                      const char *source, cf_error *err);

/* cf_config_find_flag finds a key by long name ("redis-url") or short flag ('q', name NULL). */
const cf_config_key *cf_config_find_flag(const char *name, char short_flag);

/* cf_config_print_help writes the flags of scope (CF_CFG_ALL, or | CF_CFG_WORKER) to out. */
void cf_config_print_help(FILE *out, int scope);

/* cf_config_show writes every effective value to out, URLs redacted. */
void cf_config_show(const cf_config *cfg, FILE *out);

/* cf_config_liveness_bound_ms: how long a loop may go without iterating, derived from the
 * settings: the longest single wait a loop makes (a Postgres answer, a fetch, a heartbeat, a
 * housekeeping pass) with a wide margin: 2 x max(db-io-timeout or statement-timeout + 5 s,
 * heartbeat, promote-interval, sweep-interval, lease) + 10 s. /healthz (http/health.h) and the
 * systemd watchdog (worker/sd_notify.h) both judge by it. */
int64_t cf_config_liveness_bound_ms(const cf_config *cfg);

#endif
