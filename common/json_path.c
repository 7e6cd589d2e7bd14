// SPDX-License-Identifier: MIT
/* common/json_path.c: "a.b[2].c" lookups over jansson values. */
#include "common/json_path.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

json_t *cf_json_path_get(json_t *root, const char *path)
{
    json_t *cur = root;
    const char *p = path ? path : "";
    while (*p && cur) {
        if (*p == '[') {
            p++;
            if (!isdigit((unsigned char)*p))
                return NULL;
            char *end;
            unsigned long idx = strtoul(p, &end, 10);
            if (*end != ']')
                return NULL;
            cur = json_is_array(cur) ? json_array_get(cur, idx) : NULL;
            p = end + 1;
            if (*p == '.')
                p++;
            continue;
        }
        size_t n = strcspn(p, ".[");
        if (n == 0)
            return NULL;
        if (!json_is_object(cur))
            return NULL;
        char name[257];
        if (n >= sizeof name)
            return NULL;
        memcpy(name, p, n);
        name[n] = '\0';
        cur = json_object_get(cur, name);
        p += n;
        if (*p == '.')
            p++;
    }
    return cur;
}
