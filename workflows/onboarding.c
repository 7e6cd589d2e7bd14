// SPDX-License-Identifier: MIT
/* workflows/onboarding.c: `Onboarding`: create an account, wait a while, send a welcome mail,
 * then a tips mail. kwargs: email (string), name (string), welcome_delay_ms (int, 2000).
 * The "mails" are recorded in the context (a real system would call its mailer; steps must be
 * idempotent because a step runs again if its worker dies mid-way). */
#include <stdio.h>
#include <string.h>

#include "chronoforge.h"
#include "workflows/examples.h"

static cf_flow create_account(cf_run *run, void *arg)
{
    (void)arg;
    const char *email = cf_kwarg_str(run, "email", NULL);
    if (email == NULL || strchr(email, '@') == NULL)
        return cf_fail(run, "Onboarding.InvalidEmail", "kwargs.email '%s' is not an address",
                       email ? email : "");
    char account[96];
    snprintf(account, sizeof account, "acct-%.80s", cf_run_key(run));
    return cf_ctx_set_once_str(run, "account_id", account);
}

static char welcome_kind[] = "welcome", tips_kind[] = "tips";

static cf_flow send_mail(cf_run *run, void *arg)
{
    const char *kind = arg;
    char note[300];
    snprintf(note, sizeof note, "%s mail to %s", kind, cf_kwarg_str(run, "email", "?"));
    return cf_ctx_set_str(run, kind, note);
}

static cf_flow onboarding(cf_run *run)
{
    CF_TRY(cf_durably_execute(run, "create_account", create_account, NULL, NULL));
    CF_TRY(cf_wait(run, "welcome_delay", cf_kwarg_int(run, "welcome_delay_ms", 2000)));
    CF_TRY(cf_durably_execute(run, "send_welcome", send_mail, welcome_kind, NULL));
    CF_TRY(cf_durably_execute(run, "send_tips", send_mail, tips_kind, NULL));
    return CF_FLOW_OK;
}

int cf_examples_register_onboarding(void)
{
    static const cf_workflow_def def = {
        .name = "Onboarding",
        .fn = onboarding,
        .description = "create account, wait, welcome mail, tips mail",
    };
    return cf_register(&def);
}
