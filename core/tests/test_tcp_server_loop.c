/* tcp-time-server's event loop (tcp_server_loop.c), the very loop the
 * program runs, driven through the scripted sockio: several connections,
 * accept / wait / shutdown / send failures, deadlines, eviction, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "script.h"
#include "script_helpers.h"
#include "tcp_server_loop.h"

#define LISTEN_FD 3
#define STOP_FD 4
#define REPLY "Current time is 2024-03-07 13:45:09.123456"

/* What the loop logged: connection lines and warnings, in order. */
static char conn_log[8192], warn_log[1024];
static size_t conn_len, warn_len, flushes;

static void capture_log(void *arg, enum tcp_server_log kind, const char *text, size_t len)
{
    (void)arg;
    char *to = kind == TCP_SERVER_LOG_CONN ? conn_log : warn_log;
    size_t *at = kind == TCP_SERVER_LOG_CONN ? &conn_len : &warn_len;
    size_t cap = kind == TCP_SERVER_LOG_CONN ? sizeof conn_log : sizeof warn_log;
    if (kind == TCP_SERVER_LOG_FLUSH) {
        flushes++;
        return;
    }
    assert_true(*at + len < cap);
    memcpy(to + *at, text, len);
    *at += len;
    to[*at] = '\0';
}

static int fixed_reply(char out[TIMEMSG_LEN + 1])
{
    memcpy(out, REPLY, sizeof REPLY);
    return TIMEMSG_LEN;
}

static struct tcp_server srv;

static struct tcp_server_config config(enum tcp_service svc, unsigned long count, size_t max_conns)
{
    struct tcp_server_config cfg = tcp_server_defaults();
    cfg.service = svc;
    cfg.count = count;
    cfg.max_conns = max_conns;
    cfg.listen_fd = LISTEN_FD;
    cfg.stop_fd = STOP_FD;
    cfg.format_reply = fixed_reply;
    cfg.log = capture_log;
    return cfg;
}

/* Runs the loop over the schedule built so far; returns what run returned. */
static int run_loop(const struct tcp_server_config *cfg)
{
    conn_len = warn_len = flushes = 0;
    conn_log[0] = warn_log[0] = '\0';
    const struct sockio *io = sched_start(true);
    script_serve(&sh_s, LISTEN_FD, STOP_FD);
    assert_true(tcp_server_init(&srv, cfg, io));
    int rc = tcp_server_run(&srv);
    assert_int_equal(srv.nconns, 0);
    tcp_server_free(&srv);
    /* Every accepted connection closed once, nothing else closed. */
    assert_int_equal(sh_s.closes, sh_s.accepts);
    assert_int_equal(sh_s.open_conns, 0);
    assert_int_equal(sh_s.bad_closes, 0);
    return rc;
}

static void sched_accept(uint8_t addr, uint16_t port)
{
    assert_true(script_add_accept(&sh_b, addr, port));
}

static void sched_op_arg(enum script_op op, uint8_t arg)
{
    assert_true(script_add_op_arg(&sh_b, op, arg));
}

/* Two echo clients, one IPv4 and one IPv6, whose bytes and closes
 * interleave: each gets back exactly its own bytes. */
static void test_two_connections_interleaved(void **state)
{
    (void)state;
    sched_begin();
    sched_accept(0, 40001);  /* A: 127.0.0.1 */
    sched_accept(1, 40002);  /* B: ::1, now the target */
    sched_str("bb1-");
    sched_op_arg(SCRIPT_CONN, 0); /* A */
    sched_str("aa1-");
    sched_op_arg(SCRIPT_CONN, 1); /* B */
    sched_str("bb2");
    sched_op_arg(SCRIPT_CONN, 0);
    sched_str("aa2");
    sched_op(SCRIPT_EOF);
    sched_op_arg(SCRIPT_CONN, 0); /* B, the only one left */
    sched_op(SCRIPT_EOF);
    struct tcp_server_config cfg = config(TCP_SERVICE_ECHO, 2, 16);
    assert_int_equal(run_loop(&cfg), 0);
    assert_string_equal(conn_log, "Served 127.0.0.1:40001: closed, 7 bytes sent, 7 received\n"
                                  "Served [::1]:40002: closed, 7 bytes sent, 7 received\n");
    assert_int_equal(srv.served, 2);
    assert_int_equal(sh_s.shutdowns, 2);
    /* The echoes interleave as the bytes came; each is its sender's own. */
    assert_int_equal(sh_s.sent_len, 14);
    assert_memory_equal(sh_s.sent, "bb1-aa1-bb2aa2", 14);
    assert_true(script_exhausted(&sh_s));
}

