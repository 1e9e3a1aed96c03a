/* tcp-time-server: on each connection sends
 * "Current time is YYYY-MM-DD HH:MM:SS.ffffff" and closes with a clean FIN
 * teardown (or echoes / discards with --service). One poll loop serves every
 * connection; each has its own deadline and an absolute lifetime, so an idle
 * or slow client never delays another; with every slot taken, the connection
 * idle the longest makes room for a new one. SIGTERM/SIGINT: the listener
 * closes at once, open connections get a short grace, then a summary line.
 * The per-connection logic is core/tcpconn.c. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
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
    int64_t grace_until; /* once stopping: when the open connections are closed */
    unsigned long served, evicted, shut; /* for the "Stopped:" summary */
    bool made_room; /* this iteration: connections moved to other slots */
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

static void close_conn(struct server *s, size_t i, int64_t now)
{
    struct tcp_conn *c = s->conns[i];
    char peer[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&s->peers[i].ss, s->peers[i].len, peer);
    if (tcp_conn_wants_abort(c))
        net_set_abortive_close(c->fd);
    close(c->fd);
    /* Flushed once per loop iteration (serve), not per connection: one
     * write for a whole burst of closes. */
    if (c->end == CONN_EVICTED) {
        s->evicted++;
        printf("Evicted %s: idle %lld ms, %llu bytes sent, %llu received; closed to admit a new "
               "connection\n",
               peer, (long long)(now - c->last_active), (unsigned long long)c->bytes_out,
               (unsigned long long)c->bytes_in);
    } else {
        if (c->end == CONN_SHUTDOWN)
            s->shut++;
        else
            s->served++;
        printf("Served %s: %s, %llu bytes sent, %llu received\n", peer, conn_end_text(c->end),
               (unsigned long long)c->bytes_out, (unsigned long long)c->bytes_in);
    }
    conn_release(s, c);
    s->nconns--;
    s->conns[i] = s->conns[s->nconns];
    s->peers[i] = s->peers[s->nconns];
}

/* Whether to poll the listener. A full table still accepts: the new
 * client takes the slot of the connection idle the longest. */
static bool accepting(const struct server *s, int64_t now)
{
    return s->listen_fd >= 0 && now >= s->accept_paused_until &&
           (s->opt.count == 0 || s->accepted < s->opt.count);
}

/* Frees a slot for a client already accepted: the scan happens only when
 * the table is full, never per connection otherwise. */
static void make_room(struct server *s, int64_t now)
{
    size_t v = tcp_conn_pick_victim(s->conns, s->nconns);
    tcp_conn_end(s->conns[v], CONN_EVICTED); /* a done victim is simply served */
    close_conn(s, v, now);
    s->made_room = true;
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
        if (s->nconns == s->opt.max_conns)
            make_room(s, now);
        char reply[TIMEMSG_LEN + 1] = "";
        int reply_len = s->opt.service == TCP_SERVICE_TIME ? timemsg_format_now(reply) : 0;
        tcp_conn_open(c, fd, s->opt.service, s->opt.close_mode, now, s->opt.timeout_ms, reply,
                      reply_len > 0 ? (size_t)reply_len : 0);
        tcp_conn_set_lifetime(c, now, s->opt.lifetime_ms);
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
    if (s->stopping && s->grace_until < next)
        next = s->grace_until;
    if (next == INT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

/* SIGTERM/SIGINT: the listener closes now (new clients are refused, not
 * left waiting in its backlog); the open connections have until grace_until. */
static void drain_stop_pipe(struct server *s, int64_t now)
{
    char b[16];
    while (read(s->stop_fd, b, sizeof b) > 0) {
    }
    if (s->stopping)
        return;
    s->stopping = true;
    s->grace_until = now + s->opt.grace_ms;
    close(s->listen_fd);
    s->listen_fd = -1;
}

static int serve(struct server *s)
{
    struct pollfd *pfds = calloc(s->opt.max_conns + 2, sizeof *pfds);
    if (!pfds)
        cli_fail(prog, "out of memory");
    for (;;) {
        int64_t now = s->io->ops->now_ms(s->io->ctx);
        bool done_accepting = s->stopping || (s->opt.count && s->accepted >= s->opt.count);
        if (s->stopping && now >= s->grace_until && s->nconns) {
            /* Grace is over: a plain close (FIN, not RST) of what is left. */
            for (size_t i = s->nconns; i-- > 0;) {
                tcp_conn_end(s->conns[i], CONN_SHUTDOWN);
                close_conn(s, i, now);
            }
            cli_flush_stdout(prog);
        }
        if (done_accepting && s->nconns == 0)
            break;
        pfds[0] = (struct pollfd){.fd = s->stop_fd, .events = POLLIN};
        pfds[1] = (struct pollfd){.fd = accepting(s, now) ? s->listen_fd : -1, .events = POLLIN};
        for (size_t i = 0; i < s->nconns; i++)
            pfds[i + 2] = (struct pollfd){.fd = s->conns[i]->fd,
                                          .events = tcp_conn_wanted_events(s->conns[i])};
        size_t polled = s->nconns;
        s->made_room = false;
        int n = s->io->ops->poll(s->io->ctx, pfds, polled + 2, poll_timeout(s, now));
        if (n < 0 && errno != EINTR)
            cli_fail(prog, "poll: %s", strerror(errno));
        now = s->io->ops->now_ms(s->io->ctx);
        if (n > 0 && pfds[0].revents)
            drain_stop_pipe(s, now);
        /* Walk backwards: close_conn moves the last connection into slot i. */
        for (size_t i = polled; i-- > 0;) {
            if (n > 0 && pfds[i + 2].revents)
                tcp_conn_on_ready(s->io, s->conns[i], now);
            tcp_conn_check_deadline(s->conns[i], now);
            if (tcp_conn_done(s->conns[i]))
                close_conn(s, i, now);
        }
        if (n > 0 && pfds[1].fd >= 0 && s->listen_fd >= 0 && pfds[1].revents)
            accept_new(s, now);
        /* Accepted and finished at once; after evictions (which move the
         * last connections into freed slots) they may sit anywhere. */
        size_t fresh = s->made_room ? 0 : polled;
        for (size_t i = s->nconns; i-- > fresh;)
            if (tcp_conn_done(s->conns[i]))
                close_conn(s, i, now);
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
    if (s.stopping)
        printf("Stopped: %lu served, %lu evicted, %lu closed at shutdown\n", s.served, s.evicted,
               s.shut);
    if (s.listen_fd >= 0)
        close(s.listen_fd);
    while (s.nspare)
        free(s.spare[--s.nspare]);
    free(s.conns);
    free(s.peers);
    return rc;
}
