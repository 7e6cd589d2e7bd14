// SPDX-License-Identifier: MIT
/* cli/commands.c: the command table. Adding a command: write cli/cmd_<name>.c (its options and a
 * body run by cf_cli_run, cli/runner.h), declare its entry point in cli/cmd.h, add a row. */
#include "cli/commands.h"

#include <stddef.h>

#include "cli/cmd.h"

const cf_cli_command cf_cli_commands[] = {
    {"worker", "run a worker (-q QUEUES, -c CONCURRENCY)", cf_cli_cmd_worker},
    {"enqueue", "enqueue a workflow: CLASS KEY [--kwargs JSON] [--options JSON] [--in | --at]",
     cf_cli_cmd_enqueue},
    {"requeue", "resume a stalled or failed workflow (retry_later)", cf_cli_cmd_requeue},
    {"cancel", "cancel a workflow (on_cancel runs, then it is cancelled)", cf_cli_cmd_cancel},
    {"signal", "send a signal to a workflow: KEY NAME --class C [--payload JSON] [--id ID]",
     cf_cli_cmd_signal},
    {"status", "one workflow: state, steps, errors, context", cf_cli_cmd_status},
    {"list", "workflows by state and class", cf_cli_cmd_list},
    {"stats", "queue depths, live and quiet workers, workflows by state", cf_cli_cmd_stats},
    {"workers", "live workers (heartbeat, queues, busy, quiet); quiet|resume ID|--all",
     cf_cli_cmd_workers},
    {"classes", "the registered workflow classes: description, queue, policies",
     cf_cli_cmd_classes},
    {"dead", "dead letters: list, retry, purge", cf_cli_cmd_dead},
    {"schedule", "schedules: add, list, pause, resume, remove, run", cf_cli_cmd_schedule},
    {"queue", "pause or resume a queue: pause|resume QUEUE", cf_cli_cmd_queue},
    {"migrate", "create or upgrade the Postgres schema", cf_cli_cmd_migrate},
    {"config", "print the effective settings", cf_cli_cmd_config},
    {"health", "is a worker alive (or, --ready, ready)? asks its --metrics-listen endpoint",
     cf_cli_cmd_health},
    {"dashboard", "serve the web dashboard (--listen ADDR:PORT; actions need a token)",
     cf_cli_cmd_dashboard},
    {"heal", "one healing pass: republish what the store says is stranded (--dry-run)",
     cf_cli_cmd_heal},
    {"cleanup", "delete finished workflows older than --older-than, with their logs",
     cf_cli_cmd_cleanup},
    {NULL, NULL, NULL},
};
