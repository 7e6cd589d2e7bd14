// SPDX-License-Identifier: MIT
/* http/dash_internal.h: what the dashboard's files share (not for use outside http/dash_*.c):
 * the server, a request being answered, the session of a logged-in operator, the page, HTML
 * and action entry points. Every request runs on the daemon's one thread. */
#ifndef CF_HTTP_DASH_INTERNAL_H
#define CF_HTTP_DASH_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "http/dashboard.h"
#include "queue/workers.h"

#define DASH_TOKEN_HEX 64 /* a session id and a CSRF token: 32 random bytes in hex */

typedef struct dash_session {
    char id[DASH_TOKEN_HEX + 1];   /* the cookie value; "" : slot free */
    char csrf[DASH_TOKEN_HEX + 1]; /* the hidden form field every action must carry */
    char who[64];                  /* the name given at login, recorded with each action */
    int64_t expires_ms;            /* monotonic */
    unsigned number;               /* logged instead of the id (a secret) */
} dash_session;

#define DASH_SESSIONS 64

struct cf_dash {
    struct MHD_Daemon *daemon;
    cf_store *store;
    cf_queue *queue;
    const cf_config *cfg;
    char *token; /* NULL: actions are off */
    bool read_only;
    bool loopback; /* listening on a loopback address: only loopback Host headers are served */
    dash_session sessions[DASH_SESSIONS];
    unsigned next_session;
};

typedef struct dash_req {
    cf_dash *d;
    struct MHD_Connection *conn;
    const char *path;   /* "/workflows" */
    const char *method; /* "GET", "POST" */
    const char *form;   /* POST body (application/x-www-form-urlencoded), NUL-terminated */
    dash_session *session;
    FILE *out; /* the page */
    unsigned status;
    char set_cookie[256];
    char location[512]; /* a redirect when set */
} dash_req;

/* ---- http/dash_html.c ---- */
void cf_dash_esc(FILE *out, const char *s);             /* HTML text and attribute values */
void cf_dash_escn(FILE *out, const char *s, size_t n);  /* n bytes; non-UTF-8 is kept as is */
void cf_dash_url(FILE *out, const char *s);             /* a query value, percent-encoded */
void cf_dash_time(FILE *out, int64_t unix_ms);          /* ISO-8601 UTC, "-" for 0 */
void cf_dash_ago(FILE *out, int64_t ms);                /* "1.5s", "10m" */
void cf_dash_json(FILE *out, const json_t *v);          /* indented, escaped */
void cf_dash_hex(FILE *out, const char *raw, size_t n); /* hex dump, 32 bytes a line */
/* cf_dash_begin writes the layout's head, nav (active: its path) and the operator's login state;
 * cf_dash_end closes it. */
void cf_dash_begin(dash_req *r, const char *title, const char *active);
void cf_dash_end(dash_req *r);
/* cf_dash_csrf_field writes the hidden CSRF input of the request's session. */
void cf_dash_csrf_field(dash_req *r);
/* cf_dash_can_act: actions are on and the request's operator is logged in. */
bool cf_dash_can_act(const dash_req *r);
/* cf_dash_action_button writes a one-button POST form for action (hidden fields: pairs of name,
 * value, NULL-terminated) when the operator may act; nothing otherwise. */
void cf_dash_action_button(dash_req *r, const char *action, const char *label, const char *confirm,
                           const char *const *fields);
/* cf_dash_branches writes workflow w's branches and first children, nothing when it has no
 * branch (http/dash_branches.c). */
void cf_dash_branches(dash_req *r, const cf_wf_row *w);
/* The embedded assets: path -> content type and bytes; NULL when unknown. */
const char *cf_dash_asset(const char *path, const char **type, size_t *len);

/* ---- http/dash_server.c ---- */
const char *cf_dash_arg(dash_req *r, const char *name); /* a query argument; NULL or "" absent */
/* cf_dash_form_get copies form field name (URL-decoded) into out; false when absent/too long. */
bool cf_dash_form_get(const char *form, const char *name, char *out, size_t cap);

/* ---- http/dash_auth.c ---- */
dash_session *cf_dash_session_find(cf_dash *d, const char *cookie_header);
/* cf_dash_login checks the token (constant time) and opens a session for who; NULL if refused. */
dash_session *cf_dash_login(cf_dash *d, const char *token, const char *who);
void cf_dash_logout(cf_dash *d, dash_session *s);
bool cf_dash_csrf_ok(const dash_session *s, const char *given); /* constant time */
bool cf_dash_const_eq(const char *a, const char *b);            /* constant time in the lengths */
void cf_dash_page_login(dash_req *r);                           /* GET and POST /login, /logout */

/* ---- the pages: one file each ---- */
void cf_dash_page_home(dash_req *r);
void cf_dash_page_workflows(dash_req *r);
void cf_dash_page_workflow(dash_req *r);
void cf_dash_page_queues(dash_req *r);
void cf_dash_page_workers(dash_req *r);

/* ---- http/dash_data.c: what Redis says about queues ---- */
typedef struct dash_queue {
    char name[65];
    int64_t ready, scheduled, dead, inflight;
    int64_t oldest_ready_ms; /* age of the oldest ready envelope with a created_at; -1 none */
    int64_t overdue_wake_ms; /* how late the earliest scheduled entry is; <= 0 none */
    int live_workers;        /* live workers that take this queue */
} dash_queue;

/* cf_dash_queues_read fills up to cap queues (those in P:queues) with their figures; *n the
 * count. Workers are read too (*workers, owned; cf_workers_list_free) when workers is not
 * NULL. */
cf_status cf_dash_queues_read(cf_dash *d, dash_queue *out, size_t cap, size_t *n,
                              cf_worker_entry **workers, size_t *nworkers);
/* cf_dash_lock_read reads the Redis lock of workflow (wf_class, key): its value ("" when free)
 * and the milliseconds it has left (-1: no expiry). */
cf_status cf_dash_lock_read(cf_dash *d, const char *wf_class, const char *key, char *value,
                            size_t cap, int64_t *ttl_ms);
/* cf_dash_worker_state: "running", "quiet", "quieting", "resuming" or "stale". */
const char *cf_dash_worker_state(const cf_worker_entry *e);

/* ---- http/dash_actions.c ---- */
/* cf_dash_page_action runs POST /action/<name> (the name after the prefix). */
void cf_dash_page_action(dash_req *r, const char *name);

#endif
