// SPDX-License-Identifier: MIT
/* queue/redis_conn.c: with redis_connect.c, redis_reply.c and redis_subscribe.c, the only files
 * that call hiredis (queue/redis_conn_impl.h). Owns commands (routed to a shared connection or a
 * cluster when the handle is one), the conversion of hiredis replies into
 * cf_reply trees (redis_reply.c), error classification, pipelines and EVALSHA with NOSCRIPT
 * reloading. Written against the API common to hiredis 0.14 and 1.x; anything newer sits behind
 * HIREDIS_MAJOR. */
#include "queue/redis_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "queue/argv.h"
#include "queue/cluster.h"
#include "queue/mux.h"
#include "queue/redis_conn_impl.h"
#include "queue/redis_slot.h"

#define ARGV_STACK 16

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
    if (r->cluster == NULL && (strncmp(msg, "MOVED ", 6) == 0 || strncmp(msg, "ASK ", 4) == 0)) {
        cf_redis_set_err(r,
                         "redis %s: %s (this Redis is a node of a cluster: use a "
                         "redis+cluster:// URL)",
                         r->url.redacted, msg);
        return CF_ERR_PROTOCOL;
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

/* settle applies cf_redis_exec's result rules to a routed command's outcome (st, rep): a
 * transport status as is, an error reply classified, else the reply handed over. */
static cf_status settle(cf_redis *r, cf_status st, cf_reply *rep, cf_reply **out)
{
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

/* mux_one runs one command or script through the shared connection with cf_redis_exec's
 * result rules. */
static cf_status mux_one(cf_redis *r, const cf_redis_cmd *cmd, cf_reply **out)
{
    *out = NULL;
    cf_reply *rep = NULL;
    cf_status st = mux_run(r, cmd, 1, &rep);
    return settle(r, st, rep, out);
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

/* slot_check: with CF_REDIS_SLOT_CHECK=1 a plain handle refuses, without I/O, a command whose
 * keys span hash slots, as Redis Cluster would (the test suites run with it). */
static cf_status slot_check(cf_redis *r, const cf_redis_cmd *cmd)
{
    if (!cf_redis_slot_check_enabled() || cf_redis_cmd_slot(cmd) != CF_SLOT_CROSS)
        return CF_OK;
    const char *name = cmd->script ? cmd->script->name : cmd->argv[0];
    int len = cmd->script ? (int)strlen(name) : (int)cmd->lens[0];
    cf_redis_set_err(r,
                     "redis %s: %.*s touches keys of several hash slots (CF_REDIS_SLOT_CHECK=1: "
                     "Redis Cluster would refuse it)",
                     r->url.redacted, len > 64 ? 64 : len, name);
    cf_log(CF_LOG_ERROR, NULL, "%s", r->errstr);
    return CF_ERR_INVALID;
}

/* cluster_one runs cmd through r's cluster router with cf_redis_exec's result rules. */
static cf_status cluster_one(cf_redis *r, const cf_redis_cmd *cmd, int64_t block_ms, cf_reply **out)
{
    cf_reply *rep = NULL;
    cf_status st = cf_cluster_run(r->cluster, cmd, block_ms, &rep, r->errstr, sizeof r->errstr);
    return settle(r, st, rep, out);
}

/* raw_command sends one plain command on a plain handle (block_ms >= 0: a blocking one, its
 * socket timeout raised by it) and gives hiredis's reply, error replies included. */
static cf_status raw_command(cf_redis *r, int64_t block_ms, const cf_redis_cmd *cmd,
                             redisReply **out)
{
    *out = NULL;
    cf_status st = cf_redis_connect(r);
    if (st != CF_OK)
        return st;
    st = cf_redis_set_timeout(r, block_ms < 0 ? r->opts.read_timeout_ms
                                              : block_ms + r->opts.read_timeout_ms);
    if (st != CF_OK)
        return st;
    count_round_trip();
    int64_t t0 = cf_clock_mono_us();
    redisReply *rep = redisCommandArgv(r->c, cmd->argc, (const char **)cmd->argv, cmd->lens);
    if (rep == NULL)
        return cf_redis_transport_error(r);
    if (block_ms < 0) /* a blocking command's wait is not latency */
        rtt_done(t0);
    *out = rep;
    return CF_OK;
}

static cf_status exec_cmd(cf_redis *r, int64_t block_ms, int argc, const char *const *argv,
                          const size_t *lens, cf_reply **out)
{
    *out = NULL;
    cf_redis_cmd cmd = {NULL, 0, argc, argv, lens};
    if (r->mux)
        return mux_one(r, &cmd, out);
    if (r->cluster)
        return cluster_one(r, &cmd, block_ms, out);
    cf_status st = slot_check(r, &cmd);
    redisReply *rep = NULL;
    if (st == CF_OK)
        st = raw_command(r, block_ms, &cmd, &rep);
    return st == CF_OK ? finish(r, rep, out) : st;
}

cf_status cf_redis_exec(cf_redis *r, int argc, const char *const *argv, const size_t *lens,
                        cf_reply **out)
{
    return exec_cmd(r, -1, argc, argv, lens, out);
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
    return exec_cmd(r, block_ms < 0 ? 0 : block_ms, argc, argv, lens, out);
}

cf_status cf_redis_run_raw(cf_redis *r, const cf_redis_cmd *cmd, int64_t block_ms, cf_reply **out)
{
    *out = NULL;
    if (cmd->script) { /* EVALSHA with the NOSCRIPT repair, as a pipeline's last command */
        size_t end = 1;
        cf_status seg = CF_OK;
        cf_status st = cf_redis_pipeline_segs(r, cmd, &end, 1, out, &seg);
        return st != CF_OK ? st : seg;
    }
    redisReply *rep = NULL;
    cf_status st = raw_command(r, block_ms, cmd, &rep);
    if (st != CF_OK)
        return st;
    cf_reply *mine = cf_calloc(1, sizeof *mine);
    bool ok = mine != NULL && cf_redis_reply_convert(rep, mine);
    freeReplyObject(rep);
    if (!ok) {
        cf_free(mine);
        cf_redis_set_err(r, "redis: %s", "out of memory converting a reply");
        return CF_ERR_NOMEM;
    }
    *out = mine;
    return CF_OK;
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
    if (r->cluster) /* the node's handle runs it so, with the node's script cache */
        return cluster_one(r, cmd, -1, out);
    cf_status cst = slot_check(r, cmd);
    if (cst != CF_OK)
        return cst;
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

cf_status cf_redis_pipeline_send(cf_redis *r, const cf_redis_cmd *cmds, const size_t *seg_end,
                                 size_t nseg, cf_reply **replies, cf_status *seg_st)
{
    size_t n = nseg > 0 ? seg_end[nseg - 1] : 0;
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    for (size_t k = 0; k < nseg; k++)
        seg_st[k] = CF_OK;
    for (size_t k = 0, start = 0; cf_redis_slot_check_enabled() && k < nseg; start = seg_end[k++])
        for (size_t i = start; i < seg_end[k] && seg_st[k] == CF_OK; i++)
            seg_st[k] = slot_check(r, &cmds[i]);
    cf_status st = cf_redis_connect(r);
    if (st == CF_OK)
        st = cf_redis_set_timeout(r, r->opts.read_timeout_ms);
    /* Load scripts first: SCRIPT LOAD is a round trip of its own and must not interleave with
     * buffered commands. A script followed by others of its segment goes as EVAL with its
     * text (in_order_script); only a segment's last command may use EVALSHA. */
    for (size_t k = 0, start = 0; st == CF_OK && k < nseg; start = seg_end[k++]) {
        size_t last = seg_end[k] - 1;
        if (seg_end[k] > start && cmds[last].script && seg_st[k] == CF_OK) {
            char *sha = sha_slot(r, cmds[last].script);
            if (sha[0] == '\0')
                st = load_script(r, cmds[last].script, sha);
        }
    }
    /* A segment refused by the slot check (CF_ERR_INVALID already) is neither sent nor read. */
    for (size_t k = 0, start = 0; st == CF_OK && k < nseg; start = seg_end[k++])
        for (size_t i = start; st == CF_OK && seg_st[k] == CF_OK && i < seg_end[k]; i++)
            st = append_cmd(r, &cmds[i], in_order_script(cmds, seg_end[k], i));
    if (st != CF_OK) {
        /* Commands already buffered must not leak into the next call's replies. */
        cf_redis_disconnect(r);
        return fail_all(replies, n, seg_st, nseg, st);
    }
    r->pipe_t0_us = cf_clock_mono_us();
    for (int done = 0; !done;) /* the n commands go in one write; their replies come later */
        if (redisBufferWrite(r->c, &done) != REDIS_OK)
            return fail_all(replies, n, seg_st, nseg, cf_redis_transport_error(r));
    if (n > 0)
        count_round_trip();
    return CF_OK;
}

cf_status cf_redis_pipeline_recv(cf_redis *r, const cf_redis_cmd *cmds, const size_t *seg_end,
                                 size_t nseg, cf_reply **replies, cf_status *seg_st)
{
    size_t n = nseg > 0 ? seg_end[nseg - 1] : 0;
    for (size_t k = 0, start = 0; k < nseg; start = seg_end[k++]) {
        for (size_t i = start; seg_st[k] != CF_ERR_INVALID && i < seg_end[k]; i++) {
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
        rtt_done(r->pipe_t0_us);
    for (size_t k = 0, start = 0; k < nseg; start = seg_end[k++])
        rerun_noscript(r, cmds, start, seg_end[k], replies, &seg_st[k]);
    return CF_OK;
}

cf_status cf_redis_pipeline_segs(cf_redis *r, const cf_redis_cmd *cmds, const size_t *seg_end,
                                 size_t nseg, cf_reply **replies, cf_status *seg_st)
{
    if (r->cluster)
        return cf_cluster_pipeline_segs(r->cluster, cmds, seg_end, nseg, replies, seg_st, r->errstr,
                                        sizeof r->errstr);
    cf_status st = cf_redis_pipeline_send(r, cmds, seg_end, nseg, replies, seg_st);
    return st != CF_OK ? st : cf_redis_pipeline_recv(r, cmds, seg_end, nseg, replies, seg_st);
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
