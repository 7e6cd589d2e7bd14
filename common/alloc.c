// SPDX-License-Identifier: MIT
/* common/alloc.c: allocation through replaceable hooks (libc by default). */
#include "common/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static cf_alloc_hooks g_hooks = {malloc, realloc, free};

void cf_alloc_set_hooks(const cf_alloc_hooks *hooks)
{
    if (hooks)
        g_hooks = *hooks;
    else
        g_hooks = (cf_alloc_hooks){malloc, realloc, free};
}

void *cf_malloc(size_t n)
{
    return g_hooks.malloc(n ? n : 1);
}

void *cf_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = cf_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *cf_realloc(void *p, size_t n)
{
    return g_hooks.realloc(p, n ? n : 1);
}

void cf_free(void *p)
{
    if (p)
        g_hooks.free(p);
}

int cf_grow(void *items, size_t *cap, size_t n, size_t elem_size, size_t first_cap)
{
    if (n < *cap)
        return 0;
    size_t want = *cap ? *cap * 2 : first_cap;
    if (want < n + 1 || (elem_size && want > SIZE_MAX / elem_size))
        return -1;
    /* The array pointer is read and written through memcpy, not a void ** lvalue (strict
     * aliasing; POSIX object pointers share void *'s representation). */
    void *old, *p;
    memcpy(&old, items, sizeof old);
    p = cf_realloc(old, want * elem_size);
    if (p == NULL)
        return -1;
    memcpy(items, &p, sizeof p);
    *cap = want;
    return 0;
}

char *cf_strndup(const char *s, size_t n)
{
    char *d = cf_malloc(n + 1);
    if (d == NULL)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cf_strdup(const char *s)
{
    return cf_strndup(s, strlen(s));
}
