// SPDX-License-Identifier: MIT
/* worker/registry.h: the process-wide table of registered workflow classes (cf_register), and
 * the lookup the executor does for every delivery. Registration happens before any thread starts;
 * lookups afterwards are read-only and need no lock. */
#ifndef CF_WORKER_REGISTRY_H
#define CF_WORKER_REGISTRY_H

#include <stddef.h>

#include "chronoforge.h"

/* cf_registry_find returns the definition registered under name, or NULL. */
const cf_workflow_def *cf_registry_find(const char *name);

/* cf_registry_count / cf_registry_at iterate the registered classes in registration order. */
size_t cf_registry_count(void);
const cf_workflow_def *cf_registry_at(size_t i);

/* cf_registry_clear forgets every class (tests). */
void cf_registry_clear(void);

#endif
