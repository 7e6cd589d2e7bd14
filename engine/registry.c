// SPDX-License-Identifier: MIT
/* engine/registry.c: cf_register and the class table (a small array; classes are few). */
#include "engine/registry.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "engine/retry.h"

static cf_workflow_def *g_defs;
static size_t g_count, g_cap;

static bool class_name_is_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

int cf_registry_check(const cf_workflow_def *def, char *err, size_t cap)
{
    if (def == NULL || def->fn == NULL || !class_name_is_valid(def->name)) {
        snprintf(err, cap,
                 "invalid workflow '%s' (name must be 1-128 characters of [A-Za-z0-9_.:] and fn "
                 "must be set)",
                 def && def->name ? def->name : "(null)");
        return -1;
    }
    char why[400];
    if (!cf_retry_policy_check(def->step_policy, "step_policy", why, sizeof why) ||
        !cf_retry_policy_check(def->workflow_policy, "workflow_policy", why, sizeof why)) {
        snprintf(err, cap, "workflow '%s': %s", def->name, why);
        return -1;
    }
    return 0;
}

int cf_register(const cf_workflow_def *def)
{
    char err[512];
    if (cf_registry_check(def, err, sizeof err) != 0) {
        log_error("event=register_refused: %s", err);
        return -1;
    }
    if (cf_registry_find(def->name)) {
        log_error("event=register_refused: workflow '%s' is already registered", def->name);
        return -1;
    }
    if (cf_grow(&g_defs, &g_cap, g_count, sizeof *g_defs, 16) != 0) {
        log_error("event=register_refused: out of memory");
        return -1;
    }
    g_defs[g_count++] = *def;
    return 0;
}

const cf_workflow_def *cf_registry_find(const char *name)
{
    for (size_t i = 0; i < g_count; i++)
        if (strcmp(g_defs[i].name, name) == 0)
            return &g_defs[i];
    return NULL;
}

size_t cf_registry_count(void)
{
    return g_count;
}

const cf_workflow_def *cf_registry_at(size_t i)
{
    return i < g_count ? &g_defs[i] : NULL;
}
