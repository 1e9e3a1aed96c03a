/* Fuzz target: tcp-time-server's event loop (tcp_server_run,
 * core/tcp_server_loop.h), the very loop the program runs, over a scripted
 * sockio: clients connect (IPv4 and IPv6 peers), several at once,
 * interleave their bytes, fail to be accepted, get evicted, never send
 * their FIN; waits, watch-set changes, shutdowns and sends fail; a stop
 * comes.
 *
 * Input: two configuration bytes (fuzz_tcp_server_config in fuzz_common.h:
 * service, close mode, 1..4 slots, count, timeout, lifetime, grace), then a
 * schedule (core/script.h, with the event-loop opcodes 0x20..0x27). Once
 * the schedule is exhausted every peer closes and the stop comes, so every
 * run ends.
 *
 * A tap between the loop and the scripted sockio follows each connection
 * (what its recvs returned, what was sent on it, its shutdowns, its peer)
 * and the log lines, so the harness checks what the loop did without
 * decoding the schedule itself.
 *
 * Invariants:
 *   loop     returns 0, or -1 with "epoll_wait" only after a wait failed
 *            with an errno other than EINTR, with "epoll" or "epoll_ctl
 *            (listener)" only after a change to the watch set failed (a
 *            connection whose change fails ends, the loop goes on); a
 *            change fails only when the script says so (no EEXIST, ENOENT,
 *            EBADF: the loop's own mistakes); on 0 nothing is left open:
 *            every accepted fd closed exactly once, nothing else closed;
 *            served + evicted + shut == accepted == accepts; count honoured;
 *            at most max_conns + 1 open at once (the newcomer before its
 *            eviction); waits bounded (no livelock)
 *   log      one line per closed connection, "Served PEER: " or
 *            "Evicted PEER: ", PEER as net_format writes the accepted
 *            address (the loop formats IPv4 by hand)
 *   per fd   at most one shutdown, none in rst mode; abortive closes only
 *            in rst mode; time: what was sent is a prefix of the reply;
 *            echo: what was sent is a prefix of what was received;
 *            discard: nothing sent */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "netaddr.h"
#include "script.h"
#include "tcp_server_loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LISTEN_FD 3
#define STOP_FD 4

struct conn_tap {
    bool open;
    uint8_t *rx; /* echo: what its recvs returned (cap: the schedule's size) */
    size_t rx_len, tx_len;
    unsigned shutdowns;
    char peer[NET_ADDRSTR_LEN];
};

struct tap {
    struct sockio inner;
    struct script *s;
    struct tcp_server_config cfg;
    struct conn_tap conn[SCRIPT_CONN_FDS];
    size_t rx_cap;
    size_t open, max_open, accepts, closes, log_lines;
    size_t waits, max_waits;
    bool wait_failed; /* a wait failed with an errno that ends the loop */
    bool watch_failed; /* a change to the watch set failed */
    char closed_peer[NET_ADDRSTR_LEN]; /* of the fd closed last, for its log line */
};

static const char reply[] = FUZZ_TIME_REPLY;

FUZZ_NO_COVERAGE static struct conn_tap *conn_of(struct tap *t, int fd)
{
    int i = fd - SCRIPT_CONN_FD0;
    FUZZ_CHECK(i >= 0 && i < SCRIPT_CONN_FDS && t->conn[i].open, "I/O on fd %d, not an open connection", fd);
    return &t->conn[i];
}

FUZZ_NO_COVERAGE static ssize_t tap_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
    struct tap *t = ctx;
    ssize_t n = t->inner.ops->recv(t->inner.ctx, fd, buf, len, flags);
    struct conn_tap *c = conn_of(t, fd);
    if (n > 0 && !(flags & MSG_PEEK) && t->cfg.service == TCP_SERVICE_ECHO) {
        FUZZ_CHECK((size_t)n <= len, "recv returned %zd for a %zu-byte buffer", n, len);
        FUZZ_CHECK(c->rx_len + (size_t)n <= t->rx_cap, "more received than scheduled");
        if (!c->rx)
            c->rx = malloc(t->rx_cap ? t->rx_cap : 1);
        FUZZ_CHECK(c->rx != NULL, "out of memory");
        memcpy(c->rx + c->rx_len, buf, (size_t)n);
        c->rx_len += (size_t)n;
    }
    return n;
}

