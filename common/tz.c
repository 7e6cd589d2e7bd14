// SPDX-License-Identifier: MIT
/* common/tz.c: zones (common/tz.h): the TZif reader (RFC 8536, versions 1-4: the 64-bit block
 * and the footer rule of version 2+ files are used), the per-process zone cache, and the
 * conversions between instants and wall-clock time. Leap-second records are skipped: instants
 * are Unix (POSIX) time, as everywhere else in chronoforge. */
#include "common/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/tz_rule.h"

#define TZIF_MAX_BYTES (1 << 20) /* the largest zoneinfo file is ~4 KiB; refuse anything huge */
#define TZIF_HEADER    44

struct cf_tz {
    char name[CF_TZ_NAME_MAX + 1];
    size_t ntrans;
    int64_t *trans; /* Unix seconds, ascending */
    uint8_t *tidx;  /* the type in effect from trans[i] */
    size_t ntypes;
    int32_t *offs; /* each type's offset, seconds east */
    bool has_rule; /* the footer: instants from the last transition on */
    cf_tz_rule rule;
    struct cf_tz *next; /* the cache's list */
};

static int32_t utc_off = 0;
static const cf_tz utc_zone = {.name = "UTC", .ntypes = 1, .offs = &utc_off};

const cf_tz *cf_tz_utc(void)
{
    return &utc_zone;
}

const char *cf_tz_name(const cf_tz *tz)
{
    return tz->name;
}

