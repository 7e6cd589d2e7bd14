// SPDX-License-Identifier: MIT
/* tests/fuzz/fuzz_redis_url.c: libFuzzer target for the Redis URL parser. Any input must be
 * parsed or refused without a sanitizer report; a refusal leaves the struct zeroed; a parsed
 * URL has terminated fields, a valid port, "user:***@" in place of any password, and its redacted
 * form parses back to the same endpoint (when the user name needs no percent-encoding).
 * fuzz-srcs: queue/redis_url.c common/status.c */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/redis_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_terminated(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

static bool plain_user(const char *u)
{
    for (; *u; u++)
        if (!isalnum((unsigned char)*u) && *u != '_' && *u != '-' && *u != '.')
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    cf_redis_url u, again;
    cf_error err;
    if (cf_redis_url_parse(url, &u, &err) != CF_OK) {
        static const cf_redis_url zero;
        if (memcmp(&u, &zero, sizeof u) != 0 || err.code[0] == '\0')
            abort();
        free(url);
        return 0;
    }
    check_terminated(u.host, sizeof u.host);
    check_terminated(u.path, sizeof u.path);
    check_terminated(u.user, sizeof u.user);
    check_terminated(u.password, sizeof u.password);
    check_terminated(u.redacted, sizeof u.redacted);
    if (u.db < 0 || (u.transport == CF_REDIS_TCP && (u.port < 1 || u.port > 65535)))
        abort();
    if (u.transport == CF_REDIS_UNIX && u.path[0] != '/')
        abort();
    if (u.has_password) {
        char head[160];
        snprintf(head, sizeof head, "%s://%s:***@",
                 u.cluster                     ? "redis+cluster"
                 : u.transport == CF_REDIS_TCP ? "redis"
                                               : "unix",
                 u.user);
        if (strncmp(u.redacted, head, strlen(head)) != 0)
            abort();
    }
    if (plain_user(u.user)) {
        if (cf_redis_url_parse(u.redacted, &again, &err) != CF_OK)
            abort();
        if (again.transport != u.transport || strcmp(again.host, u.host) != 0 ||
            again.port != u.port || strcmp(again.path, u.path) != 0 || again.db != u.db ||
            again.has_password != u.has_password || strcmp(again.user, u.user) != 0 ||
            again.cluster != u.cluster || again.nseeds != u.nseeds)
            abort();
        for (int i = 0; i < u.nseeds; i++)
            if (strcmp(again.seeds[i].host, u.seeds[i].host) != 0 ||
                again.seeds[i].port != u.seeds[i].port)
                abort();
    }
    cf_redis_url_wipe(&u);
    static const cf_redis_url zero;
    if (memcmp(&u, &zero, sizeof u) != 0)
        abort();
    free(url);
    return 0;
}
