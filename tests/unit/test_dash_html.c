// SPDX-License-Identifier: MIT
/* tests/unit/test_dash_html.c: the dashboard's escaping (HTML, query values), form decoding,
 * constant-time comparison and sessions (http/dash_html.c, dash_server.c, dash_auth.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/dash_internal.h"
#include "tests/support/test.h"

/* render runs fn on a memory stream and returns what it wrote (static buffer). */
static const char *render(void (*fn)(FILE *, const char *), const char *in)
{
    static char out[1024];
    FILE *f = fmemopen(out, sizeof out, "w");
    fn(f, in);
    fclose(f);
    return out;
}

static void test_html_escaping(void **state)
{
    (void)state;
    assert_string_equal(render(cf_dash_esc, "<script>alert('x') & \"y\"</script>"),
                        "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
    assert_string_equal(render(cf_dash_esc, "a\x01"
                                            "b\n\tc"),
                        "a\\x01b\n\tc");
    assert_string_equal(render(cf_dash_esc, "ünïcödé"), "ünïcödé");
    char buf[64];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    cf_dash_escn(f, "a\0<", 3);
    fclose(f);
    assert_string_equal(buf, "a\\0&lt;");
}

static void test_query_values_are_percent_encoded(void **state)
{
    (void)state;
    assert_string_equal(render(cf_dash_url, "a b&c=d/<é>"), "a%20b%26c%3Dd%2F%3C%C3%A9%3E");
    assert_string_equal(render(cf_dash_url, "Az09-_.~"), "Az09-_.~");
}

static void test_form_fields_decode(void **state)
{
    (void)state;
    char v[16];
    const char *form = "who=ada+l&token=a%2Bb%3D&csrf=&x=%zz&nul=a%00b";
    assert_true(cf_dash_form_get(form, "who", v, sizeof v));
    assert_string_equal(v, "ada l");
    assert_true(cf_dash_form_get(form, "token", v, sizeof v));
    assert_string_equal(v, "a+b=");
    assert_true(cf_dash_form_get(form, "csrf", v, sizeof v));
    assert_string_equal(v, "");
    assert_true(cf_dash_form_get(form, "x", v, sizeof v)); /* a bad escape stays literal */
    assert_string_equal(v, "%zz");
    assert_true(cf_dash_form_get("a=%4&b=1", "a", v, sizeof v)); /* a cut escape too */
    assert_string_equal(v, "%4");
    assert_true(cf_dash_form_get("a=%41", "a", v, sizeof v));
    assert_string_equal(v, "A");
    assert_false(cf_dash_form_get(form, "nul", v, sizeof v)); /* no NUL inside a value */
    assert_false(cf_dash_form_get(form, "wh", v, sizeof v));
    assert_false(cf_dash_form_get(form, "missing", v, sizeof v));
    assert_false(cf_dash_form_get("who=0123456789abcdefXYZ", "who", v, sizeof v)); /* too long */
    assert_false(cf_dash_form_get("", "who", v, sizeof v));
}

static void test_constant_time_equality(void **state)
{
    (void)state;
    assert_true(cf_dash_const_eq("abc", "abc"));
    assert_true(cf_dash_const_eq("", ""));
    assert_false(cf_dash_const_eq("abc", "abd"));
    assert_false(cf_dash_const_eq("abc", "ab"));
    assert_false(cf_dash_const_eq("ab", "abc"));
    assert_false(cf_dash_const_eq("", "a"));
    assert_false(cf_dash_const_eq("a", ""));
}

static void test_sessions(void **state)
{
    (void)state;
    static cf_dash d; /* static: its session table is large */
    char token[] = "a-token-of-some-length";
    d.token = token;
    assert_null(cf_dash_login(&d, "a-token-of-some-lengtH", "ada"));
    assert_null(cf_dash_login(&d, "", "ada"));
    dash_session *s = cf_dash_login(&d, token, "ada lovelace\"=x");
    assert_non_null(s);
    assert_string_equal(s->who, "ada_lovelace__x"); /* logfmt-safe */
    assert_int_equal(strlen(s->id), DASH_TOKEN_HEX);
    assert_int_equal(strlen(s->csrf), DASH_TOKEN_HEX);
    assert_string_not_equal(s->id, s->csrf);
    char cookie[200];
    snprintf(cookie, sizeof cookie, "theme=dark; cf_session=%s; x=1", s->id);
    assert_ptr_equal(cf_dash_session_find(&d, cookie), s);
    snprintf(cookie, sizeof cookie, "cf_session=%s", s->id);
    assert_ptr_equal(cf_dash_session_find(&d, cookie), s);
    snprintf(cookie, sizeof cookie, "xcf_session=%s", s->id);
    assert_null(cf_dash_session_find(&d, cookie)); /* another cookie's name */
    snprintf(cookie, sizeof cookie, "cf_session=%.63s", s->id);
    assert_null(cf_dash_session_find(&d, cookie)); /* cut short */
    assert_null(cf_dash_session_find(&d, NULL));
    assert_true(cf_dash_csrf_ok(s, s->csrf));
    assert_false(cf_dash_csrf_ok(s, s->id));
    assert_false(cf_dash_csrf_ok(s, NULL));
    dash_session *other = cf_dash_login(&d, token, "bob");
    assert_non_null(other);
    assert_ptr_not_equal(other, s);
    assert_false(cf_dash_csrf_ok(other, s->csrf)); /* one session's token is not another's */
    snprintf(cookie, sizeof cookie, "cf_session=%s", s->id);
    s->expires_ms = 1; /* expired */
    assert_null(cf_dash_session_find(&d, cookie));
    cf_dash_logout(&d, other);
    assert_false(cf_dash_csrf_ok(other, other->csrf));
    d.read_only = true;
    assert_null(cf_dash_login(&d, token, "ada"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escaping),
        cmocka_unit_test(test_query_values_are_percent_encoded),
        cmocka_unit_test(test_form_fields_decode),
        cmocka_unit_test(test_constant_time_equality),
        cmocka_unit_test(test_sessions),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("dash_html", tests, NULL, NULL);
}
