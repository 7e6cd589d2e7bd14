// SPDX-License-Identifier: MIT
/* engine/retry.h: retry-policy decisions: resolution (per call → per workflow → built-in),
 * composite routing by error-class prefix, per-policy budgets kept in a JSON object
 * ({"<budget key>": count}, persisted by the caller in Postgres), and the backoff delay.
 * Attempts count executions, never visits or polls. */
#ifndef CF_ENGINE_RETRY_H
#define CF_ENGINE_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "chronoforge.h"

/* Built-in presets: steps 3 attempts, base 1 s, cap 30 s; workflow-level 10 attempts, base 1 s,
 * cap 600 s. */
extern const cf_retry_policy cf_retry_step_default;
extern const cf_retry_policy cf_retry_workflow_default;

/* cf_retry_class_matches: does error_class fall under prefix (equal, or prefix + "." + ...)? */
bool cf_retry_class_matches(const char *prefix, const char *error_class);

typedef struct cf_retry_decision {
    bool retry;          /* schedule another execution */
    int64_t delay_ms;    /* when retry */
    int budget_used;     /* executions counted against the matched policy, this one included */
    int budget_max;      /* its max_attempts (0: no cap) */
    char budget_key[96]; /* "*" or the retry_on prefixes joined by "," ("" when none matched) */
} cf_retry_decision;

/* cf_retry_decide routes error_class through policy (a composite chain), increments the matched
 * policy's count in counts (a JSON object, modified in place; created keys are owned by it), and
 * decides whether to retry and after which delay. A class no policy matches is not retried. */
cf_retry_decision cf_retry_decide(const cf_retry_policy *policy, const char *error_class,
                                  json_t *counts);

#endif
