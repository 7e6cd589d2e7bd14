// SPDX-License-Identifier: MIT
/* queue/cluster.c: routing a cluster handle's commands (queue/cluster.h): one command to its
 * slot's master with MOVED and ASK followed, commands for the whole data set to every master,
 * and pipelines cut into per-node runs sent in waves that keep each caller's order. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "queue/cluster_internal.h"
#include "queue/redis_conn_internal.h"

#define MAX_REDIRECTS 5

static void set_err(char *err, size_t cap, const cf_redis *node)
{
    snprintf(err, cap, "%s", cf_redis_errstr(node));
}

int cf_cl_node_of_slot(cf_cluster *cl, int slot, char *err, size_t cap)
{
    int idx = slot >= 0 ? cl->slots[slot] : cf_cl_any_master(cl);
    if (idx < 0) {
        cl->stale = true;
        if (slot >= 0)
            snprintf(err, cap, "redis cluster %s: no master serves slot %d (cluster down?)",
                     cl->url.redacted, slot);
        else
            snprintf(err, cap, "redis cluster %s: no master known", cl->url.redacted);
    }
    return idx;
}

cf_status cf_cl_cross_slot(const cf_cluster *cl, const cf_redis_cmd *cmd, char *err, size_t cap)
{
    const char *name = cmd->script ? cmd->script->name : cmd->argc > 0 ? cmd->argv[0] : "";
    int len = cmd->script ? (int)strlen(name) : cmd->argc > 0 ? (int)cmd->lens[0] : 0;
    snprintf(err, cap,
             "redis cluster %s: %.*s touches keys of several hash slots (refused: every command "
             "must stay in one slot)",
             cl->url.redacted, len > 64 ? 64 : len, name);
    return CF_ERR_INVALID;
}

/* on_node runs cmd on node idx (after ASKING when asking); transport failures mark the map
 * stale (a failover moves masters). */
static cf_status on_node(cf_cluster *cl, int idx, const cf_redis_cmd *cmd, int64_t block_ms,
                         bool asking, cf_reply **out, char *err, size_t cap)
{
    cf_redis *h = cl->nodes[idx].h;
    cf_status st = CF_OK;
    if (asking) {
        static const char *const argv[] = {"ASKING"};
        static const size_t lens[] = {6};
        cf_redis_cmd ask = {NULL, 0, 1, argv, lens};
        cf_reply *rep = NULL;
        st = cf_redis_run_raw(h, &ask, -1, &rep);
        cf_reply_free(rep);
    }
    if (st == CF_OK)
        st = cf_redis_run_raw(h, cmd, block_ms, out);
    if (st != CF_OK) {
        set_err(err, cap, h);
        cl->stale = true;
    }
    return st;
}

cf_status cf_cl_follow(cf_cluster *cl, int idx, const cf_redis_cmd *cmd, int64_t block_ms,
                       cf_reply **rep, char *err, size_t cap)
{
    for (int hop = 0; hop < MAX_REDIRECTS; hop++) {
        if (*rep == NULL || (*rep)->type != CF_REPLY_ERROR)
            return CF_OK;
        int slot, port;
        char host[256];
        int kind =
            cf_cl_parse_redirect((*rep)->str, cl->nodes[idx].host, &slot, host, sizeof host, &port);
        if (kind == 0)
            return CF_OK;
        int to = cf_cl_node_get(cl, host, port);
        if (to < 0)
            return CF_ERR_NOMEM;
        if (kind == 1) {
            cl->slots[slot] = (int16_t)to;
            cl->stale = true;
            cl->same_loads = 0; /* the map did change: reload soon */
            cf_metrics_add(&cf_metrics_g.redis_moved, 1);
        } else {
            cf_metrics_add(&cf_metrics_g.redis_asked, 1);
        }
        cf_reply_free(*rep);
        *rep = NULL;
        idx = to;
        cf_status st = on_node(cl, idx, cmd, block_ms, kind == 2, rep, err, cap);
        if (st != CF_OK)
            return st;
    }
    return CF_OK; /* still redirected: the caller sees the error reply */
}

/* merge_into folds a master's reply to a whole-data-set command into *acc: arrays are
 * concatenated (KEYS), integers summed (DBSIZE), the first error kept, else the first reply. */
