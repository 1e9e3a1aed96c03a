/* tcp-time-server's connection state machine (tcpconn.c) driven through
 * the scripted sockio, one connection with a poll loop of the test's own
 * (serve_one); the server's event loop drives it in test_tcp_server_loop.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "script.h"
#include "script_helpers.h"
#include "tcpconn.h"

#define REPLY "Current time is 2024-03-07 13:45:09.123456"
#define REPLY_LEN (sizeof REPLY - 1)
#define STEPS 100000
#define CONN_TIMEOUT_MS 10000

static struct tcp_conn conn; /* 16 KiB buffer: keep it off the stack */

static void open_conn(const struct sockio *io, enum tcp_service svc, enum close_mode mode)
{
    const char *reply = svc == TCP_SERVICE_TIME ? REPLY : NULL;
    tcp_conn_open(&conn, 7, svc, mode, io->ops->now_ms(io->ctx), CONN_TIMEOUT_MS, reply,
                  reply ? REPLY_LEN : 0);
}

/* Drives the connection to its end as an event loop would (poll on what it
 * wants, I/O, deadline), at most max_steps polls. Returns how it ended
 * (CONN_OPEN if the steps ran out). */
static enum conn_end serve_one(const struct sockio *io, struct tcp_conn *c, int max_steps)
{
    for (int i = 0; i < max_steps && !tcp_conn_done(c); i++) {
        int64_t now = io->ops->now_ms(io->ctx);
        int64_t left = c->deadline - now;
        struct pollfd p = {.fd = c->fd, .events = tcp_conn_wanted_events(c)};
        int n = left <= 0 ? 0 : io->ops->poll(io->ctx, &p, 1, left > 60000 ? 60000 : (int)left);
        now = io->ops->now_ms(io->ctx);
        if (n > 0)
            tcp_conn_on_ready(io, c, now);
        else if (n < 0 && errno != EINTR)
            tcp_conn_end(c, CONN_ERROR);
        tcp_conn_check_deadline(c, now);
    }
    return c->end;
}

static void assert_sent(const void *want, size_t n)
{
    assert_int_equal(sh_s.sent_total, n);
    assert_int_equal(sh_s.sent_len, n);
    if (n)
        assert_memory_equal(sh_s.sent, want, n);
}

/* ------------------------------------------------------------- parsing */

static void test_service_parse(void **state)
{
    (void)state;
    enum tcp_service s = (enum tcp_service)99;
    assert_true(tcp_service_parse("time", &s));
    assert_int_equal(s, TCP_SERVICE_TIME);
    assert_true(tcp_service_parse("echo", &s));
    assert_int_equal(s, TCP_SERVICE_ECHO);
    assert_true(tcp_service_parse("discard", &s));
    assert_int_equal(s, TCP_SERVICE_DISCARD);
    static const char *bad[] = {"", "Time", "TIME", "time ", " time", "time\n", "tim",
                                "timex", "echo\0x", "ech", "discards", "fin", "daytime"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = (enum tcp_service)99;
        if (i == 8) /* "echo\0x" is "echo" to a C string parser */
            continue;
        assert_false(tcp_service_parse(bad[i], &s));
        assert_int_equal(s, 99); /* untouched on failure */
    }
}

static void test_close_mode_parse(void **state)
{
    (void)state;
    enum close_mode m = (enum close_mode)99;
    assert_true(close_mode_parse("fin", &m));
    assert_int_equal(m, CLOSE_MODE_FIN);
    assert_true(close_mode_parse("rst", &m));
    assert_int_equal(m, CLOSE_MODE_RST);
    assert_true(close_mode_parse("unread", &m));
    assert_int_equal(m, CLOSE_MODE_UNREAD);
    static const char *bad[] = {"", "FIN", "Fin", "fin ", "rst\n", "reset", "RST", "un",
                                "unreadx", "time", "linger"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = (enum close_mode)99;
        assert_false(close_mode_parse(bad[i], &m));
        assert_int_equal(m, 99);
    }
}

static void test_conn_end_text(void **state)
{
    (void)state;
    for (int e = CONN_OPEN; e <= CONN_END_LAST; e++) {
        const char *t = conn_end_text((enum conn_end)e);
        assert_non_null(t);
        assert_string_not_equal(t, "?");
        for (int f = CONN_OPEN; f < e; f++)
            assert_string_not_equal(t, conn_end_text((enum conn_end)f));
    }
    assert_string_equal(conn_end_text((enum conn_end)42), "?");
}

