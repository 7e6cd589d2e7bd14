// SPDX-License-Identifier: MIT
/* tests/integration/test_envelope_contract.c: the envelope contract with real producers. Ruby
 * (/usr/bin/ruby, Debian ruby-msgpack) and Python (/usr/bin/python3, python3-msgpack) pack
 * envelopes at test time; the C decoder must accept what SPEC §1 allows (symbols, tuples, big
 * ints, floats, unicode) and refuse the rest with the right code and field (binary strings and
 * bytes become bin, 2**64-1, NaN, reserved names). Skips when an interpreter or its msgpack is
 * missing, but fails instead under CF_TEST_REQUIRE_SERVICES=1. CF_TEST_RUBY / CF_TEST_PYTHON
 * override the interpreters' paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "queue/envelope.h"
#include "tests/support/test.h"

#define RUBY   "/usr/bin/ruby"
#define PYTHON "/usr/bin/python3"

/* A packer script is head + the expression to pack + tail. */
typedef struct packer {
    const char *interp, *head, *tail;
} packer;

static const packer ruby = {RUBY,
                            "require 'msgpack'\nSTDOUT.binmode\n"
                            "base = {v: 1, jid: 'j1', class: 'Billing::Charge', key: 'k1'}\n"
                            "STDOUT.write(MessagePack.pack(",
                            "))\n"};
static const packer python = {PYTHON,
                              "import sys, msgpack\n"
                              "base = {'v': 1, 'jid': 'j1', 'class': 'Billing::Charge', 'key': "
                              "'k1'}\nsys.stdout.buffer.write(msgpack.packb(",
                              "))\n"};

/* Runs pk's interpreter on a script packing expr, appending its stdout to out. Returns the
 * interpreter's exit status (0 = packed). */
static const char *interp_path(const packer *pk)
{
    const char *env = getenv(pk == &ruby ? "CF_TEST_RUBY" : "CF_TEST_PYTHON");
    return env != NULL && env[0] != '\0' ? env : pk->interp;
}

