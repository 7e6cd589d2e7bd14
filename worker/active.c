// SPDX-License-Identifier: MIT
/* worker/active.c: the executor slot table. */
#include "worker/active.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

typedef struct slot {
    const char *env;
    size_t len;
    size_t queue_index;
    char token[400];
} slot;

struct cf_active {
    pthread_mutex_t mu;
    int n;
    slot slots[];
};

cf_active *cf_active_new(int nslots)
{
    cf_active *a = cf_calloc(1, sizeof *a + (size_t)nslots * sizeof(slot));
    if (a == NULL)
        return NULL;
    pthread_mutex_init(&a->mu, NULL);
    a->n = nslots;
    return a;
}

void cf_active_free(cf_active *a)
{
    if (a == NULL)
        return;
    pthread_mutex_destroy(&a->mu);
    cf_free(a);
}

void cf_active_hold(cf_active *a, int slot_no, size_t queue_index, const char *env, size_t len)
{
    pthread_mutex_lock(&a->mu);
    slot *s = &a->slots[slot_no];
    s->env = env;
    s->len = len;
    s->queue_index = queue_index;
    s->token[0] = '\0';
    pthread_mutex_unlock(&a->mu);
}

void cf_active_token(cf_active *a, int slot_no, const char *token)
{
    pthread_mutex_lock(&a->mu);
    snprintf(a->slots[slot_no].token, sizeof a->slots[slot_no].token, "%s", token ? token : "");
    pthread_mutex_unlock(&a->mu);
}

void cf_active_clear(cf_active *a, int slot_no)
{
    pthread_mutex_lock(&a->mu);
    memset(&a->slots[slot_no], 0, sizeof a->slots[slot_no]);
    pthread_mutex_unlock(&a->mu);
}

size_t cf_active_count_env(cf_active *a, size_t queue_index, const char *env, size_t len)
{
    size_t n = 0;
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->n; i++) {
        const slot *s = &a->slots[i];
        if (s->env && s->queue_index == queue_index && s->len == len &&
            memcmp(s->env, env, len) == 0)
            n++;
    }
    pthread_mutex_unlock(&a->mu);
    return n;
}

bool cf_active_has_token(cf_active *a, const char *token)
{
    bool found = false;
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->n && !found; i++)
        found = a->slots[i].token[0] && strcmp(a->slots[i].token, token) == 0;
    pthread_mutex_unlock(&a->mu);
    return found;
}
