// SPDX-License-Identifier: MIT
/* cli/args.c: the shared argv parser and help printer. */
#include "cli/args.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chronoforge.h"
#include "common/log.h"

int cf_cli_fail(const char *cmd, const char *fmt, ...)
{
    fprintf(stderr, "chronoforge %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static void print_help(const char *cmd, const cf_cli_command_spec *spec)
{
    (void)cmd;
    printf("usage: chronoforge %s\n\n%s\n\noptions:\n", spec->usage, spec->summary);
    for (const cf_cli_opt *o = spec->opts; o && o->name; o++) {
        char flag[64];
        if (o->short_flag)
            snprintf(flag, sizeof flag, "-%c, --%s%s%s", o->short_flag, o->name,
                     o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
        else
            snprintf(flag, sizeof flag, "    --%s%s%s", o->name, o->arg_name ? " " : "",
                     o->arg_name ? o->arg_name : "");
        printf("  %-26s %s\n", flag, o->help);
    }
    printf("  %-26s %s\n", "    --version", "print the version");
    printf("  %-26s %s\n\nsettings (flag > environment > default):\n", "    --help", "this text");
    cf_config_print_help(stdout, spec->scope);
}

static const cf_cli_opt *find_opt(const cf_cli_command_spec *spec, const char *name, char sf)
{
    for (const cf_cli_opt *o = spec->opts; o && o->name; o++)
        if ((name && strcmp(o->name, name) == 0) || (!name && sf && o->short_flag == sf))
            return o;
    return NULL;
}

int cf_cli_parse(int argc, char **argv, const cf_cli_command_spec *spec, cf_cli_args *out)
{
    const char *cmd = argv[0];
    memset(out, 0, sizeof *out);
    cf_error err = {0};
    if (cf_config_load(&out->cfg, &err) != CF_OK)
        return cf_cli_fail(cmd, "%s", err.msg);
    const char *env_q = getenv("CHRONOFORGE_QUEUES");
    out->queues_given = env_q && *env_q;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(cmd, spec);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("chronoforge %s\n", cf_version());
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (out->npos == (int)(sizeof out->pos / sizeof out->pos[0]) ||
                out->npos >= spec->max_positional) {
                fprintf(stderr, "chronoforge %s: unexpected argument '%s'\nusage: chronoforge %s\n",
                        cmd, a, spec->usage);
                return 2;
            }
            out->pos[out->npos++] = a;
            continue;
        }
        char name[64] = "";
        char sf = 0;
        const char *inline_value = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (n == 0 || n >= sizeof name)
                goto unknown;
            memcpy(name, a + 2, n);
            name[n] = '\0';
            inline_value = eq ? eq + 1 : NULL;
        } else if (a[2] == '\0') {
            sf = a[1];
        } else {
            goto unknown;
        }
        const cf_cli_opt *o = find_opt(spec, sf ? NULL : name, sf);
        const cf_config_key *k = o ? NULL : cf_config_find_flag(sf ? NULL : name, sf);
        if (k && !(k->scope & spec->scope))
            k = NULL;
        if (!o && !k)
            goto unknown;
        if (o && o->flag) {
            *o->flag = true;
            continue;
        }
        const char *value = inline_value;
        if (value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "chronoforge %s: %s needs a value\n", cmd, a);
                return 2;
            }
            value = argv[++i];
        }
        if (o) {
            *o->value = value;
        } else {
            if (cf_config_set(&out->cfg, k, value, "command line", &err) != CF_OK)
                return cf_cli_fail(cmd, "%s", err.msg);
            if (strcmp(k->name, "queues") == 0)
                out->queues_given = true;
        }
        continue;
    unknown:
        fprintf(stderr, "chronoforge %s: unknown option '%s' (see --help)\n", cmd, a);
        return 2;
    }
    if (out->npos < spec->min_positional) {
        fprintf(stderr, "chronoforge %s: missing arguments\nusage: chronoforge %s\n", cmd,
                spec->usage);
        return 2;
    }
    cf_log_level lvl = CF_LOG_INFO;
    (void)cf_log_level_parse(out->cfg.log_level, &lvl); /* validated by cf_config_set */
    cf_log_set_level(lvl);
    cf_log_format fmt = CF_LOG_LOGFMT;
    (void)cf_log_format_parse(out->cfg.log_format, &fmt); /* validated by cf_config_set */
    cf_log_set_format(fmt);
    return -1;
}
