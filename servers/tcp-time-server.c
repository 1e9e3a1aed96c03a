/* tcp-time-server: on each connection sends
 * "Current time is YYYY-MM-DD HH:MM:SS.ffffff" and closes with a clean FIN
 * teardown (or echoes / discards with --service). One poll loop serves every
 * connection; each has its own deadline, so an idle or slow client never
 * delays another. The per-connection logic is core/tcpconn.c. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "netsock.h"
#include "sockio.h"
#include "tcpconn.h"
#include "timemsg.h"

static const char *prog = "tcp-time-server";
static const char usage[] =
    "usage: tcp-time-server [--bind ADDR] [--port N] [--service time|echo|discard]\n"
    "                       [--close-mode fin|rst|unread] [--count N] [--timeout SEC]\n"
    "                       [--max-conns N]\n"
    "  --bind ADDR       address to listen on (default 127.0.0.1; ::1 for IPv6)\n"
    "  --port N          port (default 3434; 0 picks a free one)\n"
    "  --service S       time (default), echo (until the client half-closes), discard\n"
    "  --close-mode M    fin (default), rst (abortive, SO_LINGER 0), unread (close\n"
    "                    without reading the client's bytes)\n"
    "  --count N         serve N connections, then exit 0\n"
    "  --timeout SEC     per-connection deadline (default 10)\n"
    "  --max-conns N     connections served at once (default 4096)\n";

struct options {
    const char *bind;
    uint16_t port;
    enum tcp_service service;
    enum close_mode close_mode;
    unsigned long count; /* 0: forever */
    int64_t timeout_ms;
    size_t max_conns;
};

static struct options parse_options(int argc, char **argv)
{
    struct options o = {.bind = WIRECHECK_DEFAULT_HOST, .port = WIRECHECK_DEFAULT_PORT,
                        .timeout_ms = 10000, .max_conns = 4096};
    static const struct option longopts[] = {
        {"bind", required_argument, NULL, 'b'},   {"port", required_argument, NULL, 'p'},
        {"service", required_argument, NULL, 's'}, {"close-mode", required_argument, NULL, 'c'},
        {"count", required_argument, NULL, 'n'},  {"timeout", required_argument, NULL, 't'},
        {"max-conns", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
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
        case 'h': fputs(usage, stdout); exit(0);
        default: cli_option_error(prog, usage, ch, argv);
        }
    }
    cli_no_operands(prog, usage, argc, argv);
    return o;
}

struct server {
    struct options opt;
    const struct sockio *io;
    int listen_fd, stop_fd;
    struct tcp_conn **conns;
    struct net_addr *peers;
    size_t nconns;
    unsigned long accepted;
    int64_t accept_paused_until; /* EMFILE back-off */
    bool stopping;
    /* Closed connections kept for reuse: a 16 KiB malloc/free per
     * connection made glibc grow and trim the heap (brk) every time. */
    struct tcp_conn *spare[64];
    size_t nspare;
};

static struct tcp_conn *conn_alloc(struct server *s)
{
    return s->nspare ? s->spare[--s->nspare] : malloc(sizeof(struct tcp_conn));
}

static void conn_release(struct server *s, struct tcp_conn *c)
{
    if (s->nspare < sizeof s->spare / sizeof s->spare[0])
        s->spare[s->nspare++] = c;
    else
        free(c);
}

static void close_conn(struct server *s, size_t i)
{
    struct tcp_conn *c = s->conns[i];
    char peer[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&s->peers[i].ss, s->peers[i].len, peer);
    if (tcp_conn_wants_abort(c))
        net_set_abortive_close(c->fd);
    close(c->fd);
    /* Flushed once per loop iteration (serve), not per connection: one
     * write for a whole burst of closes. */
    printf("Served %s: %s, %llu bytes sent, %llu received\n", peer, conn_end_text(c->end),
           (unsigned long long)c->bytes_out, (unsigned long long)c->bytes_in);
    conn_release(s, c);
    s->nconns--;
    s->conns[i] = s->conns[s->nconns];
    s->peers[i] = s->peers[s->nconns];
}

static bool accepting(const struct server *s, int64_t now)
{
    return !s->stopping && s->nconns < s->opt.max_conns && now >= s->accept_paused_until &&
           (s->opt.count == 0 || s->accepted < s->opt.count);
}

