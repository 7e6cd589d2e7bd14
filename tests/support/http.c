// SPDX-License-Identifier: MIT
/* tests/support/http.c: the test HTTP client (tests/support/http.h). */
#include "tests/support/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int cf_test_http(int port, const char *method, const char *path, const char *headers,
                 const char *body, char *out, size_t cap)
{
    out[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[8192];
    bool own_host = headers && strncasecmp(headers, "Host:", 5) == 0;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\n%sConnection: close\r\n%s", method, path,
                     own_host ? "" : "Host: 127.0.0.1\r\n", headers ? headers : "");
    if (body)
        n += snprintf(req + n, sizeof req - (size_t)n,
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    else
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    size_t len = 0;
    if (n > 0 && (size_t)n < sizeof req && write(fd, req, (size_t)n) == n)
        for (ssize_t k; len + 1 < cap && (k = read(fd, out + len, cap - 1 - len)) > 0;)
            len += (size_t)k;
    close(fd);
    out[len] = '\0';
    int status = -1;
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

const char *cf_test_http_body(const char *response)
{
    const char *b = strstr(response, "\r\n\r\n");
    return b ? b + 4 : "";
}
