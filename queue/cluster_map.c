// SPDX-License-Identifier: MIT
/* queue/cluster_map.c: a cluster router's nodes and slot map: one plain handle per node (made
 * from the cluster URL with that node's address, so user, password and timeouts carry over),
 * loading the map with CLUSTER SLOTS from any node that answers, the seeds last, and the
 * parsing of MOVED and ASK redirects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "queue/cluster_internal.h"
#include "queue/redis_conn_internal.h"

cf_status cf_cluster_new(const cf_redis_url *url, const cf_redis_opts *opts, cf_cluster **out)
{
    *out = NULL;
    cf_cluster *cl = cf_calloc(1, sizeof *cl);
    if (cl == NULL)
        return CF_ERR_NOMEM;
    cl->url = *url;
    cl->opts = *opts;
    for (int s = 0; s < CF_REDIS_SLOTS; s++)
        cl->slots[s] = -1;
    *out = cl;
    return CF_OK;
}

void cf_cluster_free(cf_cluster *cl)
{
    if (cl == NULL)
        return;
    cf_redis_free(cl->sub);
    for (int i = 0; i < cl->nnodes; i++)
        cf_redis_free(cl->nodes[i].h);
    cf_free(cl->nodes);
    cf_free(cl->masters);
    cf_redis_url_wipe(&cl->url);
    cf_free(cl);
}

bool cf_cluster_ready(const cf_cluster *cl)
{
    return cl->loaded && !cl->stale;
}

void cf_cluster_disconnect(cf_cluster *cl)
{
    for (int i = 0; i < cl->nnodes; i++)
        cf_redis_disconnect(cl->nodes[i].h);
    cl->stale = true;
}

int cf_cl_node_get(cf_cluster *cl, const char *host, int port)
{
    for (int i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i].port == port && strcmp(cl->nodes[i].host, host) == 0)
            return i;
    if (strlen(host) >= sizeof cl->nodes[0].host)
        return -1;
    if (cl->nnodes == cl->capnodes) {
        int cap = cl->capnodes ? cl->capnodes * 2 : 8;
        cl_node *n = cf_realloc(cl->nodes, (size_t)cap * sizeof *n);
        if (n == NULL)
            return -1;
        cl->nodes = n;
        cl->capnodes = cap;
    }
    cf_redis_url u = cl->url;
    u.cluster = false;
    snprintf(u.host, sizeof u.host, "%s", host);
    u.port = port;
    bool v6 = strchr(host, ':') != NULL;
    snprintf(u.redacted, sizeof u.redacted, "redis+cluster node %s%s%s:%d", v6 ? "[" : "", host,
             v6 ? "]" : "", port);
    cl_node *node = &cl->nodes[cl->nnodes];
    cf_status st = cf_redis_new_node(&u, &cl->opts, &node->h);
    cf_redis_url_wipe(&u);
    if (st != CF_OK)
        return -1;
    snprintf(node->host, sizeof node->host, "%s", host);
    node->port = port;
    return cl->nnodes++;
}

int cf_cl_any_master(cf_cluster *cl)
{
    if (cl->nmasters == 0)
        return -1;
    return cl->masters[cl->rr++ % (unsigned)cl->nmasters];
}

/* endpoint reads a CLUSTER SLOTS node entry [host, port, ...] ("" or "?" host: the node that
 * answered). */
static bool endpoint(const cf_reply *e, const char *asked_host, char *host, size_t cap, int *port)
{
    if (e->type != CF_REPLY_ARRAY || e->n < 2 || e->elem[0].type != CF_REPLY_STRING ||
        e->elem[1].type != CF_REPLY_INTEGER)
        return false;
    const char *h = e->elem[0].str;
    if (h[0] == '\0' || strcmp(h, "?") == 0)
        h = asked_host;
    snprintf(host, cap, "%s", h);
    *port = (int)e->elem[1].integer;
    return *port > 0 && *port < 65536;
}