static bool merge_into(cf_reply **acc, cf_reply *rep)
{
    cf_reply *a = *acc;
    if (a == NULL || (rep->type == CF_REPLY_ERROR && a->type != CF_REPLY_ERROR)) {
        cf_reply_free(a);
        *acc = rep;
        return true;
    }
    if (a->type == CF_REPLY_ARRAY && rep->type == CF_REPLY_ARRAY && rep->n > 0) {
        cf_reply *e = cf_realloc(a->elem, (a->n + rep->n) * sizeof *e);
        if (e == NULL) {
            cf_reply_free(rep);
            return false;
        }
        memcpy(e + a->n, rep->elem, rep->n * sizeof *e);
        a->elem = e;
        a->n += rep->n;
        cf_free(rep->elem); /* its elements now belong to acc */
        rep->elem = NULL;
        rep->n = 0;
    } else if (a->type == CF_REPLY_INTEGER && rep->type == CF_REPLY_INTEGER) {
        a->integer += rep->integer;
    }
    cf_reply_free(rep);
    return true;
}

static cf_status on_every_master(cf_cluster *cl, const cf_redis_cmd *cmd, cf_reply **out, char *err,
                                 size_t cap)
{
    cf_reply *acc = NULL;
    for (int m = 0; m < cl->nmasters; m++) {
        cf_reply *rep = NULL;
        cf_status st = on_node(cl, cl->masters[m], cmd, -1, false, &rep, err, cap);
        if (st != CF_OK) {
            cf_reply_free(acc);
            return st;
        }
        if (!merge_into(&acc, rep)) {
            cf_reply_free(acc);
            return CF_ERR_NOMEM;
        }
    }
    if (acc == NULL) {
        snprintf(err, cap, "redis cluster %s: no master known", cl->url.redacted);
        return CF_ERR_UNAVAILABLE;
    }
    *out = acc;
    return CF_OK;
}

cf_status cf_cluster_run(cf_cluster *cl, const cf_redis_cmd *cmd, int64_t block_ms, cf_reply **out,
                         char *err, size_t cap)
{
    *out = NULL;
    cf_status st = cf_cluster_connect(cl, err, cap);
    if (st != CF_OK)
        return st;
    if (cf_redis_cmd_all_masters(cmd))
        return on_every_master(cl, cmd, out, err, cap);
    int slot = cf_redis_cmd_slot(cmd);
    if (slot == CF_SLOT_CROSS)
        return cf_cl_cross_slot(cl, cmd, err, cap);
    int idx = cf_cl_node_of_slot(cl, slot, err, cap);
    if (idx < 0)
        return CF_ERR_UNAVAILABLE;
    st = on_node(cl, idx, cmd, block_ms, false, out, err, cap);
    if (st == CF_OK)
        st = cf_cl_follow(cl, idx, cmd, block_ms, out, err, cap);
    if (st != CF_OK) {
        cf_reply_free(*out);
        *out = NULL;
    }
    return st;
}

cf_redis *cf_cluster_subscriber(cf_cluster *cl, bool fresh, char *err, size_t cap)
{
    if (cl->sub && !fresh)
        return cl->sub;
    cf_redis_free(cl->sub);
    cl->sub = NULL;
    if (cf_cluster_connect(cl, err, cap) != CF_OK)
        return NULL;
    int idx = cf_cl_any_master(cl);
    if (idx < 0) {
        snprintf(err, cap, "redis cluster %s: no master known", cl->url.redacted);
        return NULL;
    }
    cf_redis_url u = cl->url;
    u.cluster = false;
    snprintf(u.host, sizeof u.host, "%s", cl->nodes[idx].host);
    u.port = cl->nodes[idx].port;
    snprintf(u.redacted, sizeof u.redacted, "redis+cluster subscriber %s:%d", u.host, u.port);
    cf_status st = cf_redis_new_node(&u, &cl->opts, &cl->sub);
    cf_redis_url_wipe(&u);
    if (st != CF_OK) {
        snprintf(err, cap, "redis cluster: out of memory");
        return NULL;
    }
    return cl->sub;
}
