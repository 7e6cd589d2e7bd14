// SPDX-License-Identifier: MIT
/* tests/unit/test_control_request.c: the control request and reply codec (SPEC §2, "Control
 * requests"): a round trip of every field; each malformed request refused with its code and
 * field, its id and reply key still read when the map can be walked (so the refusal can be
 * answered); unknown keys ignored however deep. */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/buf.h"
#include "queue/control_request.h"
#include "tests/support/test.h"

static cf_buf g_buf;
static msgpack_packer g_pk;

static void start(size_t pairs)
{
    cf_buf_reset(&g_buf);
    msgpack_packer_init(&g_pk, &g_buf, cf_buf_msgpack_write);
    assert_int_equal(msgpack_pack_map(&g_pk, pairs), 0);
}

static void str(const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(msgpack_pack_str(&g_pk, n) | msgpack_pack_str_body(&g_pk, s, n), 0);
}

static void kv(const char *k, const char *v)
{
    str(k);
    str(v);
}

/* base writes the 5 required pairs plus a reply, with v as given. */
static void base(size_t extra, int v)
{
    start(6 + extra);
    str("v");
    assert_int_equal(msgpack_pack_int(&g_pk, v), 0);
    kv("id", "r-1");
    kv("op", "signal");
    kv("class", "Order");
    kv("key", "o-1");
    kv("reply", "p:reply:r-1");
}

/* refused decodes the buffer and checks the refusal's code and field, and the salvaged id. */
static void refused(const char *code, const char *field, const char *id)
{
    cf_control_request r;
    cf_error err = {0};
    assert_int_equal(cf_control_request_decode(g_buf.data, g_buf.len, &r, &err), CF_ERR_INVALID);
    assert_string_equal(err.code, code);
    assert_string_equal(err.field, field);
    if (id)
        assert_string_equal(r.id, id);
    else
        assert_null(r.id);
    cf_control_request_deinit(&r);
}

static void test_round_trip_of_every_field(void **state)
{
    (void)state;
    cf_control_request in = {.id = (char *)"abc-1",
                             .op = (char *)"signal",
                             .wf_class = (char *)"Billing::Charge",
                             .key = (char *)"k é",
                             .reply = (char *)"chronoforge:reply:abc-1",
                             .name = (char *)"paid",
                             .payload = (char *)"{\"a\":[1,2]}",
                             .signal_id = (char *)"s-9",
                             .reason = (char *)"",
                             .by = (char *)"ops",
                             .sent_at = 1765000000.25};
    cf_buf_reset(&g_buf);
    assert_int_equal(cf_control_request_encode(&in, &g_buf), CF_OK);
    cf_control_request out;
    cf_error err = {0};
    assert_int_equal(cf_control_request_decode(g_buf.data, g_buf.len, &out, &err), CF_OK);
    assert_string_equal(out.id, "abc-1");
    assert_string_equal(out.wf_class, "Billing::Charge");
    assert_string_equal(out.key, "k é");
    assert_string_equal(out.payload, "{\"a\":[1,2]}");
    assert_string_equal(out.signal_id, "s-9");
    assert_string_equal(out.reason, "");
    assert_string_equal(out.by, "ops");
    assert_true(out.sent_at == 1765000000.25);
    cf_control_request_deinit(&out);

    cf_control_reply rep = {.id = "abc-1",
                            .accepted = false,
                            .code = "finished",
                            .reason = "workflow is completed"},
                     back;
    cf_buf_reset(&g_buf);
    assert_int_equal(cf_control_reply_encode(&rep, &g_buf), CF_OK);
    assert_int_equal(cf_control_reply_decode(g_buf.data, g_buf.len, &back), CF_OK);
    assert_false(back.accepted);
    assert_string_equal(back.code, "finished");
    assert_string_equal(back.reason, "workflow is completed");
    assert_int_equal(cf_control_reply_decode("\x81\xa1x\x01", 4, &back), CF_ERR_INVALID);
}

static void test_unknown_keys_are_ignored(void **state)
{
    (void)state;
    base(1, 1);
    str("future");
    assert_int_equal(msgpack_pack_array(&g_pk, 1) | msgpack_pack_map(&g_pk, 1), 0);
    kv("deep", "value");
    cf_control_request r;
    cf_error err = {0};
    assert_int_equal(cf_control_request_decode(g_buf.data, g_buf.len, &r, &err), CF_OK);
    assert_string_equal(r.op, "signal");
    assert_null(r.name);
    cf_control_request_deinit(&r);
}

static void test_refusals_name_code_and_field(void **state)
{
    (void)state;
    cf_buf_reset(&g_buf);
    assert_int_equal(cf_buf_append(&g_buf, "\xc1", 1), CF_OK);
    refused("not_msgpack", "", NULL);
    cf_buf_reset(&g_buf);
    assert_int_equal(cf_buf_append(&g_buf,
                                   "\xa3"
                                   "abc",
                                   4),
                     CF_OK);
    refused("not_a_map", "", NULL);
    base(0, 1);
    assert_int_equal(cf_buf_append(&g_buf, "\x01", 1), CF_OK);
    refused("trailing_bytes", "", "r-1");
    base(0, 2);
    refused("unsupported_version", "v", "r-1");
    base(0, 0);
    refused("bad_value", "v", "r-1");
    base(1, 1);
    kv("class", "Again"); /* a duplicate key */
    refused("bad_value", "class", "r-1");
    base(1, 1);
    kv("name", "");
    refused("bad_value", "name", "r-1");
    base(1, 1);
    str("payload");
    assert_int_equal(msgpack_pack_int(&g_pk, 5), 0);
    refused("wrong_type", "payload", "r-1");
    base(1, 1);
    char *big = malloc(70000);
    memset(big, 'x', 69999);
    big[69999] = '\0';
    kv("payload", big);
    free(big);
    refused("too_large", "payload", "r-1");
    start(3); /* no class, no key, no v */
    kv("id", "r-2");
    kv("op", "signal");
    kv("reply", "p:reply:r-2");
    refused("missing_field", "v", "r-2");
    start(5);
    str("v");
    assert_int_equal(msgpack_pack_int(&g_pk, 1), 0);
    kv("id", "bad id");
    kv("op", "signal");
    kv("class", "Order");
    kv("key", "o-1");
    refused("bad_value", "id", NULL); /* no valid id: nothing to answer on */
    start(5);
    str("v");
    assert_int_equal(msgpack_pack_int(&g_pk, 1), 0);
    kv("id", "r-3");
    kv("op", "signal");
    kv("class", "Or der");
    kv("key", "o-1");
    refused("bad_value", "class", "r-3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_of_every_field),
        cmocka_unit_test(test_unknown_keys_are_ignored),
        cmocka_unit_test(test_refusals_name_code_and_field),
    };
    cf_test_apply_filter();
    int rc = cmocka_run_group_tests_name("control_request", tests, NULL, NULL);
    cf_buf_deinit(&g_buf);
    return rc;
}
