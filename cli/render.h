// SPDX-License-Identifier: MIT
/* cli/render.h: how workflows look on a terminal and in --json output. */
#ifndef CF_CLI_RENDER_H
#define CF_CLI_RENDER_H

#include <stdio.h>

#include <jansson.h>

#include "store/query.h"

void cf_render_detail_text(FILE *out, const cf_wf_detail *d);
void cf_render_detail_json(FILE *out, const cf_wf_detail *d);
void cf_render_list_text(FILE *out, const cf_wf_list *l);
void cf_render_list_json(FILE *out, const cf_wf_list *l);
/* The JSON objects the two functions above print (owned; NULL on OOM). */
json_t *cf_render_detail_obj(const cf_wf_detail *d);
json_t *cf_render_list_obj(const cf_wf_list *l);

/* cf_render_time writes a Unix-ms time as ISO-8601, or "-" for 0. */
void cf_render_time(int64_t ms, char *buf, unsigned cap);

#endif
