// SPDX-License-Identifier: MIT
/* cli/cmd_worker.c: `chronoforge worker`: signal handling (the library installs none) around
 * cf_worker_run. First SIGTERM/SIGINT: drain; second: stop at once (cf_worker_run abandons the
 * executors still inside steps and returns; the exit code 1 says so, and main ends the
 * process). SIGTSTP: quiet (take no new envelopes, finish what runs, stay up; `chronoforge
 * workers resume` undoes it). */
#include <signal.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cmd.h"
#include "http/server.h"
#include "worker/worker.h"

static cf_worker_signals g_signals;

static void on_quiet(int sig)
{
    (void)sig;
    atomic_store(&g_signals.quiet, true);
}

static void on_signal(int sig)
{
    (void)sig;
    if (atomic_load(&g_signals.drain))
        atomic_store(&g_signals.hard, true);
    atomic_store(&g_signals.drain, true);
}

int cf_cli_cmd_worker(int argc, char **argv)
{
    static const cf_cli_opt opts[] = {{0}};
    static const cf_cli_command_spec spec = {
        .usage = "worker [-q QUEUES] [-c CONCURRENCY] [options]",
        .summary = "Runs a worker: fetches envelopes from the queues (highest priority first) and "
                   "runs their workflows, CONCURRENCY at a time. SIGTERM/SIGINT drain gracefully "
                   "(running steps finish, nothing is stranded); a second signal stops at once "
                   "(exit code 1; what still runs is recovered by the fleet). SIGTSTP quiets it: "
                   "it takes no new envelopes, finishes what it runs and stays up until "
                   "`chronoforge workers resume`.",
        .opts = opts,
        .scope = CF_CFG_ALL | CF_CFG_WORKER,
    };
    cf_cli_args a;
    int rc = cf_cli_parse(argc, argv, &spec, &a);
    if (rc >= 0)
        return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_quiet;
    sigaction(SIGTSTP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Static: after CF_WORKER_ABANDONED, abandoned threads still read the settings. */
    static cf_config cfg;
    cfg = a.cfg;
    cf_worker_set_observer(&cf_http_observer); /* serves --metrics-listen when set */
    switch (cf_worker_run(&cfg, &g_signals)) {
    case CF_WORKER_DRAINED:
        return 0;
    case CF_WORKER_NOT_STARTED:
    case CF_WORKER_ABANDONED:
        break;
    }
    return 1;
}
