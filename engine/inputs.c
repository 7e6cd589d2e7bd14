// SPDX-License-Identifier: MIT
/* engine/inputs.c: what a workflow reads and writes besides steps: the kwargs accessors, the
 * schedule tick and the context API of chronoforge.h, over the stored kwargs and store/context.h.
 */
#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/json_path.h"
#include "engine/run.h"

static json_t *kwarg(cf_run *run, const char *path)
{
    return cf_json_path_get(run->row.kwargs, path);
}

int64_t cf_kwarg_int(cf_run *run, const char *path, int64_t dflt)
{
    json_t *v = kwarg(run, path);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18)
            return (int64_t)d;
    }
    return dflt;
}

double cf_kwarg_double(cf_run *run, const char *path, double dflt)
{
    json_t *v = kwarg(run, path);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

bool cf_kwarg_bool(cf_run *run, const char *path, bool dflt)
{
    json_t *v = kwarg(run, path);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

const char *cf_kwarg_str(cf_run *run, const char *path, const char *dflt)
{
    json_t *v = kwarg(run, path);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t cf_kwarg_len(cf_run *run, const char *path)
{
    json_t *v = kwarg(run, path);
    if (json_is_array(v))
        return (int64_t)json_array_size(v);
    if (json_is_object(v))
        return (int64_t)json_object_size(v);
    return v ? 0 : -1;
}

/* dump_to_arena serializes v compactly into the run's arena (valid until the pass ends). */
static const char *dump_to_arena(cf_run *run, const json_t *v)
{
    if (v == NULL)
        return NULL;
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return NULL;
    char *copy = cf_arena_strdup(&run->arena, text);
    free(text); /* jansson allocates with malloc */
    return copy;
}

const char *cf_kwarg_json(cf_run *run, const char *path)
{
    return dump_to_arena(run, kwarg(run, path));
}

/* ---- context ---- */

/* ctx_result turns a context status into the flow the workflow returns. */
static cf_flow ctx_result(cf_run *run, cf_status st)
{
    if (st == CF_OK)
        return CF_FLOW_OK;
    if (st == CF_ERR_NOMEM)
        return cf_fail(run, "Context.NoMemory", "out of memory writing the context");
    return cf_fail(run, "Context.Invalid", "%s", run->ctx.errmsg);
}

static cf_flow ctx_set_new(cf_run *run, const char *key, json_t *value, bool once)
{
    if (value == NULL)
        return cf_fail(run, "Context.Invalid", "context value for '%s' is not valid",
                       key ? key : "");
    if (key == NULL || *key == '\0' || strlen(key) > 256) {
        json_decref(value);
        return cf_fail(run, "Context.Invalid", "context keys are 1-256 bytes");
    }
    cf_status st = once ? cf_context_set_once(&run->ctx, key, value, NULL)
                        : cf_context_set(&run->ctx, key, value);
    json_decref(value);
    return ctx_result(run, st);
}

cf_flow cf_ctx_set_int(cf_run *run, const char *key, int64_t value)
{
    return ctx_set_new(run, key, json_integer(value), false);
}

cf_flow cf_ctx_set_double(cf_run *run, const char *key, double value)
{
    return ctx_set_new(run, key, isfinite(value) ? json_real(value) : NULL, false);
}

cf_flow cf_ctx_set_bool(cf_run *run, const char *key, bool value)
{
    return ctx_set_new(run, key, json_boolean(value), false);
}

cf_flow cf_ctx_set_str(cf_run *run, const char *key, const char *value)
{
    return ctx_set_new(run, key, value ? json_string(value) : json_null(), false);
}

static json_t *parse_json(const char *text)
{
    return text ? json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL) : NULL;
}

cf_flow cf_ctx_set_json(cf_run *run, const char *key, const char *json)
{
    return ctx_set_new(run, key, parse_json(json), false);
}

cf_flow cf_ctx_set_once_str(cf_run *run, const char *key, const char *value)
{
    return ctx_set_new(run, key, value ? json_string(value) : json_null(), true);
}

cf_flow cf_ctx_set_once_json(cf_run *run, const char *key, const char *json)
{
    return ctx_set_new(run, key, parse_json(json), true);
}

static cf_flow ctx_merge(cf_run *run, const char *json_object, bool once)
{
    json_t *obj = parse_json(json_object);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return cf_fail(run, "Context.Invalid", "cf_ctx_merge takes a JSON object");
    }
    cf_status st =
        once ? cf_context_merge_once(&run->ctx, obj, NULL) : cf_context_merge(&run->ctx, obj);
    json_decref(obj);
    return ctx_result(run, st);
}

cf_flow cf_ctx_merge(cf_run *run, const char *json_object)
{
    return ctx_merge(run, json_object, false);
}

cf_flow cf_ctx_merge_once(cf_run *run, const char *json_object)
{
    return ctx_merge(run, json_object, true);
}

bool cf_ctx_has(cf_run *run, const char *key)
{
    return cf_context_has(&run->ctx, key);
}

int64_t cf_ctx_get_int(cf_run *run, const char *key, int64_t dflt)
{
    const json_t *v = cf_context_fetch(&run->ctx, key, NULL);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

double cf_ctx_get_double(cf_run *run, const char *key, double dflt)
{
    const json_t *v = cf_context_fetch(&run->ctx, key, NULL);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

bool cf_ctx_get_bool(cf_run *run, const char *key, bool dflt)
{
    const json_t *v = cf_context_fetch(&run->ctx, key, NULL);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

const char *cf_ctx_get_str(cf_run *run, const char *key, const char *dflt)
{
    const json_t *v = cf_context_fetch(&run->ctx, key, NULL);
    if (!json_is_string(v))
        return dflt;
    /* Copy: a later write to the key would free the stored string. */
    return cf_arena_strdup(&run->arena, json_string_value(v));
}

const char *cf_ctx_get_json(cf_run *run, const char *key)
{
    return dump_to_arena(run, cf_context_fetch(&run->ctx, key, NULL));
}

int64_t cf_run_scheduled_at_ms(cf_run *run)
{
    json_t *v = run->row.options ? json_object_get(run->row.options, "scheduled_at") : NULL;
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}
