// SPDX-License-Identifier: MIT
/* queue/cluster_pipeline.c: pipelines over a cluster (cf_cluster_pipeline_segs, the contract
 * in queue/cluster.h): each segment (one caller's pipeline) planned into runs of consecutive
 * commands for one node, the k-th runs of all segments sent as wave k (one pipeline per node),
 * replies put back in order, redirected commands sent again, failures kept to their segments. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/cluster_internal.h"
#include "queue/redis_conn_internal.h"

#define KEYLESS (-2)

typedef struct run {
    size_t start, end; /* cmds[start..end) */
    int node;
    size_t seg;
} run;

typedef struct plan {
    int *node_of; /* per command */
    run *runs;    /* grouped by segment, in order */
    size_t nruns;
    size_t *first_run, *nseg_runs; /* per segment */
    bool *dead;                    /* per segment: failed, nothing more of it is sent */
} plan;

static void plan_free(plan *p)
{
    cf_free(p->node_of);
    cf_free(p->runs);
    cf_free(p->first_run);
    cf_free(p->nseg_runs);
    cf_free(p->dead);
}

/* tx_node: the node of a MULTI at i: that of the first keyed command before its EXEC. */
static int tx_node(cf_cluster *cl, const cf_redis_cmd *cmds, size_t i, size_t end, char *err,
                   size_t cap)
{
    for (size_t j = i + 1; j < end && !cf_redis_cmd_is(&cmds[j], "EXEC"); j++) {
        int slot = cf_redis_cmd_slot(&cmds[j]);
        if (slot >= 0)
            return cf_cl_node_of_slot(cl, slot, err, cap);
    }
    return KEYLESS;
}

/* plan_segment sets node_of[start..end): a keyed command goes to its slot's master; MULTI..EXEC
 * goes whole to its first keyed command's node; any other keyless command joins the keyed
 * command before it, else the one after it, else any master. */
static cf_status plan_segment(cf_cluster *cl, const cf_redis_cmd *cmds, size_t start, size_t end,
                              int *node_of, char *err, size_t cap)
{
    int tx = -1; /* inside MULTI..EXEC: its node (or KEYLESS) */
    bool in_tx = false;
    for (size_t i = start; i < end; i++) {
        const cf_redis_cmd *c = &cmds[i];
        if (!in_tx && cf_redis_cmd_is(c, "MULTI")) {
            in_tx = true;
            tx = tx_node(cl, cmds, i, end, err, cap);
            if (tx == -1)
                return CF_ERR_UNAVAILABLE;
            node_of[i] = tx;
            continue;
        }
        int slot = cf_redis_cmd_slot(c);
        if (slot == CF_SLOT_CROSS)
            return cf_cl_cross_slot(cl, c, err, cap);
        int node = KEYLESS;
        if (slot >= 0 && (node = cf_cl_node_of_slot(cl, slot, err, cap)) < 0)
            return CF_ERR_UNAVAILABLE;
        if (in_tx) {
            if (node != KEYLESS && node != tx)
                return cf_cl_cross_slot(cl, c, err, cap);
            node = tx;
            if (cf_redis_cmd_is(c, "EXEC") || cf_redis_cmd_is(c, "DISCARD"))
                in_tx = false;
        }
        node_of[i] = node;
    }
    int prev = KEYLESS;
    for (size_t i = start; i < end; i++) {
        if (node_of[i] != KEYLESS) {
            prev = node_of[i];
            continue;
        }
        int node = prev;
        for (size_t j = i + 1; node == KEYLESS && j < end; j++)
            node = node_of[j];
        if (node == KEYLESS && (node = cf_cl_node_of_slot(cl, CF_SLOT_NONE, err, cap)) < 0)
            return CF_ERR_UNAVAILABLE;
        node_of[i] = node;
        prev = node;
    }
    return CF_OK;
}

/* kill fails segment k with st: its replies so far are freed, nothing more of it is sent. */
static void kill(plan *p, size_t k, const size_t *seg_end, cf_reply **replies, cf_status *seg_st,
                 cf_status st)
{
    size_t start = k ? seg_end[k - 1] : 0;
    for (size_t i = start; i < seg_end[k]; i++) {
        cf_reply_free(replies[i]);
        replies[i] = NULL;
    }
    seg_st[k] = st;
    p->dead[k] = true;
}

