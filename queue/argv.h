// SPDX-License-Identifier: MIT
/* queue/argv.h: the one way to build a Redis command's arguments. Arguments are appended as
 * strings, byte runs, keys or integers and their lengths are recorded as they are appended, so
 * no caller counts lengths by hand. A builder that overflowed or was handed a key that did not
 * fit (a key builder's -1) is marked bad, and running it returns CF_ERR_INVALID without I/O.
 * Every pointer appended is borrowed until the command has run; integers are formatted into the
 * builder itself. */
#ifndef CF_QUEUE_ARGV_H
#define CF_QUEUE_ARGV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/redis_conn.h"

#define CF_ARGV_MAX 24 /* the longest command or script call this code builds */

typedef struct cf_argv {
    const cf_redis_script *script; /* NULL: a plain command (argv[0] is its name) */
    int nkeys;                     /* script calls: how many leading arguments are keys */
    int argc;
    bool bad; /* overflowed, or a key that did not fit */
    const char *argv[CF_ARGV_MAX];
    size_t lens[CF_ARGV_MAX];
    char ints[CF_ARGV_MAX][24]; /* text of integer arguments, by position */
} cf_argv;

/* cf_argv_init empties a for a plain command (it may then be reused for another one). */
void cf_argv_init(cf_argv *a);

/* cf_argv_init_script empties a for a call of script whose first nkeys arguments are keys (a
 * then holds keys and arguments, not the command name). */
void cf_argv_init_script(cf_argv *a, const cf_redis_script *script, int nkeys);

/* Appenders; each returns a so calls can be chained in one statement. */
cf_argv *cf_argv_str(cf_argv *a, const char *s);                /* NUL-terminated */
cf_argv *cf_argv_buf(cf_argv *a, const void *p, size_t n);      /* binary-safe */
cf_argv *cf_argv_key(cf_argv *a, const char *key, int key_len); /* from a cf_key_* builder */
cf_argv *cf_argv_int(cf_argv *a, long long v);

/* cf_argv_ok says whether a can run: not bad, not empty, and no more keys than arguments. */
bool cf_argv_ok(const cf_argv *a);

/* cf_argv_exec runs a (a plain command, or a script by EVALSHA with NOSCRIPT handling) with
 * cf_redis_exec's / cf_redis_eval's rules; CF_ERR_INVALID without I/O when a is bad. */
CF_MUST_CHECK cf_status cf_argv_exec(cf_redis *r, const cf_argv *a, cf_reply **out);

/* cf_argv_exec_blocking runs a plain command that blocks on the server up to block_ms (BLMOVE)
 * with cf_redis_exec_blocking's rules; CF_ERR_INVALID without I/O when a is bad or a script. */
CF_MUST_CHECK cf_status cf_argv_exec_blocking(cf_redis *r, int64_t block_ms, const cf_argv *a,
                                              cf_reply **out);

/* cf_argv_pipeline runs cmds[0..n) in one round trip with cf_redis_pipeline's rules.
 * CF_ERR_INVALID, with every reply NULL and nothing sent, when any is bad. */
CF_MUST_CHECK cf_status cf_argv_pipeline(cf_redis *r, const cf_argv *cmds, size_t n,
                                         cf_reply **replies);

#endif