static void test_open_and_wanted_events(void **state)
{
    (void)state;
    sched_begin();
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_FIN);
    assert_int_equal(conn.fd, 7);
    assert_int_equal(conn.out_len, REPLY_LEN);
    assert_int_equal(conn.deadline, sched_now() + CONN_TIMEOUT_MS);
    assert_int_equal(tcp_conn_wanted_events(&conn), POLLOUT);
    assert_false(tcp_conn_done(&conn));
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    assert_int_equal(tcp_conn_wanted_events(&conn), POLLIN);
    open_conn(io, TCP_SERVICE_DISCARD, CLOSE_MODE_FIN);
    assert_int_equal(tcp_conn_wanted_events(&conn), POLLIN);
    /* deadline check */
    tcp_conn_check_deadline(&conn, conn.deadline - 1);
    assert_false(tcp_conn_done(&conn));
    tcp_conn_check_deadline(&conn, conn.deadline);
    assert_true(tcp_conn_done(&conn));
    assert_int_equal(conn.end, CONN_TIMEOUT);
    assert_int_equal(conn.err, ETIMEDOUT);
    assert_int_equal(tcp_conn_wanted_events(&conn), 0);
    /* no steps: still open */
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, 0), CONN_OPEN);
    assert_int_equal(sh_s.calls, 0);
}

/* ---------------------------------------------------------------- time */

static void test_time_fin_clean(void **state)
{
    (void)state;
    sched_begin();
    sched_str("peer says hi");
    sched_op(SCRIPT_EINTR);
    sched_str("!");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
    assert_sent(REPLY, REPLY_LEN);
    assert_int_equal(sh_s.shutdowns, 1);
    assert_int_equal(conn.bytes_out, REPLY_LEN);
    assert_int_equal(conn.bytes_in, 13); /* drained, never echoed */
    assert_int_equal(conn.err, 0);
    assert_false(tcp_conn_wants_abort(&conn));
    assert_true(script_exhausted(&sh_s));
}

static void test_time_shutdown_only_after_whole_reply(void **state)
{
    (void)state;
    /* drive readiness by hand: each SEND_AGAIN stops a burst */
    sched_begin();
    sched_send_short(10);
    sched_op(SCRIPT_SEND_AGAIN);
    sched_send_short(10);
    sched_op(SCRIPT_SEND_AGAIN);
    sched_op(SCRIPT_EAGAIN);
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_FIN);
    struct pollfd p = {.fd = 7, .events = tcp_conn_wanted_events(&conn)};
    assert_int_equal(io->ops->poll(io->ctx, &p, 1, 1000), 1); /* queues the faults */
    tcp_conn_on_ready(io, &conn, sched_now());
    assert_int_equal(sh_s.sent_len, 10);
    assert_int_equal(sh_s.shutdowns, 0);
    assert_int_equal(tcp_conn_wanted_events(&conn), POLLOUT);
    tcp_conn_on_ready(io, &conn, sched_now());
    assert_int_equal(sh_s.sent_len, 20);
    assert_int_equal(sh_s.shutdowns, 0);
    tcp_conn_on_ready(io, &conn, sched_now()); /* rest, FIN, then EAGAIN while draining */
    assert_sent(REPLY, REPLY_LEN);
    assert_int_equal(sh_s.shutdowns, 1);
    assert_false(tcp_conn_done(&conn));
    assert_int_equal(tcp_conn_wanted_events(&conn), POLLIN); /* draining */
    tcp_conn_on_ready(io, &conn, sched_now());
    assert_true(tcp_conn_done(&conn));
    assert_int_equal(conn.end, CONN_CLEAN);
    assert_int_equal(sh_s.shutdowns, 1);
}

static void test_time_send_short_sends_every_byte(void **state)
{
    (void)state;
    for (unsigned max = 0; max <= REPLY_LEN; max++) {
        sched_begin();
        for (int i = 0; i < 8; i++) {
            sched_send_short((uint8_t)max);
            if (i % 3 == 1)
                sched_op(SCRIPT_SEND_EINTR);
            if (i % 3 == 2)
                sched_op(SCRIPT_SEND_AGAIN);
        }
        sched_op(SCRIPT_EOF);
        const struct sockio *io = sched_start(true);
        open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_FIN);
        assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
        assert_sent(REPLY, REPLY_LEN);
        assert_int_equal(sh_s.shutdowns, 1);
        assert_int_equal(conn.bytes_out, REPLY_LEN);
    }
}