static cf_status make_plan(cf_cluster *cl, const cf_redis_cmd *cmds, const size_t *seg_end,
                           size_t nseg, plan *p, cf_status *seg_st, char *err, size_t cap)
{
    size_t n = nseg ? seg_end[nseg - 1] : 0;
    p->node_of = cf_malloc((n ? n : 1) * sizeof *p->node_of);
    p->runs = cf_malloc((n ? n : 1) * sizeof *p->runs);
    p->first_run = cf_calloc(nseg ? nseg : 1, sizeof *p->first_run);
    p->nseg_runs = cf_calloc(nseg ? nseg : 1, sizeof *p->nseg_runs);
    p->dead = cf_calloc(nseg ? nseg : 1, sizeof *p->dead);
    if (!p->node_of || !p->runs || !p->first_run || !p->nseg_runs || !p->dead)
        return CF_ERR_NOMEM;
    for (size_t k = 0, start = 0; k < nseg; start = seg_end[k++]) {
        p->first_run[k] = p->nruns;
        cf_status st = plan_segment(cl, cmds, start, seg_end[k], p->node_of, err, cap);
        if (st != CF_OK) {
            seg_st[k] = st;
            p->dead[k] = true;
            continue;
        }
        for (size_t i = start; i < seg_end[k]; i++) {
            if (i > start && p->node_of[i] == p->node_of[i - 1]) {
                p->runs[p->nruns - 1].end = i + 1;
                continue;
            }
            p->runs[p->nruns++] = (run){i, i + 1, p->node_of[i], k};
            p->nseg_runs[k]++;
        }
    }
    return CF_OK;
}

/* One node's part of a wave: the runs bound for it, as one pipeline (each run a segment of
 * it, so the script rule applies per run). */
typedef struct node_part {
    int node;
    cf_redis_cmd *sub;
    cf_reply **reps;
    size_t *ends;
    cf_status *sts;
    const run **mine;
    size_t nsub;
    cf_status st;
} node_part;

static void part_free(node_part *np)
{
    cf_free(np->sub);
    cf_free(np->reps);
    cf_free(np->ends);
    cf_free(np->sts);
    cf_free(np->mine);
}

/* part_send gathers the wave's runs for np->node and writes them, without reading. */
static void part_send(cf_cluster *cl, node_part *np, const run *const *wave, size_t nwave,
                      const cf_redis_cmd *cmds, char *err, size_t cap)
{
    size_t ncmd = 0;
    for (size_t j = 0; j < nwave; j++)
        if (wave[j]->node == np->node) {
            ncmd += wave[j]->end - wave[j]->start;
            np->nsub++;
        }
    np->sub = cf_malloc(ncmd * sizeof *np->sub);
    np->reps = cf_calloc(ncmd, sizeof *np->reps);
    np->ends = cf_malloc(np->nsub * sizeof *np->ends);
    np->sts = cf_malloc(np->nsub * sizeof *np->sts);
    np->mine = cf_malloc(np->nsub * sizeof *np->mine);
    np->st = CF_ERR_NOMEM;
    if (!np->sub || !np->reps || !np->ends || !np->sts || !np->mine) {
        part_free(np); /* send_wave fails its runs' segments */
        *np = (node_part){.node = np->node, .st = CF_ERR_NOMEM};
        return;
    }
    size_t at = 0, r = 0;
    for (size_t j = 0; j < nwave; j++) {
        if (wave[j]->node != np->node)
            continue;
        size_t len = wave[j]->end - wave[j]->start;
        memcpy(np->sub + at, cmds + wave[j]->start, len * sizeof *np->sub);
        at += len;
        np->ends[r] = at;
        np->mine[r++] = wave[j];
    }
    cf_redis *h = cl->nodes[np->node].h;
    np->st = cf_redis_pipeline_send(h, np->sub, np->ends, np->nsub, np->reps, np->sts);
    if (np->st != CF_OK) {
        snprintf(err, cap, "%s", cf_redis_errstr(h));
        cl->stale = true;
    }
}

/* part_recv reads np's replies (when its write went out) and files them; a failure fails the
 * segments of its runs only. */
static void part_recv(cf_cluster *cl, node_part *np, const size_t *seg_end, cf_reply **replies,
                      cf_status *seg_st, plan *p, char *err, size_t cap)
{
    if (np->mine == NULL) /* out of memory before anything was sent */
        return;
    cf_redis *h = cl->nodes[np->node].h;
    if (np->st == CF_OK) {
        np->st = cf_redis_pipeline_recv(h, np->sub, np->ends, np->nsub, np->reps, np->sts);
        if (np->st != CF_OK) {
            snprintf(err, cap, "%s", cf_redis_errstr(h));
            cl->stale = true;
        }
    }
    for (size_t j = 0, from = 0; j < np->nsub; from = np->ends[j++]) {
        const run *rn = np->mine[j];
        if (np->st == CF_OK && np->sts[j] == CF_OK) {
            memcpy(replies + rn->start, np->reps + from, (np->ends[j] - from) * sizeof *np->reps);
            continue;
        }
        for (size_t i = from; i < np->ends[j]; i++)
            cf_reply_free(np->reps[i]);
        if (np->sts[j] != CF_OK && np->st == CF_OK)
            snprintf(err, cap, "%s", cf_redis_errstr(h));
        kill(p, rn->seg, seg_end, replies, seg_st, np->st != CF_OK ? np->st : np->sts[j]);
    }
}

