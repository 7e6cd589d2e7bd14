// SPDX-License-Identifier: MIT
/* tests/unit/test_redis_slot.c: queue/redis_slot (hash slots of keys and commands) and the
 * parsing of cluster redirects: Redis Cluster's published CRC16 vectors and hash-tag rules,
 * where each command keeps its keys, a command or script crossing slots, every key of one
 * queue in one slot (SPEC §2), and MOVED/ASK replies. */
#include <string.h>

#include "queue/cluster_internal.h"
#include "queue/keys.h"
#include "queue/redis_slot.h"
#include "tests/support/test.h"

static int slot_of(const char *key)
{
    return cf_redis_key_slot(key, strlen(key));
}

static void test_key_slots_match_redis(void **state)
{
    (void)state;
    /* The specification's vector: CRC16("123456789") = 0x31C3. */
    assert_int_equal(slot_of("123456789"), 0x31C3 & 16383);
    /* Values redis-cli CLUSTER KEYSLOT gives. */
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of(""), 0);
    /* Hash tags: the first {...} when not empty. */
    assert_int_equal(slot_of("{user1000}.following"), slot_of("user1000"));
    assert_int_equal(slot_of("{user1000}.followers"), slot_of("{user1000}.following"));
    assert_int_equal(slot_of("foo{}{bar}"), slot_of("foo{}{bar}")); /* empty tag: whole key */
    assert_int_not_equal(slot_of("foo{}{bar}"), slot_of("bar"));
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
    assert_int_equal(slot_of("no{close"), cf_redis_key_slot("no{close", 8));
}

static int cmd_slot(int argc, const char *const *argv)
{
    size_t lens[16];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cf_redis_cmd c = {NULL, 0, argc, argv, lens};
    return cf_redis_cmd_slot(&c);
}

#define SLOT(...)                                                                                  \
    cmd_slot((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),                  \
             (const char *[]){__VA_ARGS__})

static void test_command_slots(void **state)
{
    (void)state;
    int a = slot_of("{a}");
    assert_int_equal(SLOT("GET", "x:{a}"), a);
    assert_int_equal(SLOT("set", "x:{a}", "v"), a); /* names are case-insensitive */
    assert_int_equal(SLOT("PING"), CF_SLOT_NONE);
    assert_int_equal(SLOT("TIME"), CF_SLOT_NONE);
    assert_int_equal(SLOT("MULTI"), CF_SLOT_NONE);
    assert_int_equal(SLOT("PUBLISH", "x:{a}:wake", "1"), CF_SLOT_NONE);
    assert_int_equal(SLOT("DEL", "1:{a}", "2:{a}", "3:{a}"), a);
    assert_int_equal(SLOT("DEL", "1:{a}", "2:{b}"), CF_SLOT_CROSS);
    assert_int_equal(SLOT("BLMOVE", "r:{a}", "i:{a}", "RIGHT", "LEFT", "1"), a);
    assert_int_equal(SLOT("BLMOVE", "r:{a}", "i:{b}", "RIGHT", "LEFT", "1"), CF_SLOT_CROSS);
    assert_int_equal(SLOT("BRPOP", "r:{a}", "s:{a}", "5"), a); /* the timeout is no key */
    assert_int_equal(SLOT("BRPOP", "r:{a}", "5"), a);
    assert_int_equal(SLOT("MSET", "1:{a}", "x", "2:{a}", "y"), a);
    assert_int_equal(SLOT("MSET", "1:{a}", "x:{b}", "2:{a}", "y:{c}"), a); /* values skipped */
    assert_int_equal(SLOT("EVAL", "return 1", "2", "k:{a}", "j:{a}", "arg:{b}"), a);
    assert_int_equal(SLOT("EVAL", "return 1", "2", "k:{a}", "j:{b}"), CF_SLOT_CROSS);
    assert_int_equal(SLOT("EVAL", "return 1", "0"), CF_SLOT_NONE);
    assert_int_equal(SLOT("ZUNIONSTORE", "d:{a}", "2", "s:{a}", "t:{a}"), a);
    assert_int_equal(SLOT("ZUNIONSTORE", "d:{b}", "1", "s:{a}"), CF_SLOT_CROSS);
    /* arguments are length-counted: numkeys "1" cut from "19", with no NUL after it */
    static const char nineteen[2] = {'1', '9'};
    const char *ev[] = {"EVAL", "return 1", nineteen, "k:{a}", "j:{b}"};
    size_t evl[] = {4, 8, 1, 5, 5};
    cf_redis_cmd evc = {NULL, 0, 5, ev, evl};
    assert_int_equal(cf_redis_cmd_slot(&evc), a);
    assert_int_equal(SLOT("EVAL", "return 1", "x1", "k:{a}"), CF_SLOT_NONE); /* not a count */
    /* a script call: its first nkeys arguments are keys */
    static const cf_redis_script s = {"s", "return 1"};
    const char *argv[] = {"k:{a}", "j:{a}", "arg:{b}"};
    size_t lens[] = {5, 5, 7};
    cf_redis_cmd call = {&s, 2, 3, argv, lens};
    assert_int_equal(cf_redis_cmd_slot(&call), a);
    call.nkeys = 3;
    assert_int_equal(cf_redis_cmd_slot(&call), CF_SLOT_CROSS);
    call.nkeys = 0;
    assert_int_equal(cf_redis_cmd_slot(&call), CF_SLOT_NONE);
}

