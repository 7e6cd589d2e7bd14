// SPDX-License-Identifier: MIT
/* tests/unit/test_envelope.c: the envelope decoder's refusals (SPEC §1): every malformed envelope
 * is refused with the expected code and field, leaves nothing allocated, and the limits hold at
 * their exact boundaries. Round trips and encoding live in test_envelope_roundtrip.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/buf.h"
#include "queue/envelope.h"
#include "tests/support/test.h"

/* ---- a small msgpack writer for building envelopes ---- */

static cf_buf g_buf;
static msgpack_packer g_pk;

static void start(void)
{
    cf_buf_reset(&g_buf);
    msgpack_packer_init(&g_pk, &g_buf, cf_buf_msgpack_write);
}

static void map(size_t n)
{
    assert_int_equal(msgpack_pack_map(&g_pk, n), 0);
}

static void arr(size_t n)
{
    assert_int_equal(msgpack_pack_array(&g_pk, n), 0);
}

static void strn(const char *s, size_t n)
{
    assert_int_equal(msgpack_pack_str_with_body(&g_pk, s, n), 0);
}

static void str(const char *s)
{
    strn(s, strlen(s));
}

static void i64(int64_t v)
{
    assert_int_equal(msgpack_pack_int64(&g_pk, v), 0);
}

static void raw(const char *bytes, size_t n)
{
    assert_int_equal(cf_buf_append(&g_buf, bytes, n), CF_OK);
}

/* Writes a map header for the 4 required fields minus `skip` (NULL: none) plus `extra` more
 * entries, then the required fields; the caller writes the extra entries. */
static void base(size_t extra, const char *skip)
{
    map(4 + extra - (skip != NULL));
    if (skip == NULL || strcmp(skip, "v") != 0) {
        str("v");
        i64(1);
    }
    if (skip == NULL || strcmp(skip, "jid") != 0) {
        str("jid");
        str("0123456789abcdef01234567");
    }
    if (skip == NULL || strcmp(skip, "class") != 0) {
        str("class");
        str("OrderWorkflow");
    }
    if (skip == NULL || strcmp(skip, "key") != 0) {
        str("key");
        str("order-42");
    }
}

/* Starts an envelope with kwargs as its last entry; the caller writes the kwargs map. */
static void with_kwargs(void)
{
    start();
    base(1, NULL);
    str("kwargs");
}

/* Decodes g_buf and expects a refusal with code and field; checks nothing leaked into out. */
static void expect_refused_lim(const cf_envelope_limits *lim, const char *code, const char *field)
{
    cf_envelope env;
    cf_error err = {.code = ""};
    cf_status st = cf_envelope_decode(g_buf.data, g_buf.len, lim, &env, &err);
    if (st != CF_ERR_INVALID || strcmp(err.code, code) != 0 || strcmp(err.field, field) != 0)
        fail_msg("expected %s at '%s', got status %s code %s field '%s' (%s)", code, field,
                 cf_status_str(st), err.code, err.field, err.msg);
    assert_null(env.kwargs);
    assert_null(env.options);
    assert_true(strlen(err.msg) > 0);
    cf_envelope_deinit(&env);
}

static void expect_refused(const char *code, const char *field)
{
    expect_refused_lim(NULL, code, field);
}

static void expect_ok(void)
{
    cf_envelope env;
    cf_error err = {.code = ""};
    cf_status st = cf_envelope_decode(g_buf.data, g_buf.len, NULL, &env, &err);
    if (st != CF_OK)
        fail_msg("refused: %s at '%s': %s", err.code, err.field, err.msg);
    cf_envelope_deinit(&env);
}

/* ---- whole-payload refusals ---- */

static void test_refuses_empty_and_garbage(void **state)
{
    (void)state;
    start();
    expect_refused("not_msgpack", "");
    raw("\xc1", 1); /* the one byte msgpack never uses */
    expect_refused("not_msgpack", "");
}

static void test_refuses_every_truncation(void **state)
{
    (void)state;
    start();
    base(2, NULL);
    str("kwargs");
    map(1);
    str("x");
    str("a string value");
    str("queue");
    str("default");
    size_t full = g_buf.len;
    for (size_t cut = 1; cut < full; cut++) {
        g_buf.len = cut;
        expect_refused("not_msgpack", "");
    }
    g_buf.len = full;
    expect_ok();
}

static void test_refuses_trailing_bytes(void **state)
{
    (void)state;
    start();
    base(0, NULL);
    raw("\x00", 1);
    expect_refused("trailing_bytes", "");
    start();
    base(0, NULL);
    base(0, NULL); /* two envelopes back to back */
    expect_refused("trailing_bytes", "");
}

