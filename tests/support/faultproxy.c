// SPDX-License-Identifier: MIT
/* tests/support/faultproxy.c: runs tests/support/faultproxy.py for a test (see faultproxy.h). */
#include "tests/support/faultproxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/support/test.h"

/* script finds faultproxy.py: from the repository root (where make runs tests), else next to
 * the build directory CF_BIN lives in. */
static void script(char *out, size_t cap)
{
    snprintf(out, cap, "tests/support/faultproxy.py");
    if (access(out, R_OK) == 0)
        return;
    const char *bin = getenv("CF_BIN");
    const char *b = bin ? strstr(bin, "/build/") : NULL;
    if (b)
        snprintf(out, cap, "%.*s/tests/support/faultproxy.py", (int)(b - bin), bin);
    if (access(out, R_OK) != 0)
        fail_msg("tests/support/faultproxy.py not found (run from the repository root)");
}

/* read_line reads one line from fd into out (without the newline) within deadline_ms. */
static bool read_line(int fd, char *out, size_t cap, int64_t deadline_ms)
{
    size_t n = 0;
    while (n + 1 < cap) {
        int left = (int)(deadline_ms - cf_clock_mono_ms());
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return false;
        char c;
        if (read(fd, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

void cf_faultproxy_start(cf_faultproxy *p, const char *proto, const char *const *args)
{
    memset(p, 0, sizeof *p);
    char path[600], target[300];
    script(path, sizeof path);
    if (strcmp(proto, "redis") == 0)
        snprintf(target, sizeof target, "127.0.0.1:%s", cf_test_env("CF_TEST_REDIS_PORT"));
    else
        snprintf(target, sizeof target, "%s:%s", cf_test_env("CF_TEST_PG_HOST"),
                 cf_test_env("CF_TEST_PG_PORT"));
    const char *argv[40] = {"/usr/bin/python3", path, "--target", target, "--proto", proto};
    int n = 6;
    for (int i = 0; args && args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    p->pid = pid;
    char line[32];
    int64_t deadline = cf_clock_mono_ms() + 10000;
    bool ok = read_line(fds[0], line, sizeof line, deadline);
    p->port = ok ? atoi(line) : 0;
    ok = ok && read_line(fds[0], line, sizeof line, deadline);
    p->ctl_port = ok ? atoi(line) : 0;
    close(fds[0]);
    if (p->port <= 0 || p->ctl_port <= 0) {
        cf_faultproxy_stop(p);
        fail_msg("faultproxy.py did not start (%s)", path);
    }
}

void cf_faultproxy_ctl(const cf_faultproxy *p, const char *line, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->ctl_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fail_msg("faultproxy control port %d: connect failed", p->ctl_port);
    }
    char msg[256];
    int len = snprintf(msg, sizeof msg, "%s\n", line);
    bool ok = len > 0 && write(fd, msg, (size_t)len) == len &&
              read_line(fd, out, cap, cf_clock_mono_ms() + 10000);
    close(fd);
    if (!ok)
        fail_msg("faultproxy control: no reply to \"%s\"", line);
    if (strncmp(out, "error", 5) == 0)
        fail_msg("faultproxy control: \"%s\": %s", line, out);
}

int64_t cf_faultproxy_stat(const cf_faultproxy *p, const char *name)
{
    char out[256], key[64];
    cf_faultproxy_ctl(p, "stats", out, sizeof out);
    int n = snprintf(key, sizeof key, "%s=", name);
    for (const char *s = strstr(out, key); s; s = strstr(s + 1, key))
        if (s == out || s[-1] == ' ')
            return strtoll(s + n, NULL, 10);
    fail_msg("faultproxy stats has no %s: %s", name, out);
    return -1;
}

void cf_faultproxy_stop(cf_faultproxy *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
    }
    p->pid = 0;
}

void cf_faultproxy_redis_url(const cf_faultproxy *p, char *out, size_t cap)
{
    const char *url = cf_test_env("CF_TEST_REDIS_URL");
    const char *host = strchr(url, '@');
    host = host ? host + 1 : strstr(url, "://") + 3;
    const char *rest = strchr(host, '/');
    snprintf(out, cap, "%.*s127.0.0.1:%d%s", (int)(host - url), url, p->port, rest ? rest : "");
}

void cf_faultproxy_pg_dsn(const cf_faultproxy *p, const char *dsn, char *out, size_t cap)
{
    /* in a conninfo string a keyword given twice takes its last value */
    snprintf(out, cap, "%s host=127.0.0.1 port=%d", dsn, p->port);
}
