// SPDX-License-Identifier: MIT
/* tests/unit/test_log.c: common/log.h: the logfmt line's keys and order, the JSON format (one
 * object per line, the same keys in the same order, strings escaped, invalid UTF-8 replaced, a
 * line too long still one valid object), format names, and that a Redis password never reaches
 * a log line in either format. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "queue/redis_conn.h"
#include "tests/support/test.h"

static char captured[1 << 16];

/* capture runs fn with stderr sent to a file, then reads what it wrote into captured. */
typedef struct thunk {
    void (*fn)(void);
} thunk;

static void run_thunk(void *arg)
{
    ((thunk *)arg)->fn();
}

static const char *capture(void (*fn)(void))
{
    thunk t = {fn};
    cf_test_capture_stderr(run_thunk, &t, captured, sizeof captured);
    return captured;
}

static void one_event(void)
{
    cf_log_ctx ctx = {.wf_class = "Billing", .wf_key = "k \"1\"\n\\", .jid = "j1", .attempt = 2};
    cf_logkv(CF_LOG_WARN, &ctx, "queue=default code=bad_value",
             "event=step_retry step=charge reason=\"card declined\": failed \"twice\"\tnow");
}

static void test_logfmt_line_keys_in_order(void **state)
{
    (void)state;
    cf_log_set_format(CF_LOG_LOGFMT);
    const char *out = capture(one_event);
    const char *want[] = {"ts=",
                          "level=warn",
                          "pid=",
                          "class=Billing",
                          "key=\"k \\\"1\\\"\\n\\\\\"",
                          "jid=j1",
                          "attempt=2",
                          "queue=default",
                          "code=bad_value",
                          "event=step_retry",
                          "step=charge",
                          "reason=\"card declined\"",
                          "msg=\"failed \\\"twice\\\"\\x09now\"\n"};
    const char *at = out;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *hit = strstr(at, want[i]);
        if (hit == NULL)
            fail_msg("'%s' missing or out of order in: %s", want[i], out);
        at = hit + strlen(want[i]);
    }
}

static void test_json_line_has_the_same_keys_escaped(void **state)
{
    (void)state;
    cf_log_set_format(CF_LOG_JSON);
    const char *out = capture(one_event);
    cf_log_set_format(CF_LOG_LOGFMT);
    const char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_string_equal(nl, "\n"); /* one line */
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    if (o == NULL)
        fail_msg("not one JSON object (%s): %s", jerr.text, out);
    const char *keys[] = {"ts",    "level", "pid",   "class", "key",    "jid", "attempt",
                          "queue", "code",  "event", "step",  "reason", "msg"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        assert_true(i < sizeof keys / sizeof keys[0]);
        assert_string_equal(k, keys[i]); /* the logfmt line's order (jansson keeps it) */
        i++;
    }
    assert_int_equal(i, sizeof keys / sizeof keys[0]);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
    assert_true(json_is_integer(json_object_get(o, "pid")));
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "key")), "k \"1\"\n\\");
    assert_string_equal(json_string_value(json_object_get(o, "event")), "step_retry");
    assert_string_equal(json_string_value(json_object_get(o, "reason")), "card declined");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "failed \"twice\"\tnow");
    json_decref(o);
}

static void odd_bytes(void)
{
    cf_log_ctx ctx = {.wf_key = "caf\xc3\xa9 \xff\xfe \x01 \xe2\x82"}; /* é, two bad bytes, a cut */
    cf_log(CF_LOG_INFO, &ctx, "snow \xe2\x98\x83 and \x7f");
}

static void test_json_replaces_invalid_utf8_and_escapes_controls(void **state)
{
    (void)state;
    cf_log_set_format(CF_LOG_JSON);
    const char *out = capture(odd_bytes);
    cf_log_set_format(CF_LOG_LOGFMT);
    assert_non_null(strstr(out, "\\u0001"));
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "key")),
                        "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd \x01 \xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "snow \xe2\x98\x83 and \x7f");
    json_decref(o);
}

static void long_line(void)
{
    static char key[1200];
    memset(key, '"', sizeof key - 1); /* each escapes to 2 bytes */
    cf_log_ctx ctx = {.wf_key = key};
    cf_log(CF_LOG_ERROR, &ctx, "event=big note=\"%0500d\": %02000d", 7, 9);
}

static void test_json_line_too_long_is_still_one_object(void **state)
{
    (void)state;
    cf_log_set_format(CF_LOG_JSON);
    const char *out = capture(long_line);
    cf_log_set_format(CF_LOG_LOGFMT);
    assert_true(strlen(out) <= 4096);
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    if (o == NULL)
        fail_msg("a cut line is not valid JSON (%s): %.200s", jerr.text, out);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
    json_decref(o);
}

static void test_format_names(void **state)
{
    (void)state;
    cf_log_format f = CF_LOG_LOGFMT;
    assert_true(cf_log_format_parse("json", &f));
    assert_int_equal(f, CF_LOG_JSON);
    assert_true(cf_log_format_parse("LOGFMT", &f));
    assert_int_equal(f, CF_LOG_LOGFMT);
    assert_false(cf_log_format_parse("xml", &f));
    assert_false(cf_log_format_parse(NULL, &f));
}

static void redis_refused(void)
{
    cf_redis_opts o;
    cf_redis_opts_default(&o);
    cf_redis *r = NULL;
    cf_error err;
    /* nothing listens on port 1: the connect failure is logged with the URL */
    if (cf_redis_new("redis://user:Sup3rS3cretPw@127.0.0.1:1/0", &o, &r, &err) == CF_OK) {
        assert_int_not_equal(cf_redis_connect(r), CF_OK);
        cf_redis_free(r);
    }
}

/* The connect-failure line is rate limited per process, so it is looked at once, in JSON (the
 * e2e tests check every worker log, logfmt and JSON, for the test services' passwords). */
static void test_no_password_in_a_json_line(void **state)
{
    (void)state;
    cf_log_set_format(CF_LOG_JSON);
    const char *out = capture(redis_refused);
    cf_log_set_format(CF_LOG_LOGFMT);
    assert_non_null(strstr(out, "127.0.0.1:1")); /* the line was written */
    assert_null(strstr(out, "Sup3rS3cretPw"));
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    assert_non_null(strstr(json_string_value(json_object_get(o, "msg")), "***"));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logfmt_line_keys_in_order),
        cmocka_unit_test(test_json_line_has_the_same_keys_escaped),
        cmocka_unit_test(test_json_replaces_invalid_utf8_and_escapes_controls),
        cmocka_unit_test(test_json_line_too_long_is_still_one_object),
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_no_password_in_a_json_line),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
