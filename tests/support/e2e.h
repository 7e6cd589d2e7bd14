// SPDX-License-Identifier: MIT
/* tests/support/e2e.h: end-to-end fixtures: a migrated database and a key prefix per test
 * binary, worker processes of the real binary (CF_BIN) with their logs, enqueueing through the
 * CLI, and reads of the store and Redis to check outcomes. */
#ifndef CF_TESTS_SUPPORT_E2E_H
#define CF_TESTS_SUPPORT_E2E_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct cf_e2e {
    char dsn[512];
    char prefix[96];
    char dir[256]; /* scratch: logs, ledgers */
    int nworkers;
    pid_t pids[16];
    char logs[16][300];
} cf_e2e;

/* cf_e2e_setup creates a fresh migrated database, a prefix and a scratch dir. */
void cf_e2e_setup(cf_e2e *e);

/* cf_e2e_teardown stops every worker (SIGKILL) and checks their logs: no sanitizer report, no
 * test password. */
void cf_e2e_teardown(cf_e2e *e);

/* cf_e2e_worker starts worker process number slot with extra "--flag value" arguments (NULL
 * terminated list). Environment: the test services, the prefix, CHRONOFORGE_TEST_WORKFLOWS=1,
 * and extra_env ("K=V" strings, NULL-terminated, may be NULL; a name set there replaces the
 * default, e.g. "CHRONOFORGE_REDIS_URL=..." to go through a fault proxy). */
pid_t cf_e2e_worker(cf_e2e *e, int slot, const char *const *args, const char *const *extra_env);

/* cf_e2e_process is cf_e2e_worker for another long-running command (cmd: "dashboard"); its log
 * is <dir>/<cmd>-<slot>.log, checked at teardown like a worker's. */
pid_t cf_e2e_process(cf_e2e *e, int slot, const char *cmd, const char *const *args,
                     const char *const *extra_env);

/* cf_e2e_signal sends sig to worker slot; cf_e2e_wait_exit waits up to timeout_ms for it to
 * exit and returns its exit status (-1: still running; 128+N: killed by signal N). */
void cf_e2e_signal(cf_e2e *e, int slot, int sig);
int cf_e2e_wait_exit(cf_e2e *e, int slot, int64_t timeout_ms);

/* cf_e2e_cli runs the binary with args (NULL-terminated) in the test environment, captures
 * stdout into out (cap bytes; may be NULL) and returns the exit code. */
int cf_e2e_cli(cf_e2e *e, char *out, size_t cap, const char *const *args);

/* cf_e2e_enqueue enqueues CLASS KEY with kwargs JSON through the CLI; fails the test on error. */
void cf_e2e_enqueue(cf_e2e *e, const char *wf_class, const char *key, const char *kwargs);

/* cf_e2e_sql runs a query (a literal; $1 = param1 may be NULL) and returns the first column of
 * the first row as an owned string ("" when no row); free with free(). */
char *cf_e2e_sql(cf_e2e *e, const char *sql, const char *param1);
/* cf_e2e_sql_exec runs a statement without parameters (DDL too) on the test's database. */
void cf_e2e_sql_exec(cf_e2e *e, const char *sql);
int64_t cf_e2e_sql_int(cf_e2e *e, const char *sql, const char *param1);

/* cf_e2e_state returns the state of workflow key ("" when absent) in buf. */
const char *cf_e2e_state(cf_e2e *e, const char *key, char *buf, size_t cap);

/* cf_e2e_wait_state polls until workflow key is in state, up to timeout_ms. */
bool cf_e2e_wait_state(cf_e2e *e, const char *key, const char *state, int64_t timeout_ms);

/* cf_e2e_wait_count polls until `SELECT count(*) ... WHERE state = $1` reaches n. */
bool cf_e2e_wait_states(cf_e2e *e, const char *state, int64_t n, int64_t timeout_ms);

