// SPDX-License-Identifier: MIT
/* queue/argv.c: the Redis argument builder (queue/argv.h). */
#include "queue/argv.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

void cf_argv_init(cf_argv *a)
{
    cf_argv_init_script(a, NULL, 0);
}

void cf_argv_init_script(cf_argv *a, const cf_redis_script *script, int nkeys)
{
    a->script = script;
    a->nkeys = nkeys;
    a->argc = 0;
    a->bad = nkeys < 0;
}

cf_argv *cf_argv_buf(cf_argv *a, const void *p, size_t n)
{
    if (a->argc >= CF_ARGV_MAX || (p == NULL && n > 0)) {
        a->bad = true;
        return a;
    }
    a->argv[a->argc] = p ? p : "";
    a->lens[a->argc] = n;
    a->argc++;
    return a;
}

cf_argv *cf_argv_str(cf_argv *a, const char *s)
{
    if (s == NULL) {
        a->bad = true;
        return a;
    }
    return cf_argv_buf(a, s, strlen(s));
}

cf_argv *cf_argv_key(cf_argv *a, const char *key, int key_len)
{
    if (key_len <= 0) {
        a->bad = true;
        return a;
    }
    return cf_argv_buf(a, key, (size_t)key_len);
}

cf_argv *cf_argv_int(cf_argv *a, long long v)
{
    if (a->argc >= CF_ARGV_MAX) {
        a->bad = true;
        return a;
    }
    char *slot = a->ints[a->argc];
    int n = snprintf(slot, sizeof a->ints[0], "%lld", v);
    return cf_argv_buf(a, slot, (size_t)n);
}

bool cf_argv_ok(const cf_argv *a)
{
    return !a->bad && a->argc > 0 && a->nkeys <= a->argc;
}

cf_status cf_argv_exec(cf_redis *r, const cf_argv *a, cf_reply **out)
{
    *out = NULL;
    if (!cf_argv_ok(a))
        return CF_ERR_INVALID;
    if (a->script)
        return cf_redis_eval(r, a->script, a->nkeys, a->argc, a->argv, a->lens, out);
    return cf_redis_exec(r, a->argc, a->argv, a->lens, out);
}

cf_status cf_argv_exec_blocking(cf_redis *r, int64_t block_ms, const cf_argv *a, cf_reply **out)
{
    *out = NULL;
    if (!cf_argv_ok(a) || a->script)
        return CF_ERR_INVALID;
    return cf_redis_exec_blocking(r, block_ms, a->argc, a->argv, a->lens, out);
}

cf_status cf_argv_pipeline(cf_redis *r, const cf_argv *cmds, size_t n, cf_reply **replies)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (n == 0)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!cf_argv_ok(&cmds[i]))
            return CF_ERR_INVALID;
    cf_redis_cmd stack[16];
    cf_redis_cmd *rc = n <= 16 ? stack : cf_calloc(n, sizeof *rc);
    if (rc == NULL)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        rc[i] = (cf_redis_cmd){.script = cmds[i].script,
                               .nkeys = cmds[i].nkeys,
                               .argc = cmds[i].argc,
                               .argv = cmds[i].argv,
                               .lens = cmds[i].lens};
    }
    cf_status st = cf_redis_pipeline(r, rc, n, replies);
    if (rc != stack)
        cf_free(rc);
    return st;
}
