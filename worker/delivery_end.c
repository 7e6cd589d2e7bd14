// SPDX-License-Identifier: MIT
/* worker/delivery_end.c: a pass's effects as a delivery's publishes and removes. */
#include "worker/delivery_end.h"

#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"

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

#define ENQUEUE_CHUNK 1000

cf_status cf_effects_enqueue(cf_queue *q, const cf_effects *fx, const char *default_queue)
{
    size_t cap = fx->n < ENQUEUE_CHUNK ? fx->n : ENQUEUE_CHUNK;
    if (cap == 0)
        return CF_OK;
    cf_enqueue_item *items = cf_calloc(cap, sizeof *items);
    cf_buf *bufs = cf_calloc(cap, sizeof *bufs);
    cf_status st = items && bufs ? CF_OK : CF_ERR_NOMEM;
    int64_t now = cf_clock_unix_ms();
    for (size_t first = 0; first < fx->n && st == CF_OK; first += ENQUEUE_CHUNK) {
        size_t n = 0;
        for (size_t i = first; i < fx->n && i < first + ENQUEUE_CHUNK && st == CF_OK; i++) {
            const cf_effect *x = &fx->items[i];
            if (x->kind != CF_EFFECT_PUBLISH)
                continue;
            const char *queue = x->queue ? x->queue : default_queue;
            cf_buf_reset(&bufs[n]);
            st = encode(x, queue, &bufs[n]);
            items[n] = (cf_enqueue_item){.queue = queue,
                                         .env = bufs[n].data,
                                         .len = bufs[n].len,
                                         .due_unix_ms = x->due_ms > now ? x->due_ms : 0};
            n++;
        }
        if (st == CF_OK && n > 0)
            st = cf_enqueue_batch(q, items, n);
    }
    for (size_t i = 0; bufs && i < cap; i++)
        cf_buf_deinit(&bufs[i]);
    cf_free(bufs);
    cf_free(items);
    return st;
}
