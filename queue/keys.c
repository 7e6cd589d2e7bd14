// SPDX-License-Identifier: MIT
/* queue/keys.c: SPEC §2 key names and the identifiers inside them (queue names, worker ids,
 * lock tokens). Every key queue/ touches is spelled here and nowhere else. */
#include "queue/keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/rand.h"

bool cf_queue_name_valid(const char *queue)
{
    size_t n = queue ? strlen(queue) : 0;
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = queue[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool cf_prefix_valid(const char *prefix)
{
    size_t n = prefix ? strlen(prefix) : 0;
    return n >= 1 && n <= CF_PREFIX_MAX && strpbrk(prefix, "{}") == NULL;
}

cf_status cf_keys_check(const char *prefix, const char *queue)
{
    if (!cf_prefix_valid(prefix) || (queue != NULL && !cf_queue_name_valid(queue)))
        return CF_ERR_INVALID;
    return CF_OK;
}

cf_status cf_worker_id_make(char *buf, size_t cap)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    char hex[7];
    cf_rand_hex(hex, 6);
    int n = snprintf(buf, cap, "%s:%ld:%s", host, (long)getpid(), hex);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            buf[0] = '\0';
        return CF_ERR_INVALID;
    }
    return CF_OK;
}

cf_status cf_lock_token_make(char *buf, size_t cap, const char *worker_id, const char *run_id)
{
    int n = snprintf(buf, cap, "%s/%s", worker_id, run_id);
    if (run_id[0] == '\0' || worker_id[0] == '\0' || n < 0 || (size_t)n >= cap) {
        if (cap)
            buf[0] = '\0';
        return CF_ERR_INVALID;
    }
    return CF_OK;
}

__attribute__((format(printf, 3, 4))) static int build(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            buf[0] = '\0';
        return -1;
    }
    return n;
}

int cf_key_ready(char *buf, size_t cap, const char *prefix, const char *queue)
{
    return build(buf, cap, "%s:{%s}:ready", prefix, queue);
}

int cf_key_scheduled(char *buf, size_t cap, const char *prefix, const char *queue)
{
    return build(buf, cap, "%s:{%s}:scheduled", prefix, queue);
}

int cf_key_due(char *buf, size_t cap, const char *prefix, const char *queue)
{
    return build(buf, cap, "%s:{%s}:due", prefix, queue);
}

int cf_key_paused(char *buf, size_t cap, const char *prefix, const char *queue)
{
    return build(buf, cap, "%s:{%s}:paused", prefix, queue);
}

int cf_key_wake(char *buf, size_t cap, const char *prefix, const char *queue)
{
    return build(buf, cap, "%s:{%s}:wake", prefix, queue);
}

int cf_key_inflight(char *buf, size_t cap, const char *prefix, const char *queue,
                    const char *worker_id)
{
    return build(buf, cap, "%s:{%s}:inflight:%s", prefix, queue, worker_id);
}

int cf_key_dead(char *buf, size_t cap, const char *prefix, const char *queue)
{
    return build(buf, cap, "%s:{%s}:dead", prefix, queue);
}

int cf_key_control(char *buf, size_t cap, const char *prefix, const char *queue)
{
    return build(buf, cap, "%s:{%s}:control", prefix, queue);
}

int cf_key_control_inflight(char *buf, size_t cap, const char *prefix, const char *queue,
                            const char *worker_id)
{
    return build(buf, cap, "%s:{%s}:control:inflight:%s", prefix, queue, worker_id);
}

int cf_key_reply(char *buf, size_t cap, const char *prefix, const char *request_id)
{
    return build(buf, cap, "%s:reply:%s", prefix, request_id);
}

int cf_key_queues(char *buf, size_t cap, const char *prefix)
{
    return build(buf, cap, "%s:queues", prefix);
}

int cf_key_workers(char *buf, size_t cap, const char *prefix)
{
    return build(buf, cap, "%s:workers", prefix);
}

int cf_key_held(char *buf, size_t cap, const char *prefix, const char *worker_id)
{
    return build(buf, cap, "%s:held:%s", prefix, worker_id);
}

int cf_key_worker_info(char *buf, size_t cap, const char *prefix, const char *worker_id)
{
    return build(buf, cap, "%s:worker:%s", prefix, worker_id);
}

int cf_key_sweeper(char *buf, size_t cap, const char *prefix)
{
    return build(buf, cap, "%s:sweeper", prefix);
}

int cf_key_sweeper_suspects(char *buf, size_t cap, const char *prefix)
{
    return build(buf, cap, "%s:sweeper:suspects", prefix);
}

int cf_key_lock(char *buf, size_t cap, const char *prefix, const char *wf_class, const char *wf_key)
{
    return build(buf, cap, "%s:lock:%s/%s", prefix, wf_class, wf_key);
}
