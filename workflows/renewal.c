// SPDX-License-Identifier: MIT
/* workflows/renewal.c: `SubscriptionRenewal`: activate a subscription, charge it once a month
 * with cf_durably_repeat (calendar months in the customer's time zone: a subscription started on
 * Jan 31 renews on Feb 28/29, then Mar 31, at the same wall-clock time), then close it.
 * kwargs: customer (string), plan_cents (int, 999), currency (string, "EUR"), tz (string,
 * "Europe/Berlin"), renewals (int, 12: charges before the subscription ends), every_ms (int, 0:
 * monthly; a fixed period instead, e.g. 1000 for a demo), start_at_ms (int, 0: now).
 *
 * A renewal is a tick: it runs at least once and completes at most once, so the charge carries
 * an idempotency key made of the subscription and the tick's scheduled time (what a payment API
 * dedups on if the worker dies after charging, before the tick is recorded). A renewal more than
 * 3 days late (after an outage) is skipped rather than charged late; a charge that keeps failing
 * is recorded and the next month is tried (on_error continue). The "charges" are recorded in the
 * context; a real system would call its payment provider. */
#include <inttypes.h>
#include <stdio.h>

#include "chronoforge.h"
#include "workflows/examples.h"

#define DAY_MS 86400000LL

static cf_flow activate(cf_run *run, void *arg)
{
    (void)arg;
    char id[128];
    snprintf(id, sizeof id, "sub-%.100s", cf_run_key(run));
    CF_TRY(cf_ctx_set_once_str(run, "subscription_id", id));
    return cf_ctx_set_str(run, "status", "active");
}

static cf_flow renew(cf_run *run, void *arg, int64_t tick_ms)
{
    (void)arg;
    char idempotency_key[200], charge[300];
    snprintf(idempotency_key, sizeof idempotency_key, "%s/%" PRId64,
             cf_ctx_get_str(run, "subscription_id", "?"), tick_ms);
    snprintf(charge, sizeof charge, "charged %" PRId64 " %s to %s (idempotency key %s)",
             cf_kwarg_int(run, "plan_cents", 999), cf_kwarg_str(run, "currency", "EUR"),
             cf_kwarg_str(run, "customer", "?"), idempotency_key);
    CF_TRY(cf_ctx_set_str(run, "last_charge", charge));
    CF_TRY(cf_ctx_set_int(run, "last_renewal_ms", tick_ms));
    return cf_ctx_set_int(run, "renewals", cf_ctx_get_int(run, "renewals", 0) + 1);
}

static cf_flow term_over(cf_run *run, void *arg, bool *met)
{
    (void)arg;
    *met = cf_ctx_get_int(run, "renewals", 0) >= cf_kwarg_int(run, "renewals", 12);
    return CF_FLOW_OK;
}

static cf_flow close_subscription(cf_run *run, void *arg)
{
    (void)arg;
    return cf_ctx_set_str(run, "status", "ended");
}

static cf_flow renewal(cf_run *run)
{
    CF_TRY(cf_durably_execute(run, "activate", activate, NULL, NULL));
    int64_t every_ms = cf_kwarg_int(run, "every_ms", 0);
    cf_repeat_opts opts = {
        .months = every_ms > 0 ? 0 : 1,
        .every_ms = every_ms > 0 ? every_ms : 0,
        .tz = cf_kwarg_str(run, "tz", "Europe/Berlin"),
        .start_at_ms = cf_kwarg_int(run, "start_at_ms", 0),
        .till = term_over,
        .timeout_ms = every_ms > 0 ? 10 * every_ms : 3 * DAY_MS,
        .on_error = CF_REPEAT_CONTINUE,
    };
    CF_TRY(cf_durably_repeat(run, "renew", renew, NULL, &opts));
    return cf_durably_execute(run, "close", close_subscription, NULL, NULL);
}

int cf_examples_register_renewal(void)
{
    static const cf_workflow_def def = {
        .name = "SubscriptionRenewal",
        .fn = renewal,
        .description = "activate, renew monthly (durably_repeat, months in a zone), close",
    };
    return cf_register(&def);
}
