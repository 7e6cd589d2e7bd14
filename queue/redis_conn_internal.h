// SPDX-License-Identifier: MIT
/* queue/redis_conn_internal.h: what queue/mux.c needs of queue/redis_conn.c and nothing else
 * does: client handles of a shared connection, and a pipeline made of several callers'
 * segments. Private to queue/. */
#ifndef CF_QUEUE_REDIS_CONN_INTERNAL_H
#define CF_QUEUE_REDIS_CONN_INTERNAL_H

#include <stddef.h>

#include "queue/redis_conn.h"

typedef struct cf_mux cf_mux;

/* cf_redis_new_client allocates a handle whose commands go through mux (queue/mux.h); url
 * (borrowed) only names the server in its messages. Never connects by itself. */
CF_MUST_CHECK cf_status cf_redis_new_client(const char *url, cf_mux *mux, cf_redis **out,
                                            cf_error *err);

/* cf_redis_pipeline_segs is cf_redis_pipeline over nseg segments: segment k is
 * cmds[seg_end[k-1] .. seg_end[k]) (seg_end[-1] = 0), each one caller's pipeline, with
 * cf_redis_pipeline's script rule applied per segment (a script followed by others of its
 * segment goes as EVAL with its text; a segment's last command by EVALSHA, repaired after
 * NOSCRIPT). All segments go in one write (one round trip). A transport error fails every
 * segment: returns its status, every seg_st[k] = it, every reply NULL. Otherwise CF_OK, with
 * replies[] filled (error replies included, not classified) and seg_st[k] CF_OK, CF_ERR_NOMEM
 * (a reply could not be copied) or the failure of its NOSCRIPT repair (its replies then NULL).
 * r must not be a client handle. */
CF_MUST_CHECK cf_status cf_redis_pipeline_segs(cf_redis *r, const cf_redis_cmd *cmds,
                                               const size_t *seg_end, size_t nseg,
                                               cf_reply **replies, cf_status *seg_st);

/* cf_redis_new_node allocates a plain handle for one node of a cluster (queue/cluster.c) from a
 * parsed URL (copied; its cluster fields are ignored). Never connects by itself. */
CF_MUST_CHECK cf_status cf_redis_new_node(const cf_redis_url *url, const cf_redis_opts *opts,
                                          cf_redis **out);

/* cf_redis_run_raw runs one command or script on a plain handle and gives its reply whatever it
 * is, error replies included (a script by EVALSHA, reloaded on NOSCRIPT). block_ms >= 0: a
 * blocking command (socket timeout raised by it). Returns a transport status, or CF_OK with
 * *out set. */
CF_MUST_CHECK cf_status cf_redis_run_raw(cf_redis *r, const cf_redis_cmd *cmd, int64_t block_ms,
                                         cf_reply **out);

/* cf_redis_pipeline_segs in two halves, so a cluster writes every node's pipeline before it
 * reads any (queue/cluster_pipeline.c): cf_redis_pipeline_send connects, loads the scripts and
 * writes everything (a failure: as cf_redis_pipeline_segs's transport error, nothing to read);
 * after its CF_OK, cf_redis_pipeline_recv, with the same arguments, reads the replies. Plain
 * handles only. */
CF_MUST_CHECK cf_status cf_redis_pipeline_send(cf_redis *r, const cf_redis_cmd *cmds,
                                               const size_t *seg_end, size_t nseg,
                                               cf_reply **replies, cf_status *seg_st);
CF_MUST_CHECK cf_status cf_redis_pipeline_recv(cf_redis *r, const cf_redis_cmd *cmds,
                                               const size_t *seg_end, size_t nseg,
                                               cf_reply **replies, cf_status *seg_st);

/* cf_redis_copy_errstr copies r's last message into dst (cap bytes, NUL-terminated). */
void cf_redis_copy_errstr(const cf_redis *r, char *dst, size_t cap);

#endif
