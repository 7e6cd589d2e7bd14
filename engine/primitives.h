// SPDX-License-Identifier: MIT
/* engine/primitives.h: what the primitives of engine/primitives.c share with the other
 * primitives of the engine (engine/repeat.c): the checks every primitive makes before it looks
 * at its step, and the durable point before user code with outside effects runs. */
#ifndef CF_ENGINE_PRIMITIVES_H
#define CF_ENGINE_PRIMITIVES_H

#include <stddef.h>

#include "engine/run.h"

/* The longest name a primitive accepts. */
#define CF_STEP_NAME_MAX 200

/* cf_prim_precheck refuses calls a pass cannot honour (after a halt, inside a step, a name
 * that is empty, over CF_STEP_NAME_MAX bytes or contains '$') and writes "<prim>$<name>" into
 * step (cap bytes). Returns CF_FLOW_OK to go on. */
cf_flow cf_prim_precheck(cf_run *run, const char *prim, const char *name, char *step, size_t cap);

/* cf_prim_lookup finds the step's row (*out NULL when there is none); a state this release does
 * not know halts the pass. Returns CF_FLOW_OK to go on. */
cf_flow cf_prim_lookup(cf_run *run, const char *step, cf_run_step **out);

/* cf_prim_begin_execution: the shutdown check, then every earlier write made durable before
 * user code runs. Returns CF_FLOW_OK to go on. */
cf_flow cf_prim_begin_execution(cf_run *run);

/* The class and message of the error the last user call returned (a default when it returned
 * an error without cf_fail). */
const char *cf_prim_fail_class(cf_run *run);
const char *cf_prim_fail_message(cf_run *run);

#endif
