// SPDX-License-Identifier: MIT
/* queue/redis_conn.c: with redis_reply.c and redis_subscribe.c, the only files that call
 * hiredis (queue/redis_conn_impl.h). Owns the connection lifecycle (connect,
 * AUTH, SELECT, timeouts, reconnect with backoff), the conversion of hiredis replies into
 * cf_reply trees (redis_reply.c), error classification, pipelines and EVALSHA with NOSCRIPT
 * reloading. Written against the API common to hiredis 0.14 and 1.x; anything newer sits behind
 * HIREDIS_MAJOR. */
#include "queue/redis_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "queue/argv.h"
#include "queue/mux.h"
#include "queue/redis_conn_impl.h"

#define ARGV_STACK 16

static cf_log_limiter g_connect_limiter;

/* Write+read cycles on a live connection, process-wide (cf_redis_round_trips). */
static _Atomic uint64_t g_round_trips;

uint64_t cf_redis_round_trips(void)
{
    return atomic_load_explicit(&g_round_trips, memory_order_relaxed);
}

/* rtt_done observes a round trip that began at t0_us (cf_clock_mono_us) in the process's
 * Redis round-trip histogram (common/metrics.h). */
static void rtt_done(int64_t t0_us)
{
    cf_hist_observe(&cf_metrics_g.redis_rtt, cf_clock_mono_us() - t0_us);
}

static void count_round_trip(void)
{
    atomic_fetch_add_explicit(&g_round_trips, 1, memory_order_relaxed);
}

void cf_redis_opts_default(cf_redis_opts *o)
{
    o->connect_timeout_ms = 2000;
    o->read_timeout_ms = 5000;
    o->reconnect_base_ms = 100;
    o->reconnect_cap_ms = 5000;
}

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

void cf_redis_set_err(cf_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errstr, sizeof r->errstr, fmt, ap);
    va_end(ap);
}

/* classify_error maps an error reply to a status and records it in errstr. */
cf_status cf_redis_classify_error(cf_redis *r, const char *msg)
{
    cf_redis_set_err(r, "redis %s: %s", r->url.redacted, msg);
    r->last_noscript = strncmp(msg, "NOSCRIPT", 8) == 0;
    static const char *const unavailable[] = {"LOADING",  "MASTERDOWN",  "READONLY",  "BUSY ",
                                              "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"};
    for (size_t i = 0; i < sizeof unavailable / sizeof unavailable[0]; i++) {
        if (strncmp(msg, unavailable[i], strlen(unavailable[i])) == 0) {
            /* A replica or a loading server: reconnect next time (a failover may have moved
             * the name to a new master). */
            if (strncmp(msg, "READONLY", 8) == 0 || strncmp(msg, "MASTERDOWN", 10) == 0)
                cf_redis_disconnect(r);
            return CF_ERR_UNAVAILABLE;
        }
    }
    if (strncmp(msg, "NOAUTH", 6) == 0 || strncmp(msg, "WRONGPASS", 9) == 0 ||
        strncmp(msg, "NOPERM", 6) == 0)
        return CF_ERR_INVALID;
    return CF_ERR_PROTOCOL;
}

/* transport_error turns a failed hiredis call into a status and drops the connection: after an
 * I/O error or a timeout hiredis's context is unusable. */