static void test_time_rst_aborts(void **state)
{
    (void)state;
    sched_begin();
    sched_send_short(5);
    sched_str("unread by us");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_RST);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_ABORT);
    assert_sent(REPLY, REPLY_LEN);
    assert_int_equal(sh_s.shutdowns, 0);
    assert_true(tcp_conn_wants_abort(&conn));
    assert_true(tcp_conn_done(&conn));
}

static void test_time_unread(void **state)
{
    (void)state;
    sched_begin();
    sched_str("request bytes the server will not read");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_UNREAD);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_UNREAD);
    assert_sent(REPLY, REPLY_LEN);
    assert_int_equal(sh_s.shutdowns, 0);
    assert_int_equal(conn.bytes_in, 0);
    assert_false(tcp_conn_wants_abort(&conn));
    assert_false(script_exhausted(&sh_s)); /* the peer's bytes stay unread */
}

static void test_time_send_epipe(void **state)
{
    (void)state;
    sched_begin();
    sched_send_short(4);
    sched_op(SCRIPT_SEND_RESET);
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_RESET);
    assert_int_equal(conn.err, EPIPE);
    assert_sent(REPLY, 4);
    assert_int_equal(sh_s.shutdowns, 0);
}

static void test_time_peer_never_closes(void **state)
{
    (void)state;
    /* reply sent, FIN sent, the peer stays silent: timeout by the deadline */
    sched_begin();
    sched_op(SCRIPT_EAGAIN);
    sched_op(SCRIPT_TIMEOUT);
    sched_op(SCRIPT_EOF); /* would come after the deadline */
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_FIN);
    int64_t deadline = conn.deadline;
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_TIMEOUT);
    assert_int_equal(conn.err, ETIMEDOUT);
    assert_sent(REPLY, REPLY_LEN);
    assert_int_equal(sh_s.shutdowns, 1);
    assert_true(sched_now() >= deadline);
    assert_false(script_exhausted(&sh_s));
}

static void trickle(int rounds, uint8_t step)
{
    for (int i = 0; i < rounds; i++) {
        sched_op(SCRIPT_EAGAIN);
        sched_clock(step);
        sched_str("x");
    }
    sched_op(SCRIPT_EOF);
}

static void test_time_deadline_is_fixed(void **state)
{
    (void)state;
    /* a peer trickling a byte every 2 s cannot hold the time service open
     * past its 10 s deadline */
    sched_begin();
    trickle(20, 20);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_FIN);
    int64_t start = sched_now();
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_TIMEOUT);
    assert_sent(REPLY, REPLY_LEN);
    assert_true(sched_now() >= start + CONN_TIMEOUT_MS);
    assert_true(sched_now() < start + CONN_TIMEOUT_MS + 2100);
    assert_true(conn.bytes_in < 20);
}

/* ---------------------------------------------------------------- echo */

static void test_echo_many_chunks(void **state)
{
    (void)state;
    static uint8_t msg[6000];
    fill_pattern(msg, sizeof msg);
    sched_begin();
    size_t off = 0, chunk = 1;
    int k = 0;
    while (off < sizeof msg) {
        size_t n = sizeof msg - off < chunk ? sizeof msg - off : chunk;
        sched_data(msg + off, n);
        off += n;
        chunk = chunk % 300 + 1;
        switch (k++ % 4) {
        case 0: sched_op(SCRIPT_EINTR); break;
        case 1: sched_op(SCRIPT_EAGAIN); break;
        case 2: sched_send_short((uint8_t)(k % 7)); break;
        default: sched_op(SCRIPT_SEND_AGAIN); break;
        }
    }
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
    assert_sent(msg, sizeof msg);
    assert_int_equal(conn.bytes_in, sizeof msg);
    assert_int_equal(conn.bytes_out, sizeof msg);
    assert_int_equal(sh_s.shutdowns, 1);
    assert_true(script_exhausted(&sh_s));
}

static void test_echo_larger_than_buffer(void **state)
{
    (void)state;
    /* one chunk much larger than the connection's buffer: short reads */
    static uint8_t msg[40000];
    fill_pattern(msg, sizeof msg);
    sched_begin();
    sched_data(msg, sizeof msg);
    sched_data(msg, 300);
    const struct sockio *io = sched_start(true); /* exhausted: EOF */
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
    assert_int_equal(sh_s.sent_total, sizeof msg + 300);
    assert_memory_equal(sh_s.sent, msg, sizeof msg);
    assert_memory_equal(sh_s.sent + sizeof msg, msg, 300);
    assert_int_equal(sh_s.shutdowns, 1);
}

