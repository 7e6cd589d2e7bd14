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
