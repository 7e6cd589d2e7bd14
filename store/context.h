// SPDX-License-Identifier: MIT
/* store/context.h: a workflow's context in memory: a JSON object of small values the executor
 * reads and writes while a run replays, with the SPEC §4 limits (each value at most 16 KiB
 * serialized, JSON-exact types only) and a dirty flag; plus the capped snapshot that error-log
 * rows store. No I/O: the executor hands the document to cf_store_commit with each step. */
#ifndef CF_STORE_CONTEXT_H
#define CF_STORE_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/status.h"

#define CF_CONTEXT_VALUE_MAX    16384 /* bytes of one value's compact JSON */
#define CF_CONTEXT_SNAPSHOT_MAX 65536 /* bytes of an error log's compact context snapshot */
#define CF_CONTEXT_OMITTED      "<<omitted>>"

typedef struct cf_context {
    json_t *doc;      /* owned JSON object; read it, never write it directly */
    bool dirty;       /* set by every successful write; the executor clears it after storing */
    char errmsg[160]; /* why the last call refused, naming the key */
} cf_context;

/* cf_context_init takes ownership of doc (a JSON object, or NULL for {}); a doc that is not an
 * object is dropped and replaced by {} (CF_ERR_INVALID). dirty starts false. */
CF_MUST_CHECK cf_status cf_context_init(cf_context *c, json_t *doc);

/* cf_context_deinit drops the document; NULL-safe, idempotent. */
void cf_context_deinit(cf_context *c);

/* cf_context_check_value says whether value may be stored under key: JSON-exact types (null,
 * bool, integer, finite real, string, array, object), no NUL inside any string or key (Postgres
 * jsonb refuses \u0000), nesting at most 32 levels, compact serialization at most
 * CF_CONTEXT_VALUE_MAX bytes. CF_ERR_INVALID with c->errmsg naming the key; c unchanged. */
CF_MUST_CHECK cf_status cf_context_check_value(cf_context *c, const char *key, const json_t *value);

/* cf_context_set stores a deep copy of value (borrowed) under key (NUL-free, non-empty).
 * CF_ERR_INVALID (message names the key) leaves the context unchanged; CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_context_set(cf_context *c, const char *key, const json_t *value);

/* cf_context_set_once is cf_context_set when key is absent; when present it does nothing
 * (the value is not validated) and *stored (may be NULL) is false. */
CF_MUST_CHECK cf_status cf_context_set_once(cf_context *c, const char *key, const json_t *value,
                                            bool *stored);

/* cf_context_merge is a shallow merge: every top-level key of values (a JSON object, borrowed)
 * replaces the context's entry of that name (nested objects are replaced whole, not merged).
 * All values are validated first; on any refusal nothing is written (atomic). */
CF_MUST_CHECK cf_status cf_context_merge(cf_context *c, const json_t *values);

/* cf_context_merge_once merges only the keys absent from the context; present keys are skipped
 * without validation. Atomic like cf_context_merge. *nstored (may be NULL) receives how many
 * keys were written. */
CF_MUST_CHECK cf_status cf_context_merge_once(cf_context *c, const json_t *values, size_t *nstored);

/* cf_context_fetch returns the value under key, or dflt (borrowed, may be NULL) when absent.
 * The result is borrowed: valid until the next write to c or until dflt is released. */
const json_t *cf_context_fetch(const cf_context *c, const char *key, const json_t *dflt);

/* cf_context_has says whether key is present (a stored null counts as present). */
bool cf_context_has(const cf_context *c, const char *key);

/* cf_context_snapshot returns a new JSON object (owned; json_decref) copying doc's entries in
 * order while the compact serialization stays within budget bytes: a value that does not fit
 * is replaced by the string CF_CONTEXT_OMITTED (later smaller values may still fit); if even
 * the marker does not fit, the remaining keys are dropped and "_truncated": true is added.
 * doc NULL or not an object gives {}. NULL only on allocation failure. */
json_t *cf_context_snapshot(const json_t *doc, size_t budget);

#endif
