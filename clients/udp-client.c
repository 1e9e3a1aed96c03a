/* udp-client: sends "Hello UDP!" (or --message / --size bytes) to the
 * server and prints "Sent: ... to HOST:PORT". With --expect-reply it waits
 * for the echo, retrying, and accepts it only from the server's address; a
 * closed port (ICMP port unreachable) is reported as connection refused. */
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

static const char *prog = "udp-client";
static const char usage[] =
    "usage: udp-client [--host ADDR] [--port N] [--message M] [--size N] [--expect-reply]\n"
    "                  [--timeout SEC] [--retries N]\n"
    "  --host ADDR      server address or name (default 127.0.0.1)\n"
    "  --port N         server port (default 3434)\n"
    "  --message M      datagram text (default \"Hello UDP!\")\n"
    "  --size N         send N bytes (the message repeated) instead of the message once\n"
    "  --expect-reply   wait for the echo from the server's address\n"
    "  --timeout SEC    wait per try (default 1)\n"
    "  --retries N      tries in all with --expect-reply (default 3)\n"
    "  --version        print the version and exit\n";

int main(int argc, char **argv)
{
    cli_check_stdout_at_exit(prog); /* a lost line is an error (exit 1), even --help */
    const char *host = WIRECHECK_DEFAULT_HOST, *message = "Hello UDP!";
    uint16_t port = WIRECHECK_DEFAULT_PORT;
    size_t size = 0;
    bool expect_reply = false;
    int64_t timeout_ms = 1000;
    unsigned long tries = 3;
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},    {"port", required_argument, NULL, 'p'},
        {"message", required_argument, NULL, 'M'}, {"size", required_argument, NULL, 'S'},
        {"expect-reply", no_argument, NULL, 'e'},  {"timeout", required_argument, NULL, 't'},
        {"retries", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H': host = optarg; break;
        case 'p': port = cli_port(prog, usage, "--port", optarg); break;
        case 'M': message = optarg; break;
        case 'S': size = cli_uint(prog, usage, "--size", optarg, 1, 65507); break;
        case 'e': expect_reply = true; break;
        case 't': timeout_ms = cli_seconds(prog, usage, "--timeout", optarg); break;
        case 'r': tries = cli_uint(prog, usage, "--retries", optarg, 1, 100); break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': cli_version(prog); return 0;
        default: cli_option_error(prog, usage, ch, argv);
        }
    }
    cli_no_operands(prog, usage, argc, argv);
    if (port == 0)
        cli_usage_error(prog, usage, "invalid --port '0': a client needs the server's port");
    size_t msg_len = strlen(message);
    if (size && msg_len == 0)
        cli_usage_error(prog, usage, "--size needs a non-empty --message to repeat");

    size_t len = size ? size : msg_len;
    uint8_t *payload = malloc(len ? len : 1);
    uint8_t *reply = malloc(65536);
    if (!payload || !reply)
        cli_fail(prog, "out of memory");
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)message[i % msg_len];

    cli_ignore_sigpipe();
    struct net_addr addr;
    cli_resolve(prog, host, port, SOCK_DGRAM, &addr);
    char where[NET_ADDRSTR_LEN], err[NET_ERR_LEN];
    net_format((const struct sockaddr *)&addr.ss, addr.len, where);
    int fd = net_udp_connect(&addr, err);
    if (fd < 0)
        cli_fail(prog, "%s", err);

    const struct sockio *io = &sockio_system;
    struct udp_exchange ex;
    udp_client_exchange(io, fd, (const struct sockaddr *)&addr.ss, payload, len,
                        expect_reply ? (unsigned)tries : 1, expect_reply ? timeout_ms : 0,
                        reply, 65536, &ex);
    if (ex.sent) {
        if (size) {
            printf("Sent: %zu bytes to %s\n", len, where);
        } else {
            char text[4096];
            escape_bytes(payload, len, text, sizeof text);
            printf("Sent: %s to %s\n", text, where);
        }
        cli_flush_stdout(prog);
    }
    int rc = 0;
    if (ex.status == SIO_OK && ex.replied) {
        char *text = malloc(escape_bound(ex.reply_len) + 1);
        if (!text)
            cli_fail(prog, "out of memory");
        escape_bytes(reply, ex.reply_len, text, escape_bound(ex.reply_len) + 1);
        printf("Received: %s from %s\n", text, where);
        free(text);
        if (ex.reply_len != len || memcmp(reply, payload, len) != 0) {
            fprintf(stderr, "%s: %s: reply differs from what was sent (%zu bytes back, %zu sent)\n",
                    prog, where, ex.reply_len, len);
            rc = EXIT_RUNTIME;
        }
    } else if (ex.status == SIO_REFUSED) {
        fprintf(stderr, "%s: %s: connection refused (ICMP port unreachable: nothing listens there)\n",
                prog, where);
        rc = EXIT_RUNTIME;
    } else if (ex.status == SIO_TIMEOUT) {
        fprintf(stderr, "%s: %s: no reply after %u tries of %lld ms\n", prog, where, ex.tries_used,
                (long long)timeout_ms);
        rc = EXIT_RUNTIME;
    } else if (ex.status != SIO_OK) {
        fprintf(stderr, "%s: send to %s: %s\n", prog, where,
                ex.status == SIO_ERROR ? strerror(ex.err) : sio_status_text(ex.status));
        rc = EXIT_RUNTIME;
    }
    if (ex.foreign_dropped)
        fprintf(stderr, "%s: ignored %u datagrams from other addresses\n", prog, ex.foreign_dropped);
    cli_flush_stdout(prog);
    close(fd);
    free(payload);
    free(reply);
    return rc;
}
