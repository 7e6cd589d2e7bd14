// SPDX-License-Identifier: MIT
/* queue/redis_conn.h: one Redis connection: connect (TCP or unix socket, AUTH with an ACL
 * user, SELECT), timeouts, reconnect with capped exponential backoff and jitter, commands and
 * pipelines with binary-safe arguments, and Lua scripts by EVALSHA with reloading on NOSCRIPT.
 * Replies come back as our own cf_reply tree; hiredis types never leave redis_conn.c.
 *
 * Threading: a cf_redis handle is used by one thread at a time (no internal locking). Give
 * each thread its own handle. A handle may instead be a client of a shared, auto-pipelined
 * connection (queue/mux.h): the same calls, batched with other threads' calls, blocking ones
 * refused. SIGPIPE: writing to a socket the server closed raises SIGPIPE;
 * the process must ignore it (the CLI does; tests do), as with hiredis itself.
 *
 * Errors: every call returns a cf_status. Transient (retry with backoff): CF_ERR_IO (socket
 * broke; the connection is dropped and the next call reconnects), CF_ERR_TIMEOUT (read or
 * connect timeout; also drops it), CF_ERR_UNAVAILABLE (LOADING, MASTERDOWN, READONLY, BUSY,
 * TRYAGAIN, CLUSTERDOWN replies, or a reconnect refused because the backoff delay has not
 * passed yet). Permanent: CF_ERR_INVALID (bad URL, NOAUTH/WRONGPASS/NOPERM), CF_ERR_PROTOCOL
 * (any other error reply, e.g. WRONGTYPE), CF_ERR_NOMEM. cf_redis_errstr() says why, without
 * any password. */
#ifndef CF_QUEUE_REDIS_CONN_H
#define CF_QUEUE_REDIS_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/redis_url.h"

typedef struct cf_redis cf_redis; /* opaque; defined in queue/redis_conn.c */

/* cf_redis_opts tunes a connection; cf_redis_opts_default() gives the defaults in brackets. */
typedef struct cf_redis_opts {
    int64_t connect_timeout_ms; /* [2000] TCP/unix connect, then AUTH and SELECT */
    int64_t read_timeout_ms;    /* [5000] socket read/write timeout of ordinary commands;
                                   blocking commands get their block time added */
    int64_t reconnect_base_ms;  /* [100] first reconnect delay after a failed attempt */
    int64_t reconnect_cap_ms;   /* [5000] ceiling of the doubling delay (with equal jitter) */
} cf_redis_opts;

void cf_redis_opts_default(cf_redis_opts *o);

/* cf_reply is a reply tree owned by the caller; free the top with cf_reply_free(). */
typedef enum cf_reply_type {
    CF_REPLY_NIL = 0,
    CF_REPLY_INTEGER,
    CF_REPLY_STRING,
    CF_REPLY_STATUS,
    CF_REPLY_ERROR,
    CF_REPLY_ARRAY,
} cf_reply_type;

typedef struct cf_reply {
    cf_reply_type type;
    long long integer; /* INTEGER */
    char *str;         /* STRING, STATUS, ERROR: owned, NUL after len bytes (len excludes it) */
    size_t len;
    size_t n;              /* ARRAY: element count */
    struct cf_reply *elem; /* ARRAY: n elements, owned */
} cf_reply;

/* cf_reply_free frees a reply tree (NULL-safe). */
void cf_reply_free(cf_reply *rep);

/* cf_reply_take_str steals rep->str (STRING/STATUS/ERROR) and its length; the reply keeps
 * NULL. Returns owned memory (free with cf_free) or NULL for other types. */
char *cf_reply_take_str(cf_reply *rep, size_t *len);

/* cf_redis_script is a Lua script known by its text; handles cache its SHA1 (per handle), so a
 * script object must be static or outlive every handle that ran it. */
typedef struct cf_redis_script {
    const char *name; /* for error messages */
    const char *text;
} cf_redis_script;

/* cf_redis_cmd is one command of a pipeline. argv[0..argc) with lengths lens[0..argc) are
 * borrowed and binary-safe. With script set, argv holds keys then arguments (nkeys keys) and
 * the command is run as EVALSHA; argv must then not contain the command name. */
typedef struct cf_redis_cmd {
    const cf_redis_script *script;
    int nkeys;
    int argc;
    const char *const *argv;
    const size_t *lens;
} cf_redis_cmd;

/* cf_redis_open parses url (borrowed), allocates a handle and connects once. opts may be NULL
 * (defaults). On CF_OK *out is an owned handle (free with cf_redis_free). On failure *out is
 * NULL and err (may be NULL) holds a password-free message; a connect failure is transient. */
CF_MUST_CHECK cf_status cf_redis_open(const char *url, const cf_redis_opts *opts, cf_redis **out,
                                      cf_error *err);

/* cf_redis_new is cf_redis_open without the first connect: the first command connects. Returns
 * CF_ERR_INVALID for a bad URL (err filled) or CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_redis_new(const char *url, const cf_redis_opts *opts, cf_redis **out,
                                     cf_error *err);

/* cf_redis_free closes and frees the handle (NULL-safe); the password is wiped. */
void cf_redis_free(cf_redis *r);

/* cf_redis_errstr returns the last error's message (never a password); valid until the next
 * call on r. "" after success. */