static void test_echo_shutdown_only_after_peer_eof(void **state)
{
    (void)state;
    sched_begin();
    sched_str("abc");
    sched_op(SCRIPT_EAGAIN);
    sched_str("defg");
    sched_op(SCRIPT_EAGAIN);
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    tcp_conn_on_ready(io, &conn, sched_now());
    assert_sent("abc", 3);
    assert_int_equal(sh_s.shutdowns, 0);
    assert_false(tcp_conn_done(&conn));
    tcp_conn_on_ready(io, &conn, sched_now());
    assert_sent("abcdefg", 7);
    assert_int_equal(sh_s.shutdowns, 0);
    assert_false(tcp_conn_done(&conn));
    tcp_conn_on_ready(io, &conn, sched_now());
    assert_true(tcp_conn_done(&conn));
    assert_int_equal(conn.end, CONN_CLEAN);
    assert_int_equal(sh_s.shutdowns, 1);
    assert_true(conn.peer_eof);
}

static void test_echo_burst_limit(void **state)
{
    (void)state;
    /* one readiness event does at most TCP_CONN_BURST calls */
    sched_begin();
    for (int i = 0; i < 40; i++)
        sched_str("z");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    tcp_conn_on_ready(io, &conn, sched_now());
    assert_int_equal(sh_s.calls, TCP_CONN_BURST);
    assert_int_equal(sh_s.sent_len, TCP_CONN_BURST / 2);
    assert_false(tcp_conn_done(&conn));
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
    assert_int_equal(sh_s.sent_len, 40);
}

static void test_echo_reset_mid_stream(void **state)
{
    (void)state;
    sched_begin();
    sched_str("hello ");
    sched_op(SCRIPT_EINTR);
    sched_str("wor");
    sched_op(SCRIPT_RESET);
    sched_str("ld");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_RESET);
    assert_int_equal(conn.err, ECONNRESET);
    assert_sent("hello wor", 9);
    assert_int_equal(sh_s.shutdowns, 0);
}

static void test_echo_send_epipe(void **state)
{
    (void)state;
    sched_begin();
    sched_op(SCRIPT_SEND_RESET);
    sched_str("data");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_RESET);
    assert_int_equal(conn.err, EPIPE);
    assert_int_equal(sh_s.sent_len, 0);
}

static void test_echo_peer_never_sends_eof(void **state)
{
    (void)state;
    sched_begin();
    sched_str("ping");
    sched_op(SCRIPT_EAGAIN);
    sched_op(SCRIPT_TIMEOUT);
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_TIMEOUT);
    assert_int_equal(conn.err, ETIMEDOUT);
    assert_sent("ping", 4);
    assert_int_equal(sh_s.shutdowns, 0);
}

static void test_echo_idle_deadline_moves(void **state)
{
    (void)state;
    /* the same trickle that times out the time service keeps an echo open:
     * its deadline is an idle timeout */
    sched_begin();
    trickle(20, 20);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
    assert_int_equal(sh_s.sent_len, 20);
    assert_int_equal(conn.bytes_in, 20);
    /* and a gap longer than the idle timeout ends it */
    sched_begin();
    sched_str("a");
    sched_clock(101); /* 10.1 s of silence */
    sched_op(SCRIPT_EAGAIN);
    sched_str("b");
    sched_op(SCRIPT_EOF);
    io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_TIMEOUT);
    assert_sent("a", 1);
}

static void test_echo_rst_and_unread_modes(void **state)
{
    (void)state;
    /* echo under rst: every byte, then the abortive close */
    sched_begin();
    sched_str("abc");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_RST);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_ABORT);
    assert_sent("abc", 3);
    assert_int_equal(sh_s.shutdowns, 0);
    /* unread after the peer's EOF has nothing unread: a clean FIN */
    sched_begin();
    sched_str("abc");
    sched_op(SCRIPT_EOF);
    io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_UNREAD);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
    assert_int_equal(sh_s.shutdowns, 1);
}

/* ------------------------------------------------------------- discard */

