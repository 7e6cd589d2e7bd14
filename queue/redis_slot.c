// SPDX-License-Identifier: MIT
/* queue/redis_slot.c: hash slots of keys and commands (queue/redis_slot.h): CRC16 (XMODEM, as
 * Redis Cluster's specification gives it) over a key or its hash tag, and the table of where
 * each command this code, its tests and its operators use keeps its keys. */
#include "queue/redis_slot.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static unsigned crc16(const char *buf, size_t len)
{
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)buf[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
}

int cf_redis_key_slot(const char *key, size_t len)
{
    /* The hash tag: what lies between the first '{' and the first '}' after it, when not
     * empty; otherwise the whole key. */
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        if (close && close > key + from)
            return (int)(crc16(key + from, (size_t)(close - key) - from) & (CF_REDIS_SLOTS - 1));
    }
    return (int)(crc16(key, len) & (CF_REDIS_SLOTS - 1));
}

static bool arg_eq(const cf_redis_cmd *cmd, int i, const char *name)
{
    size_t n = strlen(name);
    return i < cmd->argc && cmd->lens[i] == n && strncasecmp(cmd->argv[i], name, n) == 0;
}

bool cf_redis_cmd_is(const cf_redis_cmd *cmd, const char *name)
{
    return cmd->script == NULL && arg_eq(cmd, 0, name);
}

static bool name_in(const cf_redis_cmd *cmd, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (arg_eq(cmd, 0, names[i]))
            return true;
    return false;
}

#define IN(list) name_in(cmd, list, sizeof list / sizeof list[0])

/* Where a command's keys are: argv[first .. last] every step-th argument (last < 0 counts from
 * the end: -1 the last argument, -2 the one before it). */
typedef struct key_span {
    int first, last, step;
} key_span;

static bool key_span_of(const cf_redis_cmd *cmd, key_span *ks)
{
    static const char *const keyless[] = {
        "PING",     "TIME",     "MULTI",     "EXEC",         "DISCARD",     "INFO",
        "SCRIPT",   "PUBLISH",  "SUBSCRIBE", "PSUBSCRIBE",   "UNSUBSCRIBE", "PUNSUBSCRIBE",
        "CLUSTER",  "DBSIZE",   "FLUSHALL",  "FLUSHDB",      "AUTH",        "SELECT",
        "ASKING",   "READONLY", "READWRITE", "KEYS",         "SCAN",        "CONFIG",
        "CLIENT",   "ECHO",     "HELLO",     "COMMAND",      "WAIT",        "ROLE",
        "LASTSAVE", "BGSAVE",   "SAVE",      "BGREWRITEAOF", "SLOWLOG",     "LATENCY",
        "MEMORY",   "DEBUG",    "SHUTDOWN",  "QUIT",         "RESET",       "UNWATCH",
        "FUNCTION", "ACL",      "MONITOR",   "SWAPDB"};
    static const char *const all_keys[] = {
        "DEL",    "EXISTS", "UNLINK",  "TOUCH",       "MGET",        "WATCH",      "SINTER",
        "SUNION", "SDIFF",  "PFCOUNT", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE", "PFMERGE"};
    static const char *const all_but_last[] = {"BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"};
    static const char *const two_keys[] = {"LMOVE",  "BLMOVE",         "RPOPLPUSH",  "BRPOPLPUSH",
                                           "RENAME", "RENAMENX",       "SMOVE",      "COPY",
                                           "LCS",    "GEOSEARCHSTORE", "ZRANGESTORE"};
    static const char *const pairs[] = {"MSET", "MSETNX"};
    if (IN(keyless))
        return false;
    if (IN(all_keys))
        *ks = (key_span){1, -1, 1};
    else if (IN(all_but_last))
        *ks = (key_span){1, -2, 1};
    else if (IN(two_keys))
        *ks = (key_span){1, 2, 1};
    else if (IN(pairs))
        *ks = (key_span){1, -1, 2};
    else if (arg_eq(cmd, 0, "OBJECT") || arg_eq(cmd, 0, "XINFO"))
        *ks = (key_span){2, 2, 1};
    else
        *ks = (key_span){1, 1, 1};
    return true;
}

/* slot_of_range: the one slot of argv[first..last] (every step-th), or CF_SLOT_CROSS. */
static int slot_of_range(const cf_redis_cmd *cmd, int first, int last, int step)
{
    int slot = CF_SLOT_NONE;
    for (int i = first; i <= last && i < cmd->argc; i += step) {
        int s = cf_redis_key_slot(cmd->argv[i], cmd->lens[i]);
        if (slot != CF_SLOT_NONE && s != slot)
            return CF_SLOT_CROSS;
        slot = s;
    }
    return slot;
}

/* numkeys_slot: commands of the EVAL family keep numkeys in argv[2] and the keys after it;
 * ZUNIONSTORE and its kin have a destination in argv[1] too. */
static int numkeys_slot(const cf_redis_cmd *cmd, int dest)
{
    if (cmd->argc < 3)
        return CF_SLOT_NONE;
    int nk = 0; /* arguments are length-counted, not NUL-terminated: no atoi */
    for (size_t i = 0; i < cmd->lens[2] && nk < 100000; i++) {
        char c = cmd->argv[2][i];
        if (c < '0' || c > '9')
            return CF_SLOT_NONE; /* not a count: Redis refuses the command itself */
        nk = nk * 10 + (c - '0');
    }
    int slot = nk > 0 ? slot_of_range(cmd, 3, 2 + nk, 1) : CF_SLOT_NONE;
    if (dest && slot != CF_SLOT_CROSS) {
        int d = cf_redis_key_slot(cmd->argv[1], cmd->lens[1]);
        slot = (slot == CF_SLOT_NONE || slot == d) ? d : CF_SLOT_CROSS;
    }
    return slot;
}

int cf_redis_cmd_slot(const cf_redis_cmd *cmd)
{
    if (cmd->script != NULL)
        return cmd->nkeys > 0 ? slot_of_range(cmd, 0, cmd->nkeys - 1, 1) : CF_SLOT_NONE;
    if (cmd->argc < 1)
        return CF_SLOT_NONE;
    static const char *const evals[] = {"EVAL",       "EVALSHA", "EVAL_RO",
                                        "EVALSHA_RO", "FCALL",   "FCALL_RO"};
    static const char *const stores[] = {"ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"};
    if (IN(evals))
        return numkeys_slot(cmd, 0);
    if (IN(stores))
        return numkeys_slot(cmd, 1);
    key_span ks;
    if (!key_span_of(cmd, &ks) || cmd->argc < 2)
        return CF_SLOT_NONE;
    int last = ks.last < 0 ? cmd->argc + ks.last : ks.last;
    return slot_of_range(cmd, ks.first, last, ks.step);
}

bool cf_redis_cmd_all_masters(const cf_redis_cmd *cmd)
{
    static const char *const names[] = {"KEYS", "DBSIZE", "FLUSHALL", "FLUSHDB"};
    if (cmd->script != NULL)
        return false;
    return IN(names) || (arg_eq(cmd, 0, "SCRIPT") && arg_eq(cmd, 1, "FLUSH"));
}

bool cf_redis_slot_check_enabled(void)
{
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("CF_REDIS_SLOT_CHECK");
        v = e != NULL && strcmp(e, "1") == 0;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v == 1;
}
