// SPDX-License-Identifier: MIT
/* workflows/payment.c: `PaymentCapture`: authorizes a payment, then halts (continue_if) until
 * the provider's webhook has confirmed it: the webhook handler records the confirmation and
 * enqueues the workflow again, which re-evaluates the condition. Here the provider's record is
 * a file whose path is kwargs.confirmation_file. kwargs: amount_cents (int), currency. */
#include <stdio.h>
#include <unistd.h>

#include "chronoforge.h"
#include "workflows/examples.h"

static cf_flow authorize(cf_run *run, void *arg)
{
    (void)arg;
    int64_t amount = cf_kwarg_int(run, "amount_cents", 0);
    if (amount <= 0)
        return cf_fail(run, "Payment.InvalidAmount", "amount_cents must be positive, got %lld",
                       (long long)amount);
    char auth[96];
    snprintf(auth, sizeof auth, "auth-%.80s", cf_run_key(run));
    return cf_ctx_set_once_str(run, "authorization", auth);
}

static cf_flow webhook_confirmed(cf_run *run, void *arg, bool *met)
{
    (void)arg;
    const char *path = cf_kwarg_str(run, "confirmation_file", NULL);
    if (path == NULL)
        return cf_fail(run, "Payment.Misconfigured", "kwargs.confirmation_file is missing");
    *met = access(path, F_OK) == 0;
    return CF_FLOW_OK;
}

static cf_flow capture(cf_run *run, void *arg)
{
    (void)arg;
    return cf_ctx_set_bool(run, "captured", true);
}

static cf_flow payment_capture(cf_run *run)
{
    CF_TRY(cf_durably_execute(run, "authorize", authorize, NULL, NULL));
    CF_TRY(cf_continue_if(run, "webhook_confirmed", webhook_confirmed, NULL));
    CF_TRY(cf_durably_execute(run, "capture", capture, NULL, NULL));
    return CF_FLOW_OK;
}

int cf_examples_register_payment(void)
{
    static const cf_workflow_def def = {
        .name = "PaymentCapture",
        .fn = payment_capture,
        .description = "authorize, continue_if the webhook confirmed, capture",
    };
    return cf_register(&def);
}
