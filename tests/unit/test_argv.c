// SPDX-License-Identifier: MIT
/* tests/unit/test_argv.c: queue/argv, the Redis argument builder, without a server: lengths
 * recorded as appended (binary-safe), integers formatted in place, a key that did not fit or
 * too many arguments make the builder bad, and a bad builder (alone or in a pipeline) is
 * refused with CF_ERR_INVALID before any I/O. A connection to a closed port tells "refused
 * before I/O" (CF_ERR_INVALID) from "tried to send" (a transport status). */
#include <limits.h>
#include <string.h>

#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"
#include "tests/support/test.h"

/* closed_port returns a handle whose first command tries to connect to a closed port. */
static cf_redis *closed_port(void)
{
    cf_redis_opts o;
    cf_redis_opts_default(&o);
    o.connect_timeout_ms = 200;
    cf_redis *r = NULL;
    assert_int_equal(cf_redis_new("redis://127.0.0.1:1/0", &o, &r, NULL), CF_OK);
    return r;
}

static void test_argv_records_lengths(void **state)
{
    (void)state;
    char key[CF_KEY_MAX];
    const char bin[3] = {'a', '\0', 'b'};
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_buf(cf_argv_key(cf_argv_str(&a, "LPUSH"), key, cf_key_ready(key, sizeof key, "P", "q")),
                bin, sizeof bin);
    assert_true(cf_argv_ok(&a));
    assert_int_equal(a.argc, 3);
    assert_int_equal(a.lens[0], 5);
    assert_string_equal(a.argv[1], "P:{q}:ready");
    assert_int_equal(a.lens[1], strlen("P:{q}:ready"));
    assert_int_equal(a.lens[2], 3); /* a NUL inside binary data is kept */
    assert_memory_equal(a.argv[2], bin, 3);
    /* an empty byte run is an argument too; a NULL string is not */
    cf_argv_buf(&a, NULL, 0);
    assert_true(cf_argv_ok(&a));
    assert_int_equal(a.lens[3], 0);
    cf_argv_str(&a, NULL);
    assert_false(cf_argv_ok(&a));
}

static void test_argv_integers(void **state)
{
    (void)state;
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "X");
    cf_argv_int(cf_argv_int(cf_argv_int(&a, 0), -42), LLONG_MIN);
    cf_argv_int(&a, LLONG_MAX);
    assert_true(cf_argv_ok(&a));
    const char *want[4] = {"0", "-42", "-9223372036854775808", "9223372036854775807"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a.lens[i + 1], strlen(want[i]));
        assert_memory_equal(a.argv[i + 1], want[i], strlen(want[i]));
    }
    /* each integer has its own storage: the first is unchanged by the later ones */
    assert_memory_equal(a.argv[1], "0", 1);
}

static void test_argv_bad_key_is_invalid_without_io(void **state)
{
    (void)state;
    char small[8];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "GET");
    /* the key builder returns -1 when the key does not fit */
    cf_argv_key(&a, small, cf_key_ready(small, sizeof small, "a-long-prefix", "queue"));
    assert_false(cf_argv_ok(&a));
    assert_int_equal(a.argc, 1); /* nothing appended for it */
    cf_redis *r = closed_port();
    cf_reply *rep = (cf_reply *)&rep; /* must come back NULL */
    assert_int_equal(cf_argv_exec(r, &a, &rep), CF_ERR_INVALID);
    assert_null(rep);
    assert_string_equal(cf_redis_errstr(r), ""); /* no I/O was tried */
    /* the same command with a key that fits reaches the transport */
    char key[CF_KEY_MAX];
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "GET"), key,
                cf_key_ready(key, sizeof key, "a-long-prefix", "queue"));
    cf_status st = cf_argv_exec(r, &a, &rep);
    assert_true(st != CF_OK && st != CF_ERR_INVALID);
    assert_true(cf_redis_errstr(r)[0] != '\0');
    cf_redis_free(r);
}

static void test_argv_overflow_and_script_keys(void **state)
{
    (void)state;
    cf_argv a;
    cf_argv_init(&a);
    for (int i = 0; i < CF_ARGV_MAX; i++)
        cf_argv_int(&a, i);
    assert_true(cf_argv_ok(&a));
    assert_int_equal(a.argc, CF_ARGV_MAX);
    cf_argv_str(&a, "one too many");
    assert_false(cf_argv_ok(&a));
    assert_int_equal(a.argc, CF_ARGV_MAX);
    cf_argv_init(&a);             /* reusable */
    assert_false(cf_argv_ok(&a)); /* empty */
    cf_argv_str(&a, "PING");
    assert_true(cf_argv_ok(&a));
    /* a script call needs at least as many arguments as keys */
    cf_argv_init_script(&a, &cf_script_requeue, 2);
    cf_argv_str(&a, "only-one-key");
    assert_false(cf_argv_ok(&a));
    cf_argv_str(&a, "second-key");
    assert_true(cf_argv_ok(&a));
    cf_argv_init_script(&a, &cf_script_requeue, -1);
    cf_argv_str(&a, "k");
    assert_false(cf_argv_ok(&a));
    /* a script cannot be run as a blocking plain command */
    cf_argv_init_script(&a, &cf_script_requeue, 1);
    cf_argv_str(&a, "k");
    cf_reply *rep = NULL;
    assert_int_equal(cf_argv_exec_blocking(NULL, 100, &a, &rep), CF_ERR_INVALID);
}

static void test_argv_pipeline_of_builders(void **state)
{
    (void)state;
    cf_redis *r = closed_port();
    char small[8];
    cf_argv cmds[3];
    cf_argv_init(&cmds[0]);
    cf_argv_str(&cmds[0], "PING");
    cf_argv_init(&cmds[1]);
    cf_argv_key(cf_argv_str(&cmds[1], "LLEN"), small, cf_key_dead(small, sizeof small, "P", "q"));
    cf_argv_init(&cmds[2]);
    cf_argv_str(&cmds[2], "PING");
    cf_reply *reps[3] = {(cf_reply *)&reps, (cf_reply *)&reps, (cf_reply *)&reps};
    /* one bad builder refuses the whole pipeline: nothing is sent, every reply is NULL */
    assert_int_equal(cf_argv_pipeline(r, cmds, 3, reps), CF_ERR_INVALID);
    for (int i = 0; i < 3; i++)
        assert_null(reps[i]);
    assert_string_equal(cf_redis_errstr(r), "");
    assert_int_equal(cf_argv_pipeline(r, cmds, 0, reps), CF_ERR_INVALID);
    /* more builders than the on-stack batch, all good: it gets as far as the transport */
    cf_argv many[20];
    cf_reply *mr[20];
    for (int i = 0; i < 20; i++) {
        cf_argv_init(&many[i]);
        cf_argv_int(cf_argv_str(&many[i], "ECHO"), i);
    }
    cf_status st = cf_argv_pipeline(r, many, 20, mr);
    assert_true(st != CF_OK && st != CF_ERR_INVALID);
    for (int i = 0; i < 20; i++)
        assert_null(mr[i]);
    cf_redis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv_records_lengths),
        cmocka_unit_test(test_argv_integers),
        cmocka_unit_test(test_argv_bad_key_is_invalid_without_io),
        cmocka_unit_test(test_argv_overflow_and_script_keys),
        cmocka_unit_test(test_argv_pipeline_of_builders),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