/* send_wave writes every node's part of the wave, then reads them: the nodes work on their
 * parts at the same time (one round trip's wait for the wave, not one per node). */
static void send_wave(cf_cluster *cl, const int *nodes, size_t nnodes, const run *const *wave,
                      size_t nwave, const cf_redis_cmd *cmds, const size_t *seg_end,
                      cf_reply **replies, cf_status *seg_st, plan *p, char *err, size_t cap)
{
    node_part stack[8];
    node_part *parts = nnodes <= 8 ? stack : cf_calloc(nnodes, sizeof *parts);
    if (parts == NULL) {
        for (size_t j = 0; j < nwave; j++)
            kill(p, wave[j]->seg, seg_end, replies, seg_st, CF_ERR_NOMEM);
        return;
    }
    memset(parts, 0, nnodes * sizeof *parts);
    for (size_t m = 0; m < nnodes; m++) {
        parts[m].node = nodes[m];
        part_send(cl, &parts[m], wave, nwave, cmds, err, cap);
    }
    for (size_t m = 0; m < nnodes; m++) {
        if (parts[m].mine == NULL) /* its allocation failed: its runs' segments fail */
            for (size_t j = 0; j < nwave; j++)
                if (wave[j]->node == parts[m].node)
                    kill(p, wave[j]->seg, seg_end, replies, seg_st, CF_ERR_NOMEM);
        part_recv(cl, &parts[m], seg_end, replies, seg_st, p, err, cap);
        part_free(&parts[m]);
    }
    if (parts != stack)
        cf_free(parts);
}

/* redirect_wave sends again, where they are told to go, the commands of this wave answered
 * with MOVED or ASK. */
static void redirect_wave(cf_cluster *cl, const run *const *wave, size_t nwave,
                          const cf_redis_cmd *cmds, const size_t *seg_end, cf_reply **replies,
                          cf_status *seg_st, plan *p, char *err, size_t cap)
{
    for (size_t j = 0; j < nwave; j++) {
        const run *rn = wave[j];
        for (size_t i = rn->start; i < rn->end && !p->dead[rn->seg]; i++) {
            cf_reply *rep = replies[i];
            if (rep == NULL || rep->type != CF_REPLY_ERROR ||
                (strncmp(rep->str, "MOVED ", 6) != 0 && strncmp(rep->str, "ASK ", 4) != 0))
                continue;
            cf_status st = cf_cl_follow(cl, rn->node, &cmds[i], -1, &replies[i], err, cap);
            if (st != CF_OK)
                kill(p, rn->seg, seg_end, replies, seg_st, st);
        }
    }
}

cf_status cf_cluster_pipeline_segs(cf_cluster *cl, const cf_redis_cmd *cmds, const size_t *seg_end,
                                   size_t nseg, cf_reply **replies, cf_status *seg_st, char *err,
                                   size_t cap)
{
    size_t n = nseg ? seg_end[nseg - 1] : 0;
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    for (size_t k = 0; k < nseg; k++)
        seg_st[k] = CF_OK;
    cf_status st = cf_cluster_connect(cl, err, cap);
    plan p = {0};
    const run **wave = NULL;
    int *nodes = NULL;
    if (st == CF_OK)
        st = make_plan(cl, cmds, seg_end, nseg, &p, seg_st, err, cap);
    if (st == CF_OK && (wave = cf_malloc((nseg ? nseg : 1) * sizeof *wave)) == NULL)
        st = CF_ERR_NOMEM;
    if (st == CF_OK && (nodes = cf_malloc((nseg ? nseg : 1) * sizeof *nodes)) == NULL)
        st = CF_ERR_NOMEM;
    if (st != CF_OK) {
        for (size_t k = 0; k < nseg; k++)
            seg_st[k] = st;
        plan_free(&p);
        cf_free(wave);
        return st;
    }
    for (size_t w = 0;; w++) {
        size_t nwave = 0, nnodes = 0;
        for (size_t k = 0; k < nseg; k++) {
            if (p.dead[k] || w >= p.nseg_runs[k])
                continue;
            const run *rn = &p.runs[p.first_run[k] + w];
            wave[nwave++] = rn;
            bool seen = false;
            for (size_t m = 0; m < nnodes; m++)
                seen = seen || nodes[m] == rn->node;
            if (!seen)
                nodes[nnodes++] = rn->node;
        }
        if (nwave == 0)
            break;
        send_wave(cl, nodes, nnodes, wave, nwave, cmds, seg_end, replies, seg_st, &p, err, cap);
        redirect_wave(cl, wave, nwave, cmds, seg_end, replies, seg_st, &p, err, cap);
    }
    plan_free(&p);
    cf_free(wave);
    cf_free(nodes);
    for (size_t k = 0; k < nseg; k++)
        if (seg_st[k] != CF_OK)
            return seg_st[k];
    return CF_OK;
}
