// SPDX-License-Identifier: MIT
/* tests/support/http.h: a minimal HTTP/1.1 client for tests of the HTTP endpoints (one request
 * per connection, on 127.0.0.1). */
#ifndef CF_TESTS_SUPPORT_HTTP_H
#define CF_TESTS_SUPPORT_HTTP_H

#include <stddef.h>

/* cf_test_http sends method path to 127.0.0.1:port with extra header lines (each ending in
 * "\r\n"; may be NULL; "Host: 127.0.0.1" is sent unless they start with a Host line) and body (a
 * form, sent as application/x-www-form-urlencoded; NULL: none), and returns the status (-1: no
 * answer). The whole response (headers, blank line, body) goes into out (cap bytes,
 * NUL-terminated); cf_test_http_body points at its body. */
int cf_test_http(int port, const char *method, const char *path, const char *headers,
                 const char *body, char *out, size_t cap);
const char *cf_test_http_body(const char *response);

#endif
