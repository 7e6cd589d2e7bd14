// SPDX-License-Identifier: MIT
/* worker/delivery_end.c: a pass's effects as a delivery's publishes and removes. */
#include "worker/delivery_end.h"

#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"
#include "queue/schedule_batch.h"

/* encode writes the envelope of a PUBLISH (or the continuation a REMOVE names) into b. */
static cf_status encode(const cf_effect *x, const char *queue, cf_buf *b)
{
    if (x->kind == CF_EFFECT_REMOVE || x->kwargs == NULL)
        return cf_envelope_encode_continuation(x->wf_class, x->key, queue, b);
    cf_envelope env;
    cf_status st = cf_envelope_init_job(&env, x->wf_class, x->key, queue, NULL);
    if (st != CF_OK)
        return st;
    env.kwargs = json_incref(x->kwargs);
    st = cf_envelope_encode(&env, b);
    cf_envelope_deinit(&env);
    return st;
}

cf_status cf_delivery_effects_build(const cf_effects *fx, const char *default_queue,
                                    cf_delivery_effects *out)
{
    memset(out, 0, sizeof *out);
    if (fx->n > CF_DELIVERY_MAX_EFFECTS)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < fx->n; i++) {
        const cf_effect *x = &fx->items[i];
        const char *queue = x->queue ? x->queue : default_queue;
        cf_buf *b = &out->members[out->nmembers++]; /* zeroed: an empty buffer */
        cf_status st = encode(x, queue, b);
        if (st != CF_OK)
            return st;
        if (x->kind == CF_EFFECT_PUBLISH)
            out->publish[out->npublish++] = (cf_delivery_publish){
                .queue = queue,
                .member = b->data,
                .member_len = b->len,
                .due_unix_ms = x->due_ms,
                .continuation = x->kwargs == NULL,
            };
        else
            out->remove[out->nremove++] =
                (cf_delivery_remove){.queue = queue, .member = b->data, .member_len = b->len};
    }
    return CF_OK;
}

void cf_delivery_effects_deinit(cf_delivery_effects *d)
{
    for (size_t i = 0; i < d->nmembers; i++)
        cf_buf_deinit(&d->members[i]);
    d->nmembers = d->npublish = d->nremove = 0;
}

#define ENQUEUE_CHUNK CF_CONTINUATIONS_BATCH

/* flush_run publishes effects first..end (PUBLISHes of one kind, one queue and, for
 * continuations, one due time): first envelopes with cf_enqueue_batch, continuations with
 * cf_continuations_publish. */
static cf_status flush_run(cf_queue *q, const cf_effects *fx, size_t first, size_t end,
                           const char *queue, cf_buf *bufs, cf_enqueue_item *items,
                           const void **members, size_t *lens)
{
    int64_t now = cf_clock_unix_ms();
    bool continuation = fx->items[first].kwargs == NULL;
    size_t n = 0;
    cf_status st = CF_OK;
    for (size_t i = first; i < end && st == CF_OK; i++, n++) {
        const cf_effect *x = &fx->items[i];
        cf_buf_reset(&bufs[n]);
        st = encode(x, queue, &bufs[n]);
        members[n] = bufs[n].data;
        lens[n] = bufs[n].len;
        items[n] = (cf_enqueue_item){.queue = queue,
                                     .env = bufs[n].data,
                                     .len = bufs[n].len,
                                     .due_unix_ms = x->due_ms > now ? x->due_ms : 0};
    }
    if (st != CF_OK || n == 0)
        return st;
    return continuation
               ? cf_continuations_publish(q, queue, members, lens, n, fx->items[first].due_ms)
               : cf_enqueue_batch(q, items, n);
}

cf_status cf_effects_enqueue(cf_queue *q, const cf_effects *fx, const char *default_queue)
{
    size_t cap = fx->n < ENQUEUE_CHUNK ? fx->n : ENQUEUE_CHUNK;
    if (cap == 0)
        return CF_OK;
    cf_enqueue_item *items = cf_calloc(cap, sizeof *items);
    cf_buf *bufs = cf_calloc(cap, sizeof *bufs);
    const void **members = cf_calloc(cap, sizeof *members);
    size_t *lens = cf_calloc(cap, sizeof *lens);
    cf_status st = items && bufs && members && lens ? CF_OK : CF_ERR_NOMEM;
    size_t i = 0;
    while (st == CF_OK && i < fx->n) {
        const cf_effect *x = &fx->items[i];
        if (x->kind != CF_EFFECT_PUBLISH) {
            i++;
            continue;
        }
        const char *queue = x->queue ? x->queue : default_queue;
        size_t end = i + 1; /* a run: same kind, queue and (continuations) due time */
        while (end < fx->n && end - i < cap) {
            const cf_effect *y = &fx->items[end];
            if (y->kind != CF_EFFECT_PUBLISH || (y->kwargs == NULL) != (x->kwargs == NULL) ||
                strcmp(y->queue ? y->queue : default_queue, queue) != 0 ||
                (x->kwargs == NULL && y->due_ms != x->due_ms))
                break;
            end++;
        }
        st = flush_run(q, fx, i, end, queue, bufs, items, members, lens);
        i = end;
    }
    for (size_t j = 0; bufs && j < cap; j++)
        cf_buf_deinit(&bufs[j]);
    cf_free(bufs);
    cf_free(items);
    cf_free(members);
    cf_free(lens);
    return st;
}
