/* tcp-time-server: on each connection sends
 * "Current time is YYYY-MM-DD HH:MM:SS.ffffff" and closes with a clean FIN
 * teardown (or echoes / discards with --service). One epoll loop serves
 * every connection; each has its own deadline and an absolute lifetime, so
 * an idle or slow client never delays another; with every slot taken, the connection
 * idle the longest makes room for a new one. SIGTERM/SIGINT: the listener
 * closes at once, open connections get a short grace, then a summary line.
 * This file is the shell (options, the listening socket, signals, stdio);
 * the loop is core/tcp_server_loop.c, the per-connection logic
 * core/tcpconn.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "netsock.h"
#include "sockio.h"
#include "tcp_server_loop.h"
#include "tcpconn.h"

static const char *prog = "tcp-time-server";
static const char usage[] =
    "usage: tcp-time-server [--bind ADDR] [--port N] [--service time|echo|discard]\n"
    "                       [--close-mode fin|rst|unread] [--count N] [--timeout SEC]\n"
    "                       [--max-conns N] [--lifetime SEC] [--grace SEC]\n"
    "  --bind ADDR       address to listen on (default 127.0.0.1; ::1 for IPv6)\n"
    "  --port N          port (default 3434; 0 picks a free one)\n"
    "  --service S       time (default), echo (until the client half-closes), discard\n"
    "  --close-mode M    fin (default), rst (abortive, SO_LINGER 0), unread (close\n"
    "                    without reading the client's bytes)\n"
    "  --count N         serve N connections, then exit 0\n"
    "  --timeout SEC     per-connection deadline (default 10)\n"
    "  --max-conns N     connections served at once (default 4096); when all are\n"
    "                    taken, a new client closes the one idle the longest\n"
    "                    (logged \"Evicted ADDR:PORT: ...\")\n"
    "  --lifetime SEC    absolute limit per connection, however busy (default 6 x\n"
    "                    --timeout, 60 with the default): room for a slow client\n"
    "                    to go quiet for a whole --timeout several times over,\n"
    "                    while one trickling a byte per --timeout cannot hold a\n"
    "                    slot forever\n"
    "  --grace SEC       on SIGTERM/SIGINT: stop accepting at once, let open\n"
    "                    connections finish for at most SEC (default 1), close the\n"
    "                    rest, print \"Stopped: N served, M evicted, K closed at\n"
    "                    shutdown\" and exit 0\n"
    "  --version         print the version and exit\n";

struct options {
    const char *bind;
    uint16_t port;
    enum tcp_service service;
    enum close_mode close_mode;
    unsigned long count; /* 0: forever */
    int64_t timeout_ms;
    int64_t lifetime_ms; /* 0 until parsed: 6 x timeout_ms */
    int64_t grace_ms;
    size_t max_conns;
};

static struct options parse_options(int argc, char **argv)
{
    struct options o = {.bind = WIRECHECK_DEFAULT_HOST, .port = WIRECHECK_DEFAULT_PORT,
                        .timeout_ms = 10000, .grace_ms = 1000, .max_conns = 4096};
    static const struct option longopts[] = {
        {"bind", required_argument, NULL, 'b'},   {"port", required_argument, NULL, 'p'},
        {"service", required_argument, NULL, 's'}, {"close-mode", required_argument, NULL, 'c'},
        {"count", required_argument, NULL, 'n'},  {"timeout", required_argument, NULL, 't'},
        {"max-conns", required_argument, NULL, 'm'}, {"lifetime", required_argument, NULL, 'l'},
        {"grace", required_argument, NULL, 'g'},  {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'b': o.bind = optarg; break;
        case 'p': o.port = cli_port(prog, usage, "--port", optarg); break;
        case 's':
            if (!tcp_service_parse(optarg, &o.service))
                cli_usage_error(prog, usage, "invalid --service '%s': expected time, echo or discard", optarg);
            break;
        case 'c':
            if (!close_mode_parse(optarg, &o.close_mode))
                cli_usage_error(prog, usage, "invalid --close-mode '%s': expected fin, rst or unread", optarg);
            break;
        case 'n': o.count = cli_uint(prog, usage, "--count", optarg, 1, 1000000000); break;
        case 't': o.timeout_ms = cli_seconds(prog, usage, "--timeout", optarg); break;
        case 'm': o.max_conns = cli_uint(prog, usage, "--max-conns", optarg, 1, 1000000); break;
        case 'l': o.lifetime_ms = cli_seconds(prog, usage, "--lifetime", optarg); break;
        case 'g': o.grace_ms = cli_seconds(prog, usage, "--grace", optarg); break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': cli_version(prog); exit(0);
        default: cli_option_error(prog, usage, ch, argv);
        }
    }
    cli_no_operands(prog, usage, argc, argv);
    if (o.lifetime_ms == 0)
        o.lifetime_ms = 6 * o.timeout_ms; /* timeout_ms is at most a year */
    return o;
}

/* The loop's log: connection lines to stdout (flushed once per burst; a lost
 * line is an error), complaints to stderr. */
static void log_to_stdio(void *arg, enum tcp_server_log kind, const char *text, size_t len)
{
    (void)arg;
    switch (kind) {
    case TCP_SERVER_LOG_CONN:
        fwrite(text, 1, len, stdout);
        break;
    case TCP_SERVER_LOG_WARN:
        fprintf(stderr, "%s: %.*s", prog, (int)len, text);
        break;
    case TCP_SERVER_LOG_FLUSH:
        cli_flush_stdout(prog);
        break;
    }
}

int main(int argc, char **argv)
{
    cli_check_stdout_at_exit(prog); /* a lost log line is an error (exit 1) */
    struct options o = parse_options(argc, argv);
    cli_ignore_sigpipe();
    struct tcp_server_config cfg = {
        .service = o.service, .close_mode = o.close_mode, .count = o.count,
        .timeout_ms = o.timeout_ms, .lifetime_ms = o.lifetime_ms, .grace_ms = o.grace_ms,
        .max_conns = o.max_conns, .stop_fd = cli_stop_signal_fd(prog), .log = log_to_stdio,
    };

    struct net_addr addr, bound;
    cli_resolve(prog, o.bind, o.port, SOCK_STREAM, &addr);
    char err[NET_ERR_LEN];
    cfg.listen_fd = net_tcp_listen(&addr, 511, &bound, err);
    if (cfg.listen_fd < 0)
        cli_fail(prog, "%s", err);
    struct tcp_server s;
    if (!tcp_server_init(&s, &cfg, &sockio_system))
        cli_fail(prog, "out of memory for %zu connections", o.max_conns);

    char where[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&bound.ss, bound.len, where);
    printf("Listening on %s\n", where);
    cli_flush_stdout(prog);

    if (tcp_server_run(&s) != 0)
        cli_fail(prog, "%s: %s", s.fail_what, strerror(s.fail_errno));
    if (s.stopping)
        printf("Stopped: %lu served, %lu evicted, %lu closed at shutdown\n", s.served, s.evicted,
               s.shut);
    if (s.listen_fd >= 0)
        close(s.listen_fd);
    tcp_server_free(&s);
    return 0;
}
