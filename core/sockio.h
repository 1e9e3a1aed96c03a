/* sockio: the only place that calls recv/recvfrom/send/sendto/accept (and
 * the event loop's epoll, close and read).
 *
 * Every call goes through one seam, struct sockio, so a test or a fuzzer can
 * script what each call returns (see script.h): data in chunks of any size,
 * EOF, EINTR, EAGAIN, ECONNRESET, timeouts, truncated datagrams, datagrams
 * from an unexpected address. On top of the seam sit the loops every program
 * needs once and only once: retry on EINTR, wait on EAGAIN, resume short
 * reads and partial writes, honour a deadline. */
#ifndef WIRECHECK_SOCKIO_H
#define WIRECHECK_SOCKIO_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* A readiness set's requests and events: events are POLLIN / POLLOUT (and
 * POLLERR / POLLHUP reported), the same bits as epoll's on Linux;
 * tag is handed back with each ready descriptor. */
enum sockio_watch_op { SOCKIO_WATCH_ADD = 1, SOCKIO_WATCH_MOD, SOCKIO_WATCH_DEL };
struct sockio_event {
    uint32_t events;
    void *tag;
};

struct sockio_ops {
    ssize_t (*recv)(void *ctx, int fd, void *buf, size_t len, int flags);
    ssize_t (*recvfrom)(void *ctx, int fd, void *buf, size_t len, int flags,
                        struct sockaddr *from, socklen_t *fromlen);
    ssize_t (*send)(void *ctx, int fd, const void *buf, size_t len, int flags);
    ssize_t (*sendto)(void *ctx, int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *to, socklen_t tolen);
    int (*accept)(void *ctx, int fd, struct sockaddr *addr, socklen_t *len, int flags);
    int (*shutdown)(void *ctx, int fd, int how);
    int (*poll)(void *ctx, struct pollfd *fds, nfds_t n, int timeout_ms);
    int64_t (*now_ms)(void *ctx); /* monotonic milliseconds */
    /* The servers' event loop (tcp_server_loop.h): a readiness set (epoll
     * on the system), close (abortive: SO_LINGER 0 first) and read (the
     * stop self-pipe). */
    int (*watch_open)(void *ctx);
    int (*watch)(void *ctx, int set, enum sockio_watch_op op, int fd, uint32_t events,
                 void *tag);
    int (*wait)(void *ctx, int set, struct sockio_event *evs, int max, int timeout_ms);
    int (*close)(void *ctx, int fd, bool abortive);
    ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
    /* Optional (NULL: callers fall back to recvfrom, one datagram a call):
     * up to n datagrams at once, as recvmmsg(2) without a timeout; each
     * msgs[i].msg_len is the datagram's real length under MSG_TRUNC. */
    int (*recvmmsg)(void *ctx, int fd, struct mmsghdr *msgs, unsigned n, int flags);
};

struct sockio {
    const struct sockio_ops *ops;
    void *ctx;
};

/* The real system calls and CLOCK_MONOTONIC. */
extern const struct sockio sockio_system;

#define SOCKIO_NO_DEADLINE INT64_MAX

enum sio_status {
    SIO_OK = 0,
    SIO_EOF,      /* orderly shutdown by the peer */
    SIO_TIMEOUT,  /* the deadline passed */
    SIO_RESET,    /* ECONNRESET / EPIPE: the peer aborted */
    SIO_REFUSED,  /* ECONNREFUSED: ICMP port unreachable or RST to SYN */
    SIO_OVERFLOW, /* the peer sent more than the caller's cap */
    SIO_ERROR,    /* any other errno, kept in *err where asked */
};

const char *sio_status_text(enum sio_status s);
/* Maps an errno from a socket call to a status. */
enum sio_status sio_status_from_errno(int err);

/* Deadline `ms` from now on io's clock (ms < 0: none). */
int64_t sockio_deadline_in(const struct sockio *io, int64_t ms);

/* Waits until fd has `events`; 1 ready (or error/hangup pending), 0 deadline
 * passed, -1 poll failed (errno set). EINTR restarts with the time left. */
int sockio_wait(const struct sockio *io, int fd, short events, int64_t deadline);

/* One receive of up to cap bytes: SIO_OK with *got > 0, SIO_EOF, SIO_TIMEOUT,
 * SIO_RESET or SIO_ERROR (*err). */
enum sio_status sockio_recv_some(const struct sockio *io, int fd, void *buf, size_t cap,
                                 int64_t deadline, size_t *got, int *err);

/* Reads until EOF. SIO_OK when EOF came with *got <= cap bytes; SIO_OVERFLOW
 * when the peer sent more than cap (buf holds the first cap); otherwise the
 * status that ended it, with *got the bytes kept so far. */
enum sio_status sockio_read_to_eof(const struct sockio *io, int fd, void *buf, size_t cap,
                                   int64_t deadline, size_t *got, int *err);

/* Reads exactly `want` bytes (want <= cap) unless EOF or an error comes first. */
enum sio_status sockio_read_exact(const struct sockio *io, int fd, void *buf, size_t want,
                                  int64_t deadline, size_t *got, int *err);

/* Sends all len bytes; partial writes resumed, never raises SIGPIPE. */
enum sio_status sockio_send_all(const struct sockio *io, int fd, const void *buf, size_t len,
                                int64_t deadline, int *err);

struct datagram {
    size_t len;      /* bytes stored in the caller's buffer */
    size_t wire_len; /* the datagram's real length (MSG_TRUNC) */
    bool truncated;  /* wire_len > the buffer */
    struct sockaddr_storage from;
    socklen_t fromlen;
};

/* Receives one datagram, reporting its real length when it did not fit. */
enum sio_status sockio_recv_datagram(const struct sockio *io, int fd, void *buf, size_t cap,
                                     int64_t deadline, struct datagram *d, int *err);

/* Slots for a batch receive: n buffers of cap bytes (slot i at
 * bufs + i * cap) and what arrived in each. The caller owns the memory;
 * sockio_batch_init ties the system's message headers to it once.
 *
 *   struct datagram_batch b = {.bufs = mem, .cap = max, .n = 64, .d = ds, .msgs = ms, .iov = iv};
 *   sockio_batch_init(&b);
 *   sockio_recv_batch(io, fd, &b, 64, &got, &err);  // got datagrams in b.d[0..got) */
struct datagram_batch {
    uint8_t *bufs;
    size_t cap;
    unsigned n;
    struct datagram *d;   /* [n] */
    struct mmsghdr *msgs; /* [n] */
    struct iovec *iov;    /* [n] */
};
void sockio_batch_init(struct datagram_batch *b);

/* Receives what is queued now, up to `want` (<= b->n) datagrams, without
 * waiting: SIO_OK with *got >= 1, SIO_TIMEOUT when nothing is queued, or
 * the status of a receive error (*err). One recvmmsg where the seam has it,
 * else one recvfrom (a batch of one). EINTR is retried. */
enum sio_status sockio_recv_batch(const struct sockio *io, int fd, struct datagram_batch *b,
                                  unsigned want, unsigned *got, int *err);

#endif
