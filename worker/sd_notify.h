// SPDX-License-Identifier: MIT
/* worker/sd_notify.h: telling a service manager (systemd Type=notify) how the worker is doing,
 * over the NOTIFY_SOCKET datagram protocol (sd_notify(3)): READY=1 once Redis and Postgres are
 * reached and the executors run, STOPPING=1 when a drain starts, WATCHDOG=1 from the
 * housekeeping loop while every loop of the process is alive (common/liveness.h). Our own
 * writer rather than libsystemd's sd_notify: the protocol is a single datagram on a unix
 * socket, documented as stable; one code path is then built and tested everywhere (containers
 * and hosts without libsystemd-dev alike) and the library gains no link dependency. Without
 * NOTIFY_SOCKET in the environment every call does nothing. */
#ifndef CF_WORKER_SD_NOTIFY_H
#define CF_WORKER_SD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* cf_sd_notify sends state ("READY=1", "STOPPING=1"...) to $NOTIFY_SOCKET (a path, or
 * "@name" for the abstract namespace). Returns 1 when sent, 0 when there is no socket to tell,
 * -1 when the send failed (errno set; the caller goes on: the manager is only told less). */
int cf_sd_notify(const char *state);

/* cf_sd_watchdog_interval_ms: the manager's watchdog interval (WATCHDOG_USEC, when WATCHDOG_PID
 * is unset or names this process), 0 when no watchdog is expected. */
int64_t cf_sd_watchdog_interval_ms(void);

/* cf_sd_ready and cf_sd_stopping send READY=1 and STOPPING=1 and log a failed send once. */
void cf_sd_ready(void);
void cf_sd_stopping(void);

/* cf_sd_watchdog_due: whether a WATCHDOG=1 is due at now_ms (monotonic): a watchdog is
 * expected, READY=1 was sent, a quarter of the interval passed since the last ping, and every
 * loop of the process iterated within bound_ms (cf_liveness_check). */
bool cf_sd_watchdog_due(int64_t now_ms, int64_t bound_ms);

/* cf_sd_watchdog pings when cf_sd_watchdog_due; called on each pass of the housekeeping loop,
 * so a wedged housekeeping loop stops the pings as well. */
void cf_sd_watchdog(int64_t bound_ms);

#endif