/* install reads a CLUSTER SLOTS reply into the map. */
static cf_status install(cf_cluster *cl, const cf_reply *rep, const char *asked_host, char *err,
                         size_t cap)
{
    if (rep->type != CF_REPLY_ARRAY || rep->n == 0) {
        snprintf(err, cap, "redis cluster: CLUSTER SLOTS gave no slots (is the cluster set up?)");
        return CF_ERR_UNAVAILABLE;
    }
    int16_t *slots = cf_malloc(sizeof cl->slots);
    int *masters = cf_calloc(rep->n, sizeof *masters);
    if (slots == NULL || masters == NULL) {
        cf_free(slots);
        cf_free(masters);
        return CF_ERR_NOMEM;
    }
    for (int s = 0; s < CF_REDIS_SLOTS; s++)
        slots[s] = -1;
    int nmasters = 0;
    for (size_t i = 0; i < rep->n; i++) {
        const cf_reply *r = &rep->elem[i];
        char host[256];
        int port;
        if (r->type != CF_REPLY_ARRAY || r->n < 3 || r->elem[0].type != CF_REPLY_INTEGER ||
            r->elem[1].type != CF_REPLY_INTEGER ||
            !endpoint(&r->elem[2], asked_host, host, sizeof host, &port))
            continue;
        long long from = r->elem[0].integer, to = r->elem[1].integer;
        if (from < 0 || to >= CF_REDIS_SLOTS || from > to)
            continue;
        int idx = cf_cl_node_get(cl, host, port);
        if (idx < 0) {
            cf_free(slots);
            cf_free(masters);
            return CF_ERR_NOMEM;
        }
        for (long long s = from; s <= to; s++)
            slots[s] = (int16_t)idx;
        bool seen = false;
        for (int m = 0; m < nmasters; m++)
            seen = seen || masters[m] == idx;
        if (!seen)
            masters[nmasters++] = idx;
    }
    if (nmasters == 0) {
        cf_free(slots);
        cf_free(masters);
        snprintf(err, cap, "redis cluster: CLUSTER SLOTS named no usable master");
        return CF_ERR_PROTOCOL;
    }
    /* The same map again (a failover still under way): reload less often, up to 800 ms apart. */
    bool same = memcmp(cl->slots, slots, sizeof cl->slots) == 0;
    cl->same_loads = same ? cl->same_loads + 1 : 0;
    memcpy(cl->slots, slots, sizeof cl->slots);
    cf_free(slots);
    cf_free(cl->masters);
    cl->masters = masters;
    cl->nmasters = nmasters;
    /* A node that no longer serves slots keeps its handle (indexes stay valid) but not its
     * socket. */
    for (int i = 0; i < cl->nnodes; i++) {
        bool master = false;
        for (int m = 0; m < nmasters; m++)
            master = master || masters[m] == i;
        if (!master)
            cf_redis_disconnect(cl->nodes[i].h);
    }
    return CF_OK;
}

/* ask_slots asks node idx for CLUSTER SLOTS and installs the answer. */
static cf_status ask_slots(cf_cluster *cl, int idx, char *err, size_t cap)
{
    static const char *const argv[] = {"CLUSTER", "SLOTS"};
    static const size_t lens[] = {7, 5};
    cf_redis_cmd cmd = {NULL, 0, 2, argv, lens};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_run_raw(cl->nodes[idx].h, &cmd, -1, &rep);
    if (st != CF_OK) {
        snprintf(err, cap, "%s", cf_redis_errstr(cl->nodes[idx].h));
        return st;
    }
    if (rep->type == CF_REPLY_ERROR) {
        bool plain = strstr(rep->str, "cluster support disabled") != NULL;
        snprintf(err, cap, "redis cluster %s:%d: CLUSTER SLOTS: %s%s", cl->nodes[idx].host,
                 cl->nodes[idx].port, rep->str,
                 plain ? " (a redis+cluster:// URL names a Redis that is not a cluster: use "
                         "redis://)"
                       : "");
        cf_status est =
            strncmp(rep->str, "NOAUTH", 6) == 0 || strncmp(rep->str, "WRONGPASS", 9) == 0
                ? CF_ERR_INVALID
                : CF_ERR_PROTOCOL;
        cf_reply_free(rep);
        return est;
    }
    char asked[256];
    snprintf(asked, sizeof asked, "%s", cl->nodes[idx].host);
    st = install(cl, rep, asked, err, cap);
    cf_reply_free(rep);
    return st;
}