static void test_discard(void **state)
{
    (void)state;
    static uint8_t msg[20000];
    fill_pattern(msg, sizeof msg);
    sched_begin();
    sched_chunks(msg, sizeof msg, 777);
    sched_op(SCRIPT_EINTR);
    sched_op(SCRIPT_EAGAIN);
    sched_str("tail");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_DISCARD, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
    assert_int_equal(sh_s.sent_total, 0);
    assert_int_equal(conn.bytes_in, sizeof msg + 4);
    assert_int_equal(conn.bytes_out, 0);
    assert_int_equal(sh_s.shutdowns, 1);

    sched_begin();
    sched_str("abc");
    sched_op(SCRIPT_RESET);
    io = sched_start(true);
    open_conn(io, TCP_SERVICE_DISCARD, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_RESET);
    assert_int_equal(sh_s.shutdowns, 0);

    sched_begin();
    sched_op(SCRIPT_TIMEOUT);
    io = sched_start(true);
    open_conn(io, TCP_SERVICE_DISCARD, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_TIMEOUT);
}

static void test_random_schedules_end(void **state)
{
    (void)state;
    /* whatever the schedule, serve_one ends the connection (exhausted stream
     * = EOF) and the echo never sends more than it received */
    uint32_t seed = 99;
    for (int iter = 0; iter < 2000; iter++) {
        sched_begin();
        size_t len = 1 + (size_t)(iter % 300);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            uint8_t byte = (uint8_t)(seed >> 16);
            sched_raw(&byte, 1);
        }
        const struct sockio *io = sched_start(true);
        enum tcp_service svc = (enum tcp_service)(iter % 3);
        enum close_mode mode = (enum close_mode)((iter / 3) % 3);
        open_conn(io, svc, mode);
        enum conn_end e = serve_one(io, &conn, STEPS);
        assert_true(e != CONN_OPEN);
        assert_true(tcp_conn_done(&conn));
        if (svc == TCP_SERVICE_ECHO)
            assert_true(conn.bytes_out <= conn.bytes_in);
        if (svc == TCP_SERVICE_DISCARD)
            assert_int_equal(sh_s.sent_total, 0);
        if (svc == TCP_SERVICE_TIME) {
            assert_true(sh_s.sent_total <= REPLY_LEN);
            assert_memory_equal(sh_s.sent, REPLY, sh_s.sent_len);
        }
        assert_true(sh_s.shutdowns <= 1);
    }
}

/* The server reuses closed connections without zeroing them (16 KiB each):
 * tcp_conn_open must set every field but buf, whatever was there before. */
static void assert_same_state(const struct tcp_conn *a, const struct tcp_conn *b)
{
    assert_int_equal(a->fd, b->fd);
    assert_int_equal(a->service, b->service);
    assert_int_equal(a->close_mode, b->close_mode);
    assert_int_equal(a->phase, b->phase);
    assert_int_equal(a->out_off, b->out_off);
    assert_int_equal(a->out_len, b->out_len);
    assert_int_equal(a->peer_eof, b->peer_eof);
    assert_int_equal(a->deadline, b->deadline);
    assert_int_equal(a->idle_ms, b->idle_ms);
    assert_int_equal(a->expires, b->expires);
    assert_int_equal(a->last_active, b->last_active);
    assert_int_equal(a->bytes_in, b->bytes_in);
    assert_int_equal(a->bytes_out, b->bytes_out);
    assert_int_equal(a->end, b->end);
    assert_int_equal(a->err, b->err);
    assert_memory_equal(a->buf, b->buf, a->out_len);
}

static void test_open_over_garbage_equals_fresh(void **state)
{
    (void)state;
    static struct tcp_conn fresh, reused;
    for (int svc = 0; svc < 3; svc++) {
        memset(&fresh, 0, sizeof fresh);
        memset(&reused, 0xA5, sizeof reused);
        tcp_conn_open(&fresh, 9, (enum tcp_service)svc, CLOSE_MODE_UNREAD, 1000, 500, REPLY,
                      REPLY_LEN);
        tcp_conn_open(&reused, 9, (enum tcp_service)svc, CLOSE_MODE_UNREAD, 1000, 500, REPLY,
                      REPLY_LEN);
        assert_same_state(&reused, &fresh);
    }
}

