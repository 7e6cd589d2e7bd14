// SPDX-License-Identifier: MIT
/* store/states.c: the state tables of store/states.h, and lookups by name and by value. */
#include "store/states.h"

#include <stddef.h>
#include <string.h>

typedef struct wf_entry {
    const char *name;
    bool executable, requeueable;
} wf_entry;

typedef struct step_entry {
    const char *name;
    bool done;
} step_entry;

#define WF_ENTRY_(e, n, exec, requeue) [CF_WF_##e] = {n, exec, requeue},
#define STEP_ENTRY_(e, n, done)        [CF_STEP_##e] = {n, done},

static const wf_entry wf_states[CF_WF_STATE_COUNT] = {[CF_WF_UNKNOWN] = {"unknown", false, false},
                                                      CF_WF_STATE_TABLE(WF_ENTRY_)};

static const step_entry step_states[CF_STEP_STATE_COUNT] = {[CF_STEP_UNKNOWN] = {"unknown", false},
                                                            CF_STEP_STATE_TABLE(STEP_ENTRY_)};

cf_wf_state cf_wf_state_parse(const char *s)
{
    for (int i = 1; s && i < CF_WF_STATE_COUNT; i++)
        if (strcmp(s, wf_states[i].name) == 0)
            return (cf_wf_state)i;
    return CF_WF_UNKNOWN;
}

static bool wf_valid(cf_wf_state st)
{
    return (unsigned)st < CF_WF_STATE_COUNT;
}

const char *cf_wf_state_name(cf_wf_state st)
{
    return wf_states[wf_valid(st) ? st : CF_WF_UNKNOWN].name;
}

bool cf_wf_state_executable(cf_wf_state st)
{
    return wf_valid(st) && wf_states[st].executable;
}

bool cf_wf_state_retryable(cf_wf_state st)
{
    return wf_valid(st) && wf_states[st].requeueable;
}

bool cf_wf_state_finished(cf_wf_state st)
{
    return st == CF_WF_COMPLETED || st == CF_WF_FAILED || st == CF_WF_CANCELLED;
}

bool cf_wf_states_parse_csv(const char *csv, cf_wf_state *out, size_t cap, size_t *n,
                            const char **bad)
{
    *n = 0;
    for (const char *p = csv; p && *p;) {
        size_t len = strcspn(p, ",");
        char name[32];
        cf_wf_state st = CF_WF_UNKNOWN;
        if (len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            st = cf_wf_state_parse(name);
        }
        for (size_t i = 0; st != CF_WF_UNKNOWN && i < *n; i++)
            if (out[i] == st)
                st = CF_WF_UNKNOWN; /* a repeat */
        if (st == CF_WF_UNKNOWN || *n == cap) {
            *bad = p;
            return false;
        }
        out[(*n)++] = st;
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}

cf_step_state cf_step_state_parse(const char *s)
{
    for (int i = 1; s && i < CF_STEP_STATE_COUNT; i++)
        if (strcmp(s, step_states[i].name) == 0)
            return (cf_step_state)i;
    return CF_STEP_UNKNOWN;
}

const char *cf_step_state_name(cf_step_state st)
{
    return step_states[(unsigned)st < CF_STEP_STATE_COUNT ? st : CF_STEP_UNKNOWN].name;
}

bool cf_step_state_done(cf_step_state st)
{
    return (unsigned)st < CF_STEP_STATE_COUNT && step_states[st].done;
}
