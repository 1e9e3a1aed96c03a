/* udp-server: receives datagrams with recvfrom and prints each as
 * "Received: <data> from ADDR:PORT", the data escaped so a datagram can
 * never drive the terminal. A datagram larger than --max is reported as
 * truncated with its real length. --service echo sends each back, but
 * never to port 0, a port below 1024, its own address, a known reflector
 * port, or faster than a rate per source (core/session.h, udp_echo_check).
 * The event loop is core/udp_loop.c (datagrams received in batches, a
 * batch's lines escaped into one buffer), the per-datagram logic
 * core/session.c. */
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
#include "udp_loop.h"

static const char *prog = "udp-server";
static const char usage[] =
    "usage: udp-server [--bind ADDR] [--port N] [--max BYTES] [--service print|echo] [--count N]\n"
    "  --bind ADDR      address to bind (default 127.0.0.1; ::1 for IPv6)\n"
    "  --port N         port (default 3434; 0 picks a free one)\n"
    "  --max BYTES      receive buffer; larger datagrams are reported truncated (default 1024)\n"
    "  --service S      print (default) or echo (reply with the datagram)\n"
    "  --count N        handle N datagrams, then exit 0\n"
    "  --version        print the version and exit\n";

static int stop_fd = -1;

static bool stop_requested(void *ctx)
{
    (void)ctx;
    struct pollfd p = {.fd = stop_fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* A batch's lines into stdio's buffer (64 KiB into a pipe or a file):
 * under a flood the log leaves in large writes, and the loop flushes it
 * whenever the queue runs empty. */
static bool write_log(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    errno = 0;
    if (fwrite(text, 1, len, stdout) == len && !ferror(stdout))
        return true;
    if (errno == 0)
        errno = EIO;
    return false;
}

static bool flush_log(void *ctx)
{
    (void)ctx;
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return true;
    if (errno == 0)
        errno = EIO;
    return false;
}

static void recv_error(void *ctx, enum sio_status s, int err)
{
    /* e.g. ECONNREFUSED left by an echo to a closed port: say so, go on */
    fprintf(stderr, "%s: receive on %s: %s\n", prog, (const char *)ctx,
            s == SIO_ERROR ? strerror(err) : sio_status_text(s));
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
    stop_fd = cli_stop_signal_fd(prog);
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
    static char outbuf[1 << 16];
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    char where[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&bound.ss, bound.len, where);
    printf("Listening on %s\n", where);
    cli_flush_stdout(prog);

    struct udp_loop_config c = {.max = max, .batch = UDP_LOOP_BATCH_MAX, .echo = echo,
                                .count = count, .stop_fd = stop_fd,
                                .self = (const struct sockaddr *)&bound.ss, .self_len = bound.len};
    struct udp_loop *loop = udp_loop_new(&c);
    if (!loop)
        cli_fail(prog, "out of memory");
    struct udp_loop_hooks hooks = {.write_log = write_log, .flush_log = flush_log,
                                   .recv_error = recv_error, .stop_requested = stop_requested,
                                   .ctx = where};
    enum udp_loop_end end = udp_loop_run(loop, &sockio_system, fd, &hooks);
    if (end == UDP_LOOP_LOG_FAILED)
        cli_fail(prog, "write to standard output: %s", strerror(udp_loop_err(loop)));
    if (end == UDP_LOOP_WAIT_FAILED)
        cli_fail(prog, "poll: %s", strerror(udp_loop_err(loop)));
    udp_loop_free(loop);
    close(fd);
    return 0;
}
