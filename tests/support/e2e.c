// SPDX-License-Identifier: MIT
/* tests/support/e2e.c: end-to-end fixtures (see e2e.h). */
#include "tests/support/e2e.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "queue/redis_conn.h"
#include "tests/support/test.h"

extern char **environ;

/* A password in the workers' DSN: Postgres (trust auth) ignores it; logs must never show it. */
#define PG_TEST_PASSWORD "cf-pg-secret-91d3"

/* overridden says whether extra ("K=V" strings) sets name. */
static bool overridden(const char *const *extra, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; extra && extra[i]; i++)
        if (strncmp(extra[i], name, n) == 0 && extra[i][n] == '=')
            return true;
    return false;
}

static void build_env(cf_e2e *e, const char *const *extra, char **envp, char *store, size_t cap)
{
    size_t n = 0, used = 0;
    const char *skip[] = {"CHRONOFORGE_", NULL};
    for (char **p = environ; *p && n < 200; p++) {
        if (strncmp(*p, skip[0], strlen(skip[0])) == 0)
            continue;
        envp[n++] = *p;
    }
    char tmp[1200];
    const char *vars[][2] = {
        {"CHRONOFORGE_REDIS_URL", cf_test_env("CF_TEST_REDIS_URL")},
        {"CHRONOFORGE_DATABASE_URL", e->dsn},
        {"CHRONOFORGE_PREFIX", e->prefix},
        {"CHRONOFORGE_TEST_WORKFLOWS", "1"},
        {"CHRONOFORGE_LEASE", "3s"},
        {"CHRONOFORGE_HEARTBEAT", "500ms"},
        {"CHRONOFORGE_PROMOTE_INTERVAL", "20ms"},
        {"CHRONOFORGE_BUSY_RECHECK", "200ms"},
        {"CHRONOFORGE_SHUTDOWN_GRACE", "10s"},
        {NULL, NULL},
    };
    for (int i = 0; vars[i][0]; i++) {
        if (overridden(extra, vars[i][0]))
            continue;
        int k = snprintf(tmp, sizeof tmp, "%s=%s", vars[i][0], vars[i][1]);
        if (k < 0 || used + (size_t)k + 1 > cap)
            break;
        memcpy(store + used, tmp, (size_t)k + 1);
        envp[n++] = store + used;
        used += (size_t)k + 1;
    }
    for (int i = 0; extra && extra[i]; i++)
        envp[n++] = (char *)extra[i];
    envp[n] = NULL;
}

static pid_t spawn(cf_e2e *e, const char *const *argv, const char *const *extra_env,
                   const char *log_path, int out_fd)
{
    char *envp[260];
    static char store[8192];
    build_env(e, extra_env, envp, store, sizeof store);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
        if (fd >= 0) {
            dup2(fd, 2);
            if (out_fd < 0)
                dup2(fd, 1);
        }
        if (out_fd >= 0)
            dup2(out_fd, 1);
        execve(argv[0], (char *const *)argv, envp);
        _exit(127);
    }
    return pid;
}

static const char *bin(void)
{
    return cf_test_env("CF_BIN");
}

void cf_e2e_setup(cf_e2e *e)
{
    memset(e, 0, sizeof *e);
    char base[400];
    cf_test_fresh_database(base, sizeof base);
    snprintf(e->dsn, sizeof e->dsn, "%s password=%s", base, PG_TEST_PASSWORD);
    cf_test_prefix(e->prefix, sizeof e->prefix);
    snprintf(e->dir, sizeof e->dir, "/tmp/cf-e2e-%ld-%s", (long)getpid(), e->prefix + 15);
    mkdir(e->dir, 0755);
    const char *args[] = {bin(), "migrate", NULL};
    char out[256];
    assert_int_equal(cf_e2e_cli(e, out, sizeof out, args), 0);
}

pid_t cf_e2e_worker(cf_e2e *e, int slot, const char *const *args, const char *const *extra_env)
{
    return cf_e2e_process(e, slot, "worker", args, extra_env);
}

