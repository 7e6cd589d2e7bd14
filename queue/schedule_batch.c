// SPDX-License-Identifier: MIT
/* queue/schedule_batch.c: cf_continuations_publish (queue/schedule_batch.h), the pipelined form
 * of cf_continuation_publish: the same SADD and schedule_add script, one pipeline per batch. */
#include "queue/schedule_batch.h"

#include "common/alloc.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/schedule.h"
#include "queue/scripts.h"

cf_status cf_continuations_publish(cf_queue *q, const char *queue, const void *const *members,
                                   const size_t *lens, size_t n, int64_t due_unix_ms)
{
    cf_status st = cf_queue_begin(q, queue, false);
    if (st != CF_OK || n == 0)
        return st;
    for (size_t i = 0; i < n; i++)
        if (members[i] == NULL || lens[i] == 0)
            return cf_queue_fail(q, CF_ERR_INVALID, "empty continuation");
    size_t cap = (n < CF_CONTINUATIONS_BATCH ? n : CF_CONTINUATIONS_BATCH) + 1;
    cf_argv *cmds = cf_calloc(cap, sizeof *cmds);
    cf_reply **reps = cf_calloc(cap, sizeof *reps);
    if (!cmds || !reps) {
        cf_free(cmds);
        cf_free(reps);
        return CF_ERR_NOMEM;
    }
    char qk[CF_KEY_MAX], sk[CF_KEY_MAX];
    for (size_t first = 0; first < n && st == CF_OK; first += CF_CONTINUATIONS_BATCH) {
        size_t m = n - first < CF_CONTINUATIONS_BATCH ? n - first : CF_CONTINUATIONS_BATCH;
        cf_argv_init(&cmds[0]);
        cf_argv_str(&cmds[0], "SADD");
        cf_argv_key(&cmds[0], qk, cf_key_queues(qk, sizeof qk, q->prefix));
        cf_argv_str(&cmds[0], queue);
        for (size_t i = 0; i < m; i++) {
            cf_argv *a = &cmds[i + 1];
            cf_argv_init_script(a, &cf_script_schedule_add, 1);
            cf_argv_key(a, sk, cf_key_scheduled(sk, sizeof sk, q->prefix, queue));
            cf_argv_str(a, "LT");
            cf_argv_int(a, due_unix_ms);
            cf_argv_buf(a, members[first + i], lens[first + i]);
        }
        st = cf_queue_pipeline(q, cmds, m + 1, reps);
        for (size_t i = 0; i < m + 1; i++) {
            if (st == CF_OK && i > 0 && reps[i]->type != CF_REPLY_INTEGER)
                st = CF_ERR_PROTOCOL;
            cf_reply_free(reps[i]);
            reps[i] = NULL;
        }
    }
    if (st == CF_OK)
        cf_schedule_note(queue, due_unix_ms);
    cf_free(cmds);
    cf_free(reps);
    return st;
}
