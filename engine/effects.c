// SPDX-License-Identifier: MIT
/* engine/effects.c: the list of effects a pass leaves (contract in effects.h). */
#include "engine/effects.h"

#include <string.h>

#include "common/alloc.h"

static cf_status add(cf_effects *e, cf_effect_kind kind, const char *wf_class, const char *key,
                     const char *queue, json_t *kwargs, int64_t due_ms)
{
    if (wf_class == NULL || key == NULL || !*wf_class || !*key ||
        (kwargs != NULL && !json_is_object(kwargs)))
        return CF_ERR_INVALID;
    if (cf_grow(&e->items, &e->cap, e->n, sizeof *e->items, 4) != 0)
        return CF_ERR_NOMEM;
    cf_effect *x = &e->items[e->n];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->wf_class = cf_strdup(wf_class);
    x->key = cf_strdup(key);
    x->queue = queue && *queue ? cf_strdup(queue) : NULL;
    if (!x->wf_class || !x->key || (queue && *queue && !x->queue)) {
        cf_free(x->wf_class);
        cf_free(x->key);
        cf_free(x->queue);
        return CF_ERR_NOMEM;
    }
    x->kwargs = kwargs ? json_incref(kwargs) : NULL;
    x->due_ms = due_ms;
    e->n++;
    return CF_OK;
}

cf_status cf_effects_publish(cf_effects *e, const char *wf_class, const char *key,
                             const char *queue, json_t *kwargs, int64_t due_ms)
{
    return add(e, CF_EFFECT_PUBLISH, wf_class, key, queue, kwargs, due_ms);
}

cf_status cf_effects_remove(cf_effects *e, const char *wf_class, const char *key, const char *queue)
{
    return add(e, CF_EFFECT_REMOVE, wf_class, key, queue, NULL, 0);
}

void cf_effects_deinit(cf_effects *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n; i++) {
        cf_free(e->items[i].wf_class);
        cf_free(e->items[i].key);
        cf_free(e->items[i].queue);
        json_decref(e->items[i].kwargs);
    }
    cf_free(e->items);
    memset(e, 0, sizeof *e);
}
