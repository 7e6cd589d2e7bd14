// SPDX-License-Identifier: MIT
/* tests/contract/decode_vectors.c: runs envelopes through cf_envelope_decode for the contract
 * tests. Reads one envelope per line on stdin as hex (an empty line is an empty payload) and
 * writes one line per envelope: the decoded fields as canonical JSON (sorted keys, compact;
 * absent kwargs/options print as {}, absent created_at as null), or `REFUSED <code> <field>`
 * (field may be empty), or `ERROR <status>` when decoding failed for another reason.
 * With --control, each line is a control request (SPEC §2, queue/control_request.h) instead: its
 * fields as canonical JSON (absent ones omitted; sent_at as a number), or `REFUSED <code>
 * <field>`.
 * Exits 0 when every line was handled, 2 on a malformed input line or I/O error. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/status.h"
#include "queue/control_request.h"
#include "queue/envelope.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* from_hex decodes n hex characters of s into out (n/2 bytes); false on odd length or a bad
 * digit. */
static int from_hex(const char *s, size_t n, unsigned char *out)
{
    if (n % 2 != 0)
        return 0;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return 1;
}

/* set_or_die adds value (stolen) to obj under name; the program cannot go on without it. */
static void set_or_die(json_t *obj, const char *name, json_t *value)
{
    if (value == NULL || json_object_set_new(obj, name, value) != 0) {
        fprintf(stderr, "decode_vectors: out of memory building '%s'\n", name);
        exit(2);
    }
}

static json_t *copy_or_empty(const json_t *v)
{
    return v ? json_deep_copy(v) : json_object();
}

/* print_decoded writes the fields of env as one canonical JSON line. */
static void print_decoded(const cf_envelope *env)
{
    json_t *o = json_object();
    if (o == NULL)
        exit(2);
    set_or_die(o, "v", json_integer((json_int_t)env->version));
    set_or_die(o, "jid", json_stringn(env->jid, strlen(env->jid)));
    set_or_die(o, "class", json_stringn(env->wf_class, strlen(env->wf_class)));
    set_or_die(o, "key", json_stringn(env->key, strlen(env->key)));
    set_or_die(o, "queue", json_stringn(env->queue, strlen(env->queue)));
    set_or_die(o, "kwargs", copy_or_empty(env->kwargs));
    set_or_die(o, "options", copy_or_empty(env->options));
    set_or_die(o, "retry_workflow", json_boolean(env->retry_workflow));
    set_or_die(o, "created_at", env->has_created_at ? json_real(env->created_at) : json_null());
    char *text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    if (text == NULL) {
        fprintf(stderr, "decode_vectors: json_dumps failed\n");
        exit(2);
    }
    printf("%s\n", text);
    free(text);
    json_decref(o);
}

/* print_control prints a decoded control request's fields as canonical JSON. */
static void print_control(const cf_control_request *r)
{
    json_t *o = json_object();
    if (o == NULL)
        exit(2);
    const struct {
        const char *name, *value;
    } f[] = {{"id", r->id},           {"op", r->op},
             {"class", r->wf_class},  {"key", r->key},
             {"reply", r->reply},     {"name", r->name},
             {"payload", r->payload}, {"signal_id", r->signal_id},
             {"reason", r->reason},   {"by", r->by}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].value)
            set_or_die(o, f[i].name, json_string(f[i].value));
    if (r->sent_at > 0)
        set_or_die(o, "sent_at", json_real(r->sent_at));
    char *text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        exit(2);
    printf("%s\n", text);
    free(text);
}

/* decode_control handles one control request line's bytes. */
static void decode_control(const unsigned char *raw, size_t len)
{
    cf_control_request r;
    cf_error err;
    memset(&err, 0, sizeof err);
    cf_status st = cf_control_request_decode(raw, len, &r, &err);
    if (st == CF_OK)
        print_control(&r);
    else if (err.code[0] != '\0')
        printf("REFUSED %s %s\n", err.code, err.field);
    else
        printf("ERROR %s\n", cf_status_str(st));
    cf_control_request_deinit(&r);
}

int main(int argc, char **argv)
{
    bool control = argc > 1 && strcmp(argv[1], "--control") == 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    unsigned long lineno = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        unsigned char *raw = malloc(len / 2 + 1);
        if (raw == NULL) {
            fprintf(stderr, "decode_vectors: out of memory\n");
            rc = 2;
            break;
        }
        if (!from_hex(line, len, raw)) {
            fprintf(stderr, "decode_vectors: line %lu is not hex\n", lineno);
            printf("BADHEX\n");
            free(raw);
            rc = 2;
            continue;
        }
        if (control) {
            decode_control(raw, len / 2);
            free(raw);
            fflush(stdout);
            continue;
        }
        cf_envelope env;
        cf_error err;
        memset(&env, 0, sizeof env);
        memset(&err, 0, sizeof err);
        cf_status st = cf_envelope_decode((const char *)raw, len / 2, NULL, &env, &err);
        if (st == CF_OK) {
            print_decoded(&env);
            cf_envelope_deinit(&env);
        } else if (err.code[0] != '\0') {
            printf("REFUSED %s %s\n", err.code, err.field);
        } else {
            printf("ERROR %s\n", cf_status_str(st));
        }
        free(raw);
        fflush(stdout);
    }
    free(line);
    if (ferror(stdin)) {
        fprintf(stderr, "decode_vectors: reading stdin failed\n");
        rc = 2;
    }
    return rc;
}
