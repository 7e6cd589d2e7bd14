/* bench/fsync_delay.c: a bench-only LD_PRELOAD shim (never linked into the library, the
 * binary or the tests) that makes fsync(2) and fdatasync(2) take longer, to measure the
 * writer where a commit costs milliseconds (this host's fsync is ~54 us: a host cache).
 * bench/run.sh restarts Postgres with it:
 *   LD_PRELOAD=build/release/bench/fsync_delay.so CF_FSYNC_DELAY_US=2000 postgres ...
 * Each call runs the real one, then sleeps CF_FSYNC_DELAY_US microseconds (default 2000;
 * 0 disables the delay). Built by `make bench` only. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

int fsync(int fd);
int fdatasync(int fd);

static long delay_us(void)
{
    const char *s = getenv("CF_FSYNC_DELAY_US");
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return 2000;
    v = strtol(s, &end, 10);
    return (*end == '\0' && v >= 0 && v <= 10000000) ? v : 2000;
}

/* Sleeps the configured delay in full (restarted after a signal), keeping errno. */
static void add_delay(void)
{
    long us = delay_us();
    int saved = errno;
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    while (us > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    errno = saved;
}

/* call_then_delay runs the real libc function (looked up once into *real), then the delay. */
static int call_then_delay(int (**real)(int), const char *name, int fd)
{
    if (*real == NULL)
        *(void **)real = dlsym(RTLD_NEXT, name);
    if (*real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    int rc = (*real)(fd);
    add_delay();
    return rc;
}

int fsync(int fd)
{
    static int (*real)(int);
    return call_then_delay(&real, "fsync", fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    return call_then_delay(&real, "fdatasync", fd);
}
