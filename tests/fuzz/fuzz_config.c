// SPDX-License-Identifier: MIT
/* tests/fuzz/fuzz_config.c: libFuzzer target for the settings parser (cf_config_set over the
 * table of worker/config.c). The first byte picks the setting, the rest is its value. A refused
 * value carries a code and leaves the typed field unchanged; an accepted one is within the
 * setting's range (integers 1-100000, durations >= 0, strings terminated, queues 1-16 valid
 * names); `config` output and help never crash.
 * fuzz-srcs: worker/config.c common/duration.c common/redact.c common/status.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;
static cf_config base;

static void check_queues(const cf_config *cfg)
{
    if (cfg->nqueues < 1 || cfg->nqueues > CF_MAX_QUEUES)
        abort();
    for (int i = 0; i < cfg->nqueues; i++) {
        size_t n = strnlen(cfg->queues[i], sizeof cfg->queues[i]);
        if (n == 0 || n > 64 ||
            strspn(cfg->queues[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                   "OPQRSTUVWXYZ0123456789_.-") != n)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
        cf_error err;
        if (devnull == NULL || cf_config_load(&base, &err) != CF_OK)
            abort();
    }
    if (size == 0)
        return 0;
    const cf_config_key *key = &cf_config_keys[data[0] % cf_config_nkeys];
    char *value = malloc(size);
    if (value == NULL)
        return 0;
    memcpy(value, data + 1, size - 1);
    value[size - 1] = '\0';
    cf_config cfg = base;
    cf_error err;
    char *field = (char *)&cfg + key->offset;
    const char *before = (const char *)&base + key->offset;
    if (cf_config_set(&cfg, key, value, "fuzz", &err) != CF_OK) {
        if (err.code[0] == '\0')
            abort();
        if (key->kind == CF_CFG_INT && memcmp(field, before, sizeof(int)) != 0)
            abort();
        if (key->kind == CF_CFG_DURATION && memcmp(field, before, sizeof(int64_t)) != 0)
            abort();
        free(value);
        return 0;
    }
    switch (key->kind) {
    case CF_CFG_STR:
    case CF_CFG_URL:
        if (strnlen(field, key->size) >= key->size || strcmp(field, value) != 0)
            abort();
        if (key->offset == offsetof(cf_config, queues_csv))
            check_queues(&cfg);
        break;
    case CF_CFG_INT: {
        int v;
        memcpy(&v, field, sizeof v);
        if (v < 1 || v > 100000)
            abort();
        break;
    }
    case CF_CFG_DURATION: {
        int64_t v;
        memcpy(&v, field, sizeof v);
        if (v < 0)
            abort();
        break;
    }
    case CF_CFG_BOOL: /* only "on" and "off" are accepted, and they set it */
        if ((strcmp(value, "on") != 0 && strcmp(value, "off") != 0) ||
            *(const bool *)(const void *)field != (strcmp(value, "on") == 0))
            abort();
        break;
    }
    cf_config_show(&cfg, devnull);
    free(value);
    return 0;
}