/* Accept failures: ECONNABORTED and EAGAIN are shrugged off, EMFILE pauses
 * accepting for 100 ms with a warning; the client queued behind them is
 * then served. */
static void test_accept_failures_survived(void **state)
{
    (void)state;
    sched_begin();
    sched_op_arg(SCRIPT_ACCEPT_FAIL, 1); /* ECONNABORTED */
    sched_op_arg(SCRIPT_ACCEPT_FAIL, 0); /* EAGAIN */
    sched_op_arg(SCRIPT_ACCEPT_FAIL, 2); /* EMFILE */
    sched_accept(2, 5555);               /* 2001:db8::7 */
    sched_op(SCRIPT_EOF);
    struct tcp_server_config cfg = config(TCP_SERVICE_TIME, 1, 16);
    assert_int_equal(run_loop(&cfg), 0);
    char want[128];
    snprintf(want, sizeof want, "accept: %s; pausing accepts for 100 ms\n", strerror(EMFILE));
    assert_string_equal(warn_log, want);
    assert_string_equal(conn_log, "Served [2001:db8::7]:5555: closed, 42 bytes sent, 0 received\n");
    assert_int_equal(sh_s.sent_len, TIMEMSG_LEN);
    assert_memory_equal(sh_s.sent, REPLY, TIMEMSG_LEN);
    assert_true(script_exhausted(&sh_s));
}

/* A client that reads the time and never sends its FIN: the drain waits
 * for it until the connection's deadline, then the loop closes it. */
static void test_peer_without_fin_times_out(void **state)
{
    (void)state;
    sched_begin();
    sched_accept(0, 40003);
    sched_op(SCRIPT_TIMEOUT); /* nothing more from the peer, for an hour */
    sched_accept(0, 40004);   /* a later client still gets served */
    sched_op(SCRIPT_EOF);
    struct tcp_server_config cfg = config(TCP_SERVICE_TIME, 2, 16);
    assert_int_equal(run_loop(&cfg), 0);
    assert_string_equal(conn_log, "Served 127.0.0.1:40003: timed out, 42 bytes sent, 0 received\n"
                                  "Served 127.0.0.1:40004: closed, 42 bytes sent, 0 received\n");
}

/* With every slot taken, a new client evicts the connection idle the
 * longest, which is logged as evicted, not served. */
static void test_eviction_when_full(void **state)
{
    (void)state;
    sched_begin();
    sched_accept(0, 1001);
    sched_accept(0, 1002);
    sched_clock(1);
    sched_op_arg(SCRIPT_CONN, 0);
    sched_str("x");        /* 1001 is active 100 ms later... */
    sched_accept(3, 1003); /* ...so 1002 is the one idle the longest: full, it goes */
    struct tcp_server_config cfg = config(TCP_SERVICE_DISCARD, 3, 2);
    assert_int_equal(run_loop(&cfg), 0);
    assert_int_equal(srv.evicted, 1);
    assert_int_equal(srv.served, 2);
    const char *evicted = "Evicted 127.0.0.1:1002: idle ";
    assert_memory_equal(conn_log, evicted, strlen(evicted));
    assert_non_null(strstr(conn_log, " ms, 0 bytes sent, 0 received; closed to admit a new "
                                     "connection\n"));
    assert_non_null(strstr(conn_log, "Served 127.0.0.1:1001: closed, 0 bytes sent, 1 received\n"));
    assert_non_null(strstr(conn_log, "Served [::ffff:192.0.2.7]:1003: closed, 0 bytes sent, "
                                     "0 received\n"));
}

/* A stop request closes the listener at once; a connection still open when
 * the grace runs out is closed at shutdown. */
