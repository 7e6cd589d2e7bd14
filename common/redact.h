// SPDX-License-Identifier: MIT
/* common/redact.h: removes secrets from connection strings before they reach a log line or the
 * output of a command. Handles URLs (scheme://user:password@host/...) and libpq conninfo
 * (password=...). */
#ifndef CF_COMMON_REDACT_H
#define CF_COMMON_REDACT_H

#include <stddef.h>

/* cf_redact_dsn copies in into out (cap bytes, always terminated), replacing any password with
 * "***". Returns out. */
char *cf_redact_dsn(const char *in, char *out, size_t cap);

#endif