static void test_commands_for_every_master(void **state)
{
    (void)state;
    const char *keys[] = {"KEYS", "p:*"}, *flush[] = {"SCRIPT", "FLUSH"},
               *load[] = {"SCRIPT", "LOAD", "x"};
    size_t l2[] = {4, 3}, lf[] = {6, 5}, ll[] = {6, 4, 1};
    cf_redis_cmd k = {NULL, 0, 2, keys, l2}, f = {NULL, 0, 2, flush, lf},
                 l = {NULL, 0, 3, load, ll};
    assert_true(cf_redis_cmd_all_masters(&k));
    assert_true(cf_redis_cmd_all_masters(&f));
    assert_false(cf_redis_cmd_all_masters(&l));
}

static void test_a_queues_keys_share_one_slot(void **state)
{
    (void)state;
    char k[CF_KEY_MAX];
    const char *p = "chronoforge", *q = "billing.v2";
    assert_true(cf_key_ready(k, sizeof k, p, q) > 0);
    int slot = slot_of(k);
    assert_true(cf_key_scheduled(k, sizeof k, p, q) > 0);
    assert_int_equal(slot_of(k), slot);
    assert_true(cf_key_due(k, sizeof k, p, q) > 0);
    assert_int_equal(slot_of(k), slot);
    assert_true(cf_key_paused(k, sizeof k, p, q) > 0);
    assert_int_equal(slot_of(k), slot);
    assert_true(cf_key_dead(k, sizeof k, p, q) > 0);
    assert_int_equal(slot_of(k), slot);
    assert_true(cf_key_control(k, sizeof k, p, q) > 0);
    assert_int_equal(slot_of(k), slot);
    assert_true(cf_key_inflight(k, sizeof k, p, q, "host:1:abcdef") > 0);
    assert_int_equal(slot_of(k), slot);
    assert_true(cf_key_control_inflight(k, sizeof k, p, q, "host:1:abcdef") > 0);
    assert_int_equal(slot_of(k), slot);
    assert_true(cf_key_wake(k, sizeof k, p, q) > 0); /* the channel carries the tag too */
    assert_int_equal(slot_of(k), slot);
    assert_int_equal(slot_of("{billing.v2}"), slot);
}

static void test_redirects_parse(void **state)
{
    (void)state;
    int slot = -1, port = 0;
    char host[256];
    assert_int_equal(
        cf_cl_parse_redirect("MOVED 3999 127.0.0.1:6381", "h", &slot, host, sizeof host, &port), 1);
    assert_int_equal(slot, 3999);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6381);
    assert_int_equal(
        cf_cl_parse_redirect("ASK 12 [::1]:7000", "h", &slot, host, sizeof host, &port), 2);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7000);
    /* an unknown endpoint: the node that answered */
    assert_int_equal(
        cf_cl_parse_redirect("MOVED 1 :7002", "10.0.0.5", &slot, host, sizeof host, &port), 1);
    assert_string_equal(host, "10.0.0.5");
    assert_int_equal(cf_cl_parse_redirect("MOVED 16384 h:1", "x", &slot, host, sizeof host, &port),
                     0);
    assert_int_equal(cf_cl_parse_redirect("MOVED 1 h:0", "x", &slot, host, sizeof host, &port), 0);
    assert_int_equal(cf_cl_parse_redirect("MOVED 1 h", "x", &slot, host, sizeof host, &port), 0);
    assert_int_equal(cf_cl_parse_redirect("ERR MOVED", "x", &slot, host, sizeof host, &port), 0);
    assert_int_equal(cf_cl_parse_redirect("CLUSTERDOWN Hash slot not served", "x", &slot, host,
                                          sizeof host, &port),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_slots_match_redis),
        cmocka_unit_test(test_command_slots),
        cmocka_unit_test(test_commands_for_every_master),
        cmocka_unit_test(test_a_queues_keys_share_one_slot),
        cmocka_unit_test(test_redirects_parse),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
