/* udp-server: receives datagrams with recvfrom and prints each as
 * "Received: <data> from ADDR:PORT", the data escaped so a datagram can
 * never drive the terminal. A datagram larger than --max is reported as
 * truncated with its real length. --service echo sends each back, but
 * never to port 0, a port below 1024, its own address, a known reflector
 * port, or faster than a rate per source (core/session.h, udp_echo_check).
 * The receive path is core/session.c. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "netsock.h"
#include "session.h"
#include "sockio.h"

static const char *prog = "udp-server";
static const char usage[] =
    "usage: udp-server [--bind ADDR] [--port N] [--max BYTES] [--service print|echo] [--count N]\n"
    "  --bind ADDR      address to bind (default 127.0.0.1; ::1 for IPv6)\n"
    "  --port N         port (default 3434; 0 picks a free one)\n"
    "  --max BYTES      receive buffer; larger datagrams are reported truncated (default 1024)\n"
    "  --service S      print (default) or echo (reply with the datagram)\n"
    "  --count N        handle N datagrams, then exit 0\n"
    "  --version        print the version and exit\n";

/* How many datagrams the loop handles between two looks at the stop pipe:
 * a flood keeps the queue from ever running empty, and SIGTERM must still
 * end the server within 100 ms (a datagram costs microseconds). */
#define STOP_CHECK_EVERY 64
/* After a stop request, what is already queued is still logged, for at
 * most this long: a flood must not keep a stopping server alive. */
#define STOP_DRAIN_MS 50

static bool stop_requested(int stop_fd)
{
    struct pollfd p = {.fd = stop_fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

int main(int argc, char **argv)
{
    /* The log is the product: a datagram that cannot be logged is lost, so
     * a broken stdout ends the server loudly (exit 1), even for --help. */
    cli_check_stdout_at_exit(prog);
    const char *bind_host = WIRECHECK_DEFAULT_HOST;
    uint16_t port = WIRECHECK_DEFAULT_PORT;
    size_t max = 1024;
    bool echo = false;
    unsigned long count = 0;
    static const struct option longopts[] = {
        {"bind", required_argument, NULL, 'b'}, {"port", required_argument, NULL, 'p'},
        {"max", required_argument, NULL, 'm'},  {"service", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},     {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'b': bind_host = optarg; break;
        case 'p': port = cli_port(prog, usage, "--port", optarg); break;
        case 'm': max = cli_uint(prog, usage, "--max", optarg, 1, 65535); break;
        case 's':
            if (strcmp(optarg, "echo") == 0)
                echo = true;
            else if (strcmp(optarg, "print") != 0)
                cli_usage_error(prog, usage, "invalid --service '%s': expected print or echo", optarg);
            break;
        case 'n': count = cli_uint(prog, usage, "--count", optarg, 1, 1000000000); break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': cli_version(prog); return 0;
        default: cli_option_error(prog, usage, ch, argv);
        }
    }
    cli_no_operands(prog, usage, argc, argv);

    cli_ignore_sigpipe();
    int stop_fd = cli_stop_signal_fd(prog);
    struct net_addr addr, bound;
    cli_resolve(prog, bind_host, port, SOCK_DGRAM, &addr);
    char err[NET_ERR_LEN];
    int fd = net_udp_bind(&addr, &bound, err);
    if (fd < 0)
        cli_fail(prog, "%s", err);
    /* A deep receive queue rides out bursts while the log is written. The
     * kernel caps SO_RCVBUF at net.core.rmem_max; as root, force past it. */
    int rcvbuf = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    /* Into a pipe or a file, the log leaves in 64 KiB writes (and at the
     * end of every burst), not in stdio's default 4 KiB. */
    static char outbuf[1 << 16];
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    uint8_t *buf = malloc(max);
    if (!buf)
        cli_fail(prog, "out of memory");
    char where[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&bound.ss, bound.len, where);
    printf("Listening on %s\n", where);
    cli_flush_stdout(prog);

    static struct udp_echo_guard guard;
    udp_echo_guard_init(&guard, (const struct sockaddr *)&bound.ss, bound.len);
    const struct sockio *io = &sockio_system;
    unsigned long handled = 0;
    bool stopping = false;
    int64_t drain_until = 0;
    while (!stopping && (count == 0 || handled < count)) {
        struct pollfd p[2] = {{.fd = stop_fd, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            cli_fail(prog, "poll: %s", strerror(errno));
        }
        if (p[0].revents) {
            stopping = true; /* still log what is already queued below */
            drain_until = io->ops->now_ms(io->ctx) + STOP_DRAIN_MS;
        }
        /* Everything queued now, without blocking (deadline: now). */
        for (unsigned burst = 1;; burst++) {
            if (count && handled >= count)
                break;
            if (burst % STOP_CHECK_EVERY == 0) {
                if (!stopping && stop_requested(stop_fd)) {
                    stopping = true;
                    drain_until = io->ops->now_ms(io->ctx) + STOP_DRAIN_MS;
                }
                if (stopping && io->ops->now_ms(io->ctx) >= drain_until)
                    break;
            }
            struct udp_server_event ev;
            udp_server_handle_one(io, fd, buf, max, io->ops->now_ms(io->ctx),
                                  echo ? &guard : NULL, &ev);
            if (ev.status == SIO_TIMEOUT)
                break;
            if (ev.status != SIO_OK) {
                /* e.g. ECONNREFUSED left by an echo to a closed port: log, go on */
                fprintf(stderr, "%s: recvfrom %s: %s\n", prog, where,
                        ev.status == SIO_ERROR ? strerror(ev.err) : sio_status_text(ev.status));
                break;
            }
            handled++;
            ev.line[ev.line_len] = '\n';
            fwrite(ev.line, 1, ev.line_len + 1, stdout);
            if (ev.echo_refused)
                printf("Echo refused: %s\n", udp_echo_refusal_text(ev.refusal));
            if (ferror(stdout))
                cli_flush_stdout(prog); /* exits 1 with the reason */
        }
        /* Flushed once the queue is empty (or the count reached), before
         * the server sleeps: one write per burst instead of one per
         * datagram, and never a line held back while the server waits. */
        cli_flush_stdout(prog);
    }
    free(buf);
    close(fd);
    return 0;
}