const char *cf_redis_errstr(const cf_redis *r);

/* cf_redis_redacted_url returns the URL with its password replaced by "***"; valid while r. */
const char *cf_redis_redacted_url(const cf_redis *r);

/* cf_redis_is_connected says whether a live connection is held right now (no I/O). */
bool cf_redis_is_connected(const cf_redis *r);

/* cf_redis_connect (re)connects now if not connected, unless the backoff delay after a failed
 * attempt has not passed (then CF_ERR_UNAVAILABLE without I/O). Blocks up to about
 * connect_timeout_ms + read_timeout_ms. Every command calls it first. */
CF_MUST_CHECK cf_status cf_redis_connect(cf_redis *r);

/* cf_redis_wait_reconnect sleeps until the next reconnect attempt is allowed (at most the
 * backoff cap; wakes early when *stop, which may be NULL, becomes true) and tries it. */
CF_MUST_CHECK cf_status cf_redis_wait_reconnect(cf_redis *r, const atomic_bool *stop);

/* cf_redis_disconnect drops the connection (the next command reconnects at once). */
void cf_redis_disconnect(cf_redis *r);

/* cf_redis_exec runs one command. On CF_OK *out is an owned, non-error reply. An error reply
 * gives its classified status (see the top) with *out NULL and the message in errstr. Blocks
 * up to read_timeout_ms. */
CF_MUST_CHECK cf_status cf_redis_exec(cf_redis *r, int argc, const char *const *argv,
                                      const size_t *lens, cf_reply **out);

/* cf_redis_exec_blocking is cf_redis_exec for a command that blocks on the server up to
 * block_ms (BLMOVE ...): the read timeout is raised to block_ms + read_timeout_ms for the call,
 * because hiredis 0.14 kills a connection whose socket times out mid-command. */
CF_MUST_CHECK cf_status cf_redis_exec_blocking(cf_redis *r, int64_t block_ms, int argc,
                                               const char *const *argv, const size_t *lens,
                                               cf_reply **out);

/* cf_redis_eval runs script with argv = nkeys keys then arguments, by EVALSHA; on NOSCRIPT (a
 * restarted or flushed server) it loads the script and retries once. Same result rules as
 * cf_redis_exec. */
CF_MUST_CHECK cf_status cf_redis_eval(cf_redis *r, const cf_redis_script *script, int nkeys,
                                      int argc, const char *const *argv, const size_t *lens,
                                      cf_reply **out);

/* cf_redis_pipeline sends n commands in one write and reads the n replies (one round trip).
 * replies[0..n) receives owned replies, error replies included (type CF_REPLY_ERROR); the
 * caller frees every element (cf_reply_free is NULL-safe) whatever the result. Returns CF_OK
 * when no reply is an error, else the classified status of the first error reply; on a
 * transport error (IO, TIMEOUT, NOMEM) every element is NULL. The commands run in their order,
 * whatever happened to the server's script cache: a script command followed by others is sent
 * as EVAL with its text; only a script that is the last command goes by EVALSHA (reloaded and
 * run again on NOSCRIPT, after which nothing else of the pipeline runs). */
CF_MUST_CHECK cf_status cf_redis_pipeline(cf_redis *r, const cf_redis_cmd *cmds, size_t n,
                                          cf_reply **replies);

/* cf_redis_round_trips counts, across every handle of the process since it started, the
 * write+read cycles made on a live connection: one per cf_redis_exec / cf_redis_exec_blocking /
 * cf_redis_eval command sent (a SCRIPT LOAD or a NOSCRIPT retry is one more), one per
 * cf_redis_pipeline of n commands, and one per batch of a shared connection (queue/mux.h),
 * however many callers' commands it carries. The connection handshake (AUTH, SELECT) is not
 * counted. Lock-free; exported as chronoforge_redis_round_trips_total. */
uint64_t cf_redis_round_trips(void);

/* cf_redis_time_ms returns the server's clock (TIME) in Unix milliseconds. */
CF_MUST_CHECK cf_status cf_redis_time_ms(cf_redis *r, int64_t *out_ms);

/* Pub/sub, on a handle of its own that then serves nothing else (worker/promoter.c).
 * cf_redis_subscribe connects if needed and SUBSCRIBEs to channels[0..n) (1..1024 names,
 * borrowed), reading every confirmation. After a lost connection (any error of
 * cf_redis_wait_message but CF_ERR_NOT_FOUND) call it again: messages published meanwhile are
 * gone, so the caller must re-read whatever state they announced. */
CF_MUST_CHECK cf_status cf_redis_subscribe(cf_redis *r, int nchannels, const char *const *channels);

/* cf_redis_wait_message waits up to timeout_ms for a message on a subscribed handle, without the
 * socket timeout (hiredis 0.14 kills a connection whose read times out): poll() on its socket
 * and on wake_fd (-1: none). CF_OK: *out is the owned reply ["message", channel, payload];
 * CF_ERR_NOT_FOUND: the time passed or wake_fd became readable (not drained here); CF_ERR_IO
 * and the other transport statuses: the connection is gone (re-subscribe). */
CF_MUST_CHECK cf_status cf_redis_wait_message(cf_redis *r, int64_t timeout_ms, int wake_fd,
                                              cf_reply **out);

#endif
