// SPDX-License-Identifier: MIT
/* engine/registry.h: the process-wide table of registered workflow classes (cf_register), and
 * the lookup the executor does for every delivery. Registration happens before any thread starts;
 * lookups afterwards are read-only and need no lock. */
#ifndef CF_ENGINE_REGISTRY_H
#define CF_ENGINE_REGISTRY_H

#include <stddef.h>

#include "chronoforge.h"

/* cf_registry_find returns the definition registered under name, or NULL. */
const cf_workflow_def *cf_registry_find(const char *name);

#endif
