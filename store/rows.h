// SPDX-License-Identifier: MIT
/* store/rows.h: turns PGresult rows (column positions fixed in store/sql.h) into the store's own
 * row types, so no PGresult leaves store/ (internal to store/). */
#ifndef CF_STORE_ROWS_H
#define CF_STORE_ROWS_H

#include <libpq-fe.h>

#include "common/status.h"
#include "store/query.h"
#include "store/store.h"

/* cf_rows_wf fills *out (owned) from row i of res, workflow columns starting at column 0.
 * CF_ERR_NOMEM, or CF_ERR_PROTOCOL when a JSON column does not parse. */
CF_MUST_CHECK cf_status cf_rows_wf(const PGresult *res, int i, cf_wf_row *out);

/* cf_rows_steps appends every row of res to *out (owned). */
CF_MUST_CHECK cf_status cf_rows_steps(const PGresult *res, cf_step_list *out);

/* cf_rows_steps_range appends rows first .. first+n-1 of res to *out, the step columns
 * starting at column c0 (the batched statements put a request index before them). */
CF_MUST_CHECK cf_status cf_rows_steps_range(const PGresult *res, int first, int n, int c0,
                                            cf_step_list *out);

/* cf_rows_errors fills *rows and *n (an owned array) from every row of res. */
CF_MUST_CHECK cf_status cf_rows_errors(const PGresult *res, cf_error_row **rows, size_t *n);

/* cf_rows_refs fills *out (owned) from every row of res. */
CF_MUST_CHECK cf_status cf_rows_refs(const PGresult *res, cf_wf_ref_list *out);

/* cf_rows_i64 parses column c of row i as an int64; 0 when NULL. */
int64_t cf_rows_i64(const PGresult *res, int i, int c);

#endif
