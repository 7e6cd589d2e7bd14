// SPDX-License-Identifier: MIT
/* http/dash_server.c: the dashboard's daemon (libmicrohttpd, one internal thread: requests are
 * answered one at a time, so the store and queue handles need no lock) and its routing: the
 * route table, the Host check of a loopback listener, the security headers every answer carries,
 * POST bodies (forms, at most 16 KiB), query arguments. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/alloc.h"
#include "common/log.h"
#include "http/dash_internal.h"
#include "http/server.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

#define FORM_MAX (16 * 1024)

/* The pages. An entry: a path, its handler, and whether POST reaches it (an action's own
 * route is /action/<name>: http/dash_actions.c). */
static const struct {
    const char *path;
    void (*page)(dash_req *);
    bool post;
} routes[] = {
    {"/", cf_dash_page_home, false},
    {"/workflows", cf_dash_page_workflows, false},
    {"/workflow", cf_dash_page_workflow, false},
    {"/queues", cf_dash_page_queues, false},
    {"/workers", cf_dash_page_workers, false},
    {"/login", cf_dash_page_login, true},
    {"/logout", cf_dash_page_login, true},
};

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                          "base-uri 'none'";

const char *cf_dash_arg(dash_req *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : NULL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

bool cf_dash_form_get(const char *form, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = form; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (size_t i = nl + 1; i < len; i++) {
                char c = p[i];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 &&
                           hexval(p[i + 2]) >= 0) {
                    c = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
                    i += 2;
                }
                if (o + 1 >= cap || c == '\0')
                    return false;
                out[o++] = c;
            }
            out[o] = '\0';
            return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

static void headers(struct MHD_Response *resp, const char *type)
{
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static mhd_result respond(struct MHD_Connection *c, unsigned status, const char *type,
                          const char *body, size_t len, const dash_req *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    headers(resp, type);
    if (r && r->set_cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    if (r && r->location[0])
        MHD_add_response_header(resp, "Location", r->location);
    mhd_result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static mhd_result plain(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return respond(c, status, "text/plain; charset=utf-8", msg, strlen(msg), NULL);
}

/* host_ok: on a loopback listener, the Host header names a loopback host (with any port), so
 * that a web page whose name was rebound to 127.0.0.1 (DNS rebinding) cannot read the pages. */
static bool host_ok(const cf_dash *d, struct MHD_Connection *c)
{
    if (!d->loopback)
        return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (h == NULL)
        return false;
    static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncasecmp(h, names[i], n) == 0 && (h[n] == '\0' || h[n] == ':'))
            return true;
    }
    return false;
}

/* dispatch answers one complete request. */
static mhd_result dispatch(cf_dash *d, struct MHD_Connection *c, const char *url,
                           const char *method, const char *form)
{
    bool post = strcmp(method, "POST") == 0;
    if (!host_ok(d, c))
        return plain(c, MHD_HTTP_FORBIDDEN,
                     "this dashboard listens on a loopback address: ask for it by 127.0.0.1, "
                     "localhost or [::1]\n");
    if (!post && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return plain(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or POST only\n");
    const char *type = NULL;
    size_t alen = 0;
    const char *asset = post ? NULL : cf_dash_asset(url, &type, &alen);
    if (asset)
        return respond(c, MHD_HTTP_OK, type, asset, alen, NULL);
    dash_req r = {
        .d = d, .conn = c, .path = url, .method = method, .form = form, .status = MHD_HTTP_OK};
    r.session = cf_dash_session_find(
        d, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE));
    char *buf = NULL;
    size_t len = 0;
    r.out = open_memstream(&buf, &len);
    if (r.out == NULL)
        return MHD_NO;
    bool found = false;
    if (strncmp(url, "/action/", 8) == 0) {
        found = true;
        if (post)
            cf_dash_page_action(&r, url + 8);
        else
            r.status = MHD_HTTP_METHOD_NOT_ALLOWED, fputs("actions are POSTs\n", r.out);
    }
    for (size_t i = 0; !found && i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, url) != 0)
            continue;
        found = true;
        if (post && !routes[i].post)
            r.status = MHD_HTTP_METHOD_NOT_ALLOWED, fputs("GET only\n", r.out);
        else
            routes[i].page(&r);
    }
    if (!found) {
        r.status = MHD_HTTP_NOT_FOUND;
        cf_dash_begin(&r, "Not found", "");
        fputs("<p>No such page. <a href=\"/\">Home</a></p>", r.out);
        cf_dash_end(&r);
    }
    fclose(r.out);
    if (r.location[0] && r.status == MHD_HTTP_OK)
        r.status = MHD_HTTP_SEE_OTHER;
    mhd_result ret = respond(c, r.status, "text/html; charset=utf-8", buf, len, &r);
    free(buf); /* open_memstream's buffer comes from malloc */
    return ret;
}

typedef struct upload {
    char *body;
    size_t len;
    bool too_big;
} upload;

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *data,
                             size_t *data_size, void **state)
{
    (void)version;
    cf_dash *d = cls;
    upload *u = *state;
    if (u == NULL) { /* first call: headers only */
        if (!(u = cf_calloc(1, sizeof *u)))
            return MHD_NO;
        *state = u;
        return MHD_YES;
    }
    if (*data_size != 0) {
        if (u->len + *data_size > FORM_MAX) {
            u->too_big = true;
        } else {
            char *nb = cf_realloc(u->body, u->len + *data_size + 1);
            if (nb == NULL)
                return MHD_NO;
            memcpy(nb + u->len, data, *data_size);
            u->body = nb;
            u->len += *data_size;
            u->body[u->len] = '\0';
        }
        *data_size = 0;
        return MHD_YES;
    }
    if (u->too_big)
        return plain(c, 413, "form too large\n");
    return dispatch(d, c, url, method, u->body ? u->body : "");
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
                    enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    upload *u = *state;
    if (u) {
        cf_free(u->body);
        cf_free(u);
        *state = NULL;
    }
}