cf_status cf_redis_transport_error(cf_redis *r)
{
    cf_status st = CF_ERR_IO;
    int err = r->c ? r->c->err : REDIS_ERR_OTHER;
    int saved_errno = errno;
    if (err == REDIS_ERR_OOM)
        st = CF_ERR_NOMEM;
#ifdef REDIS_ERR_TIMEOUT
    else if (err == REDIS_ERR_TIMEOUT)
        st = CF_ERR_TIMEOUT;
#endif
    else if (err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
        st = CF_ERR_TIMEOUT;
    else if (err == REDIS_ERR_PROTOCOL)
        st = CF_ERR_PROTOCOL;
    cf_redis_set_err(r, "redis %s: %s (%s)", r->url.redacted,
                     r->c && r->c->errstr[0] ? r->c->errstr : "connection lost", cf_status_str(st));
    cf_redis_disconnect(r);
    return st;
}

/* ---- clients of a shared connection (queue/mux.h) ---- */

/* mux_run hands cmds[0..n) to r's shared connection as one contiguous piece of its next batch
 * (n == 0: only make sure it is connected). Returns the batch's transport status (replies all
 * NULL then, the message in r->errstr); error replies are left to the caller to classify. */
static cf_status mux_run(cf_redis *r, const cf_redis_cmd *cmds, size_t n, cf_reply **replies)
{
    return cf_mux_submit(r->mux, cmds, n, replies, r->errstr, sizeof r->errstr);
}

/* mux_one runs one command or script through the shared connection with cf_redis_exec's
 * result rules. */
static cf_status mux_one(cf_redis *r, const cf_redis_cmd *cmd, cf_reply **out)
{
    *out = NULL;
    cf_reply *rep = NULL;
    cf_status st = mux_run(r, cmd, 1, &rep);
    if (st != CF_OK) {
        cf_reply_free(rep);
        return st;
    }
    if (rep->type == CF_REPLY_ERROR) {
        st = cf_redis_classify_error(r, rep->str);
        cf_reply_free(rep);
        return st;
    }
    r->errstr[0] = '\0';
    *out = rep;
    return CF_OK;
}

/* ---- connection ---- */

static cf_status alloc_handle(const char *url, const cf_redis_opts *opts, cf_redis **out,
                              cf_error *err)
{
    *out = NULL;
    cf_redis *r = cf_calloc(1, sizeof *r);
    if (r == NULL)
        return CF_ERR_NOMEM;
    cf_status st = cf_redis_url_parse(url, &r->url, err);
    if (st != CF_OK) {
        cf_free(r);
        return st;
    }
    if (opts)
        r->opts = *opts;
    else
        cf_redis_opts_default(&r->opts);
    *out = r;
    return CF_OK;
}

cf_status cf_redis_new(const char *url, const cf_redis_opts *opts, cf_redis **out, cf_error *err)
{
    return alloc_handle(url, opts, out, err);
}

cf_status cf_redis_new_client(const char *url, cf_mux *mux, cf_redis **out, cf_error *err)
{
    cf_status st = alloc_handle(url, NULL, out, err);
    if (st == CF_OK)
        (*out)->mux = mux;
    return st;
}

void cf_redis_copy_errstr(const cf_redis *r, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", r->errstr);
}

cf_status cf_redis_open(const char *url, const cf_redis_opts *opts, cf_redis **out, cf_error *err)
{
    cf_redis *r;
    cf_status st = alloc_handle(url, opts, &r, err);
    if (st != CF_OK)
        return st;
    st = cf_redis_connect(r);
    if (st != CF_OK) {
        cf_error_set(err, cf_status_str(st), "redis_url", "%s", r->errstr);
        cf_redis_free(r);
        return st;
    }
    *out = r;
    return CF_OK;
}

void cf_redis_free(cf_redis *r)
{
    if (r == NULL)
        return;
    if (r->mux == NULL) /* a client leaves the shared connection alone */
        cf_redis_disconnect(r);
    cf_redis_url_wipe(&r->url);
    cf_free(r);
}

const char *cf_redis_errstr(const cf_redis *r)
{
    return r->errstr;
}

const char *cf_redis_redacted_url(const cf_redis *r)
{
    return r->url.redacted;
}

bool cf_redis_is_connected(const cf_redis *r)
{
    if (r->mux)
        return cf_mux_connected(r->mux);
    return r->c != NULL;
}

void cf_redis_disconnect(cf_redis *r)
{
    if (r->mux) {
        cf_mux_drop(r->mux); /* the next batch reconnects */
        return;
    }
    if (r->c) {
        redisFree(r->c);
        r->c = NULL;
    }
}

cf_status cf_redis_set_timeout(cf_redis *r, int64_t ms)
{
    if (r->cur_timeout_ms == ms)
        return CF_OK;
    if (redisSetTimeout(r->c, tv_ms(ms)) != REDIS_OK)
        return cf_redis_transport_error(r);
    r->cur_timeout_ms = ms;
    return CF_OK;
}

/* handshake sends AUTH and SELECT on a fresh connection. */
static cf_status handshake(cf_redis *r)
{
    cf_argv a;
    if (r->url.has_password) {
        cf_argv_init(&a);
        cf_argv_str(&a, "AUTH");
        if (r->url.user[0])
            cf_argv_str(&a, r->url.user);
        cf_argv_str(&a, r->url.password);
        redisReply *rep = redisCommandArgv(r->c, a.argc, a.argv, a.lens);
        if (rep == NULL)
            return cf_redis_transport_error(r);
        cf_status st =
            rep->type == REDIS_REPLY_ERROR ? cf_redis_classify_error(r, rep->str) : CF_OK;
        freeReplyObject(rep);
        if (st != CF_OK)
            return st;
    }
    if (r->url.db != 0) {
        cf_argv_init(&a);
        cf_argv_int(cf_argv_str(&a, "SELECT"), r->url.db);
        redisReply *rep = redisCommandArgv(r->c, a.argc, a.argv, a.lens);
        if (rep == NULL)
            return cf_redis_transport_error(r);
        cf_status st =
            rep->type == REDIS_REPLY_ERROR ? cf_redis_classify_error(r, rep->str) : CF_OK;
        freeReplyObject(rep);
        if (st != CF_OK)
            return st;
    }
    return CF_OK;
}

static cf_status connect_once(cf_redis *r)
{
    struct timeval tv = tv_ms(r->opts.connect_timeout_ms);
    if (r->url.transport == CF_REDIS_TCP)
        r->c = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    else
        r->c = redisConnectUnixWithTimeout(r->url.path, tv);
    if (r->c == NULL) {
        cf_redis_set_err(r, "redis %s: out of memory", r->url.redacted);
        return CF_ERR_NOMEM;
    }
    if (r->c->err) {
        cf_redis_set_err(r, "redis %s: connect: %s", r->url.redacted, r->c->errstr);
        cf_redis_disconnect(r);
        return CF_ERR_UNAVAILABLE;
    }
    r->cur_timeout_ms = -1;
    cf_status st = cf_redis_set_timeout(r, r->opts.read_timeout_ms);
    if (st != CF_OK)
        return st;
    if (r->url.transport == CF_REDIS_TCP)
        (void)redisEnableKeepAlive(r->c);
    st = handshake(r);
    if (st != CF_OK)
        cf_redis_disconnect(r);
    return st;
}

cf_status cf_redis_connect(cf_redis *r)
{
    if (r->mux)
        return cf_mux_connected(r->mux) ? CF_OK : mux_run(r, NULL, 0, NULL);
    if (r->c)
        return CF_OK;
    int64_t now = cf_clock_mono_ms();
    if (r->failures > 0 && now < r->next_try_mono_ms) {
        cf_redis_set_err(r, "redis %s: unreachable, next try in %lld ms", r->url.redacted,
                         (long long)(r->next_try_mono_ms - now));
        return CF_ERR_UNAVAILABLE;
    }
    cf_status st = connect_once(r);
    if (st == CF_OK) {
        if (r->connected_before) /* /metrics: a connection re-established */
            cf_metrics_add(&cf_metrics_g.redis_reconnects, 1);
        r->connected_before = true;
        if (r->failures > 0)
            cf_logkv(CF_LOG_INFO, NULL, NULL, "redis reconnected to %s after %d failed tries",
                     r->url.redacted, r->failures);
        r->failures = 0;
        return CF_OK;
    }
    r->failures++;
    r->next_try_mono_ms =
        cf_clock_mono_ms() +
        cf_backoff_delay_ms(r->opts.reconnect_base_ms, r->opts.reconnect_cap_ms, r->failures, true);
    int64_t suppressed = 0;
    if (cf_log_ratelimit(&g_connect_limiter, 5000, &suppressed))
        cf_log(CF_LOG_WARN, NULL, "%s (try %d; %lld similar lines suppressed)", r->errstr,
               r->failures, (long long)suppressed);
    return st;
}

cf_status cf_redis_wait_reconnect(cf_redis *r, const atomic_bool *stop)
{
    if (r->mux) /* the shared connection keeps its own backoff */
        return cf_redis_connect(r);
    if (r->c)
        return CF_OK;
    int64_t wait = r->next_try_mono_ms - cf_clock_mono_ms();
    if (r->failures > 0 && wait > 0) {
        if (wait > r->opts.reconnect_cap_ms)
            wait = r->opts.reconnect_cap_ms;
        if (!cf_clock_sleep_ms(wait, stop))
            return CF_ERR_UNAVAILABLE;
    }
    return cf_redis_connect(r);
}

/* ---- commands ---- */

/* finish converts and frees a hiredis reply; error replies become statuses. */
static cf_status finish(cf_redis *r, redisReply *rep, cf_reply **out)
{
    *out = NULL;
    if (rep->type == REDIS_REPLY_ERROR) {
        cf_status st = cf_redis_classify_error(r, rep->str ? rep->str : "error");
        freeReplyObject(rep);
        return st;
    }
    cf_reply *mine = cf_calloc(1, sizeof *mine);
    if (mine == NULL || !cf_redis_reply_convert(rep, mine)) {
        cf_free(mine);
        freeReplyObject(rep);
        cf_redis_set_err(r, "redis: %s", "out of memory converting a reply");
        return CF_ERR_NOMEM;
    }
    freeReplyObject(rep);
    r->errstr[0] = '\0';
    *out = mine;
    return CF_OK;
}

static cf_status exec_with_timeout(cf_redis *r, int64_t timeout_ms, int argc,
                                   const char *const *argv, const size_t *lens, cf_reply **out)
{
    *out = NULL;
    if (r->mux) {
        cf_redis_cmd cmd = {NULL, 0, argc, argv, lens};
        return mux_one(r, &cmd, out);
    }
    cf_status st = cf_redis_connect(r);
    if (st != CF_OK)
        return st;
    st = cf_redis_set_timeout(r, timeout_ms);
    if (st != CF_OK)
        return st;
    count_round_trip();
    int64_t t0 = cf_clock_mono_us();
    redisReply *rep = redisCommandArgv(r->c, argc, (const char **)argv, lens);
    if (rep == NULL)
        return cf_redis_transport_error(r);
    if (timeout_ms == r->opts.read_timeout_ms) /* a blocking command's wait is not latency */
        rtt_done(t0);
    return finish(r, rep, out);
}

cf_status cf_redis_exec(cf_redis *r, int argc, const char *const *argv, const size_t *lens,
                        cf_reply **out)
{
    return exec_with_timeout(r, r->opts.read_timeout_ms, argc, argv, lens, out);
}

cf_status cf_redis_exec_blocking(cf_redis *r, int64_t block_ms, int argc, const char *const *argv,
                                 const size_t *lens, cf_reply **out)
{
    if (r->mux) {
        *out = NULL;
        cf_redis_set_err(
            r,
            "redis %s: a blocking command (%.*s) never goes through a shared connection (give "
            "it a connection of its own)",
            r->url.redacted, argc > 0 ? (int)(lens[0] > 32 ? 32 : lens[0]) : 0,
            argc > 0 ? argv[0] : "");
        return CF_ERR_INVALID;
    }
    return exec_with_timeout(r, block_ms + r->opts.read_timeout_ms, argc, argv, lens, out);
}

/* ---- scripts ---- */

static char *sha_slot(cf_redis *r, const cf_redis_script *s)
{
    for (int i = 0; i < r->nshas; i++)
        if (r->shas[i].script == s)
            return r->shas[i].sha;
    if (r->nshas == SHA_CACHE) /* more scripts than slots: recycle the first */
        r->nshas = 0;
    r->shas[r->nshas].script = s;
    r->shas[r->nshas].sha[0] = '\0';
    return r->shas[r->nshas++].sha;
}

static cf_status load_script(cf_redis *r, const cf_redis_script *s, char *sha)
{
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(cf_argv_str(cf_argv_str(&a, "SCRIPT"), "LOAD"), s->text);
    cf_reply *rep;
    cf_status st = cf_argv_exec(r, &a, &rep);
    if (st != CF_OK)
        return st;
    if (rep->type != CF_REPLY_STRING || rep->len != 40) {
        cf_reply_free(rep);
        cf_redis_set_err(r, "redis: SCRIPT LOAD of %s gave no sha", s->name);
        return CF_ERR_PROTOCOL;
    }
    memcpy(sha, rep->str, 41);
    cf_reply_free(rep);
    return CF_OK;
}

/* eval_argv fills av/al with EVALSHA sha nkeys argv... (or EVAL text nkeys argv... when sha is
 * NULL); *heap receives any allocation. */
static bool eval_argv(const char *sha, const char *nkeys, const cf_redis_cmd *cmd,
                      const char **stack_av, size_t *stack_al, const char ***av, size_t **al,
                      void **heap)
{
    size_t total = (size_t)cmd->argc + 3;
    *heap = NULL;
    *av = stack_av;
    *al = stack_al;
    if (total > ARGV_STACK) {
        *heap = cf_malloc(total * (sizeof(char *) + sizeof(size_t)));
        if (*heap == NULL)
            return false;
        *av = *heap;
        *al = (size_t *)((char *)*heap + total * sizeof(char *));
    }
    (*av)[0] = sha ? "EVALSHA" : "EVAL";
    (*al)[0] = sha ? 7 : 4;
    (*av)[1] = sha ? sha : cmd->script->text;
    (*al)[1] = sha ? 40 : strlen(cmd->script->text);
    (*av)[2] = nkeys;
    (*al)[2] = strlen(nkeys);
    for (int i = 0; i < cmd->argc; i++) {
        (*av)[i + 3] = cmd->argv[i];
        (*al)[i + 3] = cmd->lens[i];
    }
    return true;
}

static bool is_noscript(const cf_redis *r)
{
    return r->last_noscript;
}

static cf_status eval_cmd(cf_redis *r, const cf_redis_cmd *cmd, cf_reply **out)
{
    *out = NULL;
    if (r->mux) /* the shared connection runs it by EVALSHA with the NOSCRIPT repair */
        return mux_one(r, cmd, out);
    char *sha = sha_slot(r, cmd->script);
    char nkeys[16];
    snprintf(nkeys, sizeof nkeys, "%d", cmd->nkeys);
    const char *stack_av[ARGV_STACK];
    size_t stack_al[ARGV_STACK];
    cf_status st = CF_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (sha[0] == '\0' && (st = load_script(r, cmd->script, sha)) != CF_OK)
            return st;
        const char **av;
        size_t *al;
        void *heap;
        if (!eval_argv(sha, nkeys, cmd, stack_av, stack_al, &av, &al, &heap))
            return CF_ERR_NOMEM;
        st = cf_redis_exec(r, cmd->argc + 3, av, al, out);
        cf_free(heap);
        if (st != CF_ERR_PROTOCOL || !is_noscript(r))
            return st;
        sha[0] = '\0'; /* the server forgot it (restart, SCRIPT FLUSH): load again */
    }
    return st;
}

