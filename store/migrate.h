// SPDX-License-Identifier: MIT
/* store/migrate.h: the schema of SPEC §3 as versioned SQL kept in the binary, and the
 * migration that creates or upgrades it. Safe when many processes migrate at once (a
 * transaction-scoped advisory lock serialises them); records each applied version in
 * chronoforge_schema_migrations; refuses tables of the same names that it did not create. */
#ifndef CF_STORE_MIGRATE_H
#define CF_STORE_MIGRATE_H

#include <stddef.h>

#include "common/status.h"

/* The newest schema version this binary knows. */
#define CF_SCHEMA_VERSION 6

/* cf_store_migrate connects to dsn (conninfo or URI, borrowed), and applies every missing
 * migration, each in its own transaction under the advisory lock; a no-op when up to date.
 * Errors, with a one-line reason in err->msg (err may be NULL; never a password):
 * CF_ERR_STATE when a chrono_forge_* table exists that this tool did not create (for example a
 * Ruby ChronoForge database, whose state column is an integer) or the database's schema is
 * newer than this binary and not one it runs on (a newer one it runs on is left as it is);
 * CF_ERR_UNAVAILABLE when the server cannot be reached; CF_ERR_IO on a failed statement. Blocks. */
CF_MUST_CHECK cf_status cf_store_migrate(const char *dsn, cf_error *err);

/* cf_store_migrate_counted is cf_store_migrate that also reports how many migrations this call
 * applied in *applied (0 when the schema was already current). */
CF_MUST_CHECK cf_status cf_store_migrate_counted(const char *dsn, int *applied, cf_error *err);

/* cf_store_migrate_to is cf_store_migrate_counted stopping at schema version `version` (1 to
 * CF_SCHEMA_VERSION; CF_ERR_INVALID otherwise): tests build an older database with it to check
 * the upgrade of its data. A database already past `version` is left as it is. */
CF_MUST_CHECK cf_status cf_store_migrate_to(const char *dsn, int version, int *applied,
                                            cf_error *err);

/* cf_store_schema_check says whether this binary runs on the schema at dsn: CF_OK when its
 * version is CF_SCHEMA_VERSION, or newer and every newer migration was recorded as one that
 * binaries of this version still run on (SPEC §3, "Which binaries run on a schema").
 * *version receives the applied version (-1 when it could not be read). CF_ERR_STATE with a
 * one-line reason in err when the schema is older (run migrate), newer and not for this binary,
 * or foreign; CF_ERR_UNAVAILABLE / CF_ERR_IO when Postgres could not be read. Blocks. */
CF_MUST_CHECK cf_status cf_store_schema_check(const char *dsn, int *version, cf_error *err);

/* cf_store_schema_version reads the applied schema version through dsn: 0 when none, -1 with
 * err (may be NULL) filled when the database cannot be read or holds foreign tables (err->code
 * is the status's name: "unavailable", "state", ...). Blocks. */
int cf_store_schema_version(const char *dsn, cf_error *err);

#endif