/* cf_e2e_wait_keys_in_state polls until exactly n workflows whose key is LIKE key_like (e.g.
 * "many-%") are in state: a count that ignores workflows other tests left behind. */
bool cf_e2e_wait_keys_in_state(cf_e2e *e, const char *key_like, const char *state, int64_t n,
                               int64_t timeout_ms);

/* cf_e2e_ledger_count counts lines of the ledger file that start with prefix ("key step "). */
int cf_e2e_ledger_count(const char *path, const char *line_prefix);

/* cf_e2e_wait_ledger polls until the ledger has at least n lines starting with line_prefix. */
bool cf_e2e_wait_ledger(const char *path, const char *line_prefix, int n, int64_t timeout_ms);

/* cf_e2e_redis runs a Redis command (argv NULL-terminated) on the test Redis and returns an
 * integer reply (or the length of an array reply). */
int64_t cf_e2e_redis_int(const char *const *argv);

/* cf_e2e_redis_str runs a command (argv NULL-terminated) on the test Redis and copies a string
 * or status reply, or the first element of an array reply, into out ("" otherwise). */
void cf_e2e_redis_str(const char *const *argv, char *out, size_t cap);

/* cf_e2e_wait_redis_int polls until cf_e2e_redis_int(argv) is within [min, max]. */
bool cf_e2e_wait_redis_int(const char *const *argv, int64_t min, int64_t max, int64_t timeout_ms);

/* cf_e2e_quiet checks that this test's prefix is quiescent: no envelope in any queue's ready
 * or due list, scheduled set (continuations, retries, busy redeliveries) or any worker's in-flight
 * list, no workflow lock and no P:held entry. When it is not, it writes what is left into why
 * (e.g. "3 in P:{default}:scheduled") and returns false. Only meaningful once every workflow
 * of the test is terminal or parked without a wake (continue_if). */
bool cf_e2e_quiet(cf_e2e *e, char *why, size_t cap);

/* cf_e2e_assert_quiet waits up to timeout_ms for cf_e2e_quiet and fails the test with what is
 * left. Use it before counting effects: every delivery, duplicate and continuation has then
 * been handled, so a count cannot be read before the work it counts has run. */
void cf_e2e_assert_quiet(cf_e2e *e, int64_t timeout_ms);

/* cf_e2e_log_events counts lines of worker slot's log (slot < 0: every worker's log) carrying
 * the logfmt pair event=<event> and each pair of kv ("k=v k2=v2", may be NULL), each matched
 * as a whole pair before msg= (so never in the message prose). */
int cf_e2e_log_events(cf_e2e *e, int slot, const char *event, const char *kv);

/* cf_e2e_wait_log_events polls until cf_e2e_log_events(...) >= n. */
bool cf_e2e_wait_log_events(cf_e2e *e, int slot, const char *event, const char *kv, int n,
                            int64_t timeout_ms);

/* cf_e2e_log_contains says whether worker slot's log contains needle. */
bool cf_e2e_log_contains(cf_e2e *e, int slot, const char *needle);

/* cf_e2e_file_contains says whether the file at path (a binary, a log) holds the bytes of
 * needle; fails the test when it cannot be read. */
bool cf_e2e_file_contains(const char *path, const char *needle);

/* CF_E2E_EACH(E) defines setup_each and teardown_each, the per-test cmocka fixtures that run
 * cf_e2e_setup and cf_e2e_teardown on the file's cf_e2e E (what most e2e files want). */
#define CF_E2E_EACH(E)                                                                             \
    static int setup_each(void **state)                                                            \
    {                                                                                              \
        (void)state;                                                                               \
        cf_e2e_setup(&(E));                                                                        \
        return 0;                                                                                  \
    }                                                                                              \
    static int teardown_each(void **state)                                                         \
    {                                                                                              \
        (void)state;                                                                               \
        cf_e2e_teardown(&(E));                                                                     \
        return 0;                                                                                  \
    }

#endif