cf_status cf_redis_eval(cf_redis *r, const cf_redis_script *script, int nkeys, int argc,
                        const char *const *argv, const size_t *lens, cf_reply **out)
{
    cf_redis_cmd cmd = {script, nkeys, argc, argv, lens};
    return eval_cmd(r, &cmd, out);
}

/* ---- pipelines ---- */

/* in_order_script: a script command followed by others in its pipeline is sent as EVAL with its
 * text, never EVALSHA: a NOSCRIPT there (a server restarted or SCRIPT FLUSHed since we loaded
 * it) could only be repaired by running the script again after the commands behind it, which
 * breaks the pipeline's order (release -> publish -> ack). The last command may use EVALSHA:
 * nothing runs after its repair. */
static bool in_order_script(const cf_redis_cmd *cmds, size_t end, size_t i)
{
    return cmds[i].script != NULL && i + 1 < end;
}

static cf_status append_cmd(cf_redis *r, const cf_redis_cmd *cmd, bool inline_text)
{
    if (cmd->script == NULL)
        return redisAppendCommandArgv(r->c, cmd->argc, (const char **)cmd->argv, cmd->lens) ==
                       REDIS_OK
                   ? CF_OK
                   : CF_ERR_NOMEM;
    /* EVALSHA: loaded by cf_redis_pipeline beforehand */
    const char *sha = inline_text ? NULL : sha_slot(r, cmd->script);
    char nkeys[16];
    snprintf(nkeys, sizeof nkeys, "%d", cmd->nkeys);
    const char *stack_av[ARGV_STACK];
    size_t stack_al[ARGV_STACK];
    const char **av;
    size_t *al;
    void *heap;
    if (!eval_argv(sha, nkeys, cmd, stack_av, stack_al, &av, &al, &heap))
        return CF_ERR_NOMEM;
    int rc = redisAppendCommandArgv(r->c, cmd->argc + 3, av, al);
    cf_free(heap);
    return rc == REDIS_OK ? CF_OK : CF_ERR_NOMEM;
}

