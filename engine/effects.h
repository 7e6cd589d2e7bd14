// SPDX-License-Identifier: MIT
/* engine/effects.h: what the end of a pass asks of the queue, as plain data. A pass that
 * committed its outcome in Postgres leaves a list of effects: publish envelopes (its own
 * continuation, a child workflow's first envelope with its kwargs, a parent's wake) into
 * possibly different queues, and remove pending continuations. The engine knows nothing of
 * Redis: the worker turns each effect into commands (queue/delivery.h) and runs them after the
 * commit, in the order release -> publishes -> removes -> ack (docs/replay.md). */
#ifndef CF_ENGINE_EFFECTS_H
#define CF_ENGINE_EFFECTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/status.h"

typedef enum cf_effect_kind {
    CF_EFFECT_PUBLISH, /* an envelope of (wf_class, key) into queue's scheduled set at due_ms */
    CF_EFFECT_REMOVE,  /* (wf_class, key)'s pending continuation leaves queue's scheduled set */
} cf_effect_kind;

/* cf_effect: one effect; every pointer is owned by the list. */
typedef struct cf_effect {
    cf_effect_kind kind;
    char *wf_class, *key; /* the workflow the envelope is for */
    char *queue;          /* its queue; NULL: the queue the delivery came from */
    json_t *kwargs;       /* PUBLISH: NULL = the workflow's canonical continuation (no kwargs;
                             at most one pending, the earliest due wins); an object = a first
                             envelope carrying these kwargs (creates the workflow) */
    int64_t due_ms;       /* PUBLISH: Unix ms */
} cf_effect;

typedef struct cf_effects {
    cf_effect *items;
    size_t n, cap;
} cf_effects;

#define CF_EFFECTS_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* cf_effects_publish appends a PUBLISH (strings copied; kwargs, may be NULL, gets a new
 * reference). CF_ERR_INVALID for a missing class or key or non-object kwargs; CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_effects_publish(cf_effects *e, const char *wf_class, const char *key,
                                           const char *queue, json_t *kwargs, int64_t due_ms);

/* cf_effects_remove appends a REMOVE of (wf_class, key)'s continuation from queue. */
CF_MUST_CHECK cf_status cf_effects_remove(cf_effects *e, const char *wf_class, const char *key,
                                          const char *queue);

/* cf_effects_deinit frees every effect and the array; NULL-safe, leaves an empty list. */
void cf_effects_deinit(cf_effects *e);

#endif