cf_status cf_dash_start(const cf_dash_opts *o, cf_store *s, cf_queue *q, cf_dash **out)
{
    *out = NULL;
    char host[256];
    int port = 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    char service[8];
    if (cf_http_parse_listen(o->listen, host, sizeof host, &port) != CF_OK ||
        (snprintf(service, sizeof service, "%d", port),
         getaddrinfo(host, service, &hints, &res) != 0 || res == NULL)) {
        log_error("event=startup_failed: --listen '%s' is not ADDR:PORT (for example %s)",
                  o->listen, CF_DASH_LISTEN_DEFAULT);
        return CF_ERR_INVALID;
    }
    cf_dash *d = cf_calloc(1, sizeof *d);
    if (d == NULL || (o->token && *o->token && !(d->token = cf_strdup(o->token)))) {
        freeaddrinfo(res);
        cf_free(d);
        return CF_ERR_NOMEM;
    }
    d->store = s;
    d->queue = q;
    d->cfg = o->cfg;
    d->read_only = o->read_only;
    if (res->ai_family == AF_INET)
        d->loopback = (ntohl(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr) >> 24) == 127;
    else if (res->ai_family == AF_INET6)
        d->loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    d->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, d,
                                 MHD_OPTION_SOCK_ADDR, res->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                                 64u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_done, d, MHD_OPTION_END);
    freeaddrinfo(res);
    if (d->daemon == NULL) {
        log_error("event=startup_failed: cannot listen on %s (address in use or not local?)",
                  o->listen);
        cf_dash_stop(d);
        return CF_ERR_UNAVAILABLE;
    }
    log_info("event=dashboard_listen addr=%s mode=%s: serving the dashboard", o->listen,
             d->read_only ? "read-only"
             : d->token   ? "actions-with-login"
                          : "read-only-no-token");
    *out = d;
    return CF_OK;
}

void cf_dash_stop(cf_dash *d)
{
    if (d == NULL)
        return;
    if (d->daemon)
        MHD_stop_daemon(d->daemon);
    if (d->token) {
        memset(d->token, 0, strlen(d->token));
        cf_free(d->token);
    }
    memset(d->sessions, 0, sizeof d->sessions);
    cf_free(d);
}
