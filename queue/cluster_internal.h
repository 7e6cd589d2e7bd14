// SPDX-License-Identifier: MIT
/* queue/cluster_internal.h: the inside of a cf_cluster, shared by queue/cluster_map.c (nodes,
 * the slot map and its loading) and queue/cluster.c (routing, redirects, pipelines). */
#ifndef CF_QUEUE_CLUSTER_INTERNAL_H
#define CF_QUEUE_CLUSTER_INTERNAL_H

#include <stdint.h>

#include "queue/cluster.h"
#include "queue/redis_slot.h"

typedef struct cl_node {
    char host[256];
    int port;
    cf_redis *h; /* a plain handle (cf_redis_new_node) */
} cl_node;

struct cf_cluster {
    cf_redis_url url; /* the redis+cluster:// URL: user, password, seeds */
    cf_redis_opts opts;
    cl_node *nodes; /* never shrinks: an index stays valid */
    int nnodes, capnodes;
    int16_t slots[CF_REDIS_SLOTS]; /* slot -> master's node index, -1 unknown */
    int *masters;                  /* node indexes serving some slot, from the last load */
    int nmasters;
    unsigned rr; /* round robin over masters for keyless commands */
    bool loaded, stale;
    int64_t loaded_mono_ms;
    int same_loads; /* loads in a row that found the map unchanged (spaces reloads out) */
    int failures;   /* consecutive failed loads */
    int64_t next_try_mono_ms;
    cf_redis *sub; /* the subscriber connection */
};

/* cf_cl_node_get returns the index of host:port's node, adding it if new; -1 on OOM. */
int cf_cl_node_get(cf_cluster *cl, const char *host, int port);

/* cf_cl_load_map asks known nodes, then the seeds, for CLUSTER SLOTS and installs the first answer.
 * Transport or protocol status with err filled when nobody answers. */
cf_status cf_cl_load_map(cf_cluster *cl, char *err, size_t cap);

/* cf_cl_any_master: a master for a keyless command (round robin), -1 when none is known. */
int cf_cl_any_master(cf_cluster *cl);

/* cf_cl_parse_redirect reads "MOVED <slot> <host>:<port>" or "ASK ..." from an error reply's text
 * into *slot, host and *port (an empty host means the node that answered: from_host). Returns
 * 1 for MOVED, 2 for ASK, 0 for anything else. */
int cf_cl_parse_redirect(const char *msg, const char *from_host, int *slot, char *host, size_t cap,
                         int *port);

/* cf_cl_node_of_slot: the master of slot (CF_SLOT_NONE: any master), or -1 with err filled and
 * the map marked stale. */
int cf_cl_node_of_slot(cf_cluster *cl, int slot, char *err, size_t cap);

/* cf_cl_cross_slot fills err for a command whose keys span slots; returns CF_ERR_INVALID. */
cf_status cf_cl_cross_slot(const cf_cluster *cl, const cf_redis_cmd *cmd, char *err, size_t cap);

/* cf_cl_follow: while *rep (cmd's reply from node idx) is a MOVED or ASK error, at most 5 times,
 * runs cmd where it points and replaces *rep. MOVED also fixes the map at once and marks it
 * for a reload. A transport failure frees *rep and returns its status. */
cf_status cf_cl_follow(cf_cluster *cl, int idx, const cf_redis_cmd *cmd, int64_t block_ms,
                       cf_reply **rep, char *err, size_t cap);

#endif
