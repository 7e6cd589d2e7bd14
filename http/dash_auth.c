// SPDX-License-Identifier: MIT
/* http/dash_auth.c: who may act on the dashboard. The token (from a file or the environment,
 * never a flag) is checked in constant time by the login form, which opens a server-side
 * session: a random id in a `SameSite=Strict; HttpOnly` cookie, expiring after 8 hours, and a
 * random CSRF token every action form carries in a hidden field (checked in constant time).
 * Sessions live in a fixed table; the oldest is reused when it is full. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/log.h"
#include "http/dash_internal.h"

#define SESSION_TTL_MS (8 * 3600 * 1000LL)

bool cf_dash_const_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
    size_t diff = la ^ lb; /* the lengths may differ in time; the contents do not */
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0));
    return diff == 0;
}

static bool random_hex(char out[DASH_TOKEN_HEX + 1])
{
    unsigned char raw[DASH_TOKEN_HEX / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return true;
}

dash_session *cf_dash_session_find(cf_dash *d, const char *cookie)
{
    const char *p = cookie;
    while (p && (p = strstr(p, "cf_session=")) != NULL && p != cookie && p[-1] != ' ' &&
           p[-1] != ';')
        p++; /* another cookie whose name ends in cf_session */
    if (p == NULL)
        return NULL;
    p += strlen("cf_session=");
    char id[DASH_TOKEN_HEX + 1];
    size_t n = strcspn(p, "; ");
    if (n != DASH_TOKEN_HEX)
        return NULL;
    memcpy(id, p, n);
    id[n] = '\0';
    int64_t now = cf_clock_mono_ms();
    for (size_t i = 0; i < DASH_SESSIONS; i++) {
        dash_session *s = &d->sessions[i];
        if (s->id[0] && cf_dash_const_eq(s->id, id)) {
            if (s->expires_ms < now) {
                memset(s, 0, sizeof *s);
                return NULL;
            }
            return s;
        }
    }
    return NULL;
}

dash_session *cf_dash_login(cf_dash *d, const char *token, const char *who)
{
    if (d->read_only || d->token == NULL || !cf_dash_const_eq(d->token, token))
        return NULL;
    int64_t now = cf_clock_mono_ms();
    dash_session *slot = &d->sessions[0];
    for (size_t i = 0; i < DASH_SESSIONS; i++) {
        dash_session *s = &d->sessions[i];
        if (s->id[0] == '\0' || s->expires_ms < now) {
            slot = s;
            break;
        }
        if (s->expires_ms < slot->expires_ms)
            slot = s;
    }
    memset(slot, 0, sizeof *slot);
    if (!random_hex(slot->id) || !random_hex(slot->csrf)) {
        memset(slot, 0, sizeof *slot);
        return NULL;
    }
    snprintf(slot->who, sizeof slot->who, "%s", who && *who ? who : "operator");
    for (char *c = slot->who; *c; c++) /* a logfmt-safe name */
        if (*c <= ' ' || *c == '"' || *c == '=' || *c == '\\' || (unsigned char)*c >= 0x7f)
            *c = '_';
    slot->expires_ms = now + SESSION_TTL_MS;
    slot->number = ++d->next_session;
    return slot;
}

void cf_dash_logout(cf_dash *d, dash_session *s)
{
    (void)d;
    if (s)
        memset(s, 0, sizeof *s);
}

bool cf_dash_csrf_ok(const dash_session *s, const char *given)
{
    return s && given && s->csrf[0] && cf_dash_const_eq(s->csrf, given);
}

static void login_form(dash_req *r, const char *error)
{
    cf_dash_begin(r, "Sign in", "");
    FILE *o = r->out;
    if (r->d->read_only || r->d->token == NULL) {
        fputs("<p class=\"msg err\">This dashboard is read-only: it was started with "
              "--read-only or without a token (--token-file or CHRONOFORGE_DASHBOARD_TOKEN).</p>",
              o);
        cf_dash_end(r);
        return;
    }
    if (error)
        fprintf(o, "<p class=\"msg err\">%s</p>", error);
    fputs("<form method=post action=\"/login\" class=filters>"
          "<label>Your name (recorded with your actions)<input name=who maxlength=60 "
          "autocomplete=username></label>"
          "<label>Token<input name=token type=password autocomplete=current-password></label>"
          "<button id=signin>Sign in</button></form>",
          o);
    cf_dash_end(r);
}

void cf_dash_page_login(dash_req *r)
{
    if (strcmp(r->path, "/logout") == 0) {
        char csrf[DASH_TOKEN_HEX + 1];
        if (r->session && cf_dash_form_get(r->form, "csrf", csrf, sizeof csrf) &&
            cf_dash_csrf_ok(r->session, csrf)) {
            cf_dash_logout(r->d, r->session);
            r->session = NULL;
        }
        snprintf(r->set_cookie, sizeof r->set_cookie,
                 "cf_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
        snprintf(r->location, sizeof r->location, "/");
        return;
    }
    if (strcmp(r->method, "POST") != 0) {
        login_form(r, NULL);
        return;
    }
    char token[1024], who[64] = "";
    if (!cf_dash_form_get(r->form, "token", token, sizeof token))
        token[0] = '\0';
    if (!cf_dash_form_get(r->form, "who", who, sizeof who))
        who[0] = '\0';
    dash_session *s = cf_dash_login(r->d, token, who);
    memset(token, 0, sizeof token);
    if (s == NULL) {
        log_warn("event=dashboard_login_refused: %s", r->d->read_only || r->d->token == NULL
                                                          ? "a sign-in on a read-only dashboard"
                                                          : "a sign-in with a wrong token");
        r->status = MHD_HTTP_FORBIDDEN;
        login_form(r, "Wrong token.");
        return;
    }
    log_info("event=dashboard_login who=%s session=%u: signed in", s->who, s->number);
    snprintf(r->set_cookie, sizeof r->set_cookie,
             "cf_session=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict", s->id,
             SESSION_TTL_MS / 1000);
    snprintf(r->location, sizeof r->location, "/");
}
