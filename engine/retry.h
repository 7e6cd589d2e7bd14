// SPDX-License-Identifier: MIT
/* engine/retry.h: retry-policy decisions: resolution (per call → per workflow → built-in),
 * composite routing by error-class prefix, per-policy budgets kept in a JSON object
 * ({"<budget key>": count}, persisted by the caller in Postgres), and the backoff delay.
 * Attempts count executions, never visits or polls. */
#ifndef CF_ENGINE_RETRY_H
#define CF_ENGINE_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chronoforge.h"

/* Built-in presets: steps 3 attempts, base 1 s, cap 30 s; workflow-level 10 attempts, base 1 s,
 * cap 600 s. */
extern const cf_retry_policy cf_retry_step_default;
extern const cf_retry_policy cf_retry_workflow_default;

/* Links of an or_else chain, the first included, that a policy may have. */
#define CF_RETRY_CHAIN_MAX 16

/* cf_retry_policy_check says whether policy (and every policy chained by or_else) makes sense,
 * and otherwise writes why into err (cap bytes), naming the field as a path under what (e.g.
 * "step_policy.or_else.base_ms"). Refused: negative max_attempts, base_ms or cap_ms; cap_ms
 * (when set) below base_ms; no attempts cap (max_attempts 0) with no delay (base_ms 0), which
 * retries at once forever across the fleet; a retry_on list that is empty or holds a prefix
 * that is empty or not [A-Za-z0-9_.:]{1,128}; an or_else after a policy that matches every
 * class (retry_on NULL: it is never consulted); an or_else chain that loops or is longer than
 * CF_RETRY_CHAIN_MAX. policy NULL is fine (the default applies). */
bool cf_retry_policy_check(const cf_retry_policy *policy, const char *what, char *err, size_t cap);

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
