// SPDX-License-Identifier: MIT
/* queue/redis_subscribe.c: a subscriber connection (worker/promoter.c listens for P:{Q}:wake):
 * SUBSCRIBE, then messages read with a deadline by poll() on the socket and a wake fd, never by
 * a socket timeout (hiredis 0.14 kills a connection whose read times out). A cluster handle
 * subscribes through a connection of its own to one master (queue/cluster.h): classic PUBLISH
 * reaches every node. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "queue/redis_conn_impl.h"

cf_status cf_redis_subscribe(cf_redis *r, int nchannels, const char *const *channels)
{
    if (r->cluster) { /* each (re)subscribe picks the next master */
        cf_redis *sub = cf_cluster_subscriber(r->cluster, true, r->errstr, sizeof r->errstr);
        if (sub == NULL)
            return CF_ERR_UNAVAILABLE;
        cf_status st = cf_redis_subscribe(sub, nchannels, channels);
        snprintf(r->errstr, sizeof r->errstr, "%s", cf_redis_errstr(sub));
        return st;
    }
    if (nchannels <= 0 || nchannels > 1024) {
        cf_redis_set_err(r, "redis: subscribe to 1..1024 channels");
        return CF_ERR_INVALID;
    }
    cf_status st = cf_redis_connect(r);
    if (st == CF_OK)
        st = cf_redis_set_timeout(r, r->opts.read_timeout_ms);
    if (st != CF_OK)
        return st;
    size_t n = (size_t)nchannels + 1;
    const char **av = cf_malloc(n * sizeof *av);
    size_t *al = cf_malloc(n * sizeof *al);
    if (av == NULL || al == NULL) {
        cf_free(av);
        cf_free(al);
        cf_redis_set_err(r, "redis: %s", "out of memory");
        return CF_ERR_NOMEM;
    }
    av[0] = "SUBSCRIBE";
    al[0] = 9;
    for (int i = 0; i < nchannels; i++) {
        av[i + 1] = channels[i];
        al[i + 1] = strlen(channels[i]);
    }
    int rc = redisAppendCommandArgv(r->c, (int)n, av, al);
    cf_free(av);
    cf_free(al);
    if (rc != REDIS_OK)
        return cf_redis_transport_error(r);
    /* One confirmation per channel: ["subscribe", channel, count]. */
    for (int i = 0; i < nchannels; i++) {
        void *raw = NULL;
        if (redisGetReply(r->c, &raw) != REDIS_OK || raw == NULL)
            return cf_redis_transport_error(r);
        redisReply *rep = raw;
        if (rep->type == REDIS_REPLY_ERROR) {
            st = cf_redis_classify_error(r, rep->str ? rep->str : "error");
            freeReplyObject(rep);
            cf_redis_disconnect(r); /* not a usable subscriber */
            return st;
        }
        freeReplyObject(rep);
    }
    r->errstr[0] = '\0';
    return CF_OK;
}

/* is_message says whether a pub/sub reply is a ["message", channel, payload] push. */
static bool is_message(const cf_reply *m)
{
    return m->type == CF_REPLY_ARRAY && m->n == 3 && m->elem[0].type == CF_REPLY_STRING &&
           strcmp(m->elem[0].str, "message") == 0 && m->elem[1].type == CF_REPLY_STRING &&
           m->elem[2].type == CF_REPLY_STRING;
}

cf_status cf_redis_wait_message(cf_redis *r, int64_t timeout_ms, int wake_fd, cf_reply **out)
{
    *out = NULL;
    if (r->cluster) {
        cf_redis *sub = cf_cluster_subscriber(r->cluster, false, r->errstr, sizeof r->errstr);
        if (sub == NULL)
            return CF_ERR_IO;
        cf_status st = cf_redis_wait_message(sub, timeout_ms, wake_fd, out);
        snprintf(r->errstr, sizeof r->errstr, "%s", cf_redis_errstr(sub));
        return st;
    }
    if (r->c == NULL) {
        cf_redis_set_err(r, "redis %s: not subscribed (connection lost)", r->url.redacted);
        return CF_ERR_IO;
    }
    int64_t deadline = cf_clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        void *raw = NULL;
        if (redisReaderGetReply(r->c->reader, &raw) != REDIS_OK)
            return cf_redis_transport_error(r);
        if (raw != NULL) {
            cf_reply *mine = cf_calloc(1, sizeof *mine);
            bool ok = mine != NULL && cf_redis_reply_convert(raw, mine);
            freeReplyObject(raw);
            if (!ok) {
                cf_free(mine);
                cf_redis_set_err(r, "redis: %s", "out of memory converting a message");
                return CF_ERR_NOMEM;
            }
            if (is_message(mine)) {
                *out = mine;
                return CF_OK;
            }
            cf_reply_free(mine); /* a (un)subscribe confirmation: not a message */
            continue;
        }
        int64_t left = deadline - cf_clock_mono_ms();
        struct pollfd pfd[2] = {{.fd = r->c->fd, .events = POLLIN},
                                {.fd = wake_fd, .events = POLLIN}};
        int rc = poll(pfd, wake_fd >= 0 ? 2 : 1, left > 0 ? (int)left : 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            cf_redis_set_err(r, "redis %s: poll: %s", r->url.redacted, strerror(errno));
            cf_redis_disconnect(r);
            return CF_ERR_IO;
        }
        if (rc == 0 || (wake_fd >= 0 && pfd[1].revents != 0))
            return CF_ERR_NOT_FOUND;
        if (redisBufferRead(r->c) != REDIS_OK)
            return cf_redis_transport_error(r);
    }
}