/* fail_all frees every reply and gives every segment st. */
static cf_status fail_all(cf_reply **replies, size_t n, cf_status *seg_st, size_t nseg,
                          cf_status st)
{
    for (size_t i = 0; i < n; i++) {
        cf_reply_free(replies[i]);
        replies[i] = NULL;
    }
    for (size_t k = 0; k < nseg; k++)
        seg_st[k] = st;
    return st;
}

/* rerun_noscript repairs a NOSCRIPT met by the last command of segment [start, end) (the server
 * restarted or was flushed between our SCRIPT LOAD and now) by running it again; nothing of
 * that segment runs after it, so the segment's order holds. A transient failure of the repair
 * fails that segment only. */
static void rerun_noscript(cf_redis *r, const cf_redis_cmd *cmds, size_t start, size_t end,
                           cf_reply **replies, cf_status *seg_st)
{
    if (end == start)
        return;
    size_t i = end - 1;
    cf_reply *rep = replies[i];
    if (rep == NULL || rep->type != CF_REPLY_ERROR || cmds[i].script == NULL ||
        strncmp(rep->str, "NOSCRIPT", 8) != 0)
        return;
    sha_slot(r, cmds[i].script)[0] = '\0';
    cf_reply *again = NULL;
    cf_status est = eval_cmd(r, &cmds[i], &again);
    if (est == CF_OK) {
        cf_reply_free(rep);
        replies[i] = again;
    } else if (!cf_status_is_transient(est) && est != CF_ERR_NOMEM) {
        /* keep the error reply from the first run */
    } else {
        for (size_t j = start; j < end; j++) {
            cf_reply_free(replies[j]);
            replies[j] = NULL;
        }
        *seg_st = est;
    }
}