static void test_reopen_after_reset_serves_like_new(void **state)
{
    (void)state;
    /* an echo connection that ended reset, with bytes counted and EOF seen */
    sched_begin();
    sched_str("some bytes");
    sched_op(SCRIPT_RESET);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_RESET);
    assert_int_not_equal(conn.bytes_in, 0);
    /* the same memory as a time connection: the whole reply, FIN, clean */
    sched_begin();
    sched_op(SCRIPT_EOF);
    io = sched_start(true);
    open_conn(io, TCP_SERVICE_TIME, CLOSE_MODE_FIN);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
    assert_sent(REPLY, REPLY_LEN);
    assert_int_equal(conn.bytes_in, 0);
    assert_int_equal(conn.bytes_out, REPLY_LEN);
    assert_int_equal(conn.err, 0);
    assert_int_equal(sh_s.shutdowns, 1);
}

/* ---------------------------------------- lifetime, eviction, shutdown */

static void test_deadline_after(void **state)
{
    (void)state;
    assert_int_equal(tcp_conn_deadline_after(1000, 500, INT64_MAX), 1500);
    assert_int_equal(tcp_conn_deadline_after(1000, 500, 1200), 1200); /* end of life first */
    assert_int_equal(tcp_conn_deadline_after(1000, 500, 1500), 1500);
    assert_int_equal(tcp_conn_deadline_after(1000, 500, 1501), 1500);
    assert_int_equal(tcp_conn_deadline_after(2000, 500, 1200), 1200); /* already past: now */
    /* no overflow near the end of the clock */
    assert_true(tcp_conn_deadline_after(INT64_MAX - 10, 100, INT64_MAX) == INT64_MAX);
    assert_true(tcp_conn_deadline_after(0, INT64_MAX, INT64_MAX) == INT64_MAX);
}

static void test_set_lifetime(void **state)
{
    (void)state;
    static struct tcp_conn c;
    /* the idle deadline comes first: it stays */
    tcp_conn_open(&c, 3, TCP_SERVICE_ECHO, CLOSE_MODE_FIN, 1000, 500, NULL, 0);
    assert_true(c.expires == INT64_MAX); /* no lifetime until one is set */
    assert_int_equal(c.last_active, 1000);
    tcp_conn_set_lifetime(&c, 1000, 10000);
    assert_int_equal(c.expires, 11000);
    assert_int_equal(c.deadline, 1500);
    /* a lifetime shorter than the timeout is the deadline */
    tcp_conn_open(&c, 3, TCP_SERVICE_TIME, CLOSE_MODE_FIN, 1000, 5000, REPLY, REPLY_LEN);
    tcp_conn_set_lifetime(&c, 1000, 300);
    assert_int_equal(c.deadline, 1300);
    tcp_conn_check_deadline(&c, 1299);
    assert_false(tcp_conn_done(&c));
    tcp_conn_check_deadline(&c, 1300);
    assert_true(tcp_conn_done(&c));
    assert_int_equal(c.end, CONN_LIFETIME);
    /* an idle timeout before the end of life stays a timeout */
    tcp_conn_open(&c, 3, TCP_SERVICE_ECHO, CLOSE_MODE_FIN, 1000, 500, NULL, 0);
    tcp_conn_set_lifetime(&c, 1000, 10000);
    tcp_conn_check_deadline(&c, 1500);
    assert_int_equal(c.end, CONN_TIMEOUT);
}

static void test_echo_trickle_ends_at_lifetime(void **state)
{
    (void)state;
    /* the trickle that keeps an echo open past its idle timeout
     * (test_echo_idle_deadline_moves: a byte every 2 s for 40 s) ends at the
     * 15 s lifetime, and every byte until then moved last_active */
    sched_begin();
    trickle(20, 20);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    int64_t start = sched_now();
    tcp_conn_set_lifetime(&conn, start, 15000);
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_LIFETIME);
    assert_int_equal(conn.err, ETIMEDOUT);
    assert_true(sched_now() >= start + 15000);
    assert_true(sched_now() < start + 15000 + 2100);
    assert_true(conn.bytes_in >= 6 && conn.bytes_in <= 8);
    assert_int_equal(conn.bytes_out, conn.bytes_in);
    assert_true(conn.last_active > start + 12000);
    assert_true(conn.last_active <= sched_now()); /* the scripted poll may wake past it */
    assert_int_equal(sh_s.shutdowns, 0); /* no FIN of ours: the shell closes it */
}

