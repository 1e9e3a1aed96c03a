/* wirecheck: run the conformance matrix, or judge captures taken elsewhere.
 * Exit codes: 0 all checks passed, 1 a check failed, 2 usage or input error. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "wirecheck_version.h"

static void usage(FILE *to)
{
    fputs("usage: wirecheck run [CASE...] [--out DIR] [--junit FILE] [--server CMD] [--client CMD] [--ipv4|--ipv6]\n"
          "       wirecheck check FILE...\n"
          "       wirecheck check [--json] --write OUT.pcapng FILE\n"
          "       wirecheck list\n"
          "       wirecheck wireshark --install [--personal|--global]\n"
          "       wirecheck --version\n"
          "Exit status: 0 all checks passed, 1 a check failed, 2 usage or input error.\n",
          to);
}

int main(int argc, char **argv)
{
    /* A report that cannot be written is an error (exit 1), never a silent
     * pass: stdout is flushed, checked and closed at every exit. */
    cli_check_stdout_at_exit("wirecheck");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("wirecheck %s\n", WIRECHECK_VERSION);
        return 0;
    }
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "wireshark") == 0)
        return cmd_wireshark(argc - 1, argv + 1);
    fprintf(stderr, "wirecheck: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
