// SPDX-License-Identifier: MIT
/* common/arena.c: chunked bump allocation with O(1) reset. */
#include "common/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"

struct cf_arena_chunk {
    cf_arena_chunk *next;
    size_t cap;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

void cf_arena_init(cf_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 16 * 1024;
    a->bytes_allocated = 0;
}

void cf_arena_deinit(cf_arena *a)
{
    cf_arena_chunk *c = a->head;
    while (c) {
        cf_arena_chunk *next = c->next;
        cf_free(c);
        c = next;
    }
    a->head = NULL;
    a->bytes_allocated = 0;
}

void cf_arena_reset(cf_arena *a)
{
    /* Keep one default-sized chunk for reuse, free the rest. */
    cf_arena_chunk *c = a->head, *keep = NULL;
    while (c) {
        cf_arena_chunk *next = c->next;
        if (keep == NULL && c->cap == a->chunk_size)
            keep = c;
        else
            cf_free(c);
        c = next;
    }
    a->head = keep;
    a->bytes_allocated = keep ? keep->cap : 0;
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
}

void *cf_arena_alloc(cf_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (n > SIZE_MAX - align)
        return NULL;
    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    cf_arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > a->chunk_size ? n : a->chunk_size;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        cf_arena_chunk *fresh = cf_malloc(sizeof *fresh + cap);
        if (fresh == NULL)
            return NULL;
        fresh->cap = cap;
        fresh->used = 0;
        if (c && cap != a->chunk_size) {
            /* An oversized chunk goes behind the current one so the current one keeps filling. */
            fresh->next = c->next;
            c->next = fresh;
            fresh->used = n;
            a->bytes_allocated += cap;
            return fresh->data;
        }
        fresh->next = c;
        a->head = c = fresh;
        a->bytes_allocated += cap;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

char *cf_arena_strndup(cf_arena *a, const char *s, size_t n)
{
    char *d = cf_arena_alloc(a, n + 1);
    if (d == NULL)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cf_arena_strdup(cf_arena *a, const char *s)
{
    return cf_arena_strndup(a, s, strlen(s));
}