static int run_packer(const packer *pk, const char *expr, cf_buf *out)
{
    char path[] = "/tmp/cf-contract-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(pk->head, f);
    fputs(expr, f);
    fputs(pk->tail, f);
    assert_int_equal(fclose(f), 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s %s", interp_path(pk), path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        assert_int_equal(cf_buf_append(out, chunk, n), CF_OK);
    int status = pclose(p);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Returns true when interp can pack msgpack; otherwise skips the test, or fails it when the
 * environment requires every dependency (CF_TEST_REQUIRE_SERVICES=1). */
static bool have_packer(const packer *pk)
{
    cf_buf b = CF_BUF_INIT;
    bool ok = access(interp_path(pk), X_OK) == 0 && run_packer(pk, "base", &b) == 0 && b.len > 0;
    cf_buf_deinit(&b);
    if (ok)
        return true;
    const char *req = getenv("CF_TEST_REQUIRE_SERVICES");
    if (req != NULL && strcmp(req, "1") == 0)
        fail_msg("%s with msgpack is required (CF_TEST_REQUIRE_SERVICES=1) but unusable",
                 interp_path(pk));
    skip();
    return false;
}

typedef struct contract_case {
    const char *expr;   /* the object to pack, in the interpreter's syntax */
    const char *code;   /* NULL: must decode */
    const char *field;  /* the refusal's field, or for accepted ones: */
    const char *kwargs; /* the expected kwargs as JSON (compared with json_equal) */
} contract_case;

static void check_case(const packer *pk, const contract_case *c)
{
    const char *interp = interp_path(pk);
    cf_buf b = CF_BUF_INIT;
    if (run_packer(pk, c->expr, &b) != 0)
        fail_msg("%s could not pack %s", interp, c->expr);
    cf_envelope env;
    cf_error err = {.code = ""};
    cf_status st = cf_envelope_decode(b.data, b.len, NULL, &env, &err);
    cf_buf_deinit(&b);
    if (c->code != NULL) {
        if (st != CF_ERR_INVALID || strcmp(err.code, c->code) != 0 ||
            strcmp(err.field, c->field) != 0)
            fail_msg("%s %s: expected %s at '%s', got %s/%s at '%s' (%s)", interp, c->expr, c->code,
                     c->field, cf_status_str(st), err.code, err.field, err.msg);
        return;
    }
    if (st != CF_OK)
        fail_msg("%s %s: refused %s at '%s': %s", interp, c->expr, err.code, err.field, err.msg);
    assert_string_equal(env.wf_class, "Billing::Charge");
    json_error_t jerr;
    json_t *want = json_loads(c->kwargs, 0, &jerr);
    assert_non_null(want);
    if (!json_equal(want, env.kwargs)) {
        char *got = json_dumps(env.kwargs, JSON_SORT_KEYS);
        fail_msg("%s %s: kwargs %s, expected %s", interp, c->expr, got, c->kwargs);
    }
    json_decref(want);
    cf_envelope_deinit(&env);
}

static void test_ruby_producers(void **state)
{
    (void)state;
    if (!have_packer(&ruby))
        return;
    const contract_case cases[] = {
        {"base.merge(queue: :critical, created_at: 1700000000.25, kwargs: {sym: :val, "
         "amount: 12.5, count: 3, max: 2**63 - 1, min: -2**63, tags: [:a, 'b', [nil, true]], "
         "uni: 'héllo ✓', empty: {}, list: []})",
         NULL, NULL,
         "{\"sym\": \"val\", \"amount\": 12.5, \"count\": 3, \"max\": 9223372036854775807, "
         "\"min\": -9223372036854775808, \"tags\": [\"a\", \"b\", [null, true]], "
         "\"uni\": \"héllo ✓\", \"empty\": {}, \"list\": []}"},
        {"base.merge(key: 'ключ 🔑')", NULL, NULL, "{}"},
        {"base.merge(kwargs: {blob: \"\\x00\\x01\".b})", "wrong_type", "kwargs.blob", NULL},
        {"base.merge(key: 'k1'.b)", "wrong_type", "key", NULL},
        {"base.merge(kwargs: {big: 2**64 - 1})", "bad_value", "kwargs.big", NULL},
        {"base.merge(kwargs: {x: [Float::NAN]})", "bad_value", "kwargs.x[0]", NULL},
        {"base.merge(kwargs: {attempt: 2})", "reserved_name", "kwargs.attempt", NULL},
        {"base.merge(class: 'Billing-Charge')", "bad_value", "class", NULL},
        {"base.merge(v: 2)", "unsupported_version", "v", NULL},
        {"[base]", "not_a_map", "", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&ruby, &cases[i]);
}

static void test_python_producers(void **state)
{
    (void)state;
    if (!have_packer(&python))
        return;
    const contract_case cases[] = {
        {"dict(base, queue='default', created_at=1700000000.5, kwargs={'t': (1, 'x', (2.25, "
         "None)), 'max': 2**63 - 1, 'min': -2**63, 'f': 0.1, 'uni': '😀', 'no': False})",
         NULL, NULL,
         "{\"t\": [1, \"x\", [2.25, null]], \"max\": 9223372036854775807, "
         "\"min\": -9223372036854775808, \"f\": 0.1, \"uni\": \"😀\", \"no\": false}"},
        {"dict(base, kwargs={'f': 1.5}), use_single_float=True", NULL, NULL, "{\"f\": 1.5}"},
        {"dict(base, kwargs={'b': b'\\x00\\x01'})", "wrong_type", "kwargs.b", NULL},
        {"dict(base, jid=b'j1')", "wrong_type", "jid", NULL},
        {"dict(base, kwargs={'big': 2**64 - 1})", "bad_value", "kwargs.big", NULL},
        {"dict(base, kwargs={'x': float('inf')})", "bad_value", "kwargs.x", NULL},
        {"dict(base, kwargs={1: 'int key'})", "wrong_type", "kwargs.?", NULL},
        {"dict(base, kwargs={'retry_counts': {}})", "reserved_name", "kwargs.retry_counts", NULL},
        {"dict(base, kwargs={'s': 'nul\\x00inside'})", "bad_value", "kwargs.s", NULL},
        {"{'v': 1, 'jid': 'j1', 'class': 'C'}", "missing_field", "key", NULL},
        {"dict(base, kwargs={'t': msgpack.Timestamp(1700000000, 0)})", "wrong_type", "kwargs.t",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&python, &cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ruby_producers),
        cmocka_unit_test(test_python_producers),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("envelope_contract", tests, NULL, NULL);
}
