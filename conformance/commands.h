/* The subcommands of the wirecheck CLI. Each takes argv starting at its own
 * name and returns the process exit code (0 pass, 1 check failed, 2 usage or
 * input error). */
#ifndef WIRECHECK_COMMANDS_H
#define WIRECHECK_COMMANDS_H

#include <stdio.h>

int cmd_check(int argc, char **argv); /* check_cmd.c */
int cmd_run(int argc, char **argv);   /* run_cmd.c */
int cmd_list(int argc, char **argv);  /* run_cmd.c */
int cmd_wireshark(int argc, char **argv); /* wireshark_cmd.c */

/* `wirecheck check` with its streams given (check_cmd.c): cmd_check() is
 * check_command(argc, argv, stdout, stderr). */
int check_command(int argc, char **argv, FILE *out, FILE *err);

/* `wirecheck wireshark` with its streams given (wireshark_cmd.c). */
int wireshark_command(int argc, char **argv, FILE *out, FILE *err);

#endif
