// SPDX-License-Identifier: MIT
/* queue/redis_url.c: Redis URL parsing (redis://, unix:// and redis+cluster://) and the redacted
 * form. Owns no I/O; the connection code in redis_conn.c consumes the parsed struct. */
#include "queue/redis_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* pct_decode copies in[0..n) into out (cap bytes), decoding %XX. Returns false on a bad escape,
 * a decoded NUL or overflow. */
static bool pct_decode(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hexval((unsigned char)in[i + 1]), lo = hexval((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = hi * 16 + lo;
            if (c == 0)
                return false;
            i += 2;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

/* parse_int parses a decimal in s[0..n) within [lo, hi]. */
static bool parse_int(const char *s, size_t n, long lo, long hi, int *out)
{
    if (n == 0 || n > 9)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static cf_status fail(cf_redis_url *out, cf_error *err, const char *what)
{
    memset(out, 0, sizeof *out);
    return cf_error_set(err, "bad_value", "redis_url", "%s", what);
}

/* parse_userinfo splits "[user][:password]" (before '@'). */
static bool parse_userinfo(const char *s, size_t n, cf_redis_url *out)
{
    const char *colon = memchr(s, ':', n);
    size_t ulen = colon ? (size_t)(colon - s) : n;
    if (!pct_decode(s, ulen, out->user, sizeof out->user))
        return false;
    if (colon) {
        size_t plen = n - ulen - 1;
        if (!pct_decode(colon + 1, plen, out->password, sizeof out->password))
            return false;
        out->has_password = true;
    } else if (ulen > 0) {
        /* "redis://secret@host": a lone userinfo is the password, as redis-cli reads it. */
        memcpy(out->password, out->user, sizeof out->user);
        out->user[0] = '\0';
        out->has_password = true;
    }
    return true;
}

static bool parse_tcp_hostport(const char *s, size_t n, cf_redis_url *out)
{
    const char *host = s;
    size_t hlen;
    const char *rest;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        host = s + 1;
        hlen = (size_t)(close - host);
        rest = close + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        hlen = colon ? (size_t)(colon - s) : n;
        rest = s + hlen;
    }
    if (hlen == 0 || hlen >= sizeof out->host)
        return false;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    for (size_t i = 0; i < hlen; i++)
        if (isspace((unsigned char)host[i]) || host[i] == '@' || host[i] == '/' || host[i] == '[' ||
            host[i] == ']')
            return false;
    size_t rlen = (size_t)(s + n - rest);
    out->port = 6379;
    if (rlen == 0)
        return true;
    if (rest[0] != ':')
        return false;
    return parse_int(rest + 1, rlen - 1, 1, 65535, &out->port);
}

/* parse_query reads "db=N" (the only parameter) from s[0..n). */
static bool parse_query(const char *s, size_t n, cf_redis_url *out)
{
    while (n > 0) {
        const char *amp = memchr(s, '&', n);
        size_t plen = amp ? (size_t)(amp - s) : n;
        if (plen > 3 && strncmp(s, "db=", 3) == 0) {
            if (!parse_int(s + 3, plen - 3, 0, 1000000, &out->db))
                return false;
        } else {
            return false;
        }
        s += plen;
        n -= plen;
        if (amp) {
            s++;
            n--;
        }
    }
    return true;
}

static void build_redacted(cf_redis_url *u, const char *scheme)
{
    char auth[160] = "";
    if (u->has_password)
        snprintf(auth, sizeof auth, "%s:***@", u->user);
    if (u->cluster) {
        size_t at = (size_t)snprintf(u->redacted, sizeof u->redacted, "%s://%s", scheme, auth);
        for (int i = 0; i < u->nseeds && at < sizeof u->redacted; i++) {
            bool v6 = strchr(u->seeds[i].host, ':') != NULL;
            at += (size_t)snprintf(u->redacted + at, sizeof u->redacted - at, "%s%s%s%s:%d",
                                   i ? "," : "", v6 ? "[" : "", u->seeds[i].host, v6 ? "]" : "",
                                   u->seeds[i].port);
        }
    } else if (u->transport == CF_REDIS_TCP) {
        bool v6 = strchr(u->host, ':') != NULL;
        snprintf(u->redacted, sizeof u->redacted, "%s://%s%s%s%s:%d/%d", scheme, auth,
                 v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, u->db);
    } else {
        snprintf(u->redacted, sizeof u->redacted, "%s://%s%s?db=%d", scheme, auth, u->path, u->db);
    }
}

/* parse_seeds reads "host[:port],host[:port]..." from s[0..n) into out's seeds; the first
 * also becomes host and port. */
static bool parse_seeds(const char *s, size_t n, cf_redis_url *out)
{
    while (n > 0) {
        const char *comma = memchr(s, ',', n);
        size_t len = comma ? (size_t)(comma - s) : n;
        if (out->nseeds == CF_REDIS_MAX_SEEDS || !parse_tcp_hostport(s, len, out))
            return false;
        cf_redis_seed *seed = &out->seeds[out->nseeds++];
        memcpy(seed->host, out->host, sizeof seed->host);
        seed->port = out->port;
        if (comma == NULL)
            break;
        s += len + 1;
        n -= len + 1;
        if (n == 0)
            return false; /* a trailing comma */
    }
    if (out->nseeds == 0)
        return false;
    memcpy(out->host, out->seeds[0].host, sizeof out->host);
    out->port = out->seeds[0].port;
    return true;
}

cf_status cf_redis_url_parse(const char *url, cf_redis_url *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (url == NULL || *url == '\0')
        return fail(out, err, "empty Redis URL");
    const char *scheme;
    const char *p;
    if (strncmp(url, "redis://", 8) == 0) {
        out->transport = CF_REDIS_TCP;
        scheme = "redis";
        p = url + 8;
    } else if (strncmp(url, "redis+cluster://", 16) == 0) {
        out->transport = CF_REDIS_TCP;
        out->cluster = true;
        scheme = "redis+cluster";
        p = url + 16;
    } else if (strncmp(url, "unix://", 7) == 0) {
        out->transport = CF_REDIS_UNIX;
        scheme = "unix";
        p = url + 7;
    } else {
        return fail(out, err, "Redis URL must start with redis://, unix:// or redis+cluster://");
    }
    /* Userinfo ends at the last '@' before the path/query starts for TCP; for unix the path
     * starts with '/', so the authority is everything before the first "@/" or nothing. */
    const char *at = NULL;
    if (out->transport == CF_REDIS_TCP) {
        for (const char *q = p; *q && *q != '/' && *q != '?'; q++)
            if (*q == '@')
                at = q;
    } else {
        const char *q = strstr(p, "@/");
        if (q && memchr(p, '/', (size_t)(q - p)) == NULL)
            at = q;
    }
    if (at) {
        if (!parse_userinfo(p, (size_t)(at - p), out))
            return fail(out, err, "bad user or password in Redis URL (percent-encode it)");
        p = at + 1;
    }
    const char *query = strchr(p, '?');
    size_t mainlen = query ? (size_t)(query - p) : strlen(p);
    if (out->transport == CF_REDIS_TCP) {
        const char *slash = memchr(p, '/', mainlen);
        size_t hplen = slash ? (size_t)(slash - p) : mainlen;
        if (out->cluster ? !parse_seeds(p, hplen, out) : !parse_tcp_hostport(p, hplen, out))
            return fail(out, err,
                        out->cluster ? "bad host list in Redis Cluster URL (host:port,host:port, "
                                       "at most 16)"
                                     : "bad host or port in Redis URL");
        if (slash) {
            size_t dlen = mainlen - hplen - 1;
            if (dlen > 0 && !parse_int(slash + 1, dlen, 0, 1000000, &out->db))
                return fail(out, err, "bad database number in Redis URL");
        }
    } else {
        if (mainlen == 0 || p[0] != '/' || mainlen >= sizeof out->path)
            return fail(out, err, "unix:// URL needs an absolute socket path");
        memcpy(out->path, p, mainlen);
        out->path[mainlen] = '\0';
    }
    if (query && !parse_query(query + 1, strlen(query + 1), out))
        return fail(out, err, "bad query in Redis URL (only db=N is known)");
    if (out->cluster && out->db != 0)
        return fail(out, err, "Redis Cluster has only database 0");
    build_redacted(out, scheme);
    if (strlen(out->redacted) + 1 >= sizeof out->redacted) /* it must name every seed */
        return fail(out, err, "Redis Cluster URL too long (at most about 1000 bytes of hosts)");
    return CF_OK;
}

void cf_redis_url_wipe(cf_redis_url *u)
{
    volatile unsigned char *b = (volatile unsigned char *)u;
    for (size_t i = 0; i < sizeof *u; i++)
        b[i] = 0;
}
