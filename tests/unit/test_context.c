// SPDX-License-Identifier: MIT
/* tests/unit/test_context.c: store/context.c without a database: value limits and types,
 * set_once, atomic merge and merge_once, fetch/has, the dirty flag, and the snapshot cap. */
#include <stdlib.h>
#include <string.h>

#include "store/context.h"
#include "tests/support/test.h"

static json_t *str_of(size_t n)
{
    char *s = malloc(n + 1);
    memset(s, 'a', n);
    s[n] = '\0';
    json_t *v = json_string(s);
    free(s);
    return v;
}

static void test_context_limits_and_types(void **state)
{
    (void)state;
    cf_context c;
    assert_int_equal(cf_context_init(&c, NULL), CF_OK);
    json_t *ok = str_of(CF_CONTEXT_VALUE_MAX - 2); /* plus two quotes = the limit */
    json_t *big = str_of(CF_CONTEXT_VALUE_MAX - 1);
    assert_int_equal(cf_context_set(&c, "ok", ok), CF_OK);
    assert_true(c.dirty);
    assert_int_equal(cf_context_set(&c, "big", big), CF_ERR_INVALID);
    assert_non_null(strstr(c.errmsg, "big"));
    assert_false(cf_context_has(&c, "big"));
    json_t *nul = json_stringn("a\0b", 3);
    assert_int_equal(cf_context_set(&c, "nul", nul), CF_ERR_INVALID);
    json_t *nested = json_pack("{s[i,f,b,n,s]}", "a", 1, 2.5, 1, "x");
    assert_int_equal(cf_context_set(&c, "nested", nested), CF_OK);
    json_decref(ok);
    json_decref(big);
    json_decref(nul);
    json_decref(nested);
    cf_context_deinit(&c);
}

static void test_context_once_merge_fetch(void **state)
{
    (void)state;
    cf_context c;
    assert_int_equal(cf_context_init(&c, json_pack("{si}", "a", 1)), CF_OK);
    assert_false(c.dirty);
    bool stored = true;
    json_t *two = json_integer(2);
    assert_int_equal(cf_context_set_once(&c, "a", two, &stored), CF_OK);
    assert_false(stored);
    assert_int_equal(json_integer_value(cf_context_fetch(&c, "a", NULL)), 1);
    assert_ptr_equal(cf_context_fetch(&c, "zz", two), two);
    json_t *big = str_of(CF_CONTEXT_VALUE_MAX);
    json_t *m = json_pack("{sisO}", "b", 3, "c", big);
    assert_int_equal(cf_context_merge(&c, m), CF_ERR_INVALID); /* atomic: b not written */
    assert_false(cf_context_has(&c, "b"));
    json_t *m2 = json_pack("{sisi}", "a", 9, "b", 3);
    size_t n = 0;
    assert_int_equal(cf_context_merge_once(&c, m2, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(json_integer_value(cf_context_fetch(&c, "a", NULL)), 1);
    assert_int_equal(cf_context_merge(&c, m2), CF_OK);
    assert_int_equal(json_integer_value(cf_context_fetch(&c, "a", NULL)), 9);
    json_t *nullv = json_null();
    assert_int_equal(cf_context_set(&c, "n", nullv), CF_OK);
    assert_true(cf_context_has(&c, "n"));
    json_decref(nullv);
    json_decref(two);
    json_decref(big);
    json_decref(m);
    json_decref(m2);
    cf_context_deinit(&c);
}

static void test_context_snapshot_budget(void **state)
{
    (void)state;
    json_t *doc = json_object();
    for (int i = 0; i < 10; i++) {
        char k[8] = {'k', (char)('0' + i), 0};
        json_object_set_new(doc, k, str_of(10000));
    }
    json_object_set_new(doc, "tiny", json_integer(1));
    json_t *snap = cf_context_snapshot(doc, CF_CONTEXT_SNAPSHOT_MAX);
    char *text = json_dumps(snap, JSON_COMPACT);
    assert_true(strlen(text) <= CF_CONTEXT_SNAPSHOT_MAX);
    assert_string_equal(json_string_value(json_object_get(snap, "k9")), CF_CONTEXT_OMITTED);
    assert_int_equal(json_integer_value(json_object_get(snap, "tiny")), 1);
    assert_int_equal(json_object_size(snap), 11);
    free(text);
    json_decref(snap);
    snap = cf_context_snapshot(doc, 64); /* not even markers fit */
    assert_true(json_is_true(json_object_get(snap, "_truncated")));
    text = json_dumps(snap, JSON_COMPACT);
    assert_true(strlen(text) <= 64);
    free(text);
    json_decref(snap);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_context_limits_and_types),
        cmocka_unit_test(test_context_once_merge_fetch),
        cmocka_unit_test(test_context_snapshot_budget),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("context", tests, NULL, NULL);
}
