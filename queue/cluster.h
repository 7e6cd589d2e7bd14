// SPDX-License-Identifier: MIT
/* queue/cluster.h: Redis Cluster routing behind a cf_redis handle whose URL is
 * redis+cluster://. Private to queue/: redis_conn.c hands every command of such a handle here,
 * so the rest of the code calls cf_redis_* as with one Redis.
 *
 * What it does: keeps the slot map (CLUSTER SLOTS from any reachable node or seed), one plain
 * cf_redis per node (each with its own reconnect backoff and script cache: scripts are loaded
 * per node), routes each command to the master of its slot (keyless ones to any master; KEYS,
 * DBSIZE, FLUSHALL, FLUSHDB and SCRIPT FLUSH to every master, merged), follows MOVED (the map
 * is fixed at once and reloaded) and ASK (ASKING then the command, the map unchanged), and
 * reloads the map after a node's connection fails (a failover). A command whose keys span
 * slots is refused without I/O (CF_ERR_INVALID).
 *
 * Pipelines: each caller's pipeline (a segment) is cut into runs of consecutive commands for
 * one node (a keyless command joins its neighbours; MULTI..EXEC stays whole); the k-th runs of
 * every segment go together as wave k, one pipeline per node, written to every node before any
 * is read; a segment's next run is sent only after its previous one's replies are in, so its
 * commands run in their order. Replies are put
 * back in order. A command redirected (MOVED/ASK) is sent again at once, after the rest of its
 * run (only while its slot moves). A node's transport error fails the segments that had a run
 * on it (replies NULL); the others go on.
 *
 * Threading: like any cf_redis, one thread at a time per handle. */
#ifndef CF_QUEUE_CLUSTER_H
#define CF_QUEUE_CLUSTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/redis_conn.h"
#include "queue/redis_url.h"

typedef struct cf_cluster cf_cluster;

/* cf_cluster_new makes a router for url (a parsed redis+cluster:// URL, copied) without I/O. */
CF_MUST_CHECK cf_status cf_cluster_new(const cf_redis_url *url, const cf_redis_opts *opts,
                                       cf_cluster **out);

/* cf_cluster_free closes every node connection and frees cl (NULL-safe); passwords wiped. */
void cf_cluster_free(cf_cluster *cl);

/* cf_cluster_ready: a slot map is loaded and not known to be stale (no I/O). */
bool cf_cluster_ready(const cf_cluster *cl);

/* cf_cluster_connect loads the slot map when there is none or it is stale (at most every
 * 100 ms, spaced out to 800 ms while reloads keep finding the same map, as during a failover;
 * after a failed load, with the handle's backoff: CF_ERR_UNAVAILABLE meanwhile). The
 * message of a failure goes to err (cap bytes). */
CF_MUST_CHECK cf_status cf_cluster_connect(cf_cluster *cl, char *err, size_t cap);

/* cf_cluster_wait_connect sleeps until the next load is allowed (wakes early on *stop) and
 * tries it. */
CF_MUST_CHECK cf_status cf_cluster_wait_connect(cf_cluster *cl, const atomic_bool *stop, char *err,
                                                size_t cap);

/* cf_cluster_disconnect drops every node connection and marks the map stale. */
void cf_cluster_disconnect(cf_cluster *cl);

/* cf_cluster_run runs one command or script (block_ms >= 0: a blocking command, the socket
 * timeout raised by it). CF_OK: *out is the final reply, error replies included (after any
 * redirects). Otherwise a transport status, CF_ERR_INVALID (keys span slots) or
 * CF_ERR_UNAVAILABLE (no map, a slot without a master), with err filled. */
CF_MUST_CHECK cf_status cf_cluster_run(cf_cluster *cl, const cf_redis_cmd *cmd, int64_t block_ms,
                                       cf_reply **out, char *err, size_t cap);

/* cf_cluster_pipeline_segs: cf_redis_pipeline_segs's contract (queue/redis_conn_internal.h)
 * over a cluster, failures per segment (see the top). Returns CF_OK or the first failing
 * segment's status. */
CF_MUST_CHECK cf_status cf_cluster_pipeline_segs(cf_cluster *cl, const cf_redis_cmd *cmds,
                                                 const size_t *seg_end, size_t nseg,
                                                 cf_reply **replies, cf_status *seg_st, char *err,
                                                 size_t cap);

/* cf_cluster_subscriber: the handle a cluster handle's pub/sub goes through: a connection of
 * its own to one master (classic PUBLISH reaches every node of a cluster). fresh: the last one
 * failed, pick the next master. NULL (err filled) when no map can be loaded. */
cf_redis *cf_cluster_subscriber(cf_cluster *cl, bool fresh, char *err, size_t cap);

#endif