pid_t cf_e2e_process(cf_e2e *e, int slot, const char *cmd, const char *const *args,
                     const char *const *extra_env)
{
    const char *argv[40] = {bin(), cmd};
    int n = 2;
    for (int i = 0; args && args[i] && n < 38; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    snprintf(e->logs[slot], sizeof e->logs[slot], "%s/%s-%d.log", e->dir, cmd, slot);
    e->pids[slot] = spawn(e, argv, extra_env, e->logs[slot], -1);
    if (slot >= e->nworkers)
        e->nworkers = slot + 1;
    return e->pids[slot];
}

void cf_e2e_signal(cf_e2e *e, int slot, int sig)
{
    if (e->pids[slot] > 0)
        kill(e->pids[slot], sig);
}

int cf_e2e_wait_exit(cf_e2e *e, int slot, int64_t timeout_ms)
{
    int64_t deadline = cf_clock_mono_ms() + timeout_ms;
    for (;;) {
        int status;
        pid_t r = waitpid(e->pids[slot], &status, WNOHANG);
        if (r == e->pids[slot]) {
            e->pids[slot] = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (r < 0)
            return -2;
        if (cf_clock_mono_ms() > deadline)
            return -1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int cf_e2e_cli(cf_e2e *e, char *out, size_t cap, const char *const *args)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    char log[320];
    snprintf(log, sizeof log, "%s/cli.log", e->dir);
    pid_t pid = spawn(e, args, NULL, log, fds[1]);
    close(fds[1]);
    size_t len = 0;
    char sink[4096];
    for (;;) {
        char *dst = out && len + 1 < cap ? out + len : sink;
        size_t room = out && len + 1 < cap ? cap - 1 - len : sizeof sink;
        ssize_t n = read(fds[0], dst, room);
        if (n <= 0)
            break;
        if (dst != sink)
            len += (size_t)n;
    }
    close(fds[0]);
    if (out && cap)
        out[len] = '\0';
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void cf_e2e_enqueue(cf_e2e *e, const char *wf_class, const char *key, const char *kwargs)
{
    const char *args[] = {bin(), "enqueue", wf_class, key, "--kwargs", kwargs ? kwargs : "{}",
                          NULL};
    char out[128];
    assert_int_equal(cf_e2e_cli(e, out, sizeof out, args), 0);
}

static PGconn *db(cf_e2e *e)
{
    PGconn *c = PQconnectdb(e->dsn);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("test database: %s", PQerrorMessage(c));
    return c;
}

/* sql_params runs sql with n text parameters; the first column of the first row, owned. */
static char *sql_params(cf_e2e *e, const char *sql, int n, const char *const *params)
{
    PGconn *c = db(e);
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("query failed: %s: %s", sql, PQerrorMessage(c));
    char *v = strdup(PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return v;
}

void cf_e2e_sql_exec(cf_e2e *e, const char *sql)
{
    PGconn *c = db(e);
    PGresult *r = PQexec(c, sql);
    ExecStatusType rs = PQresultStatus(r);
    if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK)
        fail_msg("statement failed: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

char *cf_e2e_sql(cf_e2e *e, const char *sql, const char *param1)
{
    const char *params[1] = {param1};
    return sql_params(e, sql, param1 ? 1 : 0, params);
}

int64_t cf_e2e_sql_int(cf_e2e *e, const char *sql, const char *param1)
{
    char *v = cf_e2e_sql(e, sql, param1);
    int64_t n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

const char *cf_e2e_state(cf_e2e *e, const char *key, char *buf, size_t cap)
{
    char *v = cf_e2e_sql(e, "SELECT state FROM chrono_forge_workflows WHERE key = $1", key);
    snprintf(buf, cap, "%s", v);
    free(v);
    return buf;
}

typedef struct state_wait {
    cf_e2e *e;
    const char *key, *state;
    int64_t n;
} state_wait;

static bool state_is(void *arg)
{
    state_wait *w = arg;
    char buf[32];
    return strcmp(cf_e2e_state(w->e, w->key, buf, sizeof buf), w->state) == 0;
}

bool cf_e2e_wait_state(cf_e2e *e, const char *key, const char *state, int64_t timeout_ms)
{
    state_wait w = {e, key, state, 0};
    return cf_test_wait_for(state_is, &w, timeout_ms);
}

static bool count_reached(void *arg)
{
    state_wait *w = arg;
    return cf_e2e_sql_int(w->e, "SELECT count(*) FROM chrono_forge_workflows WHERE state = $1",
                          w->state) >= w->n;
}

bool cf_e2e_wait_states(cf_e2e *e, const char *state, int64_t n, int64_t timeout_ms)
{
    state_wait w = {e, NULL, state, n};
    return cf_test_wait_for(count_reached, &w, timeout_ms);
}

typedef struct keys_wait {
    cf_e2e *e;
    const char *params[2]; /* key pattern, state */
    int64_t n;
} keys_wait;

static bool keys_in_state(void *arg)
{
    keys_wait *w = arg;
    char *v = sql_params(w->e,
                         "SELECT count(*) FROM chrono_forge_workflows WHERE key LIKE $1 AND "
                         "state = $2",
                         2, w->params);
    int64_t n = strtoll(v, NULL, 10);
    free(v);
    return n == w->n;
}

bool cf_e2e_wait_keys_in_state(cf_e2e *e, const char *key_like, const char *state, int64_t n,
                               int64_t timeout_ms)
{
    keys_wait w = {e, {key_like, state}, n};
    return cf_test_wait_for(keys_in_state, &w, timeout_ms);
}

int cf_e2e_ledger_count(const char *path, const char *line_prefix)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[512];
    int n = 0;
    size_t plen = strlen(line_prefix);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, line_prefix, plen) == 0)
            n++;
    fclose(f);
    return n;
}

typedef struct ledger_wait {
    const char *path, *prefix;
    int n;
} ledger_wait;

static bool ledger_reached(void *arg)
{
    ledger_wait *w = arg;
    return cf_e2e_ledger_count(w->path, w->prefix) >= w->n;
}

bool cf_e2e_wait_ledger(const char *path, const char *line_prefix, int n, int64_t timeout_ms)
{
    ledger_wait w = {path, line_prefix, n};
    return cf_test_wait_for(ledger_reached, &w, timeout_ms);
}

/* redis_exec runs argv (NULL-terminated) on a fresh connection; the caller frees the reply. */
static cf_reply *redis_exec(const char *const *argv)
{
    cf_redis *r = cf_test_redis_open();
    size_t lens[16];
    int argc = 0;
    for (; argv[argc]; argc++)
        lens[argc] = strlen(argv[argc]);
    cf_reply *rep = NULL;
    if (cf_redis_exec(r, argc, argv, lens, &rep) != CF_OK)
        rep = NULL;
    cf_redis_free(r);
    return rep;
}

int64_t cf_e2e_redis_int(const char *const *argv)
{
    cf_reply *rep = redis_exec(argv);
    int64_t v = !rep                            ? -1
                : rep->type == CF_REPLY_INTEGER ? rep->integer
                : rep->type == CF_REPLY_ARRAY   ? (int64_t)rep->n
                                                : 0;
    cf_reply_free(rep);
    return v;
}

void cf_e2e_redis_str(const char *const *argv, char *out, size_t cap)
{
    cf_reply *rep = redis_exec(argv);
    out[0] = '\0';
    if (rep) {
        const cf_reply *v = rep->type == CF_REPLY_ARRAY && rep->n > 0 ? &rep->elem[0] : rep;
        if (v->type == CF_REPLY_STRING || v->type == CF_REPLY_STATUS)
            snprintf(out, cap, "%.*s", (int)v->len, v->str);
    }
    cf_reply_free(rep);
}

typedef struct redis_wait {
    const char *const *argv;
    int64_t min, max;
} redis_wait;

static bool redis_in_range(void *arg)
{
    redis_wait *w = arg;
    int64_t v = cf_e2e_redis_int(w->argv);
    return v >= w->min && v <= w->max;
}

bool cf_e2e_wait_redis_int(const char *const *argv, int64_t min, int64_t max, int64_t timeout_ms)
{
    redis_wait w = {argv, min, max};
    return cf_test_wait_for(redis_in_range, &w, timeout_ms);
}

/* count_keys counts the keys matching pattern (after the prefix) and appends "N in KEY" for
 * the first of them to why. */
static int64_t count_keys(cf_e2e *e, const char *suffix, const char *kind, char *why, size_t cap)
{
    char pattern[300];
    snprintf(pattern, sizeof pattern, "%s:%s", e->prefix, suffix);
    const char *argv[] = {"KEYS", pattern, NULL};
    cf_reply *rep = redis_exec(argv);
    int64_t n = rep && rep->type == CF_REPLY_ARRAY ? (int64_t)rep->n : -1;
    if (n != 0) {
        size_t used = strlen(why);
        if (n < 0) {
            snprintf(why + used, cap - used, "%sKEYS %s failed", used ? "; " : "", pattern);
        } else {
            char key[300];
            snprintf(key, sizeof key, "%.*s", (int)rep->elem[0].len, rep->elem[0].str);
            const char *size_cmd = strcmp(kind, "lock") == 0   ? "STRLEN"
                                   : strcmp(kind, "set") == 0  ? "SCARD"
                                   : strcmp(kind, "zset") == 0 ? "ZCARD"
                                                               : "LLEN";
            const char *sz[] = {size_cmd, key, NULL};
            snprintf(why + used, cap - used, "%s%lld key(s) like %s (%s: %s %lld)",
                     used ? "; " : "", (long long)n, suffix, key,
                     strcmp(kind, "lock") == 0 ? "a lock" : "size",
                     (long long)cf_e2e_redis_int(sz));
        }
    }
    cf_reply_free(rep);
    return n;
}

bool cf_e2e_quiet(cf_e2e *e, char *why, size_t cap)
{
    why[0] = '\0';
    /* Redis deletes empty lists, sets and sorted sets: a key that exists holds something */
    bool quiet = count_keys(e, "{*}:ready", "list", why, cap) == 0;
    quiet = count_keys(e, "{*}:due", "list", why, cap) == 0 && quiet;
    quiet = count_keys(e, "{*}:scheduled", "zset", why, cap) == 0 && quiet;
    quiet = count_keys(e, "{*}:inflight:*", "list", why, cap) == 0 && quiet;
    quiet = count_keys(e, "lock:*", "lock", why, cap) == 0 && quiet;
    quiet = count_keys(e, "held:*", "set", why, cap) == 0 && quiet;
    return quiet;
}

static bool is_quiet(void *arg)
{
    char why[1024];
    return cf_e2e_quiet(arg, why, sizeof why);
}

void cf_e2e_assert_quiet(cf_e2e *e, int64_t timeout_ms)
{
    if (cf_test_wait_for(is_quiet, e, timeout_ms))
        return;
    char why[1024];
    if (!cf_e2e_quiet(e, why, sizeof why))
        fail_msg("not quiescent after %lld ms: %s", (long long)timeout_ms, why);
}

/* has_pair says whether the logfmt pairs of line (the part before " msg=") hold pair. */
static bool has_pair(const char *line, const char *pair, size_t len)
{
    const char *end = strstr(line, " msg=");
    if (end == NULL)
        end = line + strlen(line);
    for (const char *p = line; p + len <= end; p++) {
        p = strstr(p, pair);
        if (p == NULL || p + len > end)
            return false;
        if ((p == line || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\n' || p[len] == '\0'))
            return true;
    }
    return false;
}

static bool line_matches(const char *line, const char *event, const char *kv)
{
    char pair[256];
    int n = snprintf(pair, sizeof pair, "event=%s", event);
    if (!has_pair(line, pair, (size_t)n))
        return false;
    for (const char *p = kv; p && *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == 0)
            break;
        n = snprintf(pair, sizeof pair, "%.*s", (int)len, p);
        if (!has_pair(line, pair, (size_t)n))
            return false;
        p += len;
    }
    return true;
}

int cf_e2e_log_events(cf_e2e *e, int slot, const char *event, const char *kv)
{
    int n = 0;
    for (int i = slot < 0 ? 0 : slot; i < (slot < 0 ? e->nworkers : slot + 1); i++) {
        FILE *f = e->logs[i][0] ? fopen(e->logs[i], "r") : NULL;
        if (f == NULL)
            continue;
        char line[8192];
        while (fgets(line, sizeof line, f))
            n += line_matches(line, event, kv);
        fclose(f);
    }
    return n;
}

typedef struct event_wait {
    cf_e2e *e;
    int slot, n;
    const char *event, *kv;
} event_wait;

static bool events_reached(void *arg)
{
    event_wait *w = arg;
    return cf_e2e_log_events(w->e, w->slot, w->event, w->kv) >= w->n;
}

bool cf_e2e_wait_log_events(cf_e2e *e, int slot, const char *event, const char *kv, int n,
                            int64_t timeout_ms)
{
    event_wait w = {e, slot, n, event, kv};
    return cf_test_wait_for(events_reached, &w, timeout_ms);
}

bool cf_e2e_log_contains(cf_e2e *e, int slot, const char *needle)
{
    FILE *f = fopen(e->logs[slot], "r");
    if (f == NULL)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

void cf_e2e_teardown(cf_e2e *e)
{
    for (int i = 0; i < e->nworkers; i++) {
        if (e->pids[i] > 0) {
            kill(e->pids[i], SIGKILL);
            waitpid(e->pids[i], NULL, 0);
            e->pids[i] = 0;
        }
    }
    const char *redis_pw = getenv("CF_TEST_REDIS_PASSWORD");
    for (int i = 0; i < e->nworkers; i++) {
        if (e->logs[i][0] == '\0')
            continue;
        if (cf_e2e_log_contains(e, i, "ERROR: AddressSanitizer") ||
            cf_e2e_log_contains(e, i, "runtime error:") ||
            cf_e2e_log_contains(e, i, "ERROR: LeakSanitizer") ||
            cf_e2e_log_contains(e, i, "WARNING: ThreadSanitizer"))
            fail_msg("sanitizer report in %s", e->logs[i]);
        if (redis_pw && cf_e2e_log_contains(e, i, redis_pw))
            fail_msg("the Redis password appears in %s", e->logs[i]);
        if (cf_e2e_log_contains(e, i, PG_TEST_PASSWORD))
            fail_msg("the Postgres password appears in %s", e->logs[i]);
    }
}

bool cf_e2e_file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 20, len = 0, n;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}
