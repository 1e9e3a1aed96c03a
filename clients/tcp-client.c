/* tcp-client: connects, prints "Connect HOST:PORT OK!", receives the reply
 * until EOF (with an overall deadline and a size cap) and prints
 * "Received: <reply>", escaped. The reply is checked strictly: a time
 * message by default, the echo of --send with --expect echo. The receive
 * path is core/session.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "netsock.h"
#include "session.h"
#include "sockio.h"

static const char *prog = "tcp-client";
static const char usage[] =
    "usage: tcp-client [--host ADDR] [--port N] [--send DATA] [--shutdown-write]\n"
    "                  [--expect time|echo|any] [--close-after-reply] [--timeout SEC]\n"
    "                  [--max BYTES]\n"
    "  --host ADDR          server address or name (default 127.0.0.1)\n"
    "  --port N             server port (default 3434)\n"
    "  --send DATA          send DATA after connecting\n"
    "  --shutdown-write     half-close (SHUT_WR) after sending\n"
    "  --expect E           time (default without --send), echo, any (default with --send)\n"
    "  --close-after-reply  close once the whole reply is in (the echo, or a full time\n"
    "                       message), before the server closes: the client becomes\n"
    "                       the active closer\n"
    "  --timeout SEC        deadline for connect and the whole exchange (default 5)\n"
    "  --max BYTES          largest reply accepted (default 65536)\n"
    "  --version            print the version and exit\n";

int main(int argc, char **argv)
{
    cli_check_stdout_at_exit(prog); /* a lost line is an error (exit 1), even --help */
    const char *host = WIRECHECK_DEFAULT_HOST;
    uint16_t port = WIRECHECK_DEFAULT_PORT;
    const char *send_data = NULL;
    bool shutdown_write = false, close_after_reply = false, expect_given = false;
    enum reply_expect expect = EXPECT_TIME;
    int64_t timeout_ms = 5000;
    size_t max = 65536;
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},   {"port", required_argument, NULL, 'p'},
        {"send", required_argument, NULL, 's'},   {"shutdown-write", no_argument, NULL, 'w'},
        {"expect", required_argument, NULL, 'e'}, {"close-after-reply", no_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'}, {"max", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H': host = optarg; break;
        case 'p': port = cli_port(prog, usage, "--port", optarg); break;
        case 's': send_data = optarg; break;
        case 'w': shutdown_write = true; break;
        case 'e':
            if (!reply_expect_parse(optarg, &expect))
                cli_usage_error(prog, usage, "invalid --expect '%s': expected time, echo or any", optarg);
            expect_given = true;
            break;
        case 'c': close_after_reply = true; break;
        case 't': timeout_ms = cli_seconds(prog, usage, "--timeout", optarg); break;
        case 'm': max = cli_uint(prog, usage, "--max", optarg, 1, 64u << 20); break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': cli_version(prog); return 0;
        default: cli_option_error(prog, usage, ch, argv);
        }
    }
    cli_no_operands(prog, usage, argc, argv);
    if (port == 0)
        cli_usage_error(prog, usage, "invalid --port '0': a client needs the server's port");
    if (!expect_given && send_data)
        expect = EXPECT_ANY;
    if (close_after_reply && (expect == EXPECT_ANY || (expect == EXPECT_ECHO && !send_data)))
        cli_usage_error(prog, usage, "--close-after-reply needs --expect time, or --send with --expect echo");

    cli_ignore_sigpipe();
    const struct sockio *io = &sockio_system;
    int64_t deadline = sockio_deadline_in(io, timeout_ms);
    struct net_addr addr;
    cli_resolve(prog, host, port, SOCK_STREAM, &addr);
    char where[NET_ADDRSTR_LEN], err[NET_ERR_LEN];
    net_format((const struct sockaddr *)&addr.ss, addr.len, where);
    int connect_errno;
    int fd = net_tcp_connect(&addr, timeout_ms, &connect_errno, err);
    if (fd < 0)
        cli_fail(prog, "%s", err);
    printf("Connect %s OK!\n", where);
    cli_flush_stdout(prog);

    uint8_t *buf = malloc(max);
    if (!buf)
        cli_fail(prog, "out of memory");
    struct tcp_client_opts opts = {
        .send = (const uint8_t *)send_data, .send_len = send_data ? strlen(send_data) : 0,
        .shutdown_write = shutdown_write, .close_after_reply = close_after_reply,
        .expect = expect, .deadline = deadline,
    };
    struct tcp_client_result res;
    bool ok = tcp_client_session(io, fd, &opts, buf, max, &res);
    if (res.reply_len > 0 || res.status == SIO_OK) {
        size_t cap = escape_bound(res.reply_len) + 1;
        char *text = malloc(cap);
        if (!text)
            cli_fail(prog, "out of memory");
        escape_bytes(buf, res.reply_len, text, cap);
        printf("Received: %s\n", text);
        cli_flush_stdout(prog);
        free(text);
    }
    close(fd);
    free(buf);
    if (!ok)
        cli_fail(prog, "%s: %s", where, res.why);
    return 0;
}
