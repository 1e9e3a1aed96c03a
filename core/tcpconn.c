#include "tcpconn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

bool tcp_service_parse(const char *s, enum tcp_service *out)
{
    if (strcmp(s, "time") == 0)
        *out = TCP_SERVICE_TIME;
    else if (strcmp(s, "echo") == 0)
        *out = TCP_SERVICE_ECHO;
    else if (strcmp(s, "discard") == 0)
        *out = TCP_SERVICE_DISCARD;
    else
        return false;
    return true;
}

bool close_mode_parse(const char *s, enum close_mode *out)
{
    if (strcmp(s, "fin") == 0)
        *out = CLOSE_MODE_FIN;
    else if (strcmp(s, "rst") == 0)
        *out = CLOSE_MODE_RST;
    else if (strcmp(s, "unread") == 0)
        *out = CLOSE_MODE_UNREAD;
    else
        return false;
    return true;
}

const char *conn_end_text(enum conn_end e)
{
    switch (e) {
    case CONN_OPEN: return "open";
    case CONN_CLEAN: return "closed";
    case CONN_ABORT: return "aborted (RST)";
    case CONN_UNREAD: return "closed with unread data";
    case CONN_TIMEOUT: return "timed out";
    case CONN_RESET: return "reset by peer";
    case CONN_ERROR: return "socket error";
    case CONN_LIFETIME: return "lifetime reached";
    case CONN_EVICTED: return "evicted";
    case CONN_SHUTDOWN: return "closed at shutdown";
    }
    return "?";
}

void tcp_conn_open(struct tcp_conn *c, int fd, enum tcp_service service, enum close_mode mode,
                   int64_t now, int64_t timeout_ms, const void *reply, size_t reply_len)
{
    /* Every field but buf, one by one: zeroing (or copying a literal of)
     * 16 KiB per connection cost a tenth of the server's time under load,
     * and buf is never read beyond out_len. */
    c->fd = fd;
    c->service = service;
    c->close_mode = mode;
    c->out_off = c->out_len = 0;
    c->peer_eof = false;
    c->expires = INT64_MAX;
    c->deadline = tcp_conn_deadline_after(now, timeout_ms, c->expires);
    c->idle_ms = timeout_ms;
    c->last_active = now;
    c->bytes_in = c->bytes_out = 0;
    c->end = CONN_OPEN;
    c->err = 0;
    switch (service) {
    case TCP_SERVICE_TIME:
        c->out_len = reply_len < sizeof c->buf ? reply_len : sizeof c->buf;
        if (c->out_len)
            memcpy(c->buf, reply, c->out_len);
        c->phase = PHASE_SEND;
        break;
    case TCP_SERVICE_ECHO:
        c->phase = PHASE_ECHO;
        break;
    case TCP_SERVICE_DISCARD:
        c->phase = PHASE_DISCARD;
        break;
    }
}

int64_t tcp_conn_deadline_after(int64_t now, int64_t idle_ms, int64_t expires)
{
    /* expires - now cannot overflow for now >= 0; now + idle_ms is only
     * formed when it is below expires. */
    return idle_ms >= expires - now ? expires : now + idle_ms;
}

void tcp_conn_set_lifetime(struct tcp_conn *c, int64_t now, int64_t lifetime_ms)
{
    c->expires = tcp_conn_deadline_after(now, lifetime_ms, INT64_MAX);
    if (c->deadline > c->expires)
        c->deadline = c->expires;
}

size_t tcp_conn_pick_victim(struct tcp_conn *const *conns, size_t n)
{
    size_t best = n;
    for (size_t i = 0; i < n; i++) {
        if (conns[i]->phase == PHASE_DONE)
            return i;
        if (best == n || conns[i]->last_active < conns[best]->last_active)
            best = i;
    }
    return best;
}

short tcp_conn_wanted_events(const struct tcp_conn *c)
{
    switch (c->phase) {
    case PHASE_SEND:
        return POLLOUT;
    case PHASE_ECHO:
        return c->out_off < c->out_len ? POLLOUT : POLLIN;
    case PHASE_DISCARD:
    case PHASE_DRAIN:
    case PHASE_AWAIT_UNREAD:
        return POLLIN;
    case PHASE_DONE:
        break;
    }
    return 0;
}

static void finish(struct tcp_conn *c, enum conn_end end, int err)
{
    c->phase = PHASE_DONE;
    c->end = end;
    c->err = err;
}

static void fail_errno(struct tcp_conn *c, int err)
{
    finish(c, sio_status_from_errno(err) == SIO_RESET ? CONN_RESET : CONN_ERROR, err);
}

/* Our side is done sending: FIN (and keep reading), or hand over for an
 * abortive / unread close. */
