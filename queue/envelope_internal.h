// SPDX-License-Identifier: MIT
/* queue/envelope_internal.h: rules shared by the envelope decoder (queue/envelope.c) and encoder
 * (queue/envelope_encode.c), and visible to their tests: UTF-8 validity, the per-field checks of
 * SPEC §1, reserved kwargs names. Not for other modules: they use queue/envelope.h. */
#ifndef CF_QUEUE_ENVELOPE_INTERNAL_H
#define CF_QUEUE_ENVELOPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/status.h"

#define CF_ENVELOPE_JID_MAX          64
#define CF_ENVELOPE_CLASS_MAX        128
#define CF_ENVELOPE_KEY_MAX          256
#define CF_ENVELOPE_QUEUE_MAX        64
#define CF_ENVELOPE_REQUESTED_BY_MAX 256  /* requested_by: 1 to this many bytes */
#define CF_ENVELOPE_REASON_MAX       1024 /* reason: 0 to this many bytes */

/* cf_envelope_utf8_is_valid says whether s[0..len) is well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), the same rule jansson applies. */
bool cf_envelope_utf8_is_valid(const char *s, size_t len);

/* cf_envelope_check_text checks a string value: no NUL (bad_value), valid UTF-8 (bad_utf8).
 * Returns CF_OK or CF_ERR_INVALID with err (may be NULL) naming field. */
CF_MUST_CHECK cf_status cf_envelope_check_text(const char *s, size_t len, const char *field,
                                               cf_error *err);

/* cf_envelope_check_field checks one of the top-level string fields by name ("jid", "class",
 * "key", "queue"): length, then text rules, then charset. Refusals are bad_value or bad_utf8
 * with err->field = name. */
CF_MUST_CHECK cf_status cf_envelope_check_field(const char *name, const char *s, size_t len,
                                                cf_error *err);

/* cf_envelope_is_reserved says whether a kwargs key is one of SPEC §1's reserved names. */
bool cf_envelope_is_reserved(const char *key, size_t len);

/* cf_envelope_check_max_duration checks options.max_duration when present: a number >= 0 of
 * seconds or a duration string (common/duration.h). Refusals name "options.max_duration":
 * wrong_type or bad_value. Borrows options (an object). */
CF_MUST_CHECK cf_status cf_envelope_check_max_duration(const json_t *options, cf_error *err);

#endif
