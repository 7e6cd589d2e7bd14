// SPDX-License-Identifier: MIT
/* tests/unit/test_envelope_roundtrip.c: envelope encoding (SPEC §1): round trips of every
 * allowed value type, deterministic bytes, continuation envelopes, the producer helpers, and
 * encode refusing what decode would refuse. Decoder refusals live in test_envelope.c. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "queue/envelope.h"
#include "tests/support/test.h"

static void decode_ok(const cf_buf *b, cf_envelope *env)
{
    cf_error err = {.code = ""};
    cf_status st = cf_envelope_decode(b->data, b->len, NULL, env, &err);
    if (st != CF_OK)
        fail_msg("refused: %s at '%s': %s", err.code, err.field, err.msg);
}

static void new_job(cf_envelope *env)
{
    assert_int_equal(cf_envelope_init_job(env, "Billing::Charge.v2", "order-42", "critical", NULL),
                     CF_OK);
}

/* Encodes env, decodes the bytes, and checks every field came back equal. */
static void roundtrip(const cf_envelope *env, cf_envelope *back)
{
    cf_buf b = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode(env, &b), CF_OK);
    decode_ok(&b, back);
    cf_buf_deinit(&b);
    assert_int_equal(back->version, 1);
    assert_string_equal(back->jid, env->jid);
    assert_string_equal(back->wf_class, env->wf_class);
    assert_string_equal(back->key, env->key);
    assert_string_equal(back->queue, env->queue);
    assert_int_equal(back->has_created_at, env->has_created_at);
    if (env->has_created_at)
        assert_memory_equal(&back->created_at, &env->created_at, sizeof(double));
    assert_int_equal(back->retry_workflow, env->retry_workflow);
    assert_string_equal(back->requested_by, env->requested_by);
    assert_string_equal(back->reason, env->reason);
    json_t *empty = json_object();
    assert_true(json_equal(back->kwargs, env->kwargs ? env->kwargs : empty));
    assert_true(json_equal(back->options, env->options ? env->options : empty));
    json_decref(empty);
}

static void test_roundtrip_every_value_type(void **state)
{
    (void)state;
    cf_envelope env, back;
    new_job(&env);
    env.kwargs = json_pack(
        "{s:n, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:s, s:s, s:s, s:[], s:{},"
        " s:[i, s, [n, {s:[f]}], {}], s:{s:{s:{s:[[[i]]]}}}}",
        "nil", "t", 1, "f", 0, "zero", (json_int_t)0, "neg", (json_int_t)-1, "min",
        (json_int_t)INT64_MIN, "max", (json_int_t)INT64_MAX, "u32", (json_int_t)4000000000LL, "pi",
        3.141592653589793, "tiny", DBL_MIN, "negf", -2.5e300, "intf", 2.0, "empty", "", "uni",
        "héllo wörld ✓ 😀 ключ", "ascii", "plain", "earr", "eobj", "mixed", 7, "x", "price", 9.99,
        "deep", "a", "b", "c", 1);
    assert_non_null(env.kwargs);
    env.options = json_pack("{s:s, s:i}", "max_duration", "90s", "other", 3);
    env.retry_workflow = true;
    roundtrip(&env, &back);
    /* types survive exactly: an integral float stays a real, ints stay ints */
    assert_true(json_is_real(json_object_get(back.kwargs, "intf")));
    assert_true(json_is_integer(json_object_get(back.kwargs, "max")));
    assert_int_equal(json_integer_value(json_object_get(back.kwargs, "min")), INT64_MIN);
    cf_envelope_deinit(&back);
    cf_envelope_deinit(&env);
    cf_envelope_deinit(&env); /* idempotent */
}