static void close_after_reply(const struct sockio *io, struct tcp_conn *c, bool peer_done)
{
    if (c->close_mode == CLOSE_MODE_RST) {
        finish(c, CONN_ABORT, 0);
        return;
    }
    if (c->close_mode == CLOSE_MODE_UNREAD && !peer_done) {
        /* Closing before the peer's bytes arrive would be a plain FIN: wait
         * for them, so the close really is over unread data. */
        c->phase = PHASE_AWAIT_UNREAD;
        return;
    }
    if (io->ops->shutdown(io->ctx, c->fd, SHUT_WR) != 0 && errno != ENOTCONN) {
        fail_errno(c, errno);
        return;
    }
    if (peer_done)
        finish(c, CONN_CLEAN, 0);
    else
        c->phase = PHASE_DRAIN;
}

static void progress(struct tcp_conn *c, int64_t now)
{
    /* Echo and discard live as long as bytes flow (up to their lifetime);
     * the time service's deadline is fixed so a trickling peer cannot hold
     * it open. */
    c->last_active = now;
    if (c->service != TCP_SERVICE_TIME)
        c->deadline = tcp_conn_deadline_after(now, c->idle_ms, c->expires);
}

/* One send of the pending output. false: stop for now (EAGAIN or done). */
static bool send_pending(const struct sockio *io, struct tcp_conn *c, int64_t now)
{
    ssize_t n = io->ops->send(io->ctx, c->fd, c->buf + c->out_off, c->out_len - c->out_off,
                              MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
        size_t took = (size_t)n > c->out_len - c->out_off ? c->out_len - c->out_off : (size_t)n;
        c->out_off += took;
        c->bytes_out += took;
        progress(c, now);
        return true;
    }
    if (n < 0 && errno == EINTR)
        return true;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
    fail_errno(c, n < 0 ? errno : EIO);
    return false;
}

/* One receive into buf (kept for echo, dropped otherwise). false: stop. */
static bool receive(const struct sockio *io, struct tcp_conn *c, int64_t now, bool keep)
{
    ssize_t n = io->ops->recv(io->ctx, c->fd, c->buf, sizeof c->buf, MSG_DONTWAIT);
    if (n > 0) {
        size_t got = (size_t)n > sizeof c->buf ? sizeof c->buf : (size_t)n;
        c->bytes_in += got;
        if (keep) {
            c->out_off = 0;
            c->out_len = got;
        }
        progress(c, now);
        return true;
    }
    if (n == 0) {
        c->peer_eof = true;
        return true;
    }
    if (errno == EINTR)
        return true;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return false;
    fail_errno(c, errno);
    return false;
}

/* Unread mode: looks (MSG_PEEK) whether the peer's bytes are here, never
 * consuming them. false: stop for now. */
static bool await_unread(const struct sockio *io, struct tcp_conn *c)
{
    uint8_t b;
    ssize_t n = io->ops->recv(io->ctx, c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
        finish(c, CONN_UNREAD, 0);
        return false;
    }
    if (n == 0) {
        finish(c, CONN_CLEAN, 0); /* the peer closed without sending: nothing unread */
        return false;
    }
    if (errno == EINTR)
        return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        fail_errno(c, errno);
    return false;
}

/* One step of the state machine; false when it must wait for readiness. */
static bool step(const struct sockio *io, struct tcp_conn *c, int64_t now)
{
    switch (c->phase) {
    case PHASE_SEND:
        if (c->out_off == c->out_len) {
            close_after_reply(io, c, false);
            return true;
        }
        return send_pending(io, c, now);
    case PHASE_ECHO:
        if (c->out_off < c->out_len)
            return send_pending(io, c, now);
        if (c->peer_eof) {
            close_after_reply(io, c, true);
            return true;
        }
        return receive(io, c, now, true);
    case PHASE_DISCARD:
    case PHASE_DRAIN:
        if (c->peer_eof) {
            if (c->phase == PHASE_DISCARD)
                close_after_reply(io, c, true);
            else
                finish(c, CONN_CLEAN, 0);
            return true;
        }
        return receive(io, c, now, false);
    case PHASE_AWAIT_UNREAD:
        return await_unread(io, c);
    case PHASE_DONE:
        break;
    }
    return false;
}

void tcp_conn_on_ready(const struct sockio *io, struct tcp_conn *c, int64_t now)
{
    for (int i = 0; i < TCP_CONN_BURST && c->phase != PHASE_DONE; i++)
        if (!step(io, c, now))
            break;
}

void tcp_conn_check_deadline(struct tcp_conn *c, int64_t now)
{
    if (c->phase != PHASE_DONE && now >= c->deadline)
        finish(c, now >= c->expires ? CONN_LIFETIME : CONN_TIMEOUT, ETIMEDOUT);
}

void tcp_conn_end(struct tcp_conn *c, enum conn_end why)
{
    if (c->phase != PHASE_DONE)
        finish(c, why, 0);
}
