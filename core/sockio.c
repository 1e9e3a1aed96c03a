#include "sockio.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* ---- the real system: the only recv/send/accept calls in the project ---- */

static ssize_t sys_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
    (void)ctx;
    return recv(fd, buf, len, flags);
}

static ssize_t sys_recvfrom(void *ctx, int fd, void *buf, size_t len, int flags,
                            struct sockaddr *from, socklen_t *fromlen)
{
    (void)ctx;
    return recvfrom(fd, buf, len, flags, from, fromlen);
}

static ssize_t sys_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
    (void)ctx;
    return send(fd, buf, len, flags | MSG_NOSIGNAL);
}

static ssize_t sys_sendto(void *ctx, int fd, const void *buf, size_t len, int flags,
                          const struct sockaddr *to, socklen_t tolen)
{
    (void)ctx;
    return sendto(fd, buf, len, flags | MSG_NOSIGNAL, to, tolen);
}

static int sys_accept(void *ctx, int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    (void)ctx;
    return accept4(fd, addr, len, flags);
}

static int sys_shutdown(void *ctx, int fd, int how)
{
    (void)ctx;
    return shutdown(fd, how);
}

static int sys_poll(void *ctx, struct pollfd *fds, nfds_t n, int timeout_ms)
{
    (void)ctx;
    return poll(fds, n, timeout_ms);
}

static int64_t sys_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The event loop's readiness set: epoll, whose EPOLLIN/EPOLLOUT/EPOLLERR/
 * EPOLLHUP are poll's bits. */
static int sys_watch_open(void *ctx)
{
    (void)ctx;
    return epoll_create1(EPOLL_CLOEXEC);
}

static int sys_watch(void *ctx, int set, enum sockio_watch_op op, int fd, uint32_t events,
                     void *tag)
{
    (void)ctx;
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    int eop = op == SOCKIO_WATCH_ADD ? EPOLL_CTL_ADD
              : op == SOCKIO_WATCH_MOD ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    return epoll_ctl(set, eop, fd, &ev);
}

static int sys_wait(void *ctx, int set, struct sockio_event *evs, int max, int timeout_ms)
{
    (void)ctx;
    enum { BATCH = 256 };
    struct epoll_event got[BATCH];
    int n = epoll_wait(set, got, max < BATCH ? max : BATCH, timeout_ms);
    for (int i = 0; i < n; i++)
        evs[i] = (struct sockio_event){.events = got[i].events, .tag = got[i].data.ptr};
    return n;
}

