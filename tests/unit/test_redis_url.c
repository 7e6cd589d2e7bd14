// SPDX-License-Identifier: MIT
/* tests/unit/test_redis_url.c: queue/redis_url and queue/keys: good and bad URLs, passwords
 * with special characters, redaction, key names and worker ids. */
#include <string.h>

#include "queue/keys.h"
#include "queue/redis_url.h"
#include "tests/support/test.h"

static void test_redis_url_tcp_forms(void **state)
{
    (void)state;
    cf_redis_url u;
    assert_int_equal(cf_redis_url_parse("redis://127.0.0.1:6391/3", &u, NULL), CF_OK);
    assert_int_equal(u.transport, CF_REDIS_TCP);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6391);
    assert_int_equal(u.db, 3);
    assert_false(u.has_password);
    assert_string_equal(u.redacted, "redis://127.0.0.1:6391/3");

    assert_int_equal(cf_redis_url_parse("redis://localhost", &u, NULL), CF_OK);
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);

    assert_int_equal(cf_redis_url_parse("redis://[::1]:7000/", &u, NULL), CF_OK);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_string_equal(u.redacted, "redis://[::1]:7000/0");

    assert_int_equal(cf_redis_url_parse("redis://:sekret@h:1/0", &u, NULL), CF_OK);
    assert_true(u.has_password);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "sekret");
    assert_string_equal(u.redacted, "redis://:***@h:1/0");

    assert_int_equal(cf_redis_url_parse("redis://app:pw@h:1/1", &u, NULL), CF_OK);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.redacted, "redis://app:***@h:1/1");
}

static void test_redis_url_special_password_is_decoded_and_hidden(void **state)
{
    (void)state;
    cf_redis_url u;
    /* p@ss:w/rd%?# percent-encoded, plus a raw '@' kept by the last-'@' rule */
    assert_int_equal(
        cf_redis_url_parse("redis://u%3Ax:p%40ss%3Aw%2Frd%25%3F%23@host:6380/2", &u, NULL), CF_OK);
    assert_string_equal(u.user, "u:x");
    assert_string_equal(u.password, "p@ss:w/rd%?#");
    assert_string_equal(u.host, "host");
    assert_null(strstr(u.redacted, "p@ss"));
    assert_null(strstr(u.redacted, "p%40ss"));
    assert_int_equal(cf_redis_url_parse("redis://:a@b@host/0", &u, NULL), CF_OK);
    assert_string_equal(u.password, "a@b");
    assert_string_equal(u.host, "host");
    assert_null(strstr(u.redacted, "a@b"));
    cf_redis_url_wipe(&u);
    assert_string_equal(u.password, "");
}

static void test_redis_url_unix_forms(void **state)
{
    (void)state;
    cf_redis_url u;
    assert_int_equal(cf_redis_url_parse("unix://:PASS@/tmp/x/redis.sock?db=2", &u, NULL), CF_OK);
    assert_int_equal(u.transport, CF_REDIS_UNIX);
    assert_string_equal(u.path, "/tmp/x/redis.sock");
    assert_string_equal(u.password, "PASS");
    assert_int_equal(u.db, 2);
    assert_string_equal(u.redacted, "unix://:***@/tmp/x/redis.sock?db=2");
    assert_null(strstr(u.redacted, "PASS"));

    assert_int_equal(cf_redis_url_parse("unix:///run/redis.sock", &u, NULL), CF_OK);
    assert_string_equal(u.path, "/run/redis.sock");
    assert_false(u.has_password);
    assert_int_equal(cf_redis_url_parse("unix://bob:pw@/s.sock", &u, NULL), CF_OK);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.path, "/s.sock");
}

static void test_redis_url_cluster_forms(void **state)
{
    (void)state;
    cf_redis_url u;
    assert_int_equal(
        cf_redis_url_parse("redis+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7002", &u,
                           NULL),
        CF_OK);
    assert_true(u.cluster);
    assert_int_equal(u.transport, CF_REDIS_TCP);
    assert_int_equal(u.nseeds, 3);
    assert_string_equal(u.seeds[0].host, "10.0.0.1");
    assert_int_equal(u.seeds[0].port, 7000);
    assert_string_equal(u.seeds[1].host, "10.0.0.2");
    assert_int_equal(u.seeds[1].port, 6379);
    assert_string_equal(u.seeds[2].host, "::1");
    assert_int_equal(u.seeds[2].port, 7002);
    assert_string_equal(u.host, "10.0.0.1"); /* the first seed */
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "s@cret");
    assert_string_equal(u.redacted,
                        "redis+cluster://app:***@10.0.0.1:7000,10.0.0.2:6379,[::1]:7002");
    assert_null(strstr(u.redacted, "cret"));
    assert_int_equal(cf_redis_url_parse("redis+cluster://h:1/0", &u, NULL), CF_OK);
    assert_int_equal(u.nseeds, 1);
    assert_false(u.cluster && u.db != 0);
    assert_int_equal(cf_redis_url_parse("redis://h:1/0", &u, NULL), CF_OK);
    assert_false(u.cluster);
    const char *bad[] = {
        "redis+cluster://",        "redis+cluster://h:1,",
        "redis+cluster://,h:1",    "redis+cluster://h:1,,h:2",
        "redis+cluster://h:1/2",   "redis+cluster://h:1?db=3",
        "redis+cluster://h:1,h:0", "redis+cluster://1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cf_error err = {0};
        assert_int_equal(cf_redis_url_parse(bad[i], &u, &err), CF_ERR_INVALID);
        assert_true(strlen(err.msg) > 0);
    }
    cf_error err = {0};
    assert_int_equal(cf_redis_url_parse("redis+cluster://h:1/2", &u, &err), CF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "only database 0"));
}