FUZZ_NO_COVERAGE static ssize_t tap_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
    struct tap *t = ctx;
    struct conn_tap *c = conn_of(t, fd);
    ssize_t n = t->inner.ops->send(t->inner.ctx, fd, buf, len, flags);
    if (n <= 0)
        return n;
    FUZZ_CHECK((size_t)n <= len, "send took %zd of %zu bytes", n, len);
    FUZZ_CHECK(c->shutdowns == 0, "send on fd %d after its shutdown", fd);
    switch (t->cfg.service) {
    case TCP_SERVICE_TIME:
        FUZZ_CHECK(c->tx_len + (size_t)n <= sizeof reply - 1 &&
                       memcmp(reply + c->tx_len, buf, (size_t)n) == 0,
                   "time service sent bytes that are not the reply's next %zd", n);
        break;
    case TCP_SERVICE_ECHO:
        FUZZ_CHECK(c->tx_len + (size_t)n <= c->rx_len &&
                       memcmp(c->rx + c->tx_len, buf, (size_t)n) == 0,
                   "echo sent %zd bytes that are not the next it received (%zu sent, %zu received)",
                   n, c->tx_len, c->rx_len);
        break;
    case TCP_SERVICE_DISCARD:
        FUZZ_CHECK(0, "discard sent %zd bytes", n);
    }
    c->tx_len += (size_t)n;
    return n;
}

FUZZ_NO_COVERAGE static int tap_accept(void *ctx, int fd, struct sockaddr *addr, socklen_t *len,
                                       int flags)
{
    struct tap *t = ctx;
    FUZZ_CHECK(fd == LISTEN_FD, "accept on fd %d", fd);
    FUZZ_CHECK(t->cfg.count == 0 || t->accepts < t->cfg.count, "accept past --count %lu",
               t->cfg.count);
    int got = t->inner.ops->accept(t->inner.ctx, fd, addr, len, flags);
    if (got < 0)
        return got;
    int i = got - SCRIPT_CONN_FD0;
    FUZZ_CHECK(i >= 0 && i < SCRIPT_CONN_FDS && !t->conn[i].open, "accept returned fd %d", got);
    struct conn_tap *c = &t->conn[i];
    c->open = true;
    c->rx_len = c->tx_len = 0;
    c->shutdowns = 0;
    net_format(addr, *len, c->peer);
    t->accepts++;
    if (++t->open > t->max_open)
        t->max_open = t->open;
    FUZZ_CHECK(t->open <= t->cfg.max_conns + 1, "%zu connections open, %zu slots", t->open,
               t->cfg.max_conns);
    return got;
}

FUZZ_NO_COVERAGE static int tap_shutdown(void *ctx, int fd, int how)
{
    struct tap *t = ctx;
    struct conn_tap *c = conn_of(t, fd);
    FUZZ_CHECK(t->cfg.close_mode != CLOSE_MODE_RST, "shutdown in rst mode");
    FUZZ_CHECK(how == SHUT_WR, "shutdown how=%d", how);
    int rc = t->inner.ops->shutdown(t->inner.ctx, fd, how);
    c->shutdowns++;
    FUZZ_CHECK(c->shutdowns <= 1, "%u shutdowns on fd %d", c->shutdowns, fd);
    return rc;
}

FUZZ_NO_COVERAGE static int tap_wait(void *ctx, int set, struct sockio_event *evs, int max,
                                     int timeout_ms)
{
    struct tap *t = ctx;
    FUZZ_CHECK(++t->waits <= t->max_waits, "%zu waits: the loop does not end", t->waits);
    int n = t->inner.ops->wait(t->inner.ctx, set, evs, max, timeout_ms);
    if (n < 0 && errno != EINTR)
        t->wait_failed = true;
    return n;
}

FUZZ_NO_COVERAGE static int tap_watch(void *ctx, int set, enum sockio_watch_op op, int fd,
                                      uint32_t events, void *tag)
{
    struct tap *t = ctx;
    int rc = t->inner.ops->watch(t->inner.ctx, set, op, fd, events, tag);
    FUZZ_CHECK(rc == 0 || errno == ENOMEM || errno == ENOSPC,
               "watch of fd %d failed with %s: the loop's own mistake", fd, strerror(errno));
    if (rc != 0)
        t->watch_failed = true;
    return rc;
}

FUZZ_NO_COVERAGE static int tap_close(void *ctx, int fd, bool abortive)
{
    struct tap *t = ctx;
    int i = fd - SCRIPT_CONN_FD0;
    if (i >= 0 && i < SCRIPT_CONN_FDS) {
        struct conn_tap *c = conn_of(t, fd);
        FUZZ_CHECK(!abortive || t->cfg.close_mode == CLOSE_MODE_RST, "abortive close in mode %d",
                   (int)t->cfg.close_mode);
        memcpy(t->closed_peer, c->peer, sizeof c->peer);
        c->open = false;
        free(c->rx);
        c->rx = NULL;
        t->open--;
        t->closes++;
    } else {
        FUZZ_CHECK(fd == LISTEN_FD || fd == SCRIPT_SET_FD, "close of fd %d", fd);
        FUZZ_CHECK(!abortive, "abortive close of fd %d", fd);
    }
    return t->inner.ops->close(t->inner.ctx, fd, abortive);
}

static ssize_t tap_recvfrom(void *ctx, int fd, void *buf, size_t len, int flags,
                            struct sockaddr *from, socklen_t *fromlen)
{
    (void)from;
    (void)fromlen;
    return tap_recv(ctx, fd, buf, len, flags); /* stream sockets */
}

