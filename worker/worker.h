// SPDX-License-Identifier: MIT
/* worker/worker.h: a worker process: N executor threads fetching from the configured queues,
 * a heartbeat thread, a housekeeping thread, and the two-stage shutdown (a first request
 * drains: no new fetches, running passes halt before their next step, then locks are released
 * and the worker deregisters; a second request, or the grace period running out, returns at once
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

/* How cf_worker_run ended. */
typedef enum cf_worker_result {
    CF_WORKER_DRAINED = 0, /* clean drain: every run ended, the worker left and deregistered */
    CF_WORKER_NOT_STARTED, /* could not start (message logged) */
    CF_WORKER_ABANDONED,   /* a second request, or the grace period running out, while
                              executors were still inside passes: those threads were left
                              running (not joined) with their memory deliberately not freed;
                              their envelopes and locks are recovered by the fleet after the
                              lease. Nothing safe remains to do but end the process. */
} cf_worker_result;

/* cf_worker_run runs a worker until sig->drain (then drains) or sig->hard. Blocks. Never ends
 * the process itself. cfg and sig are borrowed; after CF_WORKER_ABANDONED both must stay valid
 * (abandoned threads still read them) until the process ends. */
cf_worker_result cf_worker_run(const cf_config *cfg, cf_worker_signals *sig);

#endif
