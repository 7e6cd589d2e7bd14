// SPDX-License-Identifier: MIT
/* queue/msgpack_scan.h: a bounds-checked msgpack reader for untrusted bytes. It reads one
 * header at a time, refusing any declared length that the remaining bytes cannot hold, and
 * scans whole objects for well-formedness and nesting depth before anyone builds values from
 * them. It allocates nothing; meaning (which types are allowed where) is the caller's job. */
#ifndef CF_QUEUE_MSGPACK_SCAN_H
#define CF_QUEUE_MSGPACK_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

typedef enum cf_mp_type {
    CF_MP_NIL,
    CF_MP_BOOL,
    CF_MP_UINT, /* non-negative integer, in u */
    CF_MP_INT,  /* negative integer, in i */
    CF_MP_FLOAT32,
    CF_MP_FLOAT64, /* both in f (float32 widened) */
    CF_MP_STR,
    CF_MP_BIN,
    CF_MP_EXT,
    CF_MP_ARRAY, /* n elements follow */
    CF_MP_MAP,   /* n key/value pairs follow */
} cf_mp_type;

/* One header. For STR/BIN/EXT, ptr/n are the body (borrowed from the reader's bytes); for
 * ARRAY/MAP, n is the declared count. */
typedef struct cf_mp_item {
    cf_mp_type type;
    bool b;
    uint64_t u;
    int64_t i;
    double f;
    int8_t ext_type;
    const char *ptr;
    uint32_t n;
} cf_mp_item;

/* A cursor over p[0..len); borrows p. */
typedef struct cf_mp_reader {
    const unsigned char *p;
    size_t len;
    size_t off;
} cf_mp_reader;

/* cf_mp_reader_init points r at p[0..len) (borrowed, must outlive r's use). */
void cf_mp_reader_init(cf_mp_reader *r, const char *p, size_t len);

/* cf_mp_read reads the next header into *it and moves past it (and past a str/bin/ext body).
 * Returns false, leaving r->off unchanged, when the bytes end early, the byte is the unused
 * 0xc1, or a declared count cannot fit: an array of n needs n more bytes, a map 2n. */
bool cf_mp_read(cf_mp_reader *r, cf_mp_item *it);

/* cf_mp_next_is_container says whether the next header is an array or a map (false at the end). */
bool cf_mp_next_is_container(const cf_mp_reader *r);

/* cf_mp_skip moves past one complete object, however deep (it counts the objects still owed
 * instead of recursing). Returns false (r->off unspecified) when the object is malformed. */
bool cf_mp_skip(cf_mp_reader *r);

/* cf_mp_scan checks that one complete, well-formed object starts at r->off, whose containers
 * nest at most max_depth deep (the outermost container is depth 0, so max_depth 0 allows one
 * level), and moves past it. Refusals return CF_ERR_INVALID with err (may be NULL) set to
 * not_msgpack (field "", msg with the byte offset) or too_deep (field: the path of the first
 * container too deep, "kwargs.a[3]" style; map keys that are not strings show as "?"). Recursion
 * is bounded by max_depth, which must be <= 64. */
CF_MUST_CHECK cf_status cf_mp_scan(cf_mp_reader *r, int max_depth, cf_error *err);

/* A field path for error messages: "a.b[2].c", truncated (never overflowing) past 127 bytes.
 * Push a map key or an array index, pop back to a saved length. */
typedef struct cf_mp_path {
    char s[128];
    size_t len;
} cf_mp_path;

/* cf_mp_path_key appends ".key" ("key" at the root); bytes outside printable ASCII are written
 * as \xNN. Returns the previous length, for cf_mp_path_pop. */
size_t cf_mp_path_key(cf_mp_path *p, const char *key, size_t len);

/* cf_mp_path_index appends "[i]" and returns the previous length. */
size_t cf_mp_path_index(cf_mp_path *p, uint32_t i);

/* cf_mp_path_pop truncates p back to len. */
void cf_mp_path_pop(cf_mp_path *p, size_t len);

#endif