static void test_roundtrip_minimal_and_unicode_key(void **state)
{
    (void)state;
    cf_envelope env, back;
    assert_int_equal(cf_envelope_init_job(&env, "W", "ключ 🔑", NULL, NULL), CF_OK);
    env.has_created_at = false;
    roundtrip(&env, &back);
    assert_string_equal(back.queue, "");
    assert_int_equal(json_object_size(back.kwargs), 0);
    assert_int_equal(json_object_size(back.options), 0);
    cf_envelope_deinit(&back);
    /* a retry_workflow with who asks and why */
    assert_int_equal(cf_envelope_init_job(&env, "W", "k", NULL, NULL), CF_OK);
    env.retry_workflow = true;
    snprintf(env.requested_by, sizeof env.requested_by, "%s", "ops-dashboard");
    snprintf(env.reason, sizeof env.reason, "%s", "provider fixed ✓");
    roundtrip(&env, &back);
    cf_envelope_deinit(&back);
}

static void test_decodes_foreign_forms(void **state)
{
    (void)state;
    /* What other producers write: float32, ints in every width, int created_at, unknown keys. */
    cf_buf b = CF_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, cf_buf_msgpack_write);
    msgpack_pack_map(&pk, 7);
    msgpack_pack_str_with_body(&pk, "class", 5);
    msgpack_pack_str_with_body(&pk, "Order", 5);
    msgpack_pack_str_with_body(&pk, "future_field", 12);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_str_with_body(&pk, "key", 3);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_str_with_body(&pk, "jid", 3);
    msgpack_pack_str_with_body(&pk, "j", 1);
    msgpack_pack_str_with_body(&pk, "created_at", 10);
    msgpack_pack_uint32(&pk, 1700000000);
    msgpack_pack_str_with_body(&pk, "kwargs", 6);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "f32", 3);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_str_with_body(&pk, "i16", 3);
    msgpack_pack_int16(&pk, -300);
    msgpack_pack_str_with_body(&pk, "u64", 3);
    msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX);
    msgpack_pack_str_with_body(&pk, "i8pos", 5);
    msgpack_pack_int8(&pk, 5);
    cf_envelope env;
    decode_ok(&b, &env);
    assert_string_equal(env.wf_class, "Order");
    assert_true(env.has_created_at);
    assert_true(env.created_at == 1700000000.0);
    assert_true(json_real_value(json_object_get(env.kwargs, "f32")) == 1.5);
    assert_int_equal(json_integer_value(json_object_get(env.kwargs, "i16")), -300);
    assert_int_equal(json_integer_value(json_object_get(env.kwargs, "u64")), INT64_MAX);
    assert_int_equal(json_integer_value(json_object_get(env.kwargs, "i8pos")), 5);
    /* nothing in env points into the input: scribble over it and look again */
    memset(b.data, 0xff, b.len);
    cf_buf_deinit(&b);
    assert_string_equal(env.key, "k");
    assert_int_equal(json_integer_value(json_object_get(env.kwargs, "i16")), -300);
    cf_envelope_deinit(&env);
}

static void test_encode_is_deterministic(void **state)
{
    (void)state;
    cf_envelope env;
    new_job(&env);
    env.kwargs = json_pack("{s:i, s:[s, f]}", "b", 1, "a", "x", 0.5);
    cf_buf b1 = CF_BUF_INIT, b2 = CF_BUF_INIT;
    assert_int_equal(cf_envelope_encode(&env, &b1), CF_OK);
    assert_int_equal(cf_envelope_encode(&env, &b2), CF_OK);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.data, b2.data, b1.len);
    /* encode appends */
    assert_int_equal(cf_envelope_encode(&env, &b2), CF_OK);
    assert_int_equal(b2.len, 2 * b1.len);
    assert_memory_equal(b2.data + b1.len, b1.data, b1.len);
    cf_buf_deinit(&b1);
    cf_buf_deinit(&b2);
    cf_envelope_deinit(&env);
}

static void continuation(const char *wf_class, const char *key, const char *queue, cf_buf *b)
{
    cf_buf_reset(b);
    assert_int_equal(cf_envelope_encode_continuation(wf_class, key, queue, b), CF_OK);
}

