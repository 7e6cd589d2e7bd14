// SPDX-License-Identifier: MIT
/* engine/registry.h: the process-wide table of registered workflow classes (cf_register), and
 * the lookup the executor does for every delivery. Registration happens before any thread starts;
 * lookups afterwards are read-only and need no lock. */
#ifndef CF_ENGINE_REGISTRY_H
#define CF_ENGINE_REGISTRY_H

#include <stddef.h>

#include "chronoforge.h"

/* cf_registry_check says whether def may be registered: a valid class name, a body, and retry
 * policies that make sense (cf_retry_policy_check on step_policy and workflow_policy, their
 * or_else chains included). Returns 0, or -1 with why in err (cap bytes), naming the field. It
 * does not look at the table (duplicates are cf_register's). */
int cf_registry_check(const cf_workflow_def *def, char *err, size_t cap);

/* cf_registry_find returns the definition registered under name, or NULL. */
const cf_workflow_def *cf_registry_find(const char *name);

/* cf_registry_count and cf_registry_at enumerate the classes in registration order (for
 * `chronoforge classes`); cf_registry_at returns NULL past the end. */
size_t cf_registry_count(void);
const cf_workflow_def *cf_registry_at(size_t i);

#endif
