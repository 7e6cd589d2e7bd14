// SPDX-License-Identifier: MIT
/* store/queue_flags.h: the Postgres mirror of queues' pause flags (chrono_forge_queues, SPEC
 * §3). `chronoforge queue pause|resume` writes it before Redis's P:{Q}:paused; the healing pass
 * reads it to restore Redis after a data loss, and to skip paused queues. */
#ifndef CF_STORE_QUEUE_FLAGS_H
#define CF_STORE_QUEUE_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "store/store.h"

typedef struct cf_queue_flag {
    char name[65];
    bool paused;
    int64_t paused_at_ms; /* 0 when not paused */
    char paused_by[257];
} cf_queue_flag;

typedef struct cf_queue_flag_list {
    cf_queue_flag *items; /* owned */
    size_t n;
} cf_queue_flag_list;

void cf_queue_flag_list_deinit(cf_queue_flag_list *l); /* NULL-safe */

/* cf_store_queue_pause records queue as paused (by: who) or resumed. Blocks. */
CF_MUST_CHECK cf_status cf_store_queue_pause(cf_store *s, const char *queue, bool paused,
                                             const char *by);

/* cf_store_queue_flags reads every queue's row (queues never paused have none). */
CF_MUST_CHECK cf_status cf_store_queue_flags(cf_store *s, cf_queue_flag_list *out);

/* cf_queue_flag_paused says whether l lists queue as paused. */
bool cf_queue_flag_paused(const cf_queue_flag_list *l, const char *queue);

#endif
