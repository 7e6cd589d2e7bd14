// SPDX-License-Identifier: MIT
/* cli/cmd.h: the entry points of the commands (one file each, cli/cmd_<name>.c). */
#ifndef CF_CLI_CMD_H
#define CF_CLI_CMD_H

int cf_cli_cmd_worker(int argc, char **argv);
int cf_cli_cmd_enqueue(int argc, char **argv);
int cf_cli_cmd_requeue(int argc, char **argv);
int cf_cli_cmd_cancel(int argc, char **argv);
int cf_cli_cmd_signal(int argc, char **argv);
int cf_cli_cmd_status(int argc, char **argv);
int cf_cli_cmd_list(int argc, char **argv);
int cf_cli_cmd_stats(int argc, char **argv);
int cf_cli_cmd_dead(int argc, char **argv);
int cf_cli_cmd_migrate(int argc, char **argv);
int cf_cli_cmd_config(int argc, char **argv);
int cf_cli_cmd_heal(int argc, char **argv);
int cf_cli_cmd_cleanup(int argc, char **argv);
int cf_cli_cmd_classes(int argc, char **argv);
int cf_cli_cmd_workers(int argc, char **argv);
int cf_cli_cmd_health(int argc, char **argv);
int cf_cli_cmd_schedule(int argc, char **argv);
int cf_cli_cmd_queue(int argc, char **argv);
int cf_cli_cmd_dashboard(int argc, char **argv);

#endif
