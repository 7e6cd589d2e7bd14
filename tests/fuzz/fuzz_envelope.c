// SPDX-License-Identifier: MIT
/* tests/fuzz/fuzz_envelope.c: libFuzzer target for the envelope decoder. Any input must be
 * decoded or refused without a crash, leak or sanitizer report; anything that decodes must
 * re-encode, and the re-encoded bytes must decode to an equal envelope.
 * fuzz-srcs: queue/envelope.c queue/envelope_encode.c queue/envelope_rules.c
 * fuzz-srcs: queue/msgpack_scan.c common/status.c common/buf.c common/rand.c common/clock.c
 * fuzz-srcs: common/duration.c common/alloc.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "queue/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const cf_envelope *a, const cf_envelope *b)
{
    return a->version == b->version && strcmp(a->jid, b->jid) == 0 &&
           strcmp(a->wf_class, b->wf_class) == 0 && strcmp(a->key, b->key) == 0 &&
           strcmp(a->queue, b->queue) == 0 && a->has_created_at == b->has_created_at &&
           (!a->has_created_at || memcmp(&a->created_at, &b->created_at, sizeof(double)) == 0) &&
           json_equal(a->kwargs, b->kwargs) && json_equal(a->options, b->options) &&
           a->retry_workflow == b->retry_workflow;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_envelope env, again;
    cf_error err;
    if (cf_envelope_decode((const char *)data, size, NULL, &env, &err) != CF_OK) {
        if (err.code[0] == '\0') /* every refusal carries a code */
            abort();
        return 0;
    }
    cf_buf buf = CF_BUF_INIT;
    if (cf_envelope_encode(&env, &buf) != CF_OK)
        abort();
    if (cf_envelope_decode(buf.data, buf.len, NULL, &again, &err) != CF_OK)
        abort();
    if (!same(&env, &again))
        abort();
    cf_envelope_deinit(&again);
    cf_envelope_deinit(&env);
    cf_buf_deinit(&buf);
    return 0;
}
