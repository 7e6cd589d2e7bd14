// SPDX-License-Identifier: MIT
/* http/server.c: the libmicrohttpd daemon behind --metrics-listen (http/server.h). */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/alloc.h"
#include "common/log.h"
#include "http/health.h"
#include "http/metrics.h"

/* 0.9.71 turned the handlers' int into enum MHD_Result (Debian 12 ships 0.9.75). */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

typedef struct cf_http_server {
    struct MHD_Daemon *daemon;
    cf_worker_view view;
} cf_http_server;

cf_status cf_http_parse_listen(const char *listen, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0')
        return CF_ERR_INVALID;
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
        h++, hl -= 2;
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535 || hl == 0 || hl >= cap)
        return CF_ERR_INVALID;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return CF_OK;
}

static mhd_result reply(struct MHD_Connection *c, unsigned status, const char *type,
                        const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    mhd_result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static mhd_result metrics_page(cf_http_server *s, struct MHD_Connection *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL)
        return MHD_NO;
    cf_metrics_render(&s->view, out);
    fclose(out);
    mhd_result ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf, len);
    free(buf); /* open_memstream's buffer comes from malloc */
    return ret;
}

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **state)
{
    (void)version, (void)upload;
    cf_http_server *s = cls;
    if (*state == NULL) { /* first call: headers only; answer on the next */
        *state = s;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0; /* a body is ignored; GET and HEAD only */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
    char body[1200];
    if (strcmp(url, "/metrics") == 0)
        return metrics_page(s, c);
    if (strcmp(url, "/healthz") == 0) {
        bool ok = cf_health_alive(s->view.cfg, body, sizeof body);
        return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", body,
                     strlen(body));
    }
    if (strcmp(url, "/readyz") == 0) {
        bool ok = cf_health_ready(s->view.cfg, body, sizeof body);
        return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", body,
                     strlen(body));
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found: /metrics, /healthz, /readyz\n",
                 39);
}

static cf_status resolve(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len)
{
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL)
        return CF_ERR_INVALID;
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return CF_OK;
}

static cf_status start(const cf_worker_view *view, void **handle)
{
    *handle = NULL;
    const char *listen = view->cfg->metrics_listen;
    if (listen[0] == '\0')
        return CF_OK;
    char host[256];
    int port = 0;
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    if (cf_http_parse_listen(listen, host, sizeof host, &port) != CF_OK ||
        resolve(host, port, &sa, &salen) != CF_OK) {
        log_error("event=startup_failed: --metrics-listen '%s' is not ADDR:PORT (for example "
                  "127.0.0.1:9464)",
                  listen);
        return CF_ERR_INVALID;
    }
    cf_http_server *s = cf_calloc(1, sizeof *s);
    if (s == NULL)
        return CF_ERR_NOMEM;
    s->view = *view;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 64u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (s->daemon == NULL) {
        log_error("event=startup_failed: cannot listen on %s for /metrics (address in use or not "
                  "local?)",
                  listen);
        cf_free(s);
        return CF_ERR_UNAVAILABLE;
    }
    log_info("event=metrics_listen addr=%s: serving /metrics, /healthz, /readyz", listen);
    *handle = s;
    return CF_OK;
}

static void stop(void *handle)
{
    cf_http_server *s = handle;
    MHD_stop_daemon(s->daemon);
    cf_free(s);
}

const cf_worker_observer cf_http_observer = {start, stop};