static void test_stop_with_grace(void **state)
{
    (void)state;
    sched_begin();
    sched_accept(0, 7000);
    sched_op(SCRIPT_STOP);
    sched_op(SCRIPT_TIMEOUT); /* the peer stays silent past the grace */
    sched_accept(0, 7001);    /* refused: the listener is gone */
    struct tcp_server_config cfg = config(TCP_SERVICE_ECHO, 0, 16);
    assert_int_equal(run_loop(&cfg), 0);
    assert_true(srv.stopping);
    assert_int_equal(srv.shut, 1);
    assert_int_equal(srv.accepted, 1);
    assert_string_equal(conn_log, "Served 127.0.0.1:7000: closed at shutdown, 0 bytes sent, "
                                  "0 received\n");
}

/* Faults per connection: a send that takes nothing (0), a shutdown that
 * fails with ECONNRESET; the others go on. */
static void test_send_zero_and_shutdown_failure(void **state)
{
    (void)state;
    sched_begin();
    sched_op(SCRIPT_SEND_ZERO);
    sched_accept(0, 1);
    sched_op_arg(SCRIPT_SHUT_FAIL, 1); /* ECONNRESET */
    sched_accept(0, 2);
    sched_accept(0, 3);
    sched_op(SCRIPT_EOF);
    struct tcp_server_config cfg = config(TCP_SERVICE_TIME, 3, 16);
    assert_int_equal(run_loop(&cfg), 0);
    assert_string_equal(conn_log, "Served 127.0.0.1:1: socket error, 0 bytes sent, 0 received\n"
                                  "Served 127.0.0.1:2: reset by peer, 42 bytes sent, 0 received\n"
                                  "Served 127.0.0.1:3: closed, 42 bytes sent, 0 received\n");
}

/* A wait that fails with EINTR is retried; with ENOMEM the loop returns -1
 * and says which call failed. */
static void test_wait_failures(void **state)
{
    (void)state;
    sched_begin();
    sched_op_arg(SCRIPT_WAIT_FAIL, 0); /* EINTR */
    sched_accept(0, 9);
    sched_op_arg(SCRIPT_WAIT_FAIL, 1); /* ENOMEM */
    struct tcp_server_config cfg = config(TCP_SERVICE_DISCARD, 0, 16);
    conn_len = 0;
    const struct sockio *io = sched_start(true);
    script_serve(&sh_s, LISTEN_FD, STOP_FD);
    assert_true(tcp_server_init(&srv, &cfg, io));
    assert_int_equal(tcp_server_run(&srv), -1);
    assert_string_equal(srv.fail_what, "epoll_wait");
    assert_int_equal(srv.fail_errno, ENOMEM);
    assert_int_equal(srv.nconns, 1); /* still open: the caller exits */
    tcp_server_free(&srv);
}

/* Watch-set failures: a connection whose registration fails ends as a
 * socket error and the loop serves the next; the listener's removal failing
 * at a stop ends the loop with -1, naming the call; the stop pipe's
 * registration failing at the start ends it at once. */
static void test_watch_failures(void **state)
{
    (void)state;
    sched_begin();
    sched_accept(0, 1);
    sched_op_arg(SCRIPT_WATCH_FAIL, 0); /* ENOMEM, for the new connection's watch */
    sched_accept(0, 2);
    sched_str("hi");
    sched_op(SCRIPT_EOF);
    struct tcp_server_config cfg = config(TCP_SERVICE_ECHO, 2, 16);
    assert_int_equal(run_loop(&cfg), 0);
    assert_string_equal(conn_log, "Served 127.0.0.1:1: socket error, 0 bytes sent, 0 received\n"
                                  "Served 127.0.0.1:2: closed, 2 bytes sent, 2 received\n");

    sched_begin();
    sched_op(SCRIPT_STOP);
    sched_op_arg(SCRIPT_WATCH_FAIL, 1); /* ENOSPC, for the listener's removal */
    cfg = config(TCP_SERVICE_ECHO, 0, 16);
    assert_int_equal(run_loop(&cfg), -1);
    assert_string_equal(srv.fail_what, "epoll_ctl (listener)");
    assert_int_equal(srv.fail_errno, ENOSPC);

    sched_begin();
    sched_op_arg(SCRIPT_WATCH_FAIL, 0);
    assert_int_equal(run_loop(&cfg), -1);
    assert_string_equal(srv.fail_what, "epoll");
    assert_int_equal(srv.fail_errno, ENOMEM);
}

/* Abortive close mode: the loop closes with SO_LINGER 0 (the seam's
 * abortive close), after the whole reply. */