cf_status cf_redis_pipeline_segs(cf_redis *r, const cf_redis_cmd *cmds, const size_t *seg_end,
                                 size_t nseg, cf_reply **replies, cf_status *seg_st)
{
    size_t n = nseg > 0 ? seg_end[nseg - 1] : 0;
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    for (size_t k = 0; k < nseg; k++)
        seg_st[k] = CF_OK;
    cf_status st = cf_redis_connect(r);
    if (st == CF_OK)
        st = cf_redis_set_timeout(r, r->opts.read_timeout_ms);
    /* Load scripts first: SCRIPT LOAD is a round trip of its own and must not interleave with
     * buffered commands. A script followed by others of its segment goes as EVAL with its
     * text (in_order_script); only a segment's last command may use EVALSHA. */
    for (size_t k = 0, start = 0; st == CF_OK && k < nseg; start = seg_end[k++]) {
        size_t last = seg_end[k] - 1;
        if (seg_end[k] > start && cmds[last].script) {
            char *sha = sha_slot(r, cmds[last].script);
            if (sha[0] == '\0')
                st = load_script(r, cmds[last].script, sha);
        }
    }
    for (size_t k = 0, start = 0; st == CF_OK && k < nseg; start = seg_end[k++])
        for (size_t i = start; st == CF_OK && i < seg_end[k]; i++)
            st = append_cmd(r, &cmds[i], in_order_script(cmds, seg_end[k], i));
    if (st != CF_OK) {
        /* Commands already buffered must not leak into the next call's replies. */
        cf_redis_disconnect(r);
        return fail_all(replies, n, seg_st, nseg, st);
    }
    if (n > 0)
        count_round_trip(); /* the n commands go in one write; their replies are read below */
    int64_t t0 = cf_clock_mono_us();
    for (size_t k = 0, start = 0; k < nseg; start = seg_end[k++]) {
        for (size_t i = start; i < seg_end[k]; i++) {
            void *raw = NULL;
            if (redisGetReply(r->c, &raw) != REDIS_OK || raw == NULL)
                return fail_all(replies, n, seg_st, nseg, cf_redis_transport_error(r));
            redisReply *rep = raw;
            cf_reply *mine = cf_calloc(1, sizeof *mine);
            bool ok = mine != NULL && cf_redis_reply_convert(rep, mine);
            freeReplyObject(rep);
            if (!ok) {
                cf_free(mine);
                seg_st[k] = CF_ERR_NOMEM;
                continue;
            }
            replies[i] = mine;
        }
    }
    if (n > 0)
        rtt_done(t0);
    for (size_t k = 0, start = 0; k < nseg; start = seg_end[k++])
        rerun_noscript(r, cmds, start, seg_end[k], replies, &seg_st[k]);
    return CF_OK;
}

