/* One accepted TCP connection of tcp-time-server as a state machine over the
 * sockio seam. The server's event loop (core/tcp_server_loop.c) drives many
 * of these with one wait; its fuzz harness runs that loop over a scripted
 * sockio, and the unit tests drive one connection with a poll loop of
 * their own.
 *
 *   time:    send the reply, then per close mode:
 *              fin    shutdown(SHUT_WR) and drain the peer until its FIN, so
 *                     the kernel never answers unread data with RST
 *              rst    abortive close (SO_LINGER 0, done by the shell)
 *              unread wait until the peer's bytes have arrived (peek, never
 *                     read), then close over them: the kernel sends RST
 *   echo:    return every byte until the peer half-closes, then FIN
 *   discard: read and drop until the peer's FIN, then FIN */
#ifndef WIRECHECK_TCPCONN_H
#define WIRECHECK_TCPCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockio.h"

enum tcp_service { TCP_SERVICE_TIME, TCP_SERVICE_ECHO, TCP_SERVICE_DISCARD };
enum close_mode { CLOSE_MODE_FIN, CLOSE_MODE_RST, CLOSE_MODE_UNREAD };

enum conn_end {
    CONN_OPEN = 0,
    CONN_CLEAN,   /* both FINs exchanged as the service intends */
    CONN_ABORT,   /* close mode rst: the shell closes with SO_LINGER 0 */
    CONN_UNREAD,  /* close mode unread: closed with the peer's bytes unread */
    CONN_TIMEOUT, /* the connection's deadline passed */
    CONN_RESET,   /* the peer reset the connection */
    CONN_ERROR,   /* another socket error (err) */
    CONN_LIFETIME, /* the connection's absolute lifetime passed, busy or not */
    CONN_EVICTED, /* closed by the server to admit a new connection */
    CONN_SHUTDOWN, /* still open when the server's shutdown grace ran out */
};
#define CONN_END_LAST CONN_SHUTDOWN

#define TCP_CONN_BUF 16384
/* I/O calls one readiness event may make, so one busy peer cannot starve
 * the others in the event loop. */
#define TCP_CONN_BURST 16

struct tcp_conn {
    int fd;
    enum tcp_service service;
    enum close_mode close_mode;
    enum { PHASE_SEND, PHASE_ECHO, PHASE_DISCARD, PHASE_DRAIN, PHASE_AWAIT_UNREAD,
           PHASE_DONE } phase;
    uint8_t buf[TCP_CONN_BUF];
    size_t out_off, out_len;
    bool peer_eof;
    /* deadline: when the connection times out, never after expires (the
     * absolute lifetime, INT64_MAX for none); last_active: the open or the
     * last byte moved either way, which picks the eviction victim. */
    int64_t deadline, idle_ms, expires, last_active;
    uint64_t bytes_in, bytes_out;
    enum conn_end end;
    int err;
};

bool tcp_service_parse(const char *s, enum tcp_service *out);
bool close_mode_parse(const char *s, enum close_mode *out);
const char *conn_end_text(enum conn_end e);

/* reply: the time message for the time service (copied; ignored otherwise). */
void tcp_conn_open(struct tcp_conn *c, int fd, enum tcp_service service, enum close_mode mode,
                   int64_t now, int64_t timeout_ms, const void *reply, size_t reply_len);
/* Gives an open connection an absolute lifetime of lifetime_ms from now:
 * it ends CONN_LIFETIME then, however busy. Without it, a peer trickling a
 * byte just inside each idle deadline of an echo would hold it forever. */
void tcp_conn_set_lifetime(struct tcp_conn *c, int64_t now, int64_t lifetime_ms);
/* The next deadline of a connection active at now (now >= 0): the idle
 * deadline, but never after its end of life. */
int64_t tcp_conn_deadline_after(int64_t now, int64_t idle_ms, int64_t expires);
/* Ends an open connection from outside (why: CONN_EVICTED, CONN_SHUTDOWN);
 * the shell then closes it as for any other end. */
void tcp_conn_end(struct tcp_conn *c, enum conn_end why);
/* Which of n > 0 connections to close to make room for a new one: one that
 * is already done (closing it costs nothing), else the one idle the longest
 * (least recent last_active; the first such on a tie). n when n == 0. */
size_t tcp_conn_pick_victim(struct tcp_conn *const *conns, size_t n);

/* POLLIN / POLLOUT the connection waits for; 0 when done. */
short tcp_conn_wanted_events(const struct tcp_conn *c);
/* Does the non-blocking I/O that is possible now (at most TCP_CONN_BURST calls). */
void tcp_conn_on_ready(const struct sockio *io, struct tcp_conn *c, int64_t now);
/* Ends the connection as timed out (CONN_TIMEOUT, or CONN_LIFETIME at its
 * end of life) if its deadline has passed. */
void tcp_conn_check_deadline(struct tcp_conn *c, int64_t now);
static inline bool tcp_conn_done(const struct tcp_conn *c) { return c->phase == PHASE_DONE; }
/* The shell must close with SO_LINGER 0 (abortive) rather than a plain close. */
static inline bool tcp_conn_wants_abort(const struct tcp_conn *c) { return c->end == CONN_ABORT; }

#endif