static void test_continuation_is_canonical(void **state)
{
    (void)state;
    cf_buf a = CF_BUF_INIT, b = CF_BUF_INIT;
    continuation("OrderWorkflow", "order-42", "default", &a);
    continuation("OrderWorkflow", "order-42", "default", &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    cf_envelope env;
    decode_ok(&a, &env);
    /* the hash is part of the wire contract: pinned so a refactor cannot change it */
    assert_string_equal(env.jid, "c-6a6604c90ebc2a94c99263f8");
    assert_string_equal(env.wf_class, "OrderWorkflow");
    assert_string_equal(env.key, "order-42");
    assert_string_equal(env.queue, "default");
    assert_false(env.has_created_at);
    assert_int_equal(json_object_size(env.kwargs), 0);
    char first[27];
    memcpy(first, env.jid, sizeof first);
    cf_envelope_deinit(&env);
    const char *other[][2] = {{"OrderWorkflow", "order-43"},
                              {"OrderWorkflow2", "order-42"},
                              {"OrderWorkflo", "worder-42"}}; /* the NUL separates class, key */
    for (size_t i = 0; i < 3; i++) {
        continuation(other[i][0], other[i][1], "default", &b);
        cf_envelope o;
        decode_ok(&b, &o);
        assert_string_not_equal(o.jid, first);
        cf_envelope_deinit(&o);
    }
    continuation("OrderWorkflow", "order-42", NULL, &b);
    decode_ok(&b, &env);
    assert_string_equal(env.queue, "");
    cf_envelope_deinit(&env);
    cf_buf_reset(&b);
    assert_int_equal(cf_envelope_encode_continuation("Bad Class", "k", NULL, &b), CF_ERR_INVALID);
    assert_int_equal(cf_envelope_encode_continuation("C", "", NULL, &b), CF_ERR_INVALID);
    assert_int_equal(cf_envelope_encode_continuation("C", "k", "no/slash", &b), CF_ERR_INVALID);
    assert_int_equal(b.len, 0);
    cf_buf_deinit(&a);
    cf_buf_deinit(&b);
}

static void test_new_jid_is_random_hex(void **state)
{
    (void)state;
    char a[25], b[25];
    cf_envelope_new_jid(a);
    cf_envelope_new_jid(b);
    assert_int_equal(strlen(a), 24);
    assert_int_equal(strspn(a, "0123456789abcdef"), 24);
    assert_string_not_equal(a, b);
}

/* Expects encode to refuse env (and leave the buffer alone) with code and field. */
static void expect_encode_refused(const cf_envelope *env, const char *code, const char *field)
{
    cf_error err = {.code = ""};
    assert_int_equal(cf_envelope_validate(env, &err), CF_ERR_INVALID);
    assert_string_equal(err.code, code);
    assert_string_equal(err.field, field);
    cf_buf b = CF_BUF_INIT;
    assert_int_equal(cf_buf_append(&b, "xy", 2), CF_OK);
    assert_int_equal(cf_envelope_encode(env, &b), CF_ERR_INVALID);
    assert_int_equal(b.len, 2);
    cf_buf_deinit(&b);
}

static void test_encode_refuses_invalid(void **state)
{
    (void)state;
    cf_envelope env;
    cf_error err = {.code = ""};
    assert_int_equal(cf_envelope_init_job(&env, "Bad-Class", "k", NULL, &err), CF_ERR_INVALID);
    assert_string_equal(err.field, "class");
    assert_int_equal(cf_envelope_init_job(&env, "C", "bad\xff", NULL, &err), CF_ERR_INVALID);
    assert_string_equal(err.code, "bad_utf8");
    assert_int_equal(cf_envelope_init_job(&env, "C", "k", "q q", &err), CF_ERR_INVALID);
    assert_string_equal(err.field, "queue");

    new_job(&env);
    env.version = 2;
    expect_encode_refused(&env, "unsupported_version", "v");
    new_job(&env);
    env.jid[0] = '\0';
    expect_encode_refused(&env, "bad_value", "jid");
    new_job(&env);
    env.created_at = -1;
    expect_encode_refused(&env, "bad_value", "created_at");
    new_job(&env);
    snprintf(env.reason, sizeof env.reason, "%s", "bad\xff");
    expect_encode_refused(&env, "bad_utf8", "reason");
    new_job(&env);
    env.kwargs = json_pack("{s:i}", "attempt", 1);
    expect_encode_refused(&env, "reserved_name", "kwargs.attempt");
    cf_envelope_deinit(&env);
    new_job(&env);
    env.kwargs = json_array();
    expect_encode_refused(&env, "wrong_type", "kwargs");
    cf_envelope_deinit(&env);
    new_job(&env);
    env.kwargs = json_pack("{s:[s#]}", "s", "a\0b", (int)3);
    expect_encode_refused(&env, "bad_value", "kwargs.s[0]");
    cf_envelope_deinit(&env);
    new_job(&env);
    env.options = json_pack("{s:s}", "max_duration", "forever");
    expect_encode_refused(&env, "bad_value", "options.max_duration");
    cf_envelope_deinit(&env);
    new_job(&env); /* depth: kwargs is 1, so 16 nested arrays put the last at 17 */
    json_t *v = json_integer(1);
    for (int i = 0; i < 16; i++) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
    }
    env.kwargs = json_pack("{s:o}", "a", v);
    expect_encode_refused(&env, "too_deep",
                          "kwargs.a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]");
    cf_envelope_deinit(&env);
}