static ssize_t tap_sendto(void *ctx, int fd, const void *buf, size_t len, int flags,
                          const struct sockaddr *to, socklen_t tolen)
{
    (void)to;
    (void)tolen;
    return tap_send(ctx, fd, buf, len, flags);
}

static const struct sockio_ops tap_ops = {
    .recv = tap_recv, .recvfrom = tap_recvfrom, .send = tap_send, .sendto = tap_sendto,
    .accept = tap_accept, .shutdown = tap_shutdown, .poll = tap_pass_poll,
    .now_ms = tap_pass_now_ms, .watch_open = tap_pass_watch_open, .watch = tap_watch,
    .wait = tap_wait, .close = tap_close, .read = tap_pass_read,
};

FUZZ_NO_COVERAGE static void tap_log(void *arg, enum tcp_server_log kind, const char *text,
                                     size_t len)
{
    struct tap *t = arg;
    if (kind != TCP_SERVER_LOG_CONN)
        return;
    FUZZ_CHECK(len > 0 && text[len - 1] == '\n' && memchr(text, '\n', len) == text + len - 1,
               "log line not one line: %.*s", (int)len, text);
    const char *rest = NULL;
    if (len > 7 && memcmp(text, "Served ", 7) == 0)
        rest = text + 7;
    else if (len > 8 && memcmp(text, "Evicted ", 8) == 0)
        rest = text + 8;
    FUZZ_CHECK(rest != NULL, "log line: %.*s", (int)len, text);
    size_t plen = strlen(t->closed_peer);
    FUZZ_CHECK((size_t)(text + len - rest) > plen + 2 && memcmp(rest, t->closed_peer, plen) == 0 &&
                   rest[plen] == ':' && rest[plen + 1] == ' ',
               "log line %.*s is not about %s", (int)len - 1, text, t->closed_peer);
    t->log_lines++;
}

static int fixed_reply(char out[TIMEMSG_LEN + 1])
{
    memcpy(out, reply, sizeof reply);
    return (int)sizeof reply - 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct script s; /* large: keep it off the stack */
    static struct tap t;
    static struct tcp_server srv;
    struct tcp_server_config cfg = tcp_server_defaults();
    size_t used = fuzz_tcp_server_config(data, size, &cfg);
    cfg.listen_fd = LISTEN_FD;
    cfg.stop_fd = STOP_FD;
    cfg.format_reply = fixed_reply;
    cfg.log = tap_log;
    cfg.log_arg = &t;

    script_init(&s, data + used, size - used, true);
    script_serve(&s, LISTEN_FD, STOP_FD);
    memset(&t, 0, sizeof t);
    t.inner = script_sockio(&s);
    t.s = &s;
    t.cfg = cfg;
    t.rx_cap = size;
    /* Each wait consumes an opcode or lets a deadline pass; a connection
     * lives through at most a few deadlines. */
    t.max_waits = 64 + 8 * size;
    struct sockio io = {.ops = &tap_ops, .ctx = &t};

    FUZZ_CHECK(tcp_server_init(&srv, &cfg, &io), "out of memory");
    int rc = tcp_server_run(&srv);

    if (rc != 0) {
        bool wait = t.wait_failed && strcmp(srv.fail_what, "epoll_wait") == 0;
        bool watch = t.watch_failed && (strcmp(srv.fail_what, "epoll") == 0 ||
                                        strcmp(srv.fail_what, "epoll_ctl (listener)") == 0);
        FUZZ_CHECK(wait || watch, "loop failed: %s: %s", srv.fail_what, strerror(srv.fail_errno));
    } else {
        FUZZ_CHECK(srv.nconns == 0 && t.open == 0, "%zu connections left open", t.open);
        FUZZ_CHECK(s.closes == s.accepts && s.bad_closes == 0 && s.open_conns == 0,
                   "%zu accepted, %zu closed, %zu bad closes", s.accepts, s.closes, s.bad_closes);
        FUZZ_CHECK(srv.served + srv.evicted + srv.shut == srv.accepted,
                   "%lu served + %lu evicted + %lu shut != %lu accepted", srv.served, srv.evicted,
                   srv.shut, srv.accepted);
        FUZZ_CHECK(t.log_lines == t.closes, "%zu log lines for %zu closes", t.log_lines, t.closes);
    }
    FUZZ_CHECK(srv.accepted == t.accepts, "loop accepted %lu, accept returned %zu fds",
               srv.accepted, t.accepts);
    FUZZ_CHECK(cfg.count == 0 || srv.accepted <= cfg.count, "accepted %lu, count %lu",
               srv.accepted, cfg.count);
    tcp_server_free(&srv);
    for (size_t i = 0; i < SCRIPT_CONN_FDS; i++)
        free(t.conn[i].rx);
    return 0;
}