static void accept_new(struct server *s, int64_t now)
{
    for (int burst = 0; burst < 64 && accepting(s, now); burst++) {
        struct net_addr peer = {.len = sizeof peer.ss};
        int fd = s->io->ops->accept(s->io->ctx, s->listen_fd, (struct sockaddr *)&peer.ss,
                                    &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the pending connection stays queued.
                 * Stop polling the listener for a while instead of spinning. */
                fprintf(stderr, "%s: accept: %s; pausing accepts for 100 ms\n", prog,
                        strerror(errno));
                s->accept_paused_until = now + 100;
            }
            return; /* EAGAIN, ECONNABORTED, EINTR: nothing more now */
        }
        struct tcp_conn *c = conn_alloc(s);
        if (!c) {
            close(fd);
            s->accept_paused_until = now + 100;
            return;
        }
        char reply[TIMEMSG_LEN + 1] = "";
        int reply_len = s->opt.service == TCP_SERVICE_TIME ? timemsg_format_now(reply) : 0;
        tcp_conn_open(c, fd, s->opt.service, s->opt.close_mode, now, s->opt.timeout_ms, reply,
                      reply_len > 0 ? (size_t)reply_len : 0);
        s->conns[s->nconns] = c;
        s->peers[s->nconns] = peer;
        s->nconns++;
        s->accepted++;
        /* Try the reply at once: most connections finish sending right here. */
        tcp_conn_on_ready(s->io, c, now);
    }
}

static int poll_timeout(const struct server *s, int64_t now)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->deadline < next)
            next = s->conns[i]->deadline;
    if (s->accept_paused_until > now && s->accept_paused_until < next)
        next = s->accept_paused_until;
    if (next == INT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

static void drain_stop_pipe(struct server *s)
{
    char b[16];
    while (read(s->stop_fd, b, sizeof b) > 0) {
    }
    s->stopping = true;
}

static int serve(struct server *s)
{
    struct pollfd *pfds = calloc(s->opt.max_conns + 2, sizeof *pfds);
    if (!pfds)
        cli_fail(prog, "out of memory");
    for (;;) {
        int64_t now = s->io->ops->now_ms(s->io->ctx);
        bool done_accepting = s->stopping || (s->opt.count && s->accepted >= s->opt.count);
        if (done_accepting && s->nconns == 0)
            break;
        pfds[0] = (struct pollfd){.fd = s->stop_fd, .events = POLLIN};
        pfds[1] = (struct pollfd){.fd = accepting(s, now) ? s->listen_fd : -1, .events = POLLIN};
        for (size_t i = 0; i < s->nconns; i++)
            pfds[i + 2] = (struct pollfd){.fd = s->conns[i]->fd,
                                          .events = tcp_conn_wanted_events(s->conns[i])};
        size_t polled = s->nconns;
        int n = s->io->ops->poll(s->io->ctx, pfds, polled + 2, poll_timeout(s, now));
        if (n < 0 && errno != EINTR)
            cli_fail(prog, "poll: %s", strerror(errno));
        now = s->io->ops->now_ms(s->io->ctx);
        if (n > 0 && pfds[0].revents)
            drain_stop_pipe(s);
        /* Walk backwards: close_conn moves the last connection into slot i. */
        for (size_t i = polled; i-- > 0;) {
            if (n > 0 && pfds[i + 2].revents)
                tcp_conn_on_ready(s->io, s->conns[i], now);
            tcp_conn_check_deadline(s->conns[i], now);
            if (tcp_conn_done(s->conns[i]))
                close_conn(s, i);
        }
        if (n > 0 && pfds[1].fd >= 0 && pfds[1].revents)
            accept_new(s, now);
        for (size_t i = s->nconns; i-- > polled;) /* accepted and finished at once */
            if (tcp_conn_done(s->conns[i]))
                close_conn(s, i);
        cli_flush_stdout(prog);
    }
    free(pfds);
    return 0;
}

int main(int argc, char **argv)
{
    cli_check_stdout_at_exit(prog); /* a lost log line is an error (exit 1) */
    struct server s = {.opt = parse_options(argc, argv), .io = &sockio_system};
    cli_ignore_sigpipe();
    s.stop_fd = cli_stop_signal_fd(prog);

    struct net_addr addr, bound;
    cli_resolve(prog, s.opt.bind, s.opt.port, SOCK_STREAM, &addr);
    char err[NET_ERR_LEN];
    s.listen_fd = net_tcp_listen(&addr, 511, &bound, err);
    if (s.listen_fd < 0)
        cli_fail(prog, "%s", err);
    s.conns = calloc(s.opt.max_conns, sizeof *s.conns);
    s.peers = calloc(s.opt.max_conns, sizeof *s.peers);
    if (!s.conns || !s.peers)
        cli_fail(prog, "out of memory for %zu connections", s.opt.max_conns);

    char where[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&bound.ss, bound.len, where);
    printf("Listening on %s\n", where);
    cli_flush_stdout(prog);

    int rc = serve(&s);
    close(s.listen_fd);
    while (s.nspare)
        free(s.spare[--s.nspare]);
    free(s.conns);
    free(s.peers);
    return rc;
}
