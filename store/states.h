// SPDX-License-Identifier: MIT
/* store/states.h: workflow and step states as enums, and the one table per enum that maps them
 * to the strings stored in Postgres and shown in JSON (SPEC §3). Strings exist only at that
 * boundary: rows are parsed with cf_wf_state_parse / cf_step_state_parse, written with the
 * *_name functions. A string this binary does not know (a newer release's state, during a
 * rolling deploy) parses to CF_WF_UNKNOWN / CF_STEP_UNKNOWN, which is never executable.
 *
 * A new state is one line in its table below (the enum and the name table are generated). */
#ifndef CF_STORE_STATES_H
#define CF_STORE_STATES_H

#include <stdbool.h>
#include <stddef.h>

/* X(ENUM, "sql name", a run may begin on it, a requeue resumes it (store/requeue.h)) */
#define CF_WF_STATE_TABLE(X)                                                                       \
    X(IDLE, "idle", true, false)                                                                   \
    X(RUNNING, "running", true, false)                                                             \
    X(COMPLETED, "completed", false, false)                                                        \
    X(FAILED, "failed", false, true)                                                               \
    X(STALLED, "stalled", false, true)                                                             \
    X(CANCELLING, "cancelling", true, false)                                                       \
    X(CANCELLED, "cancelled", false, false)

/* X(ENUM, "sql name", a replay skips the step) */
#define CF_STEP_STATE_TABLE(X)                                                                     \
    X(PENDING, "pending", false)                                                                   \
    X(COMPLETED, "completed", true)                                                                \
    X(FAILED, "failed", false)

#define CF_STATES_ENUM_WF_(e, name, exec, requeue) CF_WF_##e,
#define CF_STATES_ENUM_STEP_(e, name, done)        CF_STEP_##e,

typedef enum cf_wf_state {
    CF_WF_UNKNOWN = 0, /* a string this binary does not know; never executable */
    CF_WF_STATE_TABLE(CF_STATES_ENUM_WF_) CF_WF_STATE_COUNT
} cf_wf_state;

typedef enum cf_step_state {
    CF_STEP_UNKNOWN = 0, /* a string this binary does not know; a replay does not go past it */
    CF_STEP_STATE_TABLE(CF_STATES_ENUM_STEP_) CF_STEP_STATE_COUNT
} cf_step_state;

/* cf_wf_state_parse returns the state named s (exact, case-sensitive), or CF_WF_UNKNOWN for
 * NULL or any other string. */
cf_wf_state cf_wf_state_parse(const char *s);

/* cf_wf_state_name returns the stored string of st; "unknown" for CF_WF_UNKNOWN or a value
 * out of range. Static storage. */
const char *cf_wf_state_name(cf_wf_state st);

/* cf_wf_state_executable: may a run begin on a workflow in state st (idle, running,
 * cancelling: its on_cancel pass)?
 * CF_WF_UNKNOWN: never. */
bool cf_wf_state_executable(cf_wf_state st);

/* cf_wf_state_retryable: is st a state a requeue resumes (stalled, failed)? CF_WF_UNKNOWN:
 * never. */
bool cf_wf_state_retryable(cf_wf_state st);

/* cf_wf_state_finished: is st a state a workflow never leaves on its own, that retention may
 * delete (completed, failed, cancelled)? Stalled waits for an operator, so it is not. */
bool cf_wf_state_finished(cf_wf_state st);

/* cf_wf_states_parse_csv parses "completed,failed" into out (at most cap states, no
 * duplicates); false, with *bad pointing at the offending name's start, when a name is unknown,
 * repeated or there are too many. An empty list parses to none. */
bool cf_wf_states_parse_csv(const char *csv, cf_wf_state *out, size_t cap, size_t *n,
                            const char **bad);

cf_step_state cf_step_state_parse(const char *s);
const char *cf_step_state_name(cf_step_state st);

/* cf_step_state_done: a replay skips a step in state st (completed). */
bool cf_step_state_done(cf_step_state st);

#endif
