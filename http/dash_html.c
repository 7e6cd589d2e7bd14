// SPDX-License-Identifier: MIT
/* http/dash_html.c: the dashboard's HTML: escaping of every value that came from a user (keys,
 * kwargs, context, error messages, queue and worker names), the layout (head, nav, login
 * state), action buttons, and the embedded assets (CSS, JS, favicon): no CDN, works offline.
 * The CSP forbids inline script and style, so the page carries neither. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/duration.h"
#include "http/dash_internal.h"

void cf_dash_escn(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        case '\0':
            fputs("\\0", out);
            break;
        default:
            if (c < 0x20 && c != '\n' && c != '\t')
                fprintf(out, "\\x%02x", c);
            else
                fputc(c, out);
        }
    }
}

void cf_dash_esc(FILE *out, const char *s)
{
    if (s)
        cf_dash_escn(out, s, strlen(s));
}

void cf_dash_url(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~", *p))
            fputc(*p, out);
        else
            fprintf(out, "%%%02X", *p);
    }
}

void cf_dash_time(FILE *out, int64_t ms)
{
    if (ms == 0) {
        fputs("-", out);
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[40];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(out, "<time>%s.%03dZ</time>", buf, (int)(ms % 1000));
}

void cf_dash_ago(FILE *out, int64_t ms)
{
    char buf[32];
    cf_duration_format(ms < 0 ? 0 : ms, buf, sizeof buf);
    fputs(buf, out);
}

void cf_dash_json(FILE *out, const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
    fputs("<pre class=json>", out);
    cf_dash_esc(out, s ? s : "null");
    fputs("</pre>", out);
    free(s);
}

void cf_dash_hex(FILE *out, const char *raw, size_t n)
{
    fputs("<pre class=hex>", out);
    for (size_t i = 0; i < n; i += 32) {
        fprintf(out, "%06zx ", i);
        for (size_t k = i; k < i + 32 && k < n; k++)
            fprintf(out, " %02x", (unsigned char)raw[k]);
        fputc('\n', out);
    }
    fputs("</pre>", out);
}

static const struct {
    const char *path, *label;
} nav[] = {
    {"/", "Home"},
    {"/workflows", "Workflows"},
    {"/queues", "Queues"},
    {"/workers", "Workers"},
};

void cf_dash_begin(dash_req *r, const char *title, const char *active)
{
    FILE *o = r->out;
    fputs("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
          "<meta name=viewport content=\"width=device-width, initial-scale=1\">"
          "<link rel=stylesheet href=\"/static/app.css\">"
          "<link rel=icon href=\"/favicon.svg\" type=\"image/svg+xml\">"
          "<script src=\"/static/app.js\" defer></script><title>",
          o);
    cf_dash_esc(o, title);
    fputs(
        " · chronoforge</title></head><body><header><a class=brand href=\"/\">chronoforge</a><nav>",
        o);
    for (size_t i = 0; i < sizeof nav / sizeof nav[0]; i++)
        fprintf(o, "<a href=\"%s\"%s>%s</a>", nav[i].path,
                strcmp(nav[i].path, active) == 0 ? " class=active" : "", nav[i].label);
    fputs("</nav><span class=who>", o);
    if (r->d->read_only || r->d->token == NULL) {
        fputs("read-only", o);
    } else if (r->session) {
        fputs("signed in as <b>", o);
        cf_dash_esc(o, r->session->who);
        fputs("</b> <form method=post action=\"/logout\" class=inline>", o);
        cf_dash_csrf_field(r);
        fputs("<button>Sign out</button></form>", o);
    } else {
        fputs("<a href=\"/login\">Sign in</a> to act", o);
    }
    fputs("</span><label class=live><input type=checkbox id=live> live</label></header><main>"
          "<h1>",
          o);
    cf_dash_esc(o, title);
    fputs("</h1>\n", o);
}

void cf_dash_end(dash_req *r)
{
    fputs("</main></body></html>\n", r->out);
}

void cf_dash_csrf_field(dash_req *r)
{
    if (r->session)
        fprintf(r->out, "<input type=hidden name=csrf value=\"%s\">", r->session->csrf);
}

bool cf_dash_can_act(const dash_req *r)
{
    return !r->d->read_only && r->d->token != NULL && r->session != NULL;
}

void cf_dash_action_button(dash_req *r, const char *action, const char *label, const char *confirm,
                           const char *const *fields)
{
    if (!cf_dash_can_act(r))
        return;
    FILE *o = r->out;
    fprintf(o, "<form method=post class=inline action=\"/action/%s\"", action);
    if (confirm) {
        fputs(" data-confirm=\"", o);
        cf_dash_esc(o, confirm);
        fputc('"', o);
    }
    fputc('>', o);
    cf_dash_csrf_field(r);
    for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2) {
        fputs("<input type=hidden name=\"", o);
        cf_dash_esc(o, fields[i]);
        fputs("\" value=\"", o);
        cf_dash_esc(o, fields[i + 1]);
        fputs("\">", o);
    }
    fprintf(o, "<button name=go value=1 data-action=\"%s\">", action);
    cf_dash_esc(o, label);
    fputs("</button></form>", o);
}

/* ---- assets ---- */