static void test_rst_mode_closes_abortively(void **state)
{
    (void)state;
    sched_begin();
    sched_accept(1, 4242);
    struct tcp_server_config cfg = config(TCP_SERVICE_TIME, 1, 16);
    cfg.close_mode = CLOSE_MODE_RST;
    assert_int_equal(run_loop(&cfg), 0);
    assert_int_equal(sh_s.abortive_closes, 1);
    assert_int_equal(sh_s.shutdowns, 0);
    assert_string_equal(conn_log, "Served [::1]:4242: aborted (RST), 42 bytes sent, 0 received\n");
}

/* The scripted world itself: accept hands out the lowest free fd, as the
 * kernel does; with all SCRIPT_CONN_FDS open the client stays queued
 * (EMFILE) until one closes; CONN k picks among the open ones. */
static void test_script_accept_fds(void **state)
{
    (void)state;
    sched_begin();
    for (int i = 0; i < SCRIPT_CONN_FDS + 1; i++)
        sched_accept(1, (uint16_t)i);
    sched_op_arg(SCRIPT_CONN, 1);
    sched_str("to the second");
    const struct sockio *io = sched_start(true);
    script_serve(&sh_s, LISTEN_FD, STOP_FD);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    for (int i = 0; i < SCRIPT_CONN_FDS; i++) {
        len = sizeof ss;
        assert_int_equal(io->ops->accept(io->ctx, LISTEN_FD, (struct sockaddr *)&ss, &len, 0),
                         SCRIPT_CONN_FD0 + i);
        assert_int_equal(len, sizeof(struct sockaddr_in6));
        assert_int_equal(ss.ss_family, AF_INET6);
    }
    errno = 0;
    assert_int_equal(io->ops->accept(io->ctx, LISTEN_FD, NULL, NULL, 0), -1);
    assert_int_equal(errno, EMFILE);
    assert_int_equal(io->ops->close(io->ctx, SCRIPT_CONN_FD0 + 5, false), 0);
    assert_int_equal(io->ops->accept(io->ctx, LISTEN_FD, NULL, NULL, 0), SCRIPT_CONN_FD0 + 5);
    /* The bytes go to the second open connection only. */
    char b[32];
    assert_int_equal(io->ops->recv(io->ctx, SCRIPT_CONN_FD0, b, sizeof b, 0), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(io->ops->recv(io->ctx, SCRIPT_CONN_FD0 + 1, b, sizeof b, 0), 13);
    assert_int_equal(io->ops->close(io->ctx, 99, false), -1);
    assert_int_equal(sh_s.bad_closes, 1);
}

/* A single-connection user (poll + recv, no accept) never sees the event
 * loop's opcodes: a poll drops them, a WAIT_FAIL fails that poll. */
static void test_script_poll_skips_loop_events(void **state)
{
    (void)state;
    sched_begin();
    sched_accept(0, 1);
    sched_op(SCRIPT_STOP);
    sched_op_arg(SCRIPT_WAIT_FAIL, 1);
    sched_str("data");
    const struct sockio *io = sched_start(true);
    char b[8];
    assert_int_equal(io->ops->recv(io->ctx, 7, b, sizeof b, 0), -1);
    assert_int_equal(errno, EAGAIN);
    struct pollfd p = {.fd = 7, .events = POLLIN};
    assert_int_equal(io->ops->poll(io->ctx, &p, 1, 1000), -1);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(io->ops->poll(io->ctx, &p, 1, 1000), 1);
    assert_int_equal(io->ops->recv(io->ctx, 7, b, sizeof b, 0), 4);
    assert_memory_equal(b, "data", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_connections_interleaved),
        cmocka_unit_test(test_accept_failures_survived),
        cmocka_unit_test(test_peer_without_fin_times_out),
        cmocka_unit_test(test_eviction_when_full),
        cmocka_unit_test(test_stop_with_grace),
        cmocka_unit_test(test_send_zero_and_shutdown_failure),
        cmocka_unit_test(test_wait_failures),
        cmocka_unit_test(test_watch_failures),
        cmocka_unit_test(test_rst_mode_closes_abortively),
        cmocka_unit_test(test_script_accept_fds),
        cmocka_unit_test(test_script_poll_skips_loop_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