static void test_end_from_outside(void **state)
{
    (void)state;
    static struct tcp_conn c;
    tcp_conn_open(&c, 3, TCP_SERVICE_ECHO, CLOSE_MODE_FIN, 0, 500, NULL, 0);
    tcp_conn_end(&c, CONN_EVICTED);
    assert_true(tcp_conn_done(&c));
    assert_int_equal(c.end, CONN_EVICTED);
    assert_int_equal(c.err, 0);
    assert_int_equal(tcp_conn_wanted_events(&c), 0);
    assert_false(tcp_conn_wants_abort(&c)); /* a plain close, never RST */
    /* a connection already ended keeps its own end */
    tcp_conn_end(&c, CONN_SHUTDOWN);
    assert_int_equal(c.end, CONN_EVICTED);
    tcp_conn_check_deadline(&c, 100000);
    assert_int_equal(c.end, CONN_EVICTED);
}

static void test_pick_victim(void **state)
{
    (void)state;
    static struct tcp_conn pool[5];
    struct tcp_conn *t[5];
    static const int64_t active[5] = {700, 300, 900, 300, 500};
    for (int i = 0; i < 5; i++) {
        tcp_conn_open(&pool[i], 10 + i, TCP_SERVICE_ECHO, CLOSE_MODE_FIN, 0, 1000, NULL, 0);
        pool[i].last_active = active[i];
        t[i] = &pool[i];
    }
    assert_int_equal(tcp_conn_pick_victim(t, 0), 0);
    assert_int_equal(tcp_conn_pick_victim(t, 1), 0);
    assert_int_equal(tcp_conn_pick_victim(t, 5), 1); /* least recent; the first of a tie */
    assert_int_equal(tcp_conn_pick_victim(t + 2, 3), 1);
    /* a connection already done is taken first, however recent */
    tcp_conn_end(&pool[2], CONN_CLEAN);
    assert_int_equal(tcp_conn_pick_victim(t, 5), 2);
    /* the state machine's own bookkeeping: bytes moved update last_active,
     * so the trickling peer is never the victim over a silent one */
    sched_begin();
    sched_clock(20);
    sched_str("x");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    open_conn(io, TCP_SERVICE_ECHO, CLOSE_MODE_FIN);
    int64_t opened = conn.last_active;
    assert_int_equal(serve_one(io, &conn, STEPS), CONN_CLEAN);
    assert_true(conn.last_active >= opened + 2000);
    tcp_conn_open(&pool[0], 10, TCP_SERVICE_ECHO, CLOSE_MODE_FIN, opened, 1000, NULL, 0);
    struct tcp_conn *pair[2] = {&conn, &pool[0]};
    conn.phase = pool[0].phase; /* compare them as open connections */
    assert_int_equal(tcp_conn_pick_victim(pair, 2), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_parse),
        cmocka_unit_test(test_close_mode_parse),
        cmocka_unit_test(test_conn_end_text),
        cmocka_unit_test(test_open_and_wanted_events),
        cmocka_unit_test(test_time_fin_clean),
        cmocka_unit_test(test_time_shutdown_only_after_whole_reply),
        cmocka_unit_test(test_time_send_short_sends_every_byte),
        cmocka_unit_test(test_time_rst_aborts),
        cmocka_unit_test(test_time_unread),
        cmocka_unit_test(test_time_send_epipe),
        cmocka_unit_test(test_time_peer_never_closes),
        cmocka_unit_test(test_time_deadline_is_fixed),
        cmocka_unit_test(test_echo_many_chunks),
        cmocka_unit_test(test_echo_larger_than_buffer),
        cmocka_unit_test(test_echo_shutdown_only_after_peer_eof),
        cmocka_unit_test(test_echo_burst_limit),
        cmocka_unit_test(test_echo_reset_mid_stream),
        cmocka_unit_test(test_echo_send_epipe),
        cmocka_unit_test(test_echo_peer_never_sends_eof),
        cmocka_unit_test(test_echo_idle_deadline_moves),
        cmocka_unit_test(test_echo_rst_and_unread_modes),
        cmocka_unit_test(test_discard),
        cmocka_unit_test(test_random_schedules_end),
        cmocka_unit_test(test_open_over_garbage_equals_fresh),
        cmocka_unit_test(test_reopen_after_reset_serves_like_new),
        cmocka_unit_test(test_deadline_after),
        cmocka_unit_test(test_set_lifetime),
        cmocka_unit_test(test_echo_trickle_ends_at_lifetime),
        cmocka_unit_test(test_end_from_outside),
        cmocka_unit_test(test_pick_victim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
