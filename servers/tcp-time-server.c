/* tcp-time-server: on each connection sends
 * "Current time is YYYY-MM-DD HH:MM:SS.ffffff" and closes with a clean FIN
 * teardown (or echoes / discards with --service). One epoll loop serves
 * every connection; each has its own deadline and an absolute lifetime, so
 * an idle or slow client never delays another; with every slot taken, the connection
 * idle the longest makes room for a new one. SIGTERM/SIGINT: the listener
 * closes at once, open connections get a short grace, then a summary line.
 * The per-connection logic is core/tcpconn.c. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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

/* One served connection: the state machine (first, so a struct tcp_conn *
 * in conns[] is also its slot), the peer and where it sits. */
struct slot {
    struct tcp_conn c;
    struct net_addr peer;
    size_t index;        /* in conns[] */
    uint32_t registered; /* the epoll events asked for now */
};

struct server {
    struct options opt;
    const struct sockio *io;
    int listen_fd, stop_fd, epfd;
    bool listen_registered;
    struct tcp_conn **conns; /* each the c of a struct slot */
    size_t nconns;
    unsigned long accepted;
    int64_t accept_paused_until; /* EMFILE back-off */
    int64_t next_deadline; /* no open connection's deadline is earlier */
    bool stopping;
    int64_t grace_until; /* once stopping: when the open connections are closed */
    unsigned long served, evicted, shut; /* for the "Stopped:" summary */
    /* Closed connections kept for reuse: a 16 KiB malloc/free per
     * connection made glibc grow and trim the heap (brk) every time. */
    struct slot *spare[64];
    size_t nspare;
};

/* epoll tags of the two descriptors that are not connections. */
static char stop_tag, listen_tag;

static struct slot *slot_of(struct tcp_conn *c) { return (struct slot *)c; }

static struct slot *conn_alloc(struct server *s)
{
    return s->nspare ? s->spare[--s->nspare] : malloc(sizeof(struct slot));
}

static void conn_release(struct server *s, struct slot *c)
{
    if (s->nspare < sizeof s->spare / sizeof s->spare[0])
        s->spare[s->nspare++] = c;
    else
        free(c);
}

/* Log lines are built by hand, not by printf: formatting was a visible
 * share of the server's own time per connection. */
static char *put_str(char *p, const char *str)
{
    size_t n = strlen(str);
    memcpy(p, str, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char d[20];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = d[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* ADDR:PORT as net_format writes it; IPv4 without inet_ntop/snprintf. */
static char *put_peer(char *p, const struct net_addr *a)
{
    if (a->ss.ss_family == AF_INET && a->len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
        const uint8_t *b = (const uint8_t *)&sin->sin_addr;
        for (int i = 0; i < 4; i++) {
            p = put_u64(p, b[i]);
            *p++ = i < 3 ? '.' : ':';
        }
        return put_u64(p, ntohs(sin->sin_port));
    }
    char peer[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&a->ss, a->len, peer);
    return put_str(p, peer);
}

static void close_conn(struct server *s, size_t i, int64_t now)
{
    struct tcp_conn *c = s->conns[i];
    struct slot *sl = slot_of(c);
    if (tcp_conn_wants_abort(c))
        net_set_abortive_close(c->fd);
    close(c->fd); /* also leaves the epoll set */
    /* Flushed once per loop iteration (serve), not per connection: one
     * write for a whole burst of closes. */
    char line[NET_ADDRSTR_LEN + 160], *p = line;
    if (c->end == CONN_EVICTED) {
        s->evicted++;
        p = put_str(p, "Evicted ");
        p = put_peer(p, &sl->peer);
        p = put_str(p, ": idle ");
        p = put_i64(p, now - c->last_active);
        p = put_str(p, " ms, ");
        p = put_u64(p, c->bytes_out);
        p = put_str(p, " bytes sent, ");
        p = put_u64(p, c->bytes_in);
        p = put_str(p, " received; closed to admit a new connection\n");
    } else {
        if (c->end == CONN_SHUTDOWN)
            s->shut++;
        else
            s->served++;
        p = put_str(p, "Served ");
        p = put_peer(p, &sl->peer);
        p = put_str(p, ": ");
        p = put_str(p, conn_end_text(c->end));
        p = put_str(p, ", ");
        p = put_u64(p, c->bytes_out);
        p = put_str(p, " bytes sent, ");
        p = put_u64(p, c->bytes_in);
        p = put_str(p, " received\n");
    }
    fwrite(line, 1, (size_t)(p - line), stdout);
    conn_release(s, sl);
    s->nconns--;
    if (i < s->nconns) {
        s->conns[i] = s->conns[s->nconns];
        slot_of(s->conns[i])->index = i;
    }
}

/* Whether to wait on the listener. A full table still accepts: the new
 * client takes the slot of the connection idle the longest. */
static bool accepting(const struct server *s, int64_t now)
{
    return s->listen_fd >= 0 && now >= s->accept_paused_until &&
           (s->opt.count == 0 || s->accepted < s->opt.count);
}

static void set_listening(struct server *s, bool on)
{
    if (on == s->listen_registered)
        return;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_tag};
    if (epoll_ctl(s->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->listen_fd, &ev) != 0)
        cli_fail(prog, "epoll_ctl (listener): %s", strerror(errno));
    s->listen_registered = on;
}

/* Waits on what the connection wants next (poll's POLLIN/POLLOUT are
 * epoll's EPOLLIN/EPOLLOUT). false: it could not be registered. */
static bool watch(struct server *s, struct slot *sl)
{
    uint32_t want = (uint32_t)tcp_conn_wanted_events(&sl->c);
    if (want == sl->registered)
        return true;
    struct epoll_event ev = {.events = want, .data.ptr = sl};
    int op = sl->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(s->epfd, op, sl->c.fd, &ev) != 0)
        return false;
    sl->registered = want;
    return true;
}

/* Frees a slot for a client already accepted: the scan happens only when
 * the table is full, never per connection otherwise. */
static void make_room(struct server *s, int64_t now)
{
    size_t v = tcp_conn_pick_victim(s->conns, s->nconns);
    tcp_conn_end(s->conns[v], CONN_EVICTED); /* a done victim is simply served */
    close_conn(s, v, now);
}

static void accept_new(struct server *s, int64_t now)
{
    /* One time message per wake-up: every connection accepted in this burst
     * gets the time of the burst (formatted once). */
    char reply[TIMEMSG_LEN + 1] = "";
    int reply_len = -1;
    for (int burst = 0; burst < 64 && accepting(s, now); burst++) {
        struct net_addr peer = {.len = sizeof peer.ss};
        int fd = s->io->ops->accept(s->io->ctx, s->listen_fd, (struct sockaddr *)&peer.ss,
                                    &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the pending connection stays queued.
                 * Stop waiting on the listener for a while instead of spinning. */
                fprintf(stderr, "%s: accept: %s; pausing accepts for 100 ms\n", prog,
                        strerror(errno));
                s->accept_paused_until = now + 100;
            }
            return; /* EAGAIN, ECONNABORTED, EINTR: nothing more now */
        }
        struct slot *sl = conn_alloc(s);
        if (!sl) {
            close(fd);
            s->accept_paused_until = now + 100;
            return;
        }
        if (s->nconns == s->opt.max_conns)
            make_room(s, now);
        if (reply_len < 0)
            reply_len = s->opt.service == TCP_SERVICE_TIME ? timemsg_format_now(reply) : 0;
        struct tcp_conn *c = &sl->c;
        tcp_conn_open(c, fd, s->opt.service, s->opt.close_mode, now, s->opt.timeout_ms, reply,
                      reply_len > 0 ? (size_t)reply_len : 0);
        tcp_conn_set_lifetime(c, now, s->opt.lifetime_ms);
        sl->peer = peer;
        sl->index = s->nconns;
        sl->registered = 0;
        s->conns[s->nconns++] = c;
        s->accepted++;
        if (c->deadline < s->next_deadline)
            s->next_deadline = c->deadline;
        /* Try the reply at once: most connections finish sending right here. */
        tcp_conn_on_ready(s->io, c, now);
        if (!tcp_conn_done(c) && !watch(s, sl))
            tcp_conn_end(c, CONN_ERROR);
        if (tcp_conn_done(c))
            close_conn(s, sl->index, now);
    }
}