static void test_refuses_non_maps(void **state)
{
    (void)state;
    start();
    arr(1);
    str("v");
    expect_refused("not_a_map", "");
    start();
    str("v=1");
    expect_refused("not_a_map", "");
    start();
    i64(1);
    expect_refused("not_a_map", "");
}

static void test_refuses_huge_declared_sizes(void **state)
{
    (void)state;
    /* Declared counts of 2^32-1 with a handful of bytes behind them: refused as malformed,
     * before anything is allocated for them. */
    start();
    raw("\xdf\xff\xff\xff\xff", 5); /* map32 */
    expect_refused("not_msgpack", "");
    with_kwargs();
    map(1);
    str("items");
    raw("\xdd\xff\xff\xff\xff\x01", 6); /* array32 of 2^32-1, one element present */
    expect_refused("not_msgpack", "");
    with_kwargs();
    map(1);
    str("s");
    raw("\xdb\xff\xff\xff\xff"
        "abc",
        8); /* str32 */
    expect_refused("not_msgpack", "");
    with_kwargs();
    map(1);
    str("m");
    raw("\xde\x00\x03\xc0\xc0\xc0\xc0\xc0", 8); /* map16 of 3 pairs, 5 bytes left */
    expect_refused("not_msgpack", "");
}

static void test_refuses_too_large(void **state)
{
    (void)state;
    with_kwargs();
    map(1);
    str("pad");
    char *pad = calloc(512 * 1024, 1);
    assert_non_null(pad);
    memset(pad, 'x', 512 * 1024);
    strn(pad, 512 * 1024);
    free(pad);
    expect_refused("too_large", "");
    start();
    base(0, NULL);
    cf_envelope_limits lim = {.max_bytes = g_buf.len - 1, .max_depth = 16};
    expect_refused_lim(&lim, "too_large", "");
    lim.max_bytes = g_buf.len; /* exactly at the limit is fine */
    cf_envelope env;
    assert_int_equal(cf_envelope_decode(g_buf.data, g_buf.len, &lim, &env, NULL), CF_OK);
    cf_envelope_deinit(&env);
}

/* ---- keys ---- */

static void test_refuses_duplicate_keys(void **state)
{
    (void)state;
    start();
    base(1, NULL);
    str("jid");
    str("another");
    expect_refused("bad_value", "jid");
    start();
    base(2, NULL);
    str("zz");
    i64(1);
    str("zz");
    i64(2);
    expect_refused("bad_value", "zz");
    with_kwargs();
    map(1);
    str("a");
    map(2);
    str("x");
    i64(1);
    str("x");
    i64(1);
    expect_refused("bad_value", "kwargs.a.x");
}

static void test_refuses_bad_map_keys(void **state)
{
    (void)state;
    with_kwargs();
    map(1);
    i64(7); /* int key */
    i64(1);
    expect_refused("wrong_type", "kwargs.?");
    start();
    map(1);
    i64(1);
    i64(1);
    expect_refused("wrong_type", "?");
    with_kwargs();
    map(1);
    strn("a\xff", 2); /* invalid UTF-8 key */
    i64(1);
    expect_refused("bad_utf8", "kwargs.a\\xff");
    with_kwargs();
    map(1);
    strn("a\0b", 3);
    i64(1);
    expect_refused("bad_value", "kwargs.a\\x00b");
}

/* ---- required fields ---- */

static void test_refuses_missing_fields(void **state)
{
    (void)state;
    const char *fields[] = {"v", "jid", "class", "key"};
    for (size_t i = 0; i < 4; i++) {
        start();
        base(0, fields[i]);
        expect_refused("missing_field", fields[i]);
    }
}

static void test_refuses_versions(void **state)
{
    (void)state;
    int64_t bad[] = {0, -1};
    for (size_t i = 0; i < 2; i++) {
        start();
        base(1, "v");
        str("v");
        i64(bad[i]);
        expect_refused("bad_value", "v");
    }
    start();
    base(2, "v");
    str("v");
    i64(2);
    str("payload"); /* a v2 envelope may look different: the version is checked first */
    assert_int_equal(msgpack_pack_bin_with_body(&g_pk, "abc", 3), 0);
    expect_refused("unsupported_version", "v");
    start();
    base(1, "v");
    str("v");
    str("1");
    expect_refused("wrong_type", "v");
    start();
    base(1, "v");
    str("v");
    assert_int_equal(msgpack_pack_double(&g_pk, 1.0), 0);
    expect_refused("wrong_type", "v");
}

