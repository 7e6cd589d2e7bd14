// SPDX-License-Identifier: MIT
/* tests/support/sd_listener.h: systemd's side of the NOTIFY_SOCKET protocol for tests: a unix
 * datagram socket that collects what a process sends with sd_notify (worker/sd_notify.h). */
#ifndef CF_TESTS_SUPPORT_SD_LISTENER_H
#define CF_TESTS_SUPPORT_SD_LISTENER_H

#include <stddef.h>
#include <stdint.h>

/* cf_sd_listen binds a datagram socket at path (a file path, or "@name" for the abstract
 * namespace) and returns its fd; fails the test on error. */
int cf_sd_listen(const char *path);

/* cf_sd_recv waits up to timeout_ms for one message into out (NUL-terminated); returns its
 * length, or -1 when none came. */
int cf_sd_recv(int fd, char *out, size_t cap, int64_t timeout_ms);

/* cf_sd_drain reads every message already queued; returns how many were "WATCHDOG=1". */
int cf_sd_drain(int fd);

#endif
