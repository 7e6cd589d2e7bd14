// SPDX-License-Identifier: MIT
/* worker/worker.h: a worker process: N executor threads fetching from the configured queues,
 * a heartbeat thread, a housekeeping thread, and the two-stage shutdown (a first request
 * drains: no new fetches, running passes halt before their next step, then locks are released
 * and the worker deregisters; a second request, or the grace period running out, exits at once
 * and leaves the rest to recovery by the fleet). The library installs no signal handlers: the
 * CLI's `worker` command turns SIGTERM/SIGINT/SIGTSTP into the flags below. A quiet worker
 * (SIGTSTP, or `chronoforge workers quiet`) fetches nothing new until resumed. */
#ifndef CF_WORKER_WORKER_H
#define CF_WORKER_WORKER_H

#include <stdatomic.h>

#include "worker/config.h"

typedef struct cf_worker_signals {
    atomic_bool drain; /* first SIGTERM/SIGINT */
    atomic_bool hard;  /* second one */
    atomic_bool quiet; /* SIGTSTP: take no new envelopes, finish what runs, stay up (SPEC §5) */
} cf_worker_signals;

/* cf_worker_run runs a worker until sig->drain (then drains) or sig->hard. Blocks. Returns the
 * process exit code: 0 after a clean drain, 1 when it could not start (message logged) or had to
 * give up on running passes. cfg is borrowed. */
int cf_worker_run(const cf_config *cfg, cf_worker_signals *sig);

#endif