/* ---- TZif ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static bool read_header(const uint8_t *p, size_t n, char *version, tzif_counts *c)
{
    if (n < TZIF_HEADER || memcmp(p, "TZif", 4) != 0)
        return false;
    *version = (char)p[4];
    *c = (tzif_counts){be32(p + 20), be32(p + 24), be32(p + 28),
                       be32(p + 32), be32(p + 36), be32(p + 40)};
    return c->type >= 1 && c->type <= 256 && c->chars >= 1 && c->time <= 100000 &&
           c->leap <= 10000 && (c->isut == 0 || c->isut == c->type) &&
           (c->isstd == 0 || c->isstd == c->type);
}

/* The size of a data block whose transition times are tsize bytes. */
static size_t block_size(const tzif_counts *c, size_t tsize)
{
    return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static cf_tz *fail(cf_tz *tz, cf_error *err, const char *name, const char *why)
{
    cf_tz_free(tz);
    cf_error_set(err, "bad_value", "tz", "time zone '%s': %s", name, why);
    return NULL;
}

cf_tz *cf_tz_parse(const char *name, const uint8_t *data, size_t n, cf_error *err)
{
    char version;
    tzif_counts c;
    if (!name || strlen(name) > CF_TZ_NAME_MAX)
        return fail(NULL, err, "", "bad name");
    if (!read_header(data, n, &version, &c))
        return fail(NULL, err, name, "not a TZif file (bad header)");
    size_t off = TZIF_HEADER, tsize = 4;
    if (version >= '2') { /* skip the 32-bit block: the 64-bit one follows with its header */
        size_t skip = block_size(&c, 4);
        if (n - off < skip || !read_header(data + off + skip, n - off - skip, &version, &c))
            return fail(NULL, err, name, "truncated TZif file");
        off += skip + TZIF_HEADER;
        tsize = 8;
    }
    if (n - off < block_size(&c, tsize))
        return fail(NULL, err, name, "truncated TZif file");
    cf_tz *tz = cf_calloc(1, sizeof *tz);
    if (!tz)
        return fail(NULL, err, name, "out of memory");
    snprintf(tz->name, sizeof tz->name, "%s", name);
    tz->ntrans = c.time;
    tz->ntypes = c.type;
    tz->trans = cf_calloc(c.time + 1, sizeof *tz->trans);
    tz->tidx = cf_calloc(c.time + 1, 1);
    tz->offs = cf_calloc(c.type, sizeof *tz->offs);
    if (!tz->trans || !tz->tidx || !tz->offs)
        return fail(tz, err, name, "out of memory");
    const uint8_t *p = data + off;
    for (size_t i = 0; i < c.time; i++, p += tsize) {
        tz->trans[i] = tsize == 8 ? be64(p) : (int32_t)be32(p);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return fail(tz, err, name, "transitions out of order");
    }
    for (size_t i = 0; i < c.time; i++, p++) {
        if (*p >= c.type)
            return fail(tz, err, name, "a transition names no type");
        tz->tidx[i] = *p;
    }
    for (size_t i = 0; i < c.type; i++, p += 6) {
        int32_t o = (int32_t)be32(p);
        if (o <= -25 * 3600 || o >= 26 * 3600 || p[4] > 1 || p[5] >= c.chars)
            return fail(tz, err, name, "a type is out of range");
        tz->offs[i] = o;
    }
    p += c.chars + (size_t)c.leap * (tsize + 4) + c.isstd + c.isut;
    if (version >= '2') { /* the footer: "\n<POSIX TZ rule>\n", the rule may be empty */
        size_t left = n - (size_t)(p - data);
        const uint8_t *nl = left > 1 && p[0] == '\n' ? memchr(p + 1, '\n', left - 1) : NULL;
        if (!nl || nl - p - 1 > 255)
            return fail(tz, err, name, "bad footer");
        char rule[256];
        memcpy(rule, p + 1, (size_t)(nl - p - 1));
        rule[nl - p - 1] = '\0';
        if (rule[0]) {
            if (!cf_tz_rule_parse(rule, &tz->rule))
                return fail(tz, err, name, "the footer is not a POSIX TZ rule");
            tz->has_rule = true;
        }
    }
    return tz;
}

void cf_tz_free(cf_tz *tz)
{
    if (!tz || tz == &utc_zone)
        return;
    cf_free(tz->trans);
    cf_free(tz->tidx);
    cf_free(tz->offs);
    cf_free(tz);
}

/* ---- Lookup by name ---- */

/* A zone name, never a path out of the zoneinfo tree. */
static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CF_TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
        return false;
    for (const char *s = name; *s; s++)
        if (!(('A' <= *s && *s <= 'Z') || ('a' <= *s && *s <= 'z') || ('0' <= *s && *s <= '9') ||
              strchr("_+-./", *s)))
            return false;
    for (const char *comp = name; comp; comp = strchr(comp, '/') ? strchr(comp, '/') + 1 : NULL) {
        size_t len = strcspn(comp, "/");
        if (len == 0 || (len == 1 && comp[0] == '.') || (len == 2 && strncmp(comp, "..", 2) == 0))
            return false;
    }
    return true;
}

static cf_tz *load(const char *name, cf_error *err)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : EISDIR;
        if (fd >= 0)
            close(fd);
        cf_error_set(err, "not_found", "tz",
                     "unknown time zone '%s' (%s in %s; is tzdata installed?)", name, strerror(e),
                     dir && *dir ? dir : "/usr/share/zoneinfo");
        return NULL;
    }
    if (st.st_size <= 0 || st.st_size > TZIF_MAX_BYTES) {
        close(fd);
        return fail(NULL, err, name, "file size out of range");
    }
    uint8_t *buf = cf_malloc((size_t)st.st_size);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0 && !(r < 0 && errno == EINTR))
            break;
        got += r > 0 ? (size_t)r : 0;
    }
    close(fd);
    cf_tz *tz = buf ? cf_tz_parse(name, buf, got, err) : fail(NULL, err, name, "out of memory");
    cf_free(buf);
    return tz;
}

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cf_tz *cache; /* every zone loaded, kept until exit */

