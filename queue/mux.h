// SPDX-License-Identifier: MIT
/* queue/mux.h: one real Redis connection shared by many threads, auto-pipelined. Each thread
 * gets its own client handle (a cf_redis, so every queue/ call works on it unchanged); the
 * requests that arrive while a batch is on the wire are written together as the next batch
 * (one round trip) and each caller gets its own replies, in order. No thread of its own:
 * the first caller to find the connection free becomes the batch's leader (it writes every
 * queued request, reads every reply, wakes their callers and hands the lead to the next
 * waiting caller), so a lone caller pays no thread hand-off.
 *
 * Guarantees: a caller's pipeline stays contiguous and in order inside its batch, with
 * redis_conn.h's script rule applied per caller (a script followed by others of its pipeline
 * goes as EVAL with its text; a last one by EVALSHA, repaired after NOSCRIPT before its caller
 * wakes). A transport error (socket broke, read timeout: a silent connection) fails every
 * request of that batch with CF_ERR_IO / CF_ERR_TIMEOUT (the outcome of each is unknown; callers
 * retry as docs/retries.md says), and the next batch reconnects with redis_conn's backoff
 * (CF_ERR_UNAVAILABLE while it waits). Error replies are classified per caller, on its handle.
 * Blocking commands (BLMOVE, BLPOP, WAIT...) are refused with CF_ERR_INVALID: they would stall
 * every caller; give a blocking loop its own connection. Transactions (MULTI...EXEC) work only
 * inside one pipeline call. */
#ifndef CF_QUEUE_MUX_H
#define CF_QUEUE_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/redis_conn.h"

typedef struct cf_mux cf_mux;

/* cf_mux_new parses url (borrowed) and makes a shared connection (not connected yet: the first
 * batch connects). opts may be NULL (defaults). CF_ERR_INVALID (err filled) or CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_mux_new(const char *url, const cf_redis_opts *opts, cf_mux **out,
                                   cf_error *err);

/* cf_mux_client makes a client handle of m (free it with cf_redis_free, before cf_mux_free).
 * One thread at a time per handle, as with any cf_redis. */
CF_MUST_CHECK cf_status cf_mux_client(cf_mux *m, cf_redis **out, cf_error *err);

/* cf_mux_free closes the connection and frees m (NULL-safe); every client must be freed. */
void cf_mux_free(cf_mux *m);

/* cf_mux_counts: batches written and requests carried so far; requests waiting for the next
 * batch and in the batch on the wire right now (for tests and stats). */
typedef struct cf_mux_counts {
    uint64_t batches, requests;
    size_t queued, on_wire;
} cf_mux_counts;

void cf_mux_stats(cf_mux *m, cf_mux_counts *out);

/* For queue/redis_conn.c (client handles): */

/* cf_mux_submit runs cmds[0..n) as one contiguous piece of a batch (n == 0: only connect) and
 * fills replies[0..n) (error replies not classified). Returns the transport status of the
 * piece; on failure its message goes to err (cap bytes). */
CF_MUST_CHECK cf_status cf_mux_submit(cf_mux *m, const cf_redis_cmd *cmds, size_t n,
                                      cf_reply **replies, char *err, size_t cap);

/* cf_mux_drop asks for the connection to be dropped before the next batch (a failover reply). */
void cf_mux_drop(cf_mux *m);

/* cf_mux_connected says whether the connection was up after the last batch (no I/O). */
bool cf_mux_connected(cf_mux *m);

#endif
