// SPDX-License-Identifier: MIT
/* common/arena.h: a bump allocator for everything that lives as long as one job (the decoded
 * envelope, replay state, step inputs). Reset in O(1) between jobs, so error paths cannot leak.
 * Not thread-safe: one arena per executor thread. */
#ifndef CF_COMMON_ARENA_H
#define CF_COMMON_ARENA_H

#include <stddef.h>

typedef struct cf_arena_chunk cf_arena_chunk;

typedef struct cf_arena {
    cf_arena_chunk *head;   /* newest chunk first */
    size_t chunk_size;      /* default size of new chunks */
    size_t bytes_allocated; /* sum of chunk capacities, for limits and stats */
} cf_arena;

/* cf_arena_init prepares an empty arena whose chunks are chunk_size bytes (0: 16 KiB). */
void cf_arena_init(cf_arena *a, size_t chunk_size);

/* cf_arena_deinit frees every chunk. */
void cf_arena_deinit(cf_arena *a);

/* cf_arena_reset forgets every allocation but keeps the first chunk for reuse. */
void cf_arena_reset(cf_arena *a);

/* cf_arena_alloc returns n bytes aligned for any type, valid until reset/deinit; NULL on OOM. */
void *cf_arena_alloc(cf_arena *a, size_t n);

/* cf_arena_strndup copies n bytes of s and a terminating NUL into the arena. */
char *cf_arena_strndup(cf_arena *a, const char *s, size_t n);
char *cf_arena_strdup(cf_arena *a, const char *s);

#endif