static int sys_close(void *ctx, int fd, bool abortive)
{
    (void)ctx;
    if (abortive) {
        /* SO_LINGER 0: the close sends RST and drops what is queued. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    return close(fd);
}

static ssize_t sys_read(void *ctx, int fd, void *buf, size_t len)
{
    (void)ctx;
    return read(fd, buf, len);
}

static int sys_recvmmsg(void *ctx, int fd, struct mmsghdr *msgs, unsigned n, int flags)
{
    (void)ctx;
    return recvmmsg(fd, msgs, n, flags, NULL);
}

static const struct sockio_ops system_ops = {
    .recv = sys_recv, .recvfrom = sys_recvfrom, .send = sys_send, .sendto = sys_sendto,
    .accept = sys_accept, .shutdown = sys_shutdown, .poll = sys_poll, .now_ms = sys_now_ms,
    .watch_open = sys_watch_open, .watch = sys_watch, .wait = sys_wait, .close = sys_close,
    .read = sys_read,
    .recvmmsg = sys_recvmmsg,
};

const struct sockio sockio_system = {.ops = &system_ops, .ctx = NULL};

/* ---- loops over the seam ---- */

const char *sio_status_text(enum sio_status s)
{
    switch (s) {
    case SIO_OK: return "ok";
    case SIO_EOF: return "connection closed by peer";
    case SIO_TIMEOUT: return "timed out";
    case SIO_RESET: return "connection reset by peer";
    case SIO_REFUSED: return "connection refused";
    case SIO_OVERFLOW: return "peer sent more than the size limit";
    case SIO_ERROR: return "socket error";
    }
    return "unknown status";
}

enum sio_status sio_status_from_errno(int err)
{
    switch (err) {
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
        return SIO_RESET;
    case ECONNREFUSED:
        return SIO_REFUSED;
    case ETIMEDOUT:
        return SIO_TIMEOUT;
    default:
        return SIO_ERROR;
    }
}

int64_t sockio_deadline_in(const struct sockio *io, int64_t ms)
{
    return ms < 0 ? SOCKIO_NO_DEADLINE : io->ops->now_ms(io->ctx) + ms;
}

static int ms_until(const struct sockio *io, int64_t deadline)
{
    if (deadline == SOCKIO_NO_DEADLINE)
        return -1;
    int64_t left = deadline - io->ops->now_ms(io->ctx);
    if (left <= 0)
        return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

int sockio_wait(const struct sockio *io, int fd, short events, int64_t deadline)
{
    for (;;) {
        int timeout = ms_until(io, deadline);
        if (timeout == 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = io->ops->poll(io->ctx, &p, 1, timeout);
        if (n > 0)
            return 1; /* readable, writable, or an error the next call will report */
        if (n == 0 && deadline == SOCKIO_NO_DEADLINE)
            return 0; /* a seam that gives up even without a deadline: end, never spin */
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static enum sio_status fail_with(int e, int *err)
{
    if (err)
        *err = e;
    return sio_status_from_errno(e);
}

/* After a call failed with errno: SIO_OK to call again (EINTR, or EAGAIN
 * and fd became ready for `events`), else the status that ends the loop. */
static enum sio_status retry_or_fail(const struct sockio *io, int fd, short events,
                                     int64_t deadline, int *err)
{
    if (errno == EINTR)
        return SIO_OK;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return fail_with(errno, err);
    int w = sockio_wait(io, fd, events, deadline);
    if (w == 0)
        return SIO_TIMEOUT;
    if (w < 0)
        return fail_with(errno, err);
    return SIO_OK;
}

enum sio_status sockio_recv_some(const struct sockio *io, int fd, void *buf, size_t cap,
                                 int64_t deadline, size_t *got, int *err)
{
    *got = 0;
    for (;;) {
        ssize_t n = io->ops->recv(io->ctx, fd, buf, cap, MSG_DONTWAIT);
        if (n > 0) {
            *got = (size_t)n > cap ? cap : (size_t)n;
            return SIO_OK;
        }
        if (n == 0)
            return SIO_EOF;
        enum sio_status s = retry_or_fail(io, fd, POLLIN, deadline, err);
        if (s != SIO_OK)
            return s;
    }
}

enum sio_status sockio_read_to_eof(const struct sockio *io, int fd, void *buf, size_t cap,
                                   int64_t deadline, size_t *got, int *err)
{
    uint8_t *at = buf;
    *got = 0;
    for (;;) {
        uint8_t spill;
        bool full = *got == cap;
        /* Once full, read one byte more only to tell EOF from overflow. */
        size_t n;
        enum sio_status s = sockio_recv_some(io, fd, full ? &spill : at + *got,
                                             full ? 1 : cap - *got, deadline, &n, err);
        if (s == SIO_EOF)
            return SIO_OK;
        if (s != SIO_OK)
            return s;
        if (full)
            return SIO_OVERFLOW;
        *got += n;
    }
}

enum sio_status sockio_read_exact(const struct sockio *io, int fd, void *buf, size_t want,
                                  int64_t deadline, size_t *got, int *err)
{
    uint8_t *at = buf;
    *got = 0;
    while (*got < want) {
        size_t n;
        enum sio_status s = sockio_recv_some(io, fd, at + *got, want - *got, deadline, &n, err);
        if (s != SIO_OK)
            return s;
        *got += n;
    }
    return SIO_OK;
}

enum sio_status sockio_send_all(const struct sockio *io, int fd, const void *buf, size_t len,
                                int64_t deadline, int *err)
{
    const uint8_t *at = buf;
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = io->ops->send(io->ctx, fd, at + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n > len - sent ? len - sent : (size_t)n;
            continue;
        }
        if (n == 0)
            errno = EAGAIN; /* nothing taken: wait for room as for EAGAIN */
        enum sio_status s = retry_or_fail(io, fd, POLLOUT, deadline, err);
        if (s != SIO_OK)
            return s;
    }
    return SIO_OK;
}

/* Fills in a datagram's lengths from the real length a receive reported. */
static void datagram_sized(struct datagram *d, size_t wire_len, size_t cap)
{
    if (d->fromlen > sizeof d->from)
        d->fromlen = sizeof d->from;
    d->wire_len = wire_len;
    d->truncated = wire_len > cap;
    d->len = d->truncated ? cap : wire_len;
}

enum sio_status sockio_recv_datagram(const struct sockio *io, int fd, void *buf, size_t cap,
                                     int64_t deadline, struct datagram *d, int *err)
{
    for (;;) {
        memset(d, 0, sizeof *d);
        d->fromlen = sizeof d->from;
        /* MSG_TRUNC makes Linux return the datagram's real length. */
        ssize_t n = io->ops->recvfrom(io->ctx, fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC,
                                      (struct sockaddr *)&d->from, &d->fromlen);
        if (n >= 0) {
            datagram_sized(d, (size_t)n, cap);
            return SIO_OK;
        }
        enum sio_status s = retry_or_fail(io, fd, POLLIN, deadline, err);
        if (s != SIO_OK)
            return s;
    }
}

void sockio_batch_init(struct datagram_batch *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        b->iov[i] = (struct iovec){.iov_base = b->bufs + (size_t)i * b->cap, .iov_len = b->cap};
        b->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &b->iov[i], .msg_iovlen = 1,
                                             .msg_name = &b->d[i].from,
                                             .msg_namelen = sizeof b->d[i].from};
    }
}

enum sio_status sockio_recv_batch(const struct sockio *io, int fd, struct datagram_batch *b,
                                  unsigned want, unsigned *got, int *err)
{
    *got = 0;
    if (want > b->n)
        want = b->n;
    if (want == 0)
        return SIO_TIMEOUT;
    if (!io->ops->recvmmsg) {
        /* Deadline now: an empty queue is a timeout, never a wait. */
        enum sio_status s = sockio_recv_datagram(io, fd, b->bufs, b->cap,
                                                 io->ops->now_ms(io->ctx), &b->d[0], err);
        *got = s == SIO_OK;
        return s;
    }
    for (;;) {
        /* A receive rewrites the name length (and msg_len, msg_flags) of
         * the messages it fills; those are put back as it hands them over. */
        int n = io->ops->recvmmsg(io->ctx, fd, b->msgs, want, MSG_DONTWAIT | MSG_TRUNC);
        if (n > 0) {
            if ((unsigned)n > want)
                n = (int)want;
            for (int i = 0; i < n; i++) {
                struct msghdr *h = &b->msgs[i].msg_hdr;
                b->d[i].fromlen = h->msg_namelen;
                if (h->msg_namelen == 0)
                    b->d[i].from.ss_family = AF_UNSPEC; /* no name: no stale one either */
                h->msg_namelen = sizeof b->d[i].from;
                datagram_sized(&b->d[i], b->msgs[i].msg_len, b->cap);
            }
            *got = (unsigned)n;
            return SIO_OK;
        }
        if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
            return SIO_TIMEOUT;
        if (errno != EINTR)
            return fail_with(errno, err);
    }
}
