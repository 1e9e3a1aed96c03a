#include "tcp_server_loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netaddr.h"
#include "textput.h"

/* One served connection: the state machine (first, so a struct tcp_conn *
 * in conns[] is also its slot), the peer and where it sits. */
struct tcp_server_slot {
    struct tcp_conn c;
    struct net_addr peer;
    size_t index;        /* in conns[] */
    uint32_t registered; /* the events asked for now */
};

/* Tags of the two descriptors that are not connections. */
static char stop_tag, listen_tag;

struct tcp_server_config tcp_server_defaults(void)
{
    return (struct tcp_server_config){
        .service = TCP_SERVICE_TIME, .close_mode = CLOSE_MODE_FIN, .timeout_ms = 10000,
        .lifetime_ms = 60000, .grace_ms = 1000, .max_conns = 4096, .listen_fd = -1,
        .stop_fd = -1,
    };
}

bool tcp_server_init(struct tcp_server *s, const struct tcp_server_config *cfg,
                     const struct sockio *io)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.format_reply)
        s->cfg.format_reply = timemsg_format_now;
    if (s->cfg.max_conns == 0)
        s->cfg.max_conns = 1;
    s->io = io;
    s->listen_fd = cfg->listen_fd;
    s->set = -1;
    s->conns = calloc(s->cfg.max_conns, sizeof *s->conns);
    return s->conns != NULL;
}

void tcp_server_free(struct tcp_server *s)
{
    for (size_t i = 0; i < s->nconns; i++)
        free(s->conns[i]); /* a conn is its slot */
    s->nconns = 0;
    while (s->nspare)
        free(s->spare[--s->nspare]);
    free(s->conns);
    s->conns = NULL;
}

static struct tcp_server_slot *slot_of(struct tcp_conn *c) { return (struct tcp_server_slot *)c; }

static struct tcp_server_slot *conn_alloc(struct tcp_server *s)
{
    return s->nspare ? s->spare[--s->nspare] : malloc(sizeof(struct tcp_server_slot));
}

static void conn_release(struct tcp_server *s, struct tcp_server_slot *c)
{
    if (s->nspare < sizeof s->spare / sizeof s->spare[0])
        s->spare[s->nspare++] = c;
    else
        free(c);
}

static void log_text(const struct tcp_server *s, enum tcp_server_log kind, const char *text,
                     size_t len)
{
    if (s->cfg.log)
        s->cfg.log(s->cfg.log_arg, kind, text, len);
}

/* Log lines are built by hand (textput.h, net_put_addr), not by printf:
 * formatting was a visible share of the server's own time per connection. */
static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

static char *put_peer(char *p, const struct net_addr *a)
{
    return net_put_addr(p, (const struct sockaddr *)&a->ss, a->len);
}

static void close_conn(struct tcp_server *s, size_t i, int64_t now)
{
    struct tcp_conn *c = s->conns[i];
    struct tcp_server_slot *sl = slot_of(c);
    s->io->ops->close(s->io->ctx, c->fd, tcp_conn_wants_abort(c)); /* also leaves the set */
    /* Flushed once per loop iteration (TCP_SERVER_LOG_FLUSH), not per
     * connection: one write for a whole burst of closes. */
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
    log_text(s, TCP_SERVER_LOG_CONN, line, (size_t)(p - line));
    conn_release(s, sl);
    s->nconns--;
    if (i < s->nconns) {
        s->conns[i] = s->conns[s->nconns];
        slot_of(s->conns[i])->index = i;
    }
}

/* Whether to wait on the listener. A full table still accepts: the new
 * client takes the slot of the connection idle the longest. */
static bool accepting(const struct tcp_server *s, int64_t now)
{
    return s->listen_fd >= 0 && now >= s->accept_paused_until &&
           (s->cfg.count == 0 || s->accepted < s->cfg.count);
}

static bool set_listening(struct tcp_server *s, bool on)
{
    if (on == s->listen_registered)
        return true;
    if (s->io->ops->watch(s->io->ctx, s->set, on ? SOCKIO_WATCH_ADD : SOCKIO_WATCH_DEL,
                          s->listen_fd, POLLIN, &listen_tag) != 0) {
        s->fail_what = "epoll_ctl (listener)";
        s->fail_errno = errno;
        return false;
    }
    s->listen_registered = on;
    return true;
}

/* Waits on what the connection wants next. false: it could not be registered. */
static bool watch(struct tcp_server *s, struct tcp_server_slot *sl)
{
    uint32_t want = (uint32_t)tcp_conn_wanted_events(&sl->c);
    if (want == sl->registered)
        return true;
    enum sockio_watch_op op = sl->registered ? SOCKIO_WATCH_MOD : SOCKIO_WATCH_ADD;
    if (s->io->ops->watch(s->io->ctx, s->set, op, sl->c.fd, want, sl) != 0)
        return false;
    sl->registered = want;
    return true;
}

/* Frees a slot for a client already accepted: the scan happens only when
 * the table is full, never per connection otherwise. */
static void make_room(struct tcp_server *s, int64_t now)
{
    size_t v = tcp_conn_pick_victim(s->conns, s->nconns);
    tcp_conn_end(s->conns[v], CONN_EVICTED); /* a done victim is simply served */
    close_conn(s, v, now);
}