/* Deadlines: no connection's is earlier than next_deadline (a new
 * connection's is never earlier than an open one's, and activity only moves
 * them later), so the table is scanned only once that time has come. */
static void check_deadlines(struct server *s, int64_t now)
{
    if (now < s->next_deadline)
        return;
    int64_t next = INT64_MAX;
    for (size_t i = s->nconns; i-- > 0;) { /* backwards: close_conn moves the last into i */
        tcp_conn_check_deadline(s->conns[i], now);
        if (tcp_conn_done(s->conns[i]))
            close_conn(s, i, now);
        else if (s->conns[i]->deadline < next)
            next = s->conns[i]->deadline;
    }
    s->next_deadline = next;
}

static int wait_timeout(const struct server *s, int64_t now)
{
    int64_t next = s->nconns ? s->next_deadline : INT64_MAX;
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
    set_listening(s, false);
    close(s->listen_fd);
    s->listen_fd = -1;
}

/* One epoll loop serves the listener and every connection (level-triggered;
 * each connection registered for what its state machine waits on). */
static int serve(struct server *s)
{
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event stop_ev = {.events = EPOLLIN, .data.ptr = &stop_tag};
    if (s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop_fd, &stop_ev) != 0)
        cli_fail(prog, "epoll: %s", strerror(errno));
    s->next_deadline = INT64_MAX;
    enum { EVENTS = 256 };
    struct epoll_event evs[EVENTS];
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
        if (s->listen_fd >= 0)
            set_listening(s, accepting(s, now));
        int n = epoll_wait(s->epfd, evs, EVENTS, wait_timeout(s, now));
        if (n < 0 && errno != EINTR)
            cli_fail(prog, "epoll_wait: %s", strerror(errno));
        now = s->io->ops->now_ms(s->io->ctx);
        bool stop_ready = false, listen_ready = false;
        for (int k = 0; k < n; k++) {
            if (evs[k].data.ptr == &stop_tag) {
                stop_ready = true;
                continue;
            }
            if (evs[k].data.ptr == &listen_tag) {
                listen_ready = true;
                continue;
            }
            /* Each connection appears once per batch, and none is closed by
             * another's event (evictions wait for the accepts below). */
            struct slot *sl = evs[k].data.ptr;
            tcp_conn_on_ready(s->io, &sl->c, now);
            tcp_conn_check_deadline(&sl->c, now);
            if (!tcp_conn_done(&sl->c) && !watch(s, sl))
                tcp_conn_end(&sl->c, CONN_ERROR);
            if (tcp_conn_done(&sl->c))
                close_conn(s, sl->index, now);
        }
        if (stop_ready)
            drain_stop_pipe(s, now);
        check_deadlines(s, now);
        if (listen_ready && s->listen_fd >= 0 && accepting(s, now))
            accept_new(s, now);
        cli_flush_stdout(prog);
    }
    close(s->epfd);
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
    if (!s.conns)
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
    return rc;
}
