// SPDX-License-Identifier: MIT
/* tests/unit/test_common.c: common/: durations and times, backoff bounds, arena, redaction,
 * status names, allocation hooks. */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/arena.h"
#include "common/backoff.h"
#include "common/duration.h"
#include "common/redact.h"
#include "common/status.h"
#include "tests/support/test.h"

static void test_duration_accepts_spec_forms(void **state)
{
    (void)state;
    struct {
        const char *in;
        int64_t ms;
    } cases[] = {{"2", 2000},      {"0.5", 500},    {"1500ms", 1500},
                 {"30s", 30000},   {"10m", 600000}, {"2h", 7200000},
                 {"1d", 86400000}, {"0", 0},        {"1.25s", 1250}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        assert_int_equal(cf_duration_parse_ms(cases[i].in, &ms, NULL), CF_OK);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void test_duration_refuses_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"",    "-1",  "abc",  "1x", " 1", "1 s",
                         "nan", "inf", "0x10", "1.", ".5", "99999999999999999999h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 0;
        cf_error err = {0};
        assert_int_equal(cf_duration_parse_ms(bad[i], &ms, &err), CF_ERR_INVALID);
        assert_string_equal(err.code, "bad_value");
        assert_true(strlen(err.msg) > 0);
    }
}

static void test_time_parses_iso8601_and_unix(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(cf_time_parse_unix_ms("1970-01-01T00:00:00Z", &ms, NULL), CF_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(cf_time_parse_unix_ms("2023-11-14T22:13:20.250Z", &ms, NULL), CF_OK);
    assert_int_equal(ms, 1700000000250LL);
    assert_int_equal(cf_time_parse_unix_ms("2023-11-15T00:13:20+02:00", &ms, NULL), CF_OK);
    assert_int_equal(ms, 1700000000000LL);
    assert_int_equal(cf_time_parse_unix_ms("1700000000.5", &ms, NULL), CF_OK);
    assert_int_equal(ms, 1700000000500LL);
    assert_int_equal(cf_time_parse_unix_ms("2023-13-01", &ms, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_time_parse_unix_ms("yesterday", &ms, NULL), CF_ERR_INVALID);
}

static void test_backoff_doubles_and_caps(void **state)
{
    (void)state;
    assert_int_equal(cf_backoff_delay_ms(100, 1000, 1, false), 100);
    assert_int_equal(cf_backoff_delay_ms(100, 1000, 2, false), 200);
    assert_int_equal(cf_backoff_delay_ms(100, 1000, 4, false), 800);
    assert_int_equal(cf_backoff_delay_ms(100, 1000, 5, false), 1000);
    assert_int_equal(cf_backoff_delay_ms(100, 1000, 1000000, false), 1000);
    assert_int_equal(cf_backoff_delay_ms(0, 1000, 3, true), 0);
    for (int i = 0; i < 1000; i++) {
        int64_t d = cf_backoff_delay_ms(1000, 30000, 1 + i % 8, true);
        int64_t full = cf_backoff_delay_ms(1000, 30000, 1 + i % 8, false);
        assert_in_range(d, full / 2, full); /* equal jitter: [d/2, d] */
    }
}

static void test_arena_allocates_aligned_and_resets(void **state)
{
    (void)state;
    cf_arena a;
    cf_arena_init(&a, 256);
    for (int i = 0; i < 100; i++) {
        char *p = cf_arena_alloc(&a, (size_t)(1 + i * 7));
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 'x', (size_t)(1 + i * 7));
    }
    char *big = cf_arena_alloc(&a, 10000);
    assert_non_null(big);
    memset(big, 1, 10000);
    assert_string_equal(cf_arena_strndup(&a, "hello world", 5), "hello");
    cf_arena_reset(&a);
    assert_true(a.bytes_allocated <= 256);
    assert_non_null(cf_arena_alloc(&a, 10));
    cf_arena_deinit(&a);
}

static void test_redact_hides_passwords(void **state)
{
    (void)state;
    char out[256];
    assert_string_equal(cf_redact_dsn("redis://:s3cret@host:6379/0", out, sizeof out),
                        "redis://:***@host:6379/0");
    assert_string_equal(cf_redact_dsn("redis://user:s3cret@host:6379/0", out, sizeof out),
                        "redis://user:***@host:6379/0");
    assert_string_equal(
        cf_redact_dsn("postgresql://u:p%40ss@db/x?sslmode=require", out, sizeof out),
        "postgresql://u:***@db/x?sslmode=require");
    assert_string_equal(
        cf_redact_dsn("postgresql://db/x?password=s3cret&sslmode=require", out, sizeof out),
        "postgresql://db/x?password=***&sslmode=require");
    assert_string_equal(cf_redact_dsn("host=db password=s3cret user=u", out, sizeof out),
                        "host=db password=*** user=u");
    assert_string_equal(cf_redact_dsn("host=db password = 'a b\\'c' user=u", out, sizeof out),
                        "host=db password=*** user=u");
    assert_string_equal(cf_redact_dsn("redis://host:6379/0", out, sizeof out),
                        "redis://host:6379/0");
    assert_null(
        strstr(cf_redact_dsn("unix://:s3cret@/tmp/r.sock?db=2", out, sizeof out), "s3cret"));
}

static int fail_at, calls;
static void *failing_malloc(size_t n)
{
    return ++calls == fail_at ? NULL : malloc(n);
}

static void *failing_realloc(void *p, size_t n)
{
    (void)p;
    (void)n;
    return NULL;
}

static void test_alloc_hooks_report_oom(void **state)
{
    (void)state;
    cf_alloc_set_hooks(
        &(cf_alloc_hooks){.malloc = failing_malloc, .realloc = realloc, .free = free});
    calls = 0;
    fail_at = 1;
    assert_null(cf_strdup("x"));
    char *ok = cf_strdup("y");
    assert_non_null(ok);
    cf_free(ok);
    cf_alloc_set_hooks(NULL);
    assert_null(cf_calloc(SIZE_MAX / 2, 4)); /* overflow refused, not wrapped */
}

static void test_grow_doubles_and_keeps_the_array_on_oom(void **state)
{
    (void)state;
    int *items = NULL;
    size_t cap = 0, n = 0;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(cf_grow(&items, &cap, n, sizeof *items, 4), 0);
        items[n++] = i;
    }
    assert_int_equal(cap, 128); /* 4, 8, ..., 128 */
    assert_int_equal(items[99], 99);
    cf_alloc_set_hooks(
        &(cf_alloc_hooks){.malloc = failing_malloc, .realloc = failing_realloc, .free = free});
    n = cap; /* full: the next grow must allocate, and fails */
    int *before = items;
    assert_int_equal(cf_grow(&items, &cap, n, sizeof *items, 4), -1);
    cf_alloc_set_hooks(NULL);
    assert_ptr_equal(items, before);
    assert_int_equal(cap, 128);
    cf_free(items);
}

static void test_status_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(cf_status_str(CF_ERR_CONFLICT), "conflict");
    assert_true(cf_status_is_transient(CF_ERR_IO));
    assert_false(cf_status_is_transient(CF_ERR_INVALID));
    cf_error err;
    assert_int_equal(cf_error_set(&err, "wrong_type", "jid", "jid must be %s", "a string"),
                     CF_ERR_INVALID);
    assert_string_equal(err.field, "jid");
    assert_string_equal(err.msg, "jid must be a string");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_accepts_spec_forms),
        cmocka_unit_test(test_duration_refuses_garbage),
        cmocka_unit_test(test_time_parses_iso8601_and_unix),
        cmocka_unit_test(test_backoff_doubles_and_caps),
        cmocka_unit_test(test_arena_allocates_aligned_and_resets),
        cmocka_unit_test(test_redact_hides_passwords),
        cmocka_unit_test(test_alloc_hooks_report_oom),
        cmocka_unit_test(test_grow_doubles_and_keeps_the_array_on_oom),
        cmocka_unit_test(test_status_names_are_stable),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