/* "accept: <why>; pausing accepts for 100 ms" on the warning channel. */
static void warn_accept_paused(const struct tcp_server *s, int err)
{
    char line[160], *p = line;
    const char *why = strerror(err);
    size_t n = strlen(why);
    if (n > 100)
        n = 100;
    p = put_str(p, "accept: ");
    memcpy(p, why, n);
    p += n;
    p = put_str(p, "; pausing accepts for 100 ms\n");
    log_text(s, TCP_SERVER_LOG_WARN, line, (size_t)(p - line));
}

static void accept_new(struct tcp_server *s, int64_t now)
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
                warn_accept_paused(s, errno);
                s->accept_paused_until = now + 100;
            }
            return; /* EAGAIN, ECONNABORTED, EINTR: nothing more now */
        }
        if (peer.len > sizeof peer.ss)
            peer.len = sizeof peer.ss;
        struct tcp_server_slot *sl = conn_alloc(s);
        if (!sl) {
            s->io->ops->close(s->io->ctx, fd, false);
            s->accept_paused_until = now + 100;
            return;
        }
        if (s->nconns == s->cfg.max_conns)
            make_room(s, now);
        if (reply_len < 0)
            reply_len = s->cfg.service == TCP_SERVICE_TIME ? s->cfg.format_reply(reply) : 0;
        struct tcp_conn *c = &sl->c;
        tcp_conn_open(c, fd, s->cfg.service, s->cfg.close_mode, now, s->cfg.timeout_ms, reply,
                      reply_len > 0 ? (size_t)reply_len : 0);
        tcp_conn_set_lifetime(c, now, s->cfg.lifetime_ms);
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
static void check_deadlines(struct tcp_server *s, int64_t now)
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

static int wait_timeout(const struct tcp_server *s, int64_t now)
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

/* A stop request: the listener closes now (new clients are refused, not
 * left waiting in its backlog); the open connections have until grace_until. */
static bool drain_stop_pipe(struct tcp_server *s, int64_t now)
{
    char b[16];
    while (s->io->ops->read(s->io->ctx, s->cfg.stop_fd, b, sizeof b) > 0) {
    }
    if (s->stopping)
        return true;
    s->stopping = true;
    s->grace_until = now + s->cfg.grace_ms;
    if (s->listen_fd < 0)
        return true;
    if (!set_listening(s, false))
        return false;
    s->io->ops->close(s->io->ctx, s->listen_fd, false);
    s->listen_fd = -1;
    return true;
}

/* One connection's readiness: I/O, then its deadline, then what it waits
 * for next, or its close. */
static void on_conn_ready(struct tcp_server *s, struct tcp_server_slot *sl, int64_t now)
{
    tcp_conn_on_ready(s->io, &sl->c, now);
    tcp_conn_check_deadline(&sl->c, now);
    if (!tcp_conn_done(&sl->c) && !watch(s, sl))
        tcp_conn_end(&sl->c, CONN_ERROR);
    if (tcp_conn_done(&sl->c))
        close_conn(s, sl->index, now);
}

static int fail(struct tcp_server *s, const char *what)
{
    s->fail_what = what;
    s->fail_errno = errno;
    return -1;
}

/* Level-triggered: each connection is registered for what its state
 * machine waits on. */
int tcp_server_run(struct tcp_server *s)
{
    const struct sockio *io = s->io;
    s->set = io->ops->watch_open(io->ctx);
    if (s->set < 0)
        return fail(s, "epoll");
    if (s->cfg.stop_fd >= 0 &&
        io->ops->watch(io->ctx, s->set, SOCKIO_WATCH_ADD, s->cfg.stop_fd, POLLIN, &stop_tag) != 0) {
        fail(s, "epoll");
        io->ops->close(io->ctx, s->set, false);
        return -1;
    }
    s->next_deadline = INT64_MAX;
    enum { EVENTS = 256 };
    struct sockio_event evs[EVENTS];
    int rc = 0;
    for (;;) {
        int64_t now = io->ops->now_ms(io->ctx);
        bool done_accepting = s->stopping || (s->cfg.count && s->accepted >= s->cfg.count);
        if (s->stopping && now >= s->grace_until && s->nconns) {
            /* Grace is over: a plain close (FIN, not RST) of what is left. */
            for (size_t i = s->nconns; i-- > 0;) {
                tcp_conn_end(s->conns[i], CONN_SHUTDOWN);
                close_conn(s, i, now);
            }
            log_text(s, TCP_SERVER_LOG_FLUSH, "", 0);
        }
        if (done_accepting && s->nconns == 0)
            break;
        if (s->listen_fd >= 0 && !set_listening(s, accepting(s, now))) {
            rc = -1;
            break;
        }
        int n = io->ops->wait(io->ctx, s->set, evs, EVENTS, wait_timeout(s, now));
        if (n < 0 && errno != EINTR) {
            rc = fail(s, "epoll_wait");
            break;
        }
        now = io->ops->now_ms(io->ctx);
        bool stop_ready = false, listen_ready = false;
        /* Each connection appears once per batch, and none is closed by
         * another's event (evictions wait for the accepts below). */
        for (int k = 0; k < n; k++) {
            if (evs[k].tag == &stop_tag)
                stop_ready = true;
            else if (evs[k].tag == &listen_tag)
                listen_ready = true;
            else
                on_conn_ready(s, evs[k].tag, now);
        }
        if (stop_ready && !drain_stop_pipe(s, now)) {
            rc = -1;
            break;
        }
        check_deadlines(s, now);
        if (listen_ready && s->listen_fd >= 0 && accepting(s, now))
            accept_new(s, now);
        log_text(s, TCP_SERVER_LOG_FLUSH, "", 0);
    }
    io->ops->close(io->ctx, s->set, false);
    s->set = -1;
    return rc;
}
