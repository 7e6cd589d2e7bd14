// SPDX-License-Identifier: MIT
/* engine/primitive.h: what every durable primitive starts with (engine/primitives.c), shared
 * with the primitives that live in files of their own (engine/signals.c). */
#ifndef CF_ENGINE_PRIMITIVE_H
#define CF_ENGINE_PRIMITIVE_H

#include <stddef.h>

#include "engine/run.h"

/* cf_primitive_precheck refuses a call the pass cannot honour (after a halt, inside a step, a
 * name that is empty, over 200 bytes or holds '$') and writes the step's row name
 * "<prim>$<name>" into step. Returns CF_FLOW_OK to go on. */
cf_flow cf_primitive_precheck(cf_run *run, const char *prim, const char *name, char *step,
                              size_t cap);

/* cf_primitive_lookup finds the step's row (*out NULL: none yet); a state this release does not
 * know halts the pass there. Returns CF_FLOW_OK to go on. */
cf_flow cf_primitive_lookup(cf_run *run, const char *step, cf_run_step **out);

#endif