cf_status cf_cl_load_map(cf_cluster *cl, char *err, size_t cap)
{
    cf_status st = CF_ERR_UNAVAILABLE;
    snprintf(err, cap, "redis cluster %s: no node reachable", cl->url.redacted);
    /* The masters known last first (from a rotating start), then every other known node,
     * then the seeds: a failover leaves at least one of them answering. */
    int known = cl->nnodes;
    for (int k = 0; k < known; k++) {
        int idx = (int)((cl->rr + (unsigned)k) % (unsigned)known);
        st = ask_slots(cl, idx, err, cap);
        if (st == CF_OK || st == CF_ERR_NOMEM)
            goto done;
    }
    for (int i = 0; i < cl->url.nseeds; i++) {
        int idx = cf_cl_node_get(cl, cl->url.seeds[i].host, cl->url.seeds[i].port);
        if (idx < 0)
            return CF_ERR_NOMEM;
        if (idx < known)
            continue; /* asked above */
        st = ask_slots(cl, idx, err, cap);
        if (st == CF_OK || st == CF_ERR_NOMEM)
            goto done;
    }
done:
    if (st == CF_OK) {
        cl->loaded = true;
        cl->stale = false;
        cf_metrics_add(&cf_metrics_g.redis_slot_map_loads, 1);
        err[0] = '\0';
    }
    cl->loaded_mono_ms = cf_clock_mono_ms();
    return st;
}

cf_status cf_cluster_connect(cf_cluster *cl, char *err, size_t cap)
{
    if (cf_cluster_ready(cl))
        return CF_OK;
    int64_t now = cf_clock_mono_ms();
    int shift = cl->same_loads < 3 ? cl->same_loads : 3;
    if (cl->loaded && now - cl->loaded_mono_ms < (int64_t)100 << shift)
        return CF_OK; /* stale, but reloaded a moment ago: route by what we have */
    if (cl->failures > 0 && now < cl->next_try_mono_ms) {
        snprintf(err, cap, "redis cluster %s: unreachable, next try in %lld ms", cl->url.redacted,
                 (long long)(cl->next_try_mono_ms - now));
        return CF_ERR_UNAVAILABLE;
    }
    cf_status st = cf_cl_load_map(cl, err, cap);
    if (st == CF_OK) {
        if (cl->failures > 0)
            cf_logkv(CF_LOG_INFO, NULL, NULL, "redis cluster %s: slot map loaded after %d tries",
                     cl->url.redacted, cl->failures);
        cl->failures = 0;
        return CF_OK;
    }
    cl->failures++;
    cl->next_try_mono_ms =
        cf_clock_mono_ms() + cf_backoff_delay_ms(cl->opts.reconnect_base_ms,
                                                 cl->opts.reconnect_cap_ms, cl->failures, true);
    return cl->loaded ? CF_OK : st; /* an old map still routes; its nodes fail on their own */
}

cf_status cf_cluster_wait_connect(cf_cluster *cl, const atomic_bool *stop, char *err, size_t cap)
{
    int64_t wait = cl->next_try_mono_ms - cf_clock_mono_ms();
    if (!cf_cluster_ready(cl) && cl->failures > 0 && wait > 0) {
        if (wait > cl->opts.reconnect_cap_ms)
            wait = cl->opts.reconnect_cap_ms;
        if (!cf_clock_sleep_ms(wait, stop))
            return CF_ERR_UNAVAILABLE;
    }
    return cf_cluster_connect(cl, err, cap);
}

int cf_cl_parse_redirect(const char *msg, const char *from_host, int *slot, char *host, size_t cap,
                         int *port)
{
    int kind = strncmp(msg, "MOVED ", 6) == 0 ? 1 : strncmp(msg, "ASK ", 4) == 0 ? 2 : 0;
    if (kind == 0)
        return 0;
    const char *p = msg + (kind == 1 ? 6 : 4);
    char *end;
    long s = strtol(p, &end, 10);
    if (end == p || *end != ' ' || s < 0 || s >= CF_REDIS_SLOTS)
        return 0;
    const char *addr = end + 1;
    const char *colon = strrchr(addr, ':');
    if (colon == NULL)
        return 0;
    long pt = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || pt <= 0 || pt > 65535)
        return 0;
    size_t hlen = (size_t)(colon - addr);
    if (hlen > 1 && addr[0] == '[' && addr[hlen - 1] == ']') { /* [v6]:port */
        addr++;
        hlen -= 2;
    }
    if (hlen == 0)
        snprintf(host, cap, "%s", from_host);
    else if (hlen < cap)
        snprintf(host, cap, "%.*s", (int)hlen, addr);
    else
        return 0;
    *slot = (int)s;
    *port = (int)pt;
    return kind;
}
