// SPDX-License-Identifier: MIT
/* store/control_log.h: the answers given to control requests (SPEC §2, "Control requests"),
 * kept in chrono_forge_control_requests so a request taken again (its worker died after
 * committing, before acking) gets the answer it got the first time. */
#ifndef CF_STORE_CONTROL_LOG_H
#define CF_STORE_CONTROL_LOG_H

#include <stdbool.h>

#include "common/status.h"
#include "store/store.h"

/* cf_control_answer: accepted, or refused with a stable code and a one-line reason. */
typedef struct cf_control_answer {
    bool accepted;
    char code[48];    /* "" when accepted */
    char reason[512]; /* "" when accepted */
} cf_control_answer;

/* cf_store_control_seen reads the answer recorded for request_id: CF_OK with *out filled,
 * CF_ERR_NOT_FOUND when none, transient errors. */
CF_MUST_CHECK cf_status cf_store_control_seen(cf_store *s, const char *request_id,
                                              cf_control_answer *out);

/* cf_store_control_record records *answer for request_id (op, wf_class, key: what it asked;
 * class and key may be NULL) unless one is recorded already; either way *answer becomes the
 * recorded one. Idempotent. */
CF_MUST_CHECK cf_status cf_store_control_record(cf_store *s, const char *request_id, const char *op,
                                                const char *wf_class, const char *key,
                                                cf_control_answer *answer);

#endif