static void test_validators(void **state)
{
    (void)state;
    assert_true(cf_envelope_class_is_valid("Billing::Charge_2.x", 19));
    assert_false(cf_envelope_class_is_valid("", 0));
    assert_false(cf_envelope_class_is_valid("a-b", 3));
    assert_false(cf_envelope_class_is_valid("a\0b", 3));
    assert_true(cf_envelope_queue_is_valid("crit-1.a_b", 10));
    assert_false(cf_envelope_queue_is_valid("a:b", 3));
    assert_false(cf_envelope_queue_is_valid("", 0));
    char q[66];
    memset(q, 'q', sizeof q);
    assert_true(cf_envelope_queue_is_valid(q, 64));
    assert_false(cf_envelope_queue_is_valid(q, 65));
}

static int g_realloc_calls, g_realloc_fail_at;

static void *failing_realloc(void *p, size_t n)
{
    return ++g_realloc_calls == g_realloc_fail_at ? NULL : realloc(p, n);
}

static void test_encode_out_of_memory_leaves_buffer_alone(void **state)
{
    (void)state;
    cf_envelope env;
    new_job(&env);
    env.kwargs = json_pack("{s:s%}", "pad", "0123456789012345678901234567890123456789", (size_t)40);
    for (int i = 0; i < 8; i++) /* grow past the buffer's first allocation */
        json_object_set_new(env.kwargs, (char[]){(char)('a' + i), 0},
                            json_string("0123456789012345678901234567890123456789"));
    cf_buf b = CF_BUF_INIT;
    assert_int_equal(cf_buf_append(&b, "xy", 2), CF_OK);
    cf_alloc_set_hooks(
        &(cf_alloc_hooks){.malloc = malloc, .realloc = failing_realloc, .free = free});
    int failures = 0;
    for (g_realloc_fail_at = 1;; g_realloc_fail_at++) {
        g_realloc_calls = 0;
        cf_status st = cf_envelope_encode(&env, &b);
        if (st == CF_OK)
            break;
        assert_int_equal(st, CF_ERR_NOMEM);
        assert_int_equal(b.len, 2);
        assert_memory_equal(b.data, "xy", 2);
        failures++;
    }
    cf_alloc_set_hooks(NULL);
    assert_true(failures >= 1);
    cf_envelope back;
    cf_buf tail = {.data = b.data + 2, .len = b.len - 2, .cap = 0};
    decode_ok(&tail, &back);
    assert_true(json_equal(back.kwargs, env.kwargs));
    cf_envelope_deinit(&back);
    cf_envelope_deinit(&env);
    cf_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_value_type),
        cmocka_unit_test(test_roundtrip_minimal_and_unicode_key),
        cmocka_unit_test(test_decodes_foreign_forms),
        cmocka_unit_test(test_encode_is_deterministic),
        cmocka_unit_test(test_continuation_is_canonical),
        cmocka_unit_test(test_new_jid_is_random_hex),
        cmocka_unit_test(test_encode_refuses_invalid),
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_encode_out_of_memory_leaves_buffer_alone),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("envelope_encode", tests, NULL, NULL);
}
