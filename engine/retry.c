// SPDX-License-Identifier: MIT
/* engine/retry.c: composite routing, budgets and backoff for retry policies. */
#include "engine/retry.h"

#include <stdio.h>
#include <string.h>

#include "common/backoff.h"

const cf_retry_policy cf_retry_none = {.max_attempts = 1, .base_ms = 1000, .cap_ms = 1000};
const cf_retry_policy cf_retry_step_default = {.max_attempts = 3, .base_ms = 1000, .cap_ms = 30000};
const cf_retry_policy cf_retry_workflow_default = {
    .max_attempts = 10, .base_ms = 1000, .cap_ms = 600000};

bool cf_retry_class_matches(const char *prefix, const char *error_class)
{
    size_t n = strlen(prefix);
    if (strncmp(prefix, error_class, n) != 0)
        return false;
    return error_class[n] == '\0' || error_class[n] == '.';
}

static bool prefix_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* check_one checks one link of a chain; path names it ("step_policy.or_else"). */
static bool check_one(const cf_retry_policy *p, const char *path, char *err, size_t cap)
{
    if (p->max_attempts < 0) {
        snprintf(err, cap, "%s.max_attempts is negative (%d); 0 means no cap", path,
                 p->max_attempts);
        return false;
    }
    if (p->base_ms < 0 || p->cap_ms < 0) {
        snprintf(err, cap, "%s.%s is negative (%lld)", path, p->base_ms < 0 ? "base_ms" : "cap_ms",
                 (long long)(p->base_ms < 0 ? p->base_ms : p->cap_ms));
        return false;
    }
    if (p->cap_ms > 0 && p->cap_ms < p->base_ms) {
        snprintf(err, cap, "%s.cap_ms (%lld) is below base_ms (%lld)", path, (long long)p->cap_ms,
                 (long long)p->base_ms);
        return false;
    }
    if (p->max_attempts == 0 && p->base_ms == 0) {
        snprintf(err, cap,
                 "%s.max_attempts is 0 (no cap) and %s.base_ms is 0 (no delay): it would retry "
                 "at once, forever; set max_attempts, base_ms or both",
                 path, path);
        return false;
    }
    if (p->retry_on && p->retry_on[0] == NULL) {
        snprintf(err, cap,
                 "%s.retry_on is an empty list, which matches no error class (NULL matches "
                 "every class)",
                 path);
        return false;
    }
    for (int i = 0; p->retry_on && p->retry_on[i]; i++) {
        if (!prefix_is_valid(p->retry_on[i])) {
            snprintf(err, cap,
                     "%s.retry_on[%d] '%.40s' is not an error class prefix "
                     "([A-Za-z0-9_.:]{1,128})",
                     path, i, p->retry_on[i]);
            return false;
        }
    }
    if (p->retry_on == NULL && p->or_else) {
        snprintf(err, cap,
                 "%s.or_else is never consulted: %s.retry_on is NULL, which matches every "
                 "class (put the catch-all last)",
                 path, path);
        return false;
    }
    return true;
}

bool cf_retry_policy_check(const cf_retry_policy *policy, const char *what, char *err, size_t cap)
{
    const cf_retry_policy *seen[CF_RETRY_CHAIN_MAX];
    char path[64 + 9 * CF_RETRY_CHAIN_MAX];
    snprintf(path, sizeof path, "%.63s", what ? what : "policy");
    size_t n = 0;
    for (const cf_retry_policy *p = policy; p; p = p->or_else) {
        for (size_t i = 0; i < n; i++) {
            if (seen[i] == p) {
                snprintf(err, cap, "%s points back to an earlier policy of its chain (a cycle)",
                         path);
                return false;
            }
        }
        if (n == CF_RETRY_CHAIN_MAX) {
            snprintf(err, cap, "%s: the or_else chain is longer than %d policies", what,
                     CF_RETRY_CHAIN_MAX);
            return false;
        }
        seen[n++] = p;
        if (!check_one(p, path, err, cap))
            return false;
        size_t len = strlen(path);
        snprintf(path + len, sizeof path - len, ".or_else");
    }
    return true;
}

static bool policy_matches(const cf_retry_policy *p, const char *error_class)
{
    if (p->retry_on == NULL)
        return true;
    for (const char *const *c = p->retry_on; *c; c++)
        if (cf_retry_class_matches(*c, error_class))
            return true;
    return false;
}

static void budget_key_of(const cf_retry_policy *p, char *out, size_t cap)
{
    if (p->retry_on == NULL) {
        snprintf(out, cap, "*");
        return;
    }
    size_t len = 0;
    out[0] = '\0';
    for (const char *const *c = p->retry_on; *c; c++) {
        int n = snprintf(out + len, cap - len, "%s%s", len ? "," : "", *c);
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
}

cf_retry_decision cf_retry_decide(const cf_retry_policy *policy, const char *error_class,
                                  json_t *counts)
{
    cf_retry_decision d = {.retry = false};
    const cf_retry_policy *p = policy;
    while (p && !policy_matches(p, error_class))
        p = p->or_else;
    if (p == NULL)
        return d;
    budget_key_of(p, d.budget_key, sizeof d.budget_key);
    json_int_t used = 1;
    if (json_is_object(counts)) {
        json_t *cur = json_object_get(counts, d.budget_key);
        if (json_is_integer(cur))
            used = json_integer_value(cur) + 1;
        json_object_set_new(counts, d.budget_key, json_integer(used));
    }
    d.budget_used = (int)used;
    d.budget_max = p->max_attempts;
    if (p->max_attempts > 0 && used >= p->max_attempts)
        return d;
    d.retry = true;
    d.delay_ms = cf_backoff_delay_ms(p->base_ms, p->cap_ms, (int)used, !p->no_jitter);
    return d;
}