/* classify_replies: CF_OK when no reply is an error, else the first error reply's status. */
static cf_status classify_replies(cf_redis *r, cf_reply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (replies[i] && replies[i]->type == CF_REPLY_ERROR)
            return cf_redis_classify_error(r, replies[i]->str);
    r->errstr[0] = '\0';
    return CF_OK;
}

cf_status cf_redis_pipeline(cf_redis *r, const cf_redis_cmd *cmds, size_t n, cf_reply **replies)
{
    cf_status st;
    if (r->mux) {
        st = mux_run(r, cmds, n, replies);
    } else {
        cf_status seg_st;
        st = cf_redis_pipeline_segs(r, cmds, &n, 1, replies, &seg_st);
        if (st == CF_OK)
            st = seg_st;
    }
    if (st != CF_OK)
        return st;
    return classify_replies(r, replies, n);
}

cf_status cf_redis_time_ms(cf_redis *r, int64_t *out_ms)
{
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "TIME");
    cf_reply *rep;
    cf_status st = cf_argv_exec(r, &a, &rep);
    if (st != CF_OK)
        return st;
    if (rep->type != CF_REPLY_ARRAY || rep->n != 2 || rep->elem[0].type != CF_REPLY_STRING) {
        cf_reply_free(rep);
        cf_redis_set_err(r, "redis: %s", "unexpected TIME reply");
        return CF_ERR_PROTOCOL;
    }
    *out_ms =
        strtoll(rep->elem[0].str, NULL, 10) * 1000 + strtoll(rep->elem[1].str, NULL, 10) / 1000;
    cf_reply_free(rep);
    return CF_OK;
}
