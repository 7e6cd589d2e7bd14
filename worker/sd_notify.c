// SPDX-License-Identifier: MIT
/* worker/sd_notify.c: the NOTIFY_SOCKET writer and the watchdog's pacing of
 * worker/sd_notify.h. */
#include "worker/sd_notify.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/liveness.h"
#include "common/log.h"

static atomic_bool ready_sent;
static _Atomic int64_t last_ping_ms;
static atomic_bool send_failure_logged;

int cf_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path) {
        errno = EAFNOSUPPORT; /* e.g. systemd 253's vsock: addresses; not for this build */
        return -1;
    }
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* the abstract namespace: no terminating NUL in the length */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return sent == (ssize_t)strlen(state) ? 1 : -1;
}

int64_t cf_sd_watchdog_interval_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    if (usec == NULL || getenv("NOTIFY_SOCKET") == NULL)
        return 0;
    if (pid != NULL && strtoll(pid, NULL, 10) != (long long)getpid())
        return 0; /* meant for another process (one that exec'd us, say) */
    char *end = NULL;
    long long us = strtoll(usec, &end, 10);
    if (end == usec || *end != '\0' || us <= 0)
        return 0;
    return us / 1000 > 0 ? us / 1000 : 1;
}

static void send_logged(const char *state)
{
    if (cf_sd_notify(state) < 0 && !atomic_exchange(&send_failure_logged, true))
        log_warn("event=sd_notify_failed state=%s: %s (logged once; later messages are still "
                 "sent)",
                 state, strerror(errno));
}

void cf_sd_ready(void)
{
    send_logged("READY=1");
    atomic_store(&ready_sent, true);
}

void cf_sd_stopping(void)
{
    send_logged("STOPPING=1");
}

bool cf_sd_watchdog_due(int64_t now_ms, int64_t bound_ms)
{
    int64_t interval = cf_sd_watchdog_interval_ms();
    if (interval == 0 || !atomic_load(&ready_sent))
        return false;
    int64_t last = atomic_load(&last_ping_ms);
    if (last != 0 && now_ms - last < interval / 4)
        return false;
    char why[256];
    return cf_liveness_check(now_ms, bound_ms, why, sizeof why);
}

void cf_sd_watchdog(int64_t bound_ms)
{
    int64_t now = cf_clock_mono_ms();
    if (!cf_sd_watchdog_due(now, bound_ms))
        return;
    atomic_store(&last_ping_ms, now);
    send_logged("WATCHDOG=1");
}
