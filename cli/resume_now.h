// SPDX-License-Identifier: MIT
/* cli/resume_now.h: `chronoforge requeue --now KEY` (the gem's retry_now): the calling process
 * resumes a stalled or failed workflow at once, as a worker would run one delivery: it
 * registers as a worker (heartbeat) so the fleet can recover what it holds if it dies, takes the
 * Redis lock, records the requeue, begins the run in Postgres (fence), replays one pass with the
 * engine, releases the lock and publishes what the pass asks (continuation or removal). */
#ifndef CF_CLI_RESUME_NOW_H
#define CF_CLI_RESUME_NOW_H

#include "cli/runner.h"
#include "store/requeue.h"

/* cf_cli_resume_now resumes (wf_class or NULL, key) with req and prints the resulting timeline.
 * Returns CF_OK when the pass completed the workflow or halted it healthily (its next wake is
 * printed); CF_ERR_STATE when it stalled or failed again, or was not resumable; other statuses
 * when Redis or Postgres failed (ctx->why says why). */
cf_status cf_cli_resume_now(cf_cli_ctx *ctx, const char *wf_class, const char *key,
                            const cf_requeue_req *req);

#endif
