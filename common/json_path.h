// SPDX-License-Identifier: MIT
/* common/json_path.h: looks up a value inside a JSON document by a small path language:
 * "name", "a.b", "items[2].sku", "[0]". Used by the kwargs accessors and the CLI. */
#ifndef CF_COMMON_JSON_PATH_H
#define CF_COMMON_JSON_PATH_H

#include <jansson.h>

/* cf_json_path_get returns the value at path in root (borrowed reference), or NULL when absent
 * or the path is malformed. An empty path returns root. */
json_t *cf_json_path_get(json_t *root, const char *path);

#endif
