/* tcp-time-server's event loop: one readiness set (epoll) serves the
 * listener, the stop self-pipe and every connection (tcpconn.h), each with
 * its own deadline and an absolute lifetime; with every slot taken, a new
 * client evicts the connection idle the longest; a stop request closes the
 * listener at once and gives the open connections a grace period. All I/O
 * goes through the sockio seam, so the program (over sockio_system), the
 * unit tests and the fuzz harness (over a script) run this same loop.
 *
 *   struct tcp_server srv;
 *   struct tcp_server_config cfg = tcp_server_defaults();
 *   cfg.listen_fd = lfd; cfg.stop_fd = stop; cfg.log = my_log;
 *   if (!tcp_server_init(&srv, &cfg, &sockio_system)) ...out of memory...
 *   if (tcp_server_run(&srv) != 0)
 *       fail("%s: %s", srv.fail_what, strerror(srv.fail_errno));
 *   if (srv.stopping) print srv.served, srv.evicted, srv.shut;
 *   tcp_server_free(&srv);   (the listener, if still open, is the caller's) */
#ifndef WIRECHECK_TCP_SERVER_LOOP_H
#define WIRECHECK_TCP_SERVER_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockio.h"
#include "tcpconn.h"
#include "timemsg.h"

enum tcp_server_log {
    TCP_SERVER_LOG_CONN,  /* "Served ..." / "Evicted ..." line, '\n' ended (stdout) */
    TCP_SERVER_LOG_WARN,  /* a complaint without the program's name, '\n' ended (stderr) */
    TCP_SERVER_LOG_FLUSH, /* end of a burst: lines logged so far may be flushed */
};

struct tcp_server_config {
    enum tcp_service service;
    enum close_mode close_mode;
    unsigned long count; /* connections to serve, then return; 0: forever */
    int64_t timeout_ms, lifetime_ms, grace_ms;
    size_t max_conns; /* >= 1 */
    int listen_fd;    /* listening, non-blocking */
    int stop_fd;      /* readable once a stop is requested (a self-pipe); -1: none */
    /* The time message (TIMEMSG_LEN bytes); NULL: the real clock's. */
    int (*format_reply)(char out[TIMEMSG_LEN + 1]);
    void (*log)(void *arg, enum tcp_server_log kind, const char *text, size_t len);
    void *log_arg;
};

struct tcp_server_slot; /* a connection, its peer and its place (tcp_server_loop.c) */

struct tcp_server {
    struct tcp_server_config cfg;
    const struct sockio *io;
    int listen_fd, set;
    bool listen_registered;
    struct tcp_conn **conns; /* each the c of a slot */
    size_t nconns;
    unsigned long accepted;
    int64_t accept_paused_until; /* EMFILE back-off */
    int64_t next_deadline;       /* no open connection's deadline is earlier */
    bool stopping;
    int64_t grace_until; /* once stopping: when the open connections are closed */
    unsigned long served, evicted, shut; /* for the "Stopped:" summary */
    /* Closed connections kept for reuse: a 16 KiB malloc/free per
     * connection made glibc grow and trim the heap (brk) every time. */
    struct tcp_server_slot *spare[64];
    size_t nspare;
    const char *fail_what; /* why tcp_server_run returned -1, with fail_errno */
    int fail_errno;
};

/* time, fin, forever, timeout 10 s, lifetime 60 s, grace 1 s, 4096 slots. */
struct tcp_server_config tcp_server_defaults(void);

/* false: out of memory for cfg->max_conns connections. */
bool tcp_server_init(struct tcp_server *s, const struct tcp_server_config *cfg,
                     const struct sockio *io);
/* Serves until count connections are served, or a stop and its grace are
 * over. 0; -1 when the readiness set failed (fail_what, fail_errno). */
int tcp_server_run(struct tcp_server *s);
/* Frees what init and run allocated; closes nothing. */
void tcp_server_free(struct tcp_server *s);

#endif
