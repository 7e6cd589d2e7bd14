// SPDX-License-Identifier: MIT
/* tests/support/sd_listener.c: the NOTIFY_SOCKET listener of tests/support/sd_listener.h. */
#include "tests/support/sd_listener.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/support/test.h"

int cf_sd_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    assert_true(n < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    else
        unlink(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@'));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
    return fd;
}

int cf_sd_recv(int fd, char *out, size_t cap, int64_t timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, (int)timeout_ms) != 1)
        return -1;
    ssize_t k = recv(fd, out, cap - 1, 0);
    if (k < 0)
        return -1;
    out[k] = '\0';
    return (int)k;
}

int cf_sd_drain(int fd)
{
    char msg[256];
    int pings = 0;
    while (cf_sd_recv(fd, msg, sizeof msg, 0) >= 0)
        pings += strcmp(msg, "WATCHDOG=1") == 0;
    return pings;
}