static void test_refuses_wrong_field_types(void **state)
{
    (void)state;
    const char *names[] = {"jid",        "class",  "key",     "queue",
                           "created_at", "kwargs", "options", "retry_workflow"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        start();
        bool required = i < 3; /* replace it, or add the optional one */
        base(1, required ? names[i] : NULL);
        str(names[i]);
        arr(0);
        expect_refused("wrong_type", names[i]);
    }
    start();
    base(1, "jid");
    str("jid");
    assert_int_equal(msgpack_pack_bin_with_body(&g_pk, "abc", 3), 0);
    expect_refused("wrong_type", "jid");
    start();
    base(1, NULL);
    str("retry_workflow");
    i64(1);
    expect_refused("wrong_type", "retry_workflow");
    start();
    base(1, NULL);
    str("queue");
    assert_int_equal(msgpack_pack_nil(&g_pk), 0);
    expect_refused("wrong_type", "queue");
}

static void test_refuses_bad_field_values(void **state)
{
    (void)state;
    struct {
        const char *field, *value, *code;
        size_t len;
    } cases[] = {
        {"jid", "", "bad_value", 0},
        {"jid", "0123456789012345678901234567890123456789012345678901234567890123x", "bad_value",
         65},
        {"jid", "ab\xc3", "bad_utf8", 3},
        {"class", "Order-Workflow", "bad_value", 14},
        {"class", "Order Workflow", "bad_value", 14},
        {"class", "Ordér", "bad_value", 6},
        {"class", "", "bad_value", 0},
        {"key", "a\0b", "bad_value", 3},
        {"key", "\xed\xa0\x80", "bad_utf8", 3},     /* a UTF-16 surrogate */
        {"key", "\xc0\x80", "bad_utf8", 2},         /* overlong NUL */
        {"key", "\xf4\x90\x80\x80", "bad_utf8", 4}, /* above U+10FFFF */
        {"queue", "a/b", "bad_value", 3},
        {"queue", "", "bad_value", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        start();
        bool required = strcmp(cases[i].field, "queue") != 0;
        base(1, required ? cases[i].field : NULL);
        str(cases[i].field);
        strn(cases[i].value, cases[i].len);
        expect_refused(cases[i].code, cases[i].field);
    }
    char long_class[130];
    memset(long_class, 'A', 129);
    start();
    base(1, "class");
    str("class");
    strn(long_class, 129);
    expect_refused("bad_value", "class");
    start();
    base(1, "class");
    str("class");
    strn(long_class, 128); /* exactly at the limit */
    expect_ok();
}

static void test_refuses_bad_created_at(void **state)
{
    (void)state;
    double bad[] = {NAN, INFINITY, -1.0};
    for (size_t i = 0; i < 3; i++) {
        start();
        base(1, NULL);
        str("created_at");
        assert_int_equal(msgpack_pack_double(&g_pk, bad[i]), 0);
        expect_refused("bad_value", "created_at");
    }
    start();
    base(1, NULL);
    str("created_at");
    str("2026-11-26");
    expect_refused("wrong_type", "created_at");
}

/* ---- values inside kwargs, options and unknown keys ---- */

static void test_refuses_bin_and_ext_values(void **state)
{
    (void)state;
    with_kwargs();
    map(1);
    str("items");
    arr(2);
    i64(1);
    assert_int_equal(msgpack_pack_bin_with_body(&g_pk, "\x00\x01", 2), 0);
    expect_refused("wrong_type", "kwargs.items[1]");
    with_kwargs();
    map(1);
    str("t");
    assert_int_equal(msgpack_pack_ext_with_body(&g_pk, "abcd", 4, 5), 0);
    expect_refused("wrong_type", "kwargs.t");
    start(); /* an unknown top-level key is ignored, but its value must still be valid */
    base(1, NULL);
    str("extra");
    assert_int_equal(msgpack_pack_ext_with_body(&g_pk, "\x00\x00\x00\x01", 4, -1), 0);
    expect_refused("wrong_type", "extra");
}

static void test_refuses_nonfinite_floats(void **state)
{
    (void)state;
    with_kwargs();
    map(1);
    str("price");
    assert_int_equal(msgpack_pack_double(&g_pk, NAN), 0);
    expect_refused("bad_value", "kwargs.price");
    with_kwargs();
    map(1);
    str("items");
    arr(1);
    map(1);
    str("price");
    assert_int_equal(msgpack_pack_float(&g_pk, -INFINITY), 0);
    expect_refused("bad_value", "kwargs.items[0].price");
}

static void test_refuses_uint64_above_int64(void **state)
{
    (void)state;
    with_kwargs();
    map(1);
    str("n");
    assert_int_equal(msgpack_pack_uint64(&g_pk, (uint64_t)INT64_MAX + 1), 0);
    expect_refused("bad_value", "kwargs.n");
    with_kwargs();
    map(1);
    str("n");
    assert_int_equal(msgpack_pack_uint64(&g_pk, UINT64_MAX), 0);
    expect_refused("bad_value", "kwargs.n");
}

static void test_refuses_bad_strings_in_values(void **state)
{
    (void)state;
    with_kwargs();
    map(1);
    str("s");
    strn("nul\0inside", 10);
    expect_refused("bad_value", "kwargs.s");
    with_kwargs();
    map(1);
    str("s");
    arr(1);
    strn("\xe2\x82", 2); /* truncated 3-byte sequence */
    expect_refused("bad_utf8", "kwargs.s[0]");
}

static void test_refuses_reserved_names(void **state)
{
    (void)state;
    const char *names[] = {"attempt", "retry_counts", "retry_workflow"};
    char field[64];
    for (size_t i = 0; i < 3; i++) {
        with_kwargs();
        map(1);
        str(names[i]);
        i64(1);
        snprintf(field, sizeof field, "kwargs.%s", names[i]);
        expect_refused("reserved_name", field);
    }
    with_kwargs(); /* deeper down they are ordinary names */
    map(1);
    str("nested");
    map(1);
    str("attempt");
    i64(1);
    expect_ok();
}

static void test_refuses_bad_options(void **state)
{
    (void)state;
    start();
    base(1, NULL);
    str("options");
    map(1);
    str("max_duration");
    str("soon");
    expect_refused("bad_value", "options.max_duration");
    start();
    base(1, NULL);
    str("options");
    map(1);
    str("max_duration");
    i64(-5);
    expect_refused("bad_value", "options.max_duration");
    start();
    base(1, NULL);
    str("options");
    map(1);
    str("max_duration");
    arr(0);
    expect_refused("wrong_type", "options.max_duration");
}

/* Writes kwargs holding `levels` nested arrays under key "a" (kwargs itself is depth 1). */
/* requested_by and reason (with retry_workflow): optional text, refused when malformed. */
static void test_requested_by_and_reason(void **state)
{
    (void)state;
    start();
    base(3, NULL);
    str("retry_workflow");
    assert_int_equal(msgpack_pack_true(&g_pk), 0);
    str("requested_by");
    str("ops-dashboard");
    str("reason");
    str("");
    cf_envelope env;
    cf_error err;
    assert_int_equal(cf_envelope_decode(g_buf.data, g_buf.len, NULL, &env, &err), CF_OK);
    assert_string_equal(env.requested_by, "ops-dashboard");
    assert_string_equal(env.reason, "");
    cf_envelope_deinit(&env);

    start();
    base(1, NULL);
    str("requested_by");
    i64(7);
    expect_refused("wrong_type", "requested_by");
    start();
    base(1, NULL);
    str("requested_by");
    str("");
    expect_refused("bad_value", "requested_by");
    char big[1026];
    memset(big, 'x', sizeof big);
    start();
    base(1, NULL);
    str("requested_by");
    strn(big, 257);
    expect_refused("bad_value", "requested_by");
    start();
    base(1, NULL);
    str("reason");
    strn(big, 1025);
    expect_refused("bad_value", "reason");
    start();
    base(1, NULL);
    str("reason");
    strn(big, 1024);
    expect_ok();
    start();
    base(1, NULL);
    str("reason");
    strn("a\xff", 2);
    expect_refused("bad_utf8", "reason");
    start();
    base(1, NULL);
    str("reason");
    strn("a\0b", 3);
    expect_refused("bad_value", "reason");
}

static void nested_kwargs(int levels)
{
    with_kwargs();
    map(1);
    str("a");
    for (int i = 0; i < levels; i++)
        arr(1);
    i64(1);
}

static void test_depth_limit_is_exact(void **state)
{
    (void)state;
    nested_kwargs(15); /* innermost array at depth 16: allowed */
    expect_ok();
    nested_kwargs(16); /* depth 17 */
    expect_refused("too_deep", "kwargs.a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]");
    nested_kwargs(1000); /* far deeper: refused the same way, no deep recursion */
    expect_refused("too_deep", "kwargs.a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]");
    cf_envelope_limits lim = {.max_bytes = 512 * 1024, .max_depth = 2};
    nested_kwargs(2);
    expect_refused_lim(&lim, "too_deep", "kwargs.a[0]");
    start();
    base(1, NULL);
    str("extra");
    for (int i = 0; i < 17; i++)
        arr(1);
    i64(1);
    expect_refused("too_deep", "extra[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]");
}

/* ---- allocation: declared sizes never reach the allocator; OOM is reported, nothing leaks ---- */

static size_t g_alloc_calls, g_alloc_fail_at, g_alloc_max;

static void *counting_malloc(size_t n)
{
    g_alloc_calls++;
    if (n > g_alloc_max)
        g_alloc_max = n;
    return g_alloc_calls == g_alloc_fail_at ? NULL : malloc(n);
}

static void test_declared_sizes_allocate_nothing(void **state)
{
    (void)state;
    json_set_alloc_funcs(counting_malloc, free);
    const char *payloads[][2] = {
        {"\xdf\xff\xff\xff\xff", "5"},
        {"\x81\xa1x\xdd\xff\xff\xff\xff\x01", "9"},
        {"\x81\xa1x\xdb\xff\xff\xff\xff"
         "abc",
         "11"},
    };
    for (size_t i = 0; i < 3; i++) {
        g_alloc_calls = g_alloc_max = 0;
        g_alloc_fail_at = 0;
        cf_envelope env;
        cf_error err;
        assert_int_equal(
            cf_envelope_decode(payloads[i][0], (size_t)atoi(payloads[i][1]), NULL, &env, &err),
            CF_ERR_INVALID);
        assert_string_equal(err.code, "not_msgpack");
        assert_int_equal(g_alloc_calls, 0);
    }
    json_set_alloc_funcs(malloc, free);
}

static void test_out_of_memory_is_reported_without_leaks(void **state)
{
    (void)state;
    with_kwargs();
    map(4);
    str("items");
    arr(2);
    map(1);
    str("price");
    i64(3);
    str("x");
    str("s");
    str("text");
    str("flag");
    assert_int_equal(msgpack_pack_true(&g_pk), 0);
    str("f");
    assert_int_equal(msgpack_pack_double(&g_pk, 0.5), 0);
    json_set_alloc_funcs(counting_malloc, free);
    size_t failures = 0;
    for (g_alloc_fail_at = 1;; g_alloc_fail_at++) {
        g_alloc_calls = 0;
        cf_envelope env;
        cf_error err = {.code = ""};
        cf_status st = cf_envelope_decode(g_buf.data, g_buf.len, NULL, &env, &err);
        if (st == CF_OK) {
            cf_envelope_deinit(&env);
            break;
        }
        if (st != CF_ERR_NOMEM)
            fail_msg("allocation %zu: %s %s %s", g_alloc_fail_at, err.code, err.field, err.msg);
        assert_int_equal(st, CF_ERR_NOMEM); /* ASan's leak check proves nothing was left */
        assert_null(env.kwargs);
        failures++;
    }
    json_set_alloc_funcs(malloc, free);
    assert_true(failures >= 5); /* every allocation of the decode was made to fail once */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_empty_and_garbage),
        cmocka_unit_test(test_refuses_every_truncation),
        cmocka_unit_test(test_refuses_trailing_bytes),
        cmocka_unit_test(test_refuses_non_maps),
        cmocka_unit_test(test_refuses_huge_declared_sizes),
        cmocka_unit_test(test_refuses_too_large),
        cmocka_unit_test(test_refuses_duplicate_keys),
        cmocka_unit_test(test_refuses_bad_map_keys),
        cmocka_unit_test(test_refuses_missing_fields),
        cmocka_unit_test(test_refuses_versions),
        cmocka_unit_test(test_refuses_wrong_field_types),
        cmocka_unit_test(test_refuses_bad_field_values),
        cmocka_unit_test(test_refuses_bad_created_at),
        cmocka_unit_test(test_refuses_bin_and_ext_values),
        cmocka_unit_test(test_refuses_nonfinite_floats),
        cmocka_unit_test(test_refuses_uint64_above_int64),
        cmocka_unit_test(test_refuses_bad_strings_in_values),
        cmocka_unit_test(test_refuses_reserved_names),
        cmocka_unit_test(test_refuses_bad_options),
        cmocka_unit_test(test_requested_by_and_reason),
        cmocka_unit_test(test_depth_limit_is_exact),
        cmocka_unit_test(test_declared_sizes_allocate_nothing),
        cmocka_unit_test(test_out_of_memory_is_reported_without_leaks),
    };
    cf_test_apply_filter();
    int rc = cmocka_run_group_tests_name("envelope_decode", tests, NULL, NULL);
    cf_buf_deinit(&g_buf);
    return rc;
}
