// SPDX-License-Identifier: MIT
/* common/alloc.h: the library's allocation entry points, with replaceable hooks so unit tests
 * can fail the Nth allocation and check that CF_ERR_NOMEM comes back with nothing leaked. */
#ifndef CF_COMMON_ALLOC_H
#define CF_COMMON_ALLOC_H

#include <stddef.h>

typedef struct cf_alloc_hooks {
    void *(*malloc)(size_t n);
    void *(*realloc)(void *p, size_t n);
    void (*free)(void *p);
} cf_alloc_hooks;

/* cf_alloc_set_hooks replaces the allocator (NULL restores libc). Not thread-safe: call it
 * before any thread starts. */
void cf_alloc_set_hooks(const cf_alloc_hooks *hooks);

void *cf_malloc(size_t n);
void *cf_calloc(size_t count, size_t size); /* zeroed; NULL on overflow of count*size */
void *cf_realloc(void *p, size_t n);
void cf_free(void *p); /* NULL-safe */

/* cf_grow makes room for one more element in a growable array: when *n == *cap, it reallocs
 * *items to twice the capacity (first_cap the first time) elements of elem_size bytes.
 * Returns 0, or -1 on OOM (the array is left as it was). items is the address of the array
 * pointer (e.g. &run->steps). */
int cf_grow(void *items, size_t *cap, size_t n, size_t elem_size, size_t first_cap);

/* cf_strdup / cf_strndup return owned copies (free with cf_free) or NULL on OOM. cf_strndup
 * copies exactly n bytes (which may contain no NUL) and terminates the copy. */
char *cf_strdup(const char *s);
char *cf_strndup(const char *s, size_t n);

#endif