static void test_redis_url_refuses_bad_urls(void **state)
{
    (void)state;
    const char *bad[] = {"", "http://h:1/0", "redis://", "redis://h:0/0", "redis://h:65536/0",
                         "redis://h:12x/0", "redis://h:1/x", "redis://h:1/-1", "redis://[::1/0",
                         /* found by fuzz_redis_url: a host holding a bracket printed a redacted
                          * URL ("redis://[:700/0") that did not parse back */
                         "redis://[[]:700/", "redis://[::1]]:7000/0", "redis://a[b:1/0",
                         "redis://:p%4@h/0", "redis://:p%00@h/0",
                         "redis://h/0?db=", "redis://h/0?timeout=5", "unix://",
                         "unix://relative.sock", "unix:///s.sock?db=abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cf_redis_url u;
        cf_error err = {0};
        assert_int_equal(cf_redis_url_parse(bad[i], &u, &err), CF_ERR_INVALID);
        assert_string_equal(err.code, "bad_value");
        assert_true(strlen(err.msg) > 0);
        assert_string_equal(u.host, "");
    }
    cf_redis_url u;
    cf_error err = {0};
    assert_int_equal(cf_redis_url_parse("redis://:TOPSECRET@h:99999/0", &u, &err), CF_ERR_INVALID);
    assert_null(strstr(err.msg, "TOPSECRET"));
    assert_string_equal(u.password, "");
}

static void test_keys_names_and_ids(void **state)
{
    (void)state;
    char b[CF_KEY_MAX];
    assert_int_equal(cf_key_ready(b, sizeof b, "P", "q"), 11);
    assert_string_equal(b, "P:{q}:ready");
    cf_key_scheduled(b, sizeof b, "P", "q");
    assert_string_equal(b, "P:{q}:scheduled");
    cf_key_inflight(b, sizeof b, "P", "q", "h:1:abcdef");
    assert_string_equal(b, "P:{q}:inflight:h:1:abcdef");
    cf_key_dead(b, sizeof b, "P", "q");
    assert_string_equal(b, "P:{q}:dead");
    cf_key_lock(b, sizeof b, "P", "Billing::Charge", "k/1");
    assert_string_equal(b, "P:lock:Billing::Charge/k/1");
    cf_key_held(b, sizeof b, "P", "w");
    assert_string_equal(b, "P:held:w");
    cf_key_workers(b, sizeof b, "P");
    assert_string_equal(b, "P:workers");
    cf_key_queues(b, sizeof b, "P");
    assert_string_equal(b, "P:queues");
    char small[8];
    assert_int_equal(cf_key_ready(small, sizeof small, "prefix", "queue"), -1);
    assert_string_equal(small, "");

    assert_true(cf_queue_name_valid("default"));
    assert_true(cf_queue_name_valid("a.b-c_D9"));
    assert_false(cf_queue_name_valid(""));
    assert_false(cf_queue_name_valid("a b"));
    assert_false(cf_queue_name_valid("a{b}"));
    assert_false(cf_prefix_valid("p{x"));

    char id[CF_WORKER_ID_MAX], id2[CF_WORKER_ID_MAX];
    assert_int_equal(cf_worker_id_make(id, sizeof id), CF_OK);
    assert_int_equal(cf_worker_id_make(id2, sizeof id2), CF_OK);
    const char *last = strrchr(id, ':');
    assert_non_null(last);
    assert_int_equal(strlen(last + 1), 6);
    assert_true(strspn(last + 1, "0123456789abcdef") == 6);
    assert_string_not_equal(id, id2);
    char tok[64];
    assert_int_equal(cf_lock_token_make(tok, sizeof tok, "w1", "run9"), CF_OK);
    assert_string_equal(tok, "w1/run9");
    assert_int_equal(cf_lock_token_make(tok, sizeof tok, "w1", ""), CF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_url_tcp_forms),
        cmocka_unit_test(test_redis_url_special_password_is_decoded_and_hidden),
        cmocka_unit_test(test_redis_url_unix_forms),
        cmocka_unit_test(test_redis_url_cluster_forms),
        cmocka_unit_test(test_redis_url_refuses_bad_urls),
        cmocka_unit_test(test_keys_names_and_ids),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
