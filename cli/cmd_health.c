// SPDX-License-Identifier: MIT
/* cli/cmd_health.c: `chronoforge health [--ready] [--url http://ADDR:PORT]`: asks a worker's
 * /healthz (or /readyz) over plain HTTP/1.1 (a GET on a socket: a container HEALTHCHECK needs no
 * curl) and exits 0 on 200, 1 otherwise, printing the worker's answer. The address defaults to
 * the --metrics-listen setting (CHRONOFORGE_METRICS_LISTEN). */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cmd.h"
#include "http/server.h"

/* get sends GET path to host:port and reads the reply (at most cap - 1 bytes) into buf; returns
 * the HTTP status, or -1 with why set. */
static int get(const char *host, int port, const char *path, char *buf, size_t cap, char *why,
               size_t whycap)
{
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        snprintf(why, whycap, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 10};
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        snprintf(why, whycap, "cannot connect to %s:%d: %m", host, port);
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                     path, host, port);
    size_t len = 0;
    if (write(fd, req, (size_t)n) == n)
        for (ssize_t k; len + 1 < cap && (k = read(fd, buf + len, cap - 1 - len)) > 0;)
            len += (size_t)k;
    close(fd);
    buf[len] = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(why, whycap, "no HTTP answer from %s:%d%s", host, port, path);
        return -1;
    }
    return status;
}

int cf_cli_cmd_health(int argc, char **argv)
{
    bool ready = false;
    const char *url = NULL;
    const cf_cli_opt opts[] = {
        {"ready", 0, NULL, "check /readyz (Redis, Postgres, schema) instead of /healthz", NULL,
         &ready},
        {"url", 0, "URL", "http://ADDR:PORT of the worker (default: --metrics-listen)", &url, NULL},
        {0},
    };
    const cf_cli_command_spec spec = {
        .usage = "health [--ready] [--url http://ADDR:PORT]",
        .summary = "Asks a worker started with --metrics-listen whether it is alive (/healthz: "
                   "every loop iterated recently) or, with --ready, ready (/readyz: Redis and "
                   "Postgres reachable, schema current). Exit 0 when it is, 1 when not.",
        .opts = opts,
        .scope = CF_CFG_ALL,
    };
    cf_cli_args a;
    int rc = cf_cli_parse(argc, argv, &spec, &a);
    if (rc >= 0)
        return rc;
    const char *addr = a.cfg.metrics_listen;
    if (url != NULL) {
        if (strncmp(url, "http://", 7) != 0)
            return cf_cli_fail("health", "--url must start with http:// (got '%s')", url);
        addr = url + 7;
    }
    char hostport[256];
    snprintf(hostport, sizeof hostport, "%.*s", (int)strcspn(addr, "/"), addr);
    char host[200];
    int port = 0;
    if (hostport[0] == '\0')
        return cf_cli_fail("health", "no address: give --url http://ADDR:PORT or --metrics-listen");
    if (cf_http_parse_listen(hostport, host, sizeof host, &port) != CF_OK)
        return cf_cli_fail("health", "'%s' is not ADDR:PORT", hostport);
    const char *path = ready ? "/readyz" : "/healthz";
    char buf[4096], why[400];
    int status = get(host, port, path, buf, sizeof buf, why, sizeof why);
    if (status < 0)
        return cf_cli_fail("health", "%s", why);
    const char *body = strstr(buf, "\r\n\r\n");
    printf("%d %s", status, body ? body + 4 : "\n");
    return status == 200 ? 0 : 1;
}
