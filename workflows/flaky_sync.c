// SPDX-License-Identifier: MIT
/* workflows/flaky_sync.c: `FlakyApiSync`: calls a partner API that fails now and then, under a
 * composite retry policy: timeouts (Net.*) are retried quickly and often, rate limits
 * (Api.RateLimited) slowly, anything else never. kwargs: timeouts (int, 2) and rate_limits
 * (int, 1): how many leading attempts fail with each (the partner is simulated). */
#include <stddef.h>

#include "chronoforge.h"
#include "workflows/examples.h"

static const char *const net_errors[] = {"Net", NULL};
static const char *const rate_errors[] = {"Api.RateLimited", NULL};
static const cf_retry_policy rate_policy = {
    .max_attempts = 4, .base_ms = 400, .cap_ms = 2000, .retry_on = rate_errors};
static const cf_retry_policy sync_policy = {.max_attempts = 6,
                                            .base_ms = 100,
                                            .cap_ms = 1000,
                                            .retry_on = net_errors,
                                            .or_else = &rate_policy};

static cf_flow call_partner(cf_run *run, void *arg)
{
    (void)arg;
    int attempt = cf_run_attempt(run);
    int64_t timeouts = cf_kwarg_int(run, "timeouts", 2);
    int64_t rate_limits = cf_kwarg_int(run, "rate_limits", 1);
    if (attempt <= timeouts)
        return cf_fail(run, "Net.Timeout", "partner did not answer within 5s (attempt %d)",
                       attempt);
    if (attempt <= timeouts + rate_limits)
        return cf_fail(run, "Api.RateLimited", "partner said 429 (attempt %d)", attempt);
    return cf_ctx_set_int(run, "synced_records", 42);
}

static cf_flow flaky_sync(cf_run *run)
{
    CF_TRY(cf_durably_execute(run, "call_partner", call_partner, NULL, &sync_policy));
    return CF_FLOW_OK;
}

int cf_examples_register_flaky_sync(void)
{
    static const cf_workflow_def def = {
        .name = "FlakyApiSync",
        .fn = flaky_sync,
        .description = "a flaky partner API under a composite retry policy",
    };
    return cf_register(&def);
}