static const char css[] =
    ":root{--fg:#1d2330;--mut:#667085;--bg:#f6f7f9;--card:#fff;--line:#e3e6ea;--acc:#3758f9;"
    "--bad:#c4320a;--warn:#b54708;--ok:#067647}\n"
    "*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif;color:var(--fg);background:var(--bg)}\n"
    "header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.5em;background:#111827;"
    "color:#e5e7eb}header a{color:#cbd5e1;text-decoration:none}header a.active,header a:hover"
    "{color:#fff}.brand{font-weight:700;color:#fff!important}nav{display:flex;gap:1em}"
    ".who{margin-left:auto}.live{font-size:12px}\n"
    "main{padding:1em 1.5em;max-width:1400px}h1{font-size:20px;margin:.2em 0 "
    ".8em}h2{font-size:16px;"
    "margin:1.4em 0 .5em}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:.8em}.card{background:var(--card);border:1px solid "
    "var(--line);border-radius:8px;padding:.7em 1em;min-width:9em}.card b{display:block;"
    "font-size:22px}.card a{color:inherit;text-decoration:none}\n"
    "table{border-collapse:collapse;background:var(--card);border:1px solid var(--line);"
    "width:100%;margin-bottom:1em}th,td{text-align:left;padding:.35em .6em;border-bottom:1px "
    "solid var(--line);vertical-align:top}th{background:#f0f2f5;font-weight:600}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "pre{margin:0;white-space:pre-wrap;word-break:break-all;font:12px/1.4 ui-monospace,Menlo,"
    "monospace}pre.hex{max-height:18em;overflow:auto}\n"
    ".state{display:inline-block;padding:0 .5em;border-radius:9px;font-size:12px;background:"
    "#eef2ff}.state-failed,.state-stalled{background:#fee4e2;color:var(--bad)}.state-completed"
    "{background:#dcfae6;color:var(--ok)}.state-running{background:#e0eaff}.bad{color:var(--bad)}"
    ".warn{color:var(--warn)}.muted{color:var(--mut)}\n"
    ".panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.4em"
    " 1em;margin-bottom:1em}.panel li{margin:.2em 0}\n"
    "form.inline{display:inline}form.filters{display:flex;flex-wrap:wrap;gap:.6em;align-items:"
    "end;margin-bottom:1em}form.filters label{display:flex;flex-direction:column;font-size:12px;"
    "color:var(--mut)}input,select,button{font:inherit;padding:.25em .5em}button{cursor:pointer;"
    "border:1px solid var(--line);border-radius:6px;background:#fff}button[data-action]{border-"
    "color:var(--acc);color:var(--acc)}\n"
    "svg.chart{background:var(--card);border:1px solid var(--line);border-radius:8px}"
    "svg.chart rect{fill:var(--acc)}svg.chart text{font-size:10px;fill:var(--mut)}\n"
    "#facts th{width:16em}.msg{padding:.6em 1em;border-radius:8px;background:#ecfdf3;border:1px "
    "solid #abefc6}"
    ".msg.err{background:#fef3f2;border-color:#fecdca}\n";

static const char js[] =
    "// chronoforge dashboard: live refresh and confirmations; the pages work without it.\n"
    "(function(){\n"
    "  var live=document.getElementById('live');\n"
    "  if(live){live.checked=localStorage.getItem('cf-live')==='1';\n"
    "    live.addEventListener('change',function(){localStorage.setItem('cf-live',"
    "live.checked?'1':'0');});\n"
    "    setInterval(function(){if(live.checked&&!document.querySelector('input:focus,"
    "select:focus'))location.reload();},5000);}\n"
    "  document.querySelectorAll('form[data-confirm]').forEach(function(f){\n"
    "    f.addEventListener('submit',function(e){if(!confirm(f.getAttribute('data-confirm')))"
    "e.preventDefault();});});\n"
    "})();\n";

static const char favicon[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><circle cx=\"8\" cy=\"8\" "
    "r=\"7\" fill=\"#3758f9\"/><path d=\"M8 4v4l3 2\" stroke=\"#fff\" stroke-width=\"1.6\" "
    "fill=\"none\" stroke-linecap=\"round\"/></svg>\n";

const char *cf_dash_asset(const char *path, const char **type, size_t *len)
{
    static const struct {
        const char *path, *type, *body;
        size_t len;
    } assets[] = {
        {"/static/app.css", "text/css; charset=utf-8", css, sizeof css - 1},
        {"/static/app.js", "text/javascript; charset=utf-8", js, sizeof js - 1},
        {"/favicon.svg", "image/svg+xml", favicon, sizeof favicon - 1},
        {"/favicon.ico", "image/svg+xml", favicon, sizeof favicon - 1},
    };
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++)
        if (strcmp(assets[i].path, path) == 0) {
            *type = assets[i].type;
            *len = assets[i].len;
            return assets[i].body;
        }
    return NULL;
}