const cf_tz *cf_tz_get(const char *name, cf_error *err)
{
    if (name && strcmp(name, "UTC") == 0)
        return &utc_zone;
    if (!name || !name_ok(name)) {
        cf_error_set(err, "bad_value", "tz",
                     "'%s' is not a time zone name (an IANA name such as Europe/Berlin, 1-%d "
                     "bytes of letters, digits and _+-./)",
                     name ? name : "", CF_TZ_NAME_MAX);
        return NULL;
    }
    pthread_mutex_lock(&cache_mu);
    cf_tz *tz = cache;
    while (tz && strcmp(tz->name, name) != 0)
        tz = tz->next;
    if (!tz && (tz = load(name, err)) != NULL) {
        tz->next = cache;
        cache = tz;
    }
    pthread_mutex_unlock(&cache_mu);
    return tz;
}

/* ---- Conversions ---- */

int32_t cf_tz_offset_at(const cf_tz *tz, int64_t utc_s)
{
    if (tz->ntrans == 0)
        return tz->has_rule ? cf_tz_rule_offset_at(&tz->rule, utc_s) : tz->offs[0];
    if (utc_s < tz->trans[0])
        return tz->offs[0]; /* RFC 8536: type 0 before the first transition */
    if (utc_s >= tz->trans[tz->ntrans - 1] && tz->has_rule)
        return cf_tz_rule_offset_at(&tz->rule, utc_s);
    size_t lo = 0, hi = tz->ntrans; /* the last transition at or before utc_s */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    return tz->offs[tz->tidx[lo]];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

void cf_tz_to_civil(const cf_tz *tz, int64_t utc_ms, cf_civil *out, int32_t *offset_s)
{
    int32_t off = cf_tz_offset_at(tz, floor_div(utc_ms, 1000));
    int64_t local = utc_ms + (int64_t)off * 1000;
    int64_t days = floor_div(local, 86400000);
    int64_t ms = local - days * 86400000;
    cf_civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(ms / 3600000);
    out->min = (int)(ms / 60000 % 60);
    out->sec = (int)(ms / 1000 % 60);
    out->ms = (int)(ms % 1000);
    if (offset_s)
        *offset_s = off;
}

/* A wall-clock time as seconds of a UTC-like count, out-of-range fields carried; *ms the rest. */
static int64_t local_seconds(const cf_civil *c, int *ms)
{
    int64_t months = (int64_t)c->year * 12 + (c->month - 1);
    int64_t y = floor_div(months, 12);
    int m = (int)(months - y * 12) + 1;
    int64_t total_ms = ((cf_days_from_civil(y, m, 1) + c->day - 1) * 86400 +
                        (int64_t)c->hour * 3600 + (int64_t)c->min * 60 + c->sec) *
                           1000 +
                       c->ms;
    int64_t s = floor_div(total_ms, 1000);
    *ms = (int)(total_ms - s * 1000);
    return s;
}

int cf_tz_from_civil(const cf_tz *tz, const cf_civil *local, int64_t out[2])
{
    int ms;
    int64_t l = local_seconds(local, &ms);
    /* The offsets before and after any transition near l (zones move by at most a day). */
    int32_t before = cf_tz_offset_at(tz, l - 90000), after = cf_tz_offset_at(tz, l + 90000);
    int64_t u[2];
    int n = 0;
    if (cf_tz_offset_at(tz, l - before) == before)
        u[n++] = l - before;
    if (after != before && cf_tz_offset_at(tz, l - after) == after)
        u[n++] = l - after;
    if (n == 2 && u[0] > u[1]) {
        int64_t t = u[0];
        u[0] = u[1];
        u[1] = t;
    }
    if (n > 0) {
        out[0] = u[0] * 1000 + ms;
        out[1] = u[n - 1] * 1000 + ms;
        return n;
    }
    /* A gap: the transition lies in (l - after, l - before]; find its first second. */
    int64_t lo = l - (after > before ? after : before), hi = l - (after > before ? before : after);
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cf_tz_offset_at(tz, mid) == before)
            lo = mid;
        else
            hi = mid;
    }
    out[0] = hi * 1000;
    out[1] = (l - before) * 1000 + ms;
    return 0;
}
