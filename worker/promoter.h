// SPDX-License-Identifier: MIT
/* worker/promoter.h: the worker's promotion thread, driven by deadlines instead of polling. It
 * promotes what is due in its queues' scheduled sets (queue/schedule.h: to ready, or to due
 * ahead of the backlog), then sleeps until the earliest due time left, at most the
 * promote-interval setting (so a producer's ZADD or a healing republish, which announce
 * nothing, is promoted at most that late). It wakes early for an earlier due time published
 * in this process (the queue/ publish hook: a compare and, rarely, one byte into a pipe) or by
 * any other process (the P:{Q}:wake channel, on a subscriber connection of its own). Any
 * number of promoters in a fleet is safe: the promote script is atomic. */
#ifndef CF_WORKER_PROMOTER_H
#define CF_WORKER_PROMOTER_H

#include "common/status.h"
#include "worker/config.h"

typedef struct cf_promoter cf_promoter;

/* cf_promoter_start starts the thread with two Redis connections of its own (commands and
 * subscriber) and installs the process's publish hook (unless another promoter of this process
 * has it). cfg and worker_id are borrowed and must outlive cf_promoter_stop. */
CF_MUST_CHECK cf_status cf_promoter_start(const cf_config *cfg, const char *worker_id,
                                          cf_promoter **out);

/* cf_promoter_stop wakes, stops and joins the thread, removes the hook and frees p
 * (NULL-safe). Every thread that publishes continuations must have stopped first. */
void cf_promoter_stop(cf_promoter *p);

/* cf_promoter_abandon asks the thread to stop without waiting; frees nothing (see
 * cf_housekeeping_abandon). NULL-safe. */
void cf_promoter_abandon(cf_promoter *p);

#endif
