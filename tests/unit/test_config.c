// SPDX-License-Identifier: MIT
/* tests/unit/test_config.c: the settings table: defaults, environment over default, flag over
 * environment, clear errors naming the setting, redaction in `config` output, and every
 * setting documented in the README. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/test.h"
#include "worker/config.h"

static void test_config_defaults_match_spec(void **state)
{
    (void)state;
    unsetenv("CHRONOFORGE_QUEUES");
    unsetenv("CHRONOFORGE_MAX_DURATION");
    unsetenv("CHRONOFORGE_LEASE");
    unsetenv("CHRONOFORGE_REDIS_URL");
    cf_config c;
    assert_int_equal(cf_config_load(&c, NULL), CF_OK);
    assert_string_equal(c.redis_url, "redis://127.0.0.1:6379/0");
    assert_string_equal(c.prefix, "chronoforge");
    assert_int_equal(c.nqueues, 1);
    assert_string_equal(c.queues[0], "default");
    assert_int_equal(c.max_duration_ms, 10 * 60 * 1000);
    assert_int_equal(c.lease_ms, 10 * 1000);
    assert_int_equal(c.repeat_keep_ticks, 1000);
}

static void test_config_env_then_flag_override(void **state)
{
    (void)state;
    setenv("CHRONOFORGE_QUEUES", "critical,default,low", 1);
    setenv("CHRONOFORGE_MAX_DURATION", "90s", 1);
    cf_config c;
    assert_int_equal(cf_config_load(&c, NULL), CF_OK);
    assert_int_equal(c.nqueues, 3);
    assert_string_equal(c.queues[0], "critical");
    assert_string_equal(c.queues[2], "low");
    assert_int_equal(c.max_duration_ms, 90000);
    const cf_config_key *q = cf_config_find_flag(NULL, 'q');
    assert_non_null(q);
    assert_int_equal(cf_config_set(&c, q, "only", "command line", NULL), CF_OK);
    assert_int_equal(c.nqueues, 1);
    assert_string_equal(c.queues[0], "only");
    unsetenv("CHRONOFORGE_QUEUES");
    unsetenv("CHRONOFORGE_MAX_DURATION");
}

static void test_config_errors_name_the_setting(void **state)
{
    (void)state;
    cf_config c;
    assert_int_equal(cf_config_load(&c, NULL), CF_OK);
    cf_error err;
    assert_int_equal(cf_config_set(&c, cf_config_find_flag("concurrency", 0), "lots", "flag", &err),
                     CF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "concurrency"));
    assert_int_equal(cf_config_set(&c, cf_config_find_flag("lease", 0), "10 parsecs", "flag", &err),
                     CF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "lease"));
    assert_int_equal(cf_config_set(&c, cf_config_find_flag("queues", 0), "a,,b", "flag", &err),
                     CF_ERR_INVALID);
    assert_int_equal(cf_config_set(&c, cf_config_find_flag("queues", 0), "bad{name}", "flag", &err),
                     CF_ERR_INVALID);
    assert_int_equal(
        cf_config_set(&c, cf_config_find_flag("log-level", 0), "verbose", "flag", &err),
        CF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "log-level"));
    assert_int_equal(cf_config_set(&c, cf_config_find_flag("log-level", 0), "WARN", "flag", NULL),
                     CF_OK);
    setenv("CHRONOFORGE_CONCURRENCY", "0", 1);
    assert_int_equal(cf_config_load(&c, &err), CF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "CHRONOFORGE_CONCURRENCY"));
    unsetenv("CHRONOFORGE_CONCURRENCY");
}

static void test_config_show_redacts_passwords(void **state)
{
    (void)state;
    cf_config c;
    assert_int_equal(cf_config_load(&c, NULL), CF_OK);
    assert_int_equal(cf_config_set(&c, cf_config_find_flag("redis-url", 0),
                                   "redis://u:hunter2@h:1/0", "flag", NULL),
                     CF_OK);
    assert_int_equal(cf_config_set(&c, cf_config_find_flag("database-url", 0),
                                   "host=db password=hunter3", "flag", NULL),
                     CF_OK);
    char buf[8192] = "";
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    cf_config_show(&c, f);
    fclose(f);
    assert_null(strstr(buf, "hunter2"));
    assert_null(strstr(buf, "hunter3"));
    assert_non_null(strstr(buf, "redis://u:***@h:1/0"));
}

static void test_prepared_statements_setting_is_on_or_off(void **state)
{
    (void)state;
    unsetenv("CHRONOFORGE_PG_PREPARED_STATEMENTS");
    cf_config c;
    assert_int_equal(cf_config_load(&c, NULL), CF_OK);
    assert_true(c.pg_prepared_statements); /* the default */
    setenv("CHRONOFORGE_PG_PREPARED_STATEMENTS", "off", 1);
    assert_int_equal(cf_config_load(&c, NULL), CF_OK);
    assert_false(c.pg_prepared_statements);
    char buf[8192] = "";
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    cf_config_show(&c, f);
    fclose(f);
    assert_non_null(strstr(buf, "pg-prepared-statements off"));
    cf_error err;
    setenv("CHRONOFORGE_PG_PREPARED_STATEMENTS", "no", 1);
    assert_int_equal(cf_config_load(&c, &err), CF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "CHRONOFORGE_PG_PREPARED_STATEMENTS"));
    unsetenv("CHRONOFORGE_PG_PREPARED_STATEMENTS");
    const cf_config_key *k = cf_config_find_flag("pg-prepared-statements", 0);
    assert_int_equal(cf_config_set(&c, k, "on", "flag", NULL), CF_OK);
    assert_true(c.pg_prepared_statements);
    assert_int_equal(cf_config_set(&c, k, "ON", "flag", &err), CF_ERR_INVALID);
    assert_true(c.pg_prepared_statements); /* a refused value changes nothing */
}

static void test_every_setting_is_documented_in_the_readme(void **state)
{
    (void)state;
    FILE *f = fopen("README.md", "r");
    assert_non_null(f); /* tests run from the repository root */
    static char text[256 * 1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t i = 0; i < cf_config_nkeys; i++) {
        char flag[80];
        snprintf(flag, sizeof flag, "`--%s`", cf_config_keys[i].name);
        if (strstr(text, cf_config_keys[i].env) == NULL || strstr(text, flag) == NULL)
            fail_msg("setting %s (%s) is missing from the README's configuration table",
                     cf_config_keys[i].name, cf_config_keys[i].env);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_match_spec),
        cmocka_unit_test(test_config_env_then_flag_override),
        cmocka_unit_test(test_config_errors_name_the_setting),
        cmocka_unit_test(test_config_show_redacts_passwords),
        cmocka_unit_test(test_prepared_statements_setting_is_on_or_off),
        cmocka_unit_test(test_every_setting_is_documented_in_the_readme),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
