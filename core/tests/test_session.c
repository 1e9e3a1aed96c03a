/* The clients' and the UDP server's receive paths (session.c) through the
 * scripted sockio. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "script.h"
#include "script_helpers.h"
#include "session.h"

#define TIME_REPLY "Current time is 2024-03-07 13:45:09.123456"

static uint8_t rbuf[8192];

static struct tcp_client_opts client_opts(const struct sockio *io, enum reply_expect expect,
                                          const char *send)
{
    struct tcp_client_opts o = {
        .send = (const uint8_t *)send,
        .send_len = send ? strlen(send) : 0,
        .shutdown_write = send != NULL,
        .close_after_reply = false,
        .expect = expect,
        .deadline = sockio_deadline_in(io, 5000),
    };
    return o;
}

/* ------------------------------------------------------- tcp-client */

static void test_reply_expect_parse(void **state)
{
    (void)state;
    enum reply_expect e = (enum reply_expect)99;
    assert_true(reply_expect_parse("time", &e));
    assert_int_equal(e, EXPECT_TIME);
    assert_true(reply_expect_parse("echo", &e));
    assert_int_equal(e, EXPECT_ECHO);
    assert_true(reply_expect_parse("any", &e));
    assert_int_equal(e, EXPECT_ANY);
    e = (enum reply_expect)99;
    assert_false(reply_expect_parse("", &e));
    assert_false(reply_expect_parse("Time", &e));
    assert_false(reply_expect_parse("echo ", &e));
    assert_false(reply_expect_parse("none", &e));
    assert_int_equal(e, 99);
}

static void test_client_time_ok(void **state)
{
    (void)state;
    sched_begin();
    sched_chunks(TIME_REPLY, strlen(TIME_REPLY), 5);
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    struct tcp_client_opts o = client_opts(io, EXPECT_TIME, NULL);
    struct tcp_client_result r;
    assert_true(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_OK);
    assert_true(r.reply_ok);
    assert_int_equal(r.reply_len, strlen(TIME_REPLY));
    assert_memory_equal(rbuf, TIME_REPLY, r.reply_len);
    assert_string_equal(r.why, "");
    assert_int_equal(sh_s.sent_total, 0);
    assert_int_equal(sh_s.shutdowns, 0); /* nothing to send, no half-close asked */
}

static void test_client_time_short_form_ok(void **state)
{
    (void)state;
    sched_begin();
    sched_str("Current time is 2024-03-07 13:45:09");
    const struct sockio *io = sched_start(true);
    struct tcp_client_opts o = client_opts(io, EXPECT_TIME, NULL);
    struct tcp_client_result r;
    assert_true(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
}

static void test_client_time_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Current time is soon",
        "Current time is 2024-03-07 13:45:09.123456\n",
        "current time is 2024-03-07 13:45:09.123456",
        "Current time is 2024-02-30 13:45:09.123456",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sched_begin();
        sched_str(bad[i]);
        sched_op(SCRIPT_EOF);
        const struct sockio *io = sched_start(true);
        struct tcp_client_opts o = client_opts(io, EXPECT_TIME, NULL);
        struct tcp_client_result r;
        assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
        assert_int_equal(r.status, SIO_OK); /* the transfer was fine */
        assert_false(r.reply_ok);
        assert_int_equal(r.reply_len, strlen(bad[i]));
        assert_non_null(strstr(r.why, "not a time message"));
    }
}

static void test_client_echo_equal(void **state)
{
    (void)state;
    const char *msg = "hello, echo world";
    sched_begin();
    sched_str("hello");
    sched_op(SCRIPT_EINTR);
    sched_str(", echo");
    sched_op(SCRIPT_EAGAIN);
    sched_str(" world");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    struct tcp_client_opts o = client_opts(io, EXPECT_ECHO, msg);
    struct tcp_client_result r;
    assert_true(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_OK);
    assert_true(r.reply_ok);
    assert_int_equal(r.reply_len, strlen(msg));
    /* what went out is exactly the message, then the half-close */
    assert_int_equal(sh_s.sent_total, strlen(msg));
    assert_memory_equal(sh_s.sent, msg, strlen(msg));
    assert_int_equal(sh_s.shutdowns, 1);
}

static void test_client_echo_different(void **state)
{
    (void)state;
    const char *msg = "hello world";
    sched_begin();
    sched_str("hello worle");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    struct tcp_client_opts o = client_opts(io, EXPECT_ECHO, msg);
    struct tcp_client_result r;
    assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_OK);
    assert_false(r.reply_ok);
    assert_string_equal(r.why, "echo differs from what was sent at byte 10");

    /* shorter and longer echoes */
    sched_begin();
    sched_str("hello");
    io = sched_start(true);
    o = client_opts(io, EXPECT_ECHO, msg);
    assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_string_equal(r.why, "echo has 5 bytes, sent 11");
    sched_begin();
    sched_str("hello world!");
    io = sched_start(true);
    o = client_opts(io, EXPECT_ECHO, msg);
    assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_string_equal(r.why, "echo has 12 bytes, sent 11");
}

static void test_client_echo_close_after_reply(void **state)
{
    (void)state;
    const char *msg = "ping pong";
    /* the server never closes: read exactly what was sent and stop */
    sched_begin();
    sched_str("pin");
    sched_op(SCRIPT_EINTR);
    sched_str("g po");
    sched_op(SCRIPT_EAGAIN);
    sched_str("ng");
    sched_op(SCRIPT_EAGAIN);
    sched_op(SCRIPT_TIMEOUT);
    const struct sockio *io = sched_start(true);
    struct tcp_client_opts o = client_opts(io, EXPECT_ECHO, msg);
    o.shutdown_write = false;
    o.close_after_reply = true;
    struct tcp_client_result r;
    assert_true(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_OK);
    assert_int_equal(r.reply_len, strlen(msg));
    assert_memory_equal(rbuf, msg, strlen(msg));
    assert_int_equal(sh_s.shutdowns, 0);
    assert_false(script_exhausted(&sh_s)); /* did not wait for EOF or timeout */

    /* a wrong byte is still judged */
    sched_begin();
    sched_str("ping_pong and more");
    io = sched_start(true);
    o = client_opts(io, EXPECT_ECHO, msg);
    o.close_after_reply = true;
    assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_OK);
    assert_int_equal(r.reply_len, strlen(msg));
    assert_string_equal(r.why, "echo differs from what was sent at byte 4");

    /* the server closes early */
    sched_begin();
    sched_str("ping");
    sched_op(SCRIPT_EOF);
    io = sched_start(true);
    o = client_opts(io, EXPECT_ECHO, msg);
    o.close_after_reply = true;
    assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_EOF);
    assert_int_equal(r.reply_len, 4);

    /* an echo that cannot fit the buffer is refused before reading */
    sched_begin();
    sched_str("ping pong");
    io = sched_start(true);
    o = client_opts(io, EXPECT_ECHO, msg);
    o.close_after_reply = true;
    assert_false(tcp_client_session(io, 3, &o, rbuf, 4, &r));
    assert_int_equal(r.status, SIO_OVERFLOW);
    assert_int_equal(r.reply_len, 0);
    assert_string_equal(r.why, "echo of 9 bytes exceeds the reply limit 4");
}

static void test_client_overflow(void **state)
{
    (void)state;
    uint8_t big[100];
    fill_pattern(big, sizeof big);
    sched_begin();
    sched_chunks(big, sizeof big, 7);
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    struct tcp_client_opts o = client_opts(io, EXPECT_ANY, NULL);
    struct tcp_client_result r;
    uint8_t buf[64];
    memset(buf, 0xee, sizeof buf);
    assert_false(tcp_client_session(io, 3, &o, buf, 50, &r));
    assert_int_equal(r.status, SIO_OVERFLOW);
    assert_int_equal(r.reply_len, 50);
    assert_memory_equal(buf, big, 50);
    assert_int_equal(buf[50], 0xee);
    assert_false(r.reply_ok);
    assert_non_null(strstr(r.why, "receive: "));
    assert_non_null(strstr(r.why, "after 50 bytes"));
}

static void test_client_reset(void **state)
{
    (void)state;
    sched_begin();
    sched_str("Current");
    sched_op(SCRIPT_RESET);
    const struct sockio *io = sched_start(true);
    struct tcp_client_opts o = client_opts(io, EXPECT_TIME, NULL);
    struct tcp_client_result r;
    assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_RESET);
    assert_int_equal(r.err, ECONNRESET);
    assert_int_equal(r.reply_len, 7);
    assert_string_equal(r.why, "receive: connection reset by peer after 7 bytes");
}

static void test_client_timeout(void **state)
{
    (void)state;
    sched_begin();
    sched_str("Curr");
    sched_op(SCRIPT_EAGAIN);
    sched_op(SCRIPT_TIMEOUT);
    sched_str("ent time is 2024-03-07 13:45:09.123456");
    const struct sockio *io = sched_start(true);
    struct tcp_client_opts o = client_opts(io, EXPECT_TIME, NULL);
    struct tcp_client_result r;
    assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_TIMEOUT);
    assert_int_equal(r.reply_len, 4);
    assert_string_equal(r.why, "receive: timed out after 4 bytes");
    assert_true(sched_now() >= o.deadline);
}

/* Send faults are only queued once something reads the schedule (see
 * test_client_send_epipe), so these tests receive a "primer" chunk on the
 * script before the session starts sending. */
static void prime(const struct sockio *io)
{
    uint8_t b[6];
    size_t n;
    int err;
    assert_int_equal(sockio_recv_some(io, 3, b, 6, SOCKIO_NO_DEADLINE, &n, &err), SIO_OK);
    assert_memory_equal(b, "primer", 6);
}

static void test_client_send_partial_writes(void **state)
{
    (void)state;
    const char *msg = "0123456789abcdefghij";
    sched_begin();
    sched_send_short(3);
    sched_op(SCRIPT_SEND_EINTR);
    sched_send_short(5);
    sched_op(SCRIPT_SEND_AGAIN);
    sched_send_short(1);
    sched_str("primer");
    sched_str("0123456789abcdefghij");
    const struct sockio *io = sched_start(true);
    prime(io);
    assert_int_equal(sh_s.send_fault_count, 5);
    struct tcp_client_opts o = client_opts(io, EXPECT_ECHO, msg);
    struct tcp_client_result r;
    uint64_t calls = sh_s.calls;
    assert_true(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(sh_s.send_fault_count, 0);
    assert_int_equal(sh_s.sent_total, strlen(msg));
    assert_memory_equal(sh_s.sent, msg, strlen(msg));
    assert_int_equal(sh_s.shutdowns, 1);
    /* sends 3, EINTR, 5, EAGAIN + poll, 1, 11; shutdown; receive; EOF */
    assert_int_equal(sh_s.calls - calls, 10);
}

/* Regression (fixed): script.c script_send() does not read the schedule, so a SEND_RESET
 * at its head is not queued before tcp_client_session's first send: the
 * send succeeds (all 5 bytes recorded), the following receive only then
 * queues the fault (never used), reads the echo "hello" and the session
 * returns true with SIO_OK, instead of failing the send with SIO_RESET /
 * EPIPE. See test_send_fault_at_schedule_head in test_script_sockio.c. */
static void test_client_send_epipe(void **state)
{
    (void)state;
    sched_begin();
    sched_op(SCRIPT_SEND_RESET);
    sched_str("hello");
    sched_op(SCRIPT_EOF);
    const struct sockio *io = sched_start(true);
    struct tcp_client_opts o = client_opts(io, EXPECT_ECHO, "hello");
    struct tcp_client_result r;
    assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_RESET);
    assert_int_equal(r.err, EPIPE);
    assert_string_equal(r.why, "send: connection reset by peer");
    assert_int_equal(sh_s.sent_len, 0);
    assert_int_equal(sh_s.shutdowns, 0);
}

static void test_client_send_epipe_after_poll(void **state)
{
    (void)state;
    /* the failure the test above wants, once the faults are queued */
    sched_begin();
    sched_op(SCRIPT_SEND_AGAIN);
    sched_op(SCRIPT_SEND_RESET);
    sched_str("primer");
    sched_str("hello");
    const struct sockio *io = sched_start(true);
    prime(io);
    struct tcp_client_opts o = client_opts(io, EXPECT_ECHO, "hello");
    struct tcp_client_result r;
    assert_false(tcp_client_session(io, 3, &o, rbuf, sizeof rbuf, &r));
    assert_int_equal(r.status, SIO_RESET);
    assert_int_equal(r.err, EPIPE);
    assert_string_equal(r.why, "send: connection reset by peer");
    assert_int_equal(sh_s.sent_len, 0);
    assert_int_equal(sh_s.shutdowns, 0);
    assert_false(r.reply_ok);
}

static void test_client_judge(void **state)
{
    (void)state;
    char why[128];
    const uint8_t *t = (const uint8_t *)TIME_REPLY;
    strcpy(why, "stale");
    assert_true(tcp_client_judge(EXPECT_ANY, NULL, 0, (const uint8_t *)"x", 1, why, sizeof why));
    assert_string_equal(why, "");
    assert_true(tcp_client_judge(EXPECT_ANY, NULL, 0, NULL, 0, why, sizeof why));
    assert_true(tcp_client_judge(EXPECT_TIME, NULL, 0, t, strlen(TIME_REPLY), why, sizeof why));
    assert_string_equal(why, "");
    assert_false(tcp_client_judge(EXPECT_TIME, NULL, 0, t, 20, why, sizeof why));
    assert_string_equal(why, "not a time message: wrong length for a time message");
    assert_false(tcp_client_judge(EXPECT_TIME, NULL, 0, t, 0, why, sizeof why));
    assert_string_equal(why, "not a time message: empty reply");
    assert_true(tcp_client_judge(EXPECT_ECHO, t, 5, t, 5, why, sizeof why));
    assert_true(tcp_client_judge(EXPECT_ECHO, NULL, 0, NULL, 0, why, sizeof why));
    assert_false(tcp_client_judge(EXPECT_ECHO, (const uint8_t *)"abc", 3,
                                  (const uint8_t *)"abd", 3, why, sizeof why));
    assert_string_equal(why, "echo differs from what was sent at byte 2");
    assert_false(tcp_client_judge(EXPECT_ECHO, (const uint8_t *)"abc", 3,
                                  (const uint8_t *)"Abc", 3, why, sizeof why));
    assert_string_equal(why, "echo differs from what was sent at byte 0");
    assert_false(tcp_client_judge(EXPECT_ECHO, (const uint8_t *)"abc", 3,
                                  (const uint8_t *)"ab", 2, why, sizeof why));
    assert_string_equal(why, "echo has 2 bytes, sent 3");
    /* a small why buffer is cut, still terminated */
    char small[8];
    assert_false(tcp_client_judge(EXPECT_ECHO, (const uint8_t *)"abc", 3,
                                  (const uint8_t *)"ab", 2, small, sizeof small));
    assert_string_equal(small, "echo ha");
}

/* ------------------------------------------------------- udp-server */

/* The server's own address in these tests: 127.0.0.1:7777 (the scripted
 * peer is 127.0.0.1 at the port a schedule names). */
static struct udp_echo_guard guard;

/* One datagram as udp_loop_run handles each (udp_loop.h, the loop
 * udp-server runs): received into buf[max], its line, its echo when `echo`
 * is given and allows it. */
struct udp_server_event {
    enum sio_status status;
    int err;
    bool echoed;
    bool echo_refused;
    enum udp_echo_refusal refusal; /* why, when echo_refused */
    char line[UDP_LINE_CAP];
    size_t line_len;
};
static struct udp_server_event sev;

static void udp_server_handle_one(const struct sockio *io, int fd, uint8_t *buf, size_t max,
                                  int64_t deadline, struct udp_echo_guard *echo,
                                  struct udp_server_event *ev)
{
    memset(ev, 0, sizeof *ev);
    struct datagram d;
    ev->status = sockio_recv_datagram(io, fd, buf, max, deadline, &d, &ev->err);
    if (ev->status != SIO_OK)
        return;
    ev->line_len = udp_server_log_line(&d, buf, max, ev->line);
    if (!echo)
        return;
    ev->echoed = udp_server_echo(io, fd, buf, &d, echo, io->ops->now_ms(io->ctx), &ev->refusal);
    ev->echo_refused = ev->refusal != UDP_ECHO_ALLOWED;
}

static struct udp_echo_guard *echo_guard(void)
{
    struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(7777),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    udp_echo_guard_init(&guard, (struct sockaddr *)&self, sizeof self);
    return &guard;
}

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return sin;
}

static enum udp_echo_refusal check_v4(const char *ip, uint16_t port, int64_t now)
{
    struct sockaddr_in to = v4(ip, port);
    return udp_echo_check(&guard, (struct sockaddr *)&to, now);
}

static void test_udp_echo_port_rules(void **state)
{
    (void)state;
    echo_guard();
    static const struct { uint16_t port; enum udp_echo_refusal r; } cases[] = {
        {0, UDP_ECHO_PRIVILEGED_PORT},    {1, UDP_ECHO_PRIVILEGED_PORT},
        {7, UDP_ECHO_PRIVILEGED_PORT},    {19, UDP_ECHO_PRIVILEGED_PORT},
        {53, UDP_ECHO_PRIVILEGED_PORT},   {1023, UDP_ECHO_PRIVILEGED_PORT},
        {1024, UDP_ECHO_ALLOWED},         {1900, UDP_ECHO_REFLECTOR_PORT},
        {3434, UDP_ECHO_REFLECTOR_PORT},  {5353, UDP_ECHO_REFLECTOR_PORT},
        {11211, UDP_ECHO_REFLECTOR_PORT}, {40000, UDP_ECHO_ALLOWED},
        {65535, UDP_ECHO_ALLOWED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(check_v4("10.0.0.1", cases[i].port, 0), cases[i].r);
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(53)};
    assert_int_equal(udp_echo_check(&guard, (struct sockaddr *)&sin6, 0), UDP_ECHO_PRIVILEGED_PORT);
    sin6.sin6_port = htons(5353);
    assert_int_equal(udp_echo_check(&guard, (struct sockaddr *)&sin6, 0), UDP_ECHO_REFLECTOR_PORT);
    sin6.sin6_port = htons(40000);
    assert_int_equal(udp_echo_check(&guard, (struct sockaddr *)&sin6, 0), UDP_ECHO_ALLOWED);
    for (unsigned p = 0; p < 65536; p++) /* the list is sorted: every entry is found */
        if (udp_reflector_port((uint16_t)p))
            assert_true(p >= 1024);
    assert_true(udp_reflector_port(37810));
    assert_false(udp_reflector_port(37811));
}

static void test_udp_echo_never_to_itself(void **state)
{
    (void)state;
    echo_guard(); /* bound to 127.0.0.1:7777 */
    assert_int_equal(check_v4("127.0.0.1", 7777, 0), UDP_ECHO_SELF);
    assert_int_equal(check_v4("127.0.0.2", 7777, 0), UDP_ECHO_ALLOWED); /* another host's 7777 */
    assert_int_equal(check_v4("127.0.0.1", 7778, 0), UDP_ECHO_ALLOWED);
    /* Bound to the wildcard: any local address may be its own. */
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(7777)};
    udp_echo_guard_init(&guard, (struct sockaddr *)&any, sizeof any);
    assert_int_equal(check_v4("10.1.2.3", 7777, 0), UDP_ECHO_SELF);
    assert_int_equal(check_v4("10.1.2.3", 7776, 0), UDP_ECHO_ALLOWED);
    struct sockaddr_in6 self6 = {.sin6_family = AF_INET6, .sin6_port = htons(9000),
                                 .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    udp_echo_guard_init(&guard, (struct sockaddr *)&self6, sizeof self6);
    assert_int_equal(udp_echo_check(&guard, (struct sockaddr *)&self6, 0), UDP_ECHO_SELF);
}

static void test_udp_echo_rate_per_source(void **state)
{
    (void)state;
    echo_guard();
    /* A burst of UDP_ECHO_BURST replies, then nothing until tokens come back. */
    for (int i = 0; i < UDP_ECHO_BURST; i++)
        assert_int_equal(check_v4("10.0.0.1", 40000, 1000), UDP_ECHO_ALLOWED);
    assert_int_equal(check_v4("10.0.0.1", 40000, 1000), UDP_ECHO_RATE_LIMITED);
    assert_int_equal(check_v4("10.0.0.1", 40001, 1000), UDP_ECHO_RATE_LIMITED); /* per address, not port */
    /* Another source has its own bucket. */
    assert_int_equal(check_v4("10.0.0.2", 40000, 1000), UDP_ECHO_ALLOWED);
    /* 10 ms later: one more token (UDP_ECHO_RATE 100/s), then limited again. */
    assert_int_equal(check_v4("10.0.0.1", 40000, 1010), UDP_ECHO_ALLOWED);
    assert_int_equal(check_v4("10.0.0.1", 40000, 1010), UDP_ECHO_RATE_LIMITED);
    /* Over one second a flooding source gets at most the rate. */
    int allowed = 0;
    for (int64_t t = 1010; t < 2010; t++)
        for (int k = 0; k < 10; k++)
            allowed += check_v4("10.0.0.1", 40000, t) == UDP_ECHO_ALLOWED;
    assert_in_range(allowed, UDP_ECHO_RATE - 1, UDP_ECHO_RATE + 1);
    /* A quiet minute refills to the burst, not beyond. */
    allowed = 0;
    for (int k = 0; k < 2 * UDP_ECHO_BURST; k++)
        allowed += check_v4("10.0.0.1", 40000, 62010) == UDP_ECHO_ALLOWED;
    assert_int_equal(allowed, UDP_ECHO_BURST);
}

static void test_server_echo_not_to_itself(void **state)
{
    (void)state;
    sched_begin();
    sched_peer_port(7777); /* the scripted peer is 127.0.0.1: the guard's own address */
    sched_str("loop?");
    sched_peer_port(1900);
    sched_str("ssdp");
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_true(sev.echo_refused);
    assert_int_equal(sev.refusal, UDP_ECHO_SELF);
    assert_string_equal(udp_echo_refusal_text(sev.refusal), "source is this server's own address and port");
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), &guard, &sev);
    assert_int_equal(sev.refusal, UDP_ECHO_REFLECTOR_PORT);
    assert_int_equal(sh_s.sent_total, 0);
}

static void test_server_line_cut_is_marked(void **state)
{
    (void)state;
    uint8_t ctl[1024];
    memset(ctl, 0x1b, sizeof ctl); /* 4 characters each once escaped */
    sched_begin();
    sched_peer_port(40000);
    sched_data(ctl, sizeof ctl);
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), NULL, &sev);
    assert_int_equal(sev.status, SIO_OK);
    const char *mark = strstr(sev.line, " [cut: 1023 of 1024 bytes shown] from 127.0.0.1:40000");
    assert_non_null(mark);
    assert_int_equal(mark - sev.line, (ptrdiff_t)(strlen("Received: ") + 1023 * 4));
}


static void test_server_line(void **state)
{
    (void)state;
    sched_begin();
    sched_str("hello");
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), NULL, &sev);
    assert_int_equal(sev.status, SIO_OK);
    assert_string_equal(sev.line, "Received: hello from 127.0.0.1:40000");
    assert_false(sev.echoed);
    assert_false(sev.echo_refused);
    assert_int_equal(sh_s.sent_total, 0);
}

static void test_server_escaped_line(void **state)
{
    (void)state;
    static const uint8_t evil[] = {'a', 0x1b, '[', '2', 'J', '\\', '\n', 0x00, 0xc2, 0x85,
                                   0xc3, 0xa9, 0xff};
    sched_begin();
    sched_data(evil, sizeof evil);
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), NULL, &sev);
    assert_int_equal(sev.status, SIO_OK);
    assert_string_equal(sev.line, "Received: a\\x1b[2J\\\\\\x0a\\x00\\xc2\\x85\xc3\xa9\\xff"
                                  " from 127.0.0.1:40000");
    for (const char *p = sev.line; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void test_server_empty_datagram(void **state)
{
    (void)state;
    sched_begin();
    sched_data("", 0);
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_int_equal(sev.status, SIO_OK);
    assert_string_equal(sev.line, "Received:  from 127.0.0.1:40000");
    assert_true(sev.echoed);
    assert_int_equal(sh_s.sent_total, 0);
}

static void test_server_truncated_line(void **state)
{
    (void)state;
    sched_begin();
    sched_trunc(3000, "ABCDEFGH", 8);
    sched_str("0123456789ab"); /* 12 bytes, max 8 */
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 8, sockio_deadline_in(io, 1000), NULL, &sev);
    assert_int_equal(sev.status, SIO_OK);
    assert_string_equal(sev.line, "Truncated: datagram of 3000 bytes from 127.0.0.1:40000 "
                                  "exceeds --max 8; kept: ABCDEFGH");
    udp_server_handle_one(io, 3, rbuf, 8, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_string_equal(sev.line, "Truncated: datagram of 12 bytes from 127.0.0.1:40000 "
                                  "exceeds --max 8; kept: 01234567");
    /* the echo of a truncated datagram is what was kept */
    assert_true(sev.echoed);
    assert_int_equal(sh_s.sent_total, 8);
    assert_memory_equal(sh_s.sent, "01234567", 8);
}

static void test_server_long_datagram_line(void **state)
{
    (void)state;
    /* 4000 control bytes escape to 16000 chars: the line keeps a whole
     * prefix and stays terminated */
    static uint8_t ctl[4000];
    memset(ctl, 0x01, sizeof ctl);
    sched_begin();
    sched_data(ctl, sizeof ctl);
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, sizeof rbuf, sockio_deadline_in(io, 1000), NULL, &sev);
    assert_int_equal(sev.status, SIO_OK);
    size_t len = strlen(sev.line);
    assert_true(len < sizeof sev.line);
    assert_non_null(strstr(sev.line, " from 127.0.0.1:40000"));
    assert_int_equal(strncmp(sev.line, "Received: \\x01\\x01", 18), 0);
    /* no half escape before " from" */
    const char *from = strstr(sev.line, " from ");
    assert_int_equal((from - (sev.line + 10)) % 4, 0);
}

static void test_server_echo_exact_bytes(void **state)
{
    (void)state;
    static const uint8_t payload[] = {'p', 'i', 'n', 'g', 0x00, 0xff, '\n', 'x'};
    sched_begin();
    sched_data(payload, sizeof payload);
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_int_equal(sev.status, SIO_OK);
    assert_true(sev.echoed);
    assert_false(sev.echo_refused);
    assert_int_equal(sh_s.sent_total, sizeof payload);
    assert_memory_equal(sh_s.sent, payload, sizeof payload);
    assert_int_equal(sh_s.sends_to_foreign, 0);
}

static void test_server_echo_eintr_eagain(void **state)
{
    (void)state;
    sched_begin();
    sched_op(SCRIPT_SEND_EINTR);
    sched_op(SCRIPT_SEND_EINTR);
    sched_str("retry");
    sched_str("dropped");
    sched_op(SCRIPT_SEND_AGAIN); /* read at the second send, after "dropped" came */
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_true(sev.echoed); /* EINTR retried */
    assert_int_equal(sh_s.sent_total, 5);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_int_equal(sev.status, SIO_OK);
    assert_false(sev.echoed); /* a full buffer drops the echo, no blocking */
    assert_false(sev.echo_refused);
    assert_int_equal(sh_s.sent_total, 5);
}

static void test_server_echo_refused(void **state)
{
    (void)state;
    sched_begin();
    sched_peer_port(53);
    sched_str("dns?");
    sched_peer_port(0);
    sched_str("zero");
    sched_peer_port(1023);
    sched_str("priv");
    sched_peer_port(1024);
    sched_str("fine");
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_int_equal(sev.status, SIO_OK);
    assert_true(sev.echo_refused);
    assert_false(sev.echoed);
    assert_string_equal(sev.line, "Received: dns? from 127.0.0.1:53");
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_true(sev.echo_refused);
    assert_false(sev.echoed);
    assert_string_equal(sev.line, "Received: zero from 127.0.0.1:0");
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_true(sev.echo_refused);
    assert_int_equal(sh_s.sent_total, 0); /* nothing sent to any of them */
    assert_int_equal(sh_s.calls, 3);      /* three receives, no send */
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_false(sev.echo_refused);
    assert_true(sev.echoed);
    assert_int_equal(sh_s.sent_total, 4);
}

static void test_server_echo_foreign(void **state)
{
    (void)state;
    sched_begin();
    sched_op(SCRIPT_FOREIGN);
    sched_str("from afar");
    const struct sockio *io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_string_equal(sev.line, "Received: from afar from 192.0.2.7:40000");
    assert_true(sev.echoed);
    assert_int_equal(sh_s.sends_to_foreign, 1); /* replied to where it came from */
}

static void test_server_timeout(void **state)
{
    (void)state;
    sched_begin();
    const struct sockio *io = sched_start(false);
    int64_t deadline = sockio_deadline_in(io, 1000);
    udp_server_handle_one(io, 3, rbuf, 1024, deadline, echo_guard(), &sev);
    assert_int_equal(sev.status, SIO_TIMEOUT);
    assert_string_equal(sev.line, "");
    assert_false(sev.echoed);
    assert_int_equal(sh_s.sent_total, 0);
    assert_true(sched_now() >= deadline);

    sched_begin();
    sched_op(SCRIPT_EAGAIN);
    sched_op(SCRIPT_TIMEOUT);
    sched_str("late");
    io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_int_equal(sev.status, SIO_TIMEOUT);
    assert_int_equal(sh_s.sent_total, 0);

    sched_begin();
    sched_op(SCRIPT_RESET);
    io = sched_start(false);
    udp_server_handle_one(io, 3, rbuf, 1024, sockio_deadline_in(io, 1000), echo_guard(), &sev);
    assert_int_equal(sev.status, SIO_RESET);
    assert_int_equal(sev.err, ECONNRESET);
}

/* ------------------------------------------------------- udp-client */

static struct sockaddr_storage server;
static socklen_t server_len;
static struct udp_exchange ex;

static const struct sockio *client_start(void)
{
    const struct sockio *io = sched_start(false);
    script_peer_addr(&sh_s, &server, &server_len);
    return io;
}

static void test_exchange_reply_ok(void **state)
{
    (void)state;
    sched_begin();
    sched_op(SCRIPT_EINTR);
    sched_str("pong");
    const struct sockio *io = client_start();
    uint8_t reply[64];
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 3, 1000,
                        reply, sizeof reply, &ex);
    assert_int_equal(ex.status, SIO_OK);
    assert_int_equal(ex.reply_len, 4);
    assert_memory_equal(reply, "pong", 4);
    assert_false(ex.reply_truncated);
    assert_int_equal(ex.tries_used, 1);
    assert_int_equal(ex.foreign_dropped, 0);
    assert_int_equal(sh_s.sent_total, 4);
    assert_memory_equal(sh_s.sent, "ping", 4);
}

static void test_exchange_foreign_ignored(void **state)
{
    (void)state;
    sched_begin();
    sched_op(SCRIPT_FOREIGN);
    sched_str("evil");
    sched_peer_port(40001); /* right host, wrong port */
    sched_str("evil2");
    sched_peer_port(40000);
    sched_str("pong");
    const struct sockio *io = client_start();
    uint8_t reply[64];
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 3, 1000,
                        reply, sizeof reply, &ex);
    assert_int_equal(ex.status, SIO_OK);
    assert_int_equal(ex.foreign_dropped, 2);
    assert_int_equal(ex.reply_len, 4);
    assert_memory_equal(reply, "pong", 4);
    assert_int_equal(ex.tries_used, 1);
    assert_int_equal(sh_s.sent_total, 4);
}

static void test_exchange_refused(void **state)
{
    (void)state;
    sched_begin();
    sched_op(SCRIPT_REFUSED);
    sched_str("never");
    const struct sockio *io = client_start();
    uint8_t reply[64];
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 5, 1000,
                        reply, sizeof reply, &ex);
    assert_int_equal(ex.status, SIO_REFUSED);
    assert_int_equal(ex.err, ECONNREFUSED);
    assert_int_equal(ex.tries_used, 1); /* a closed port is not retried */
    assert_int_equal(sh_s.sent_total, 4);
}

static void test_exchange_all_tries_time_out(void **state)
{
    (void)state;
    sched_begin();
    const struct sockio *io = client_start();
    uint8_t reply[64];
    int64_t start = sched_now();
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 4, 250,
                        reply, sizeof reply, &ex);
    assert_int_equal(ex.status, SIO_TIMEOUT);
    assert_int_equal(ex.tries_used, 4);
    assert_int_equal(ex.reply_len, 0);
    /* each try sent the message again */
    assert_int_equal(sh_s.sent_total, 16);
    assert_memory_equal(sh_s.sent, "pingpingpingping", 16);
    assert_true(sched_now() >= start + 4 * 250);

    /* only foreign datagrams: still a timeout, and they are counted */
    sched_begin();
    sched_op(SCRIPT_FOREIGN);
    sched_str("evil");
    io = client_start();
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 2, 250,
                        reply, sizeof reply, &ex);
    assert_int_equal(ex.status, SIO_TIMEOUT);
    assert_int_equal(ex.tries_used, 2);
    assert_int_equal(ex.foreign_dropped, 1);

    /* zero tries: nothing sent */
    sched_begin();
    sched_str("pong");
    io = client_start();
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 0, 250,
                        reply, sizeof reply, &ex);
    assert_int_equal(ex.status, SIO_TIMEOUT);
    assert_int_equal(ex.tries_used, 0);
    assert_int_equal(sh_s.sent_total, 0);
}

static void test_exchange_second_try(void **state)
{
    (void)state;
    sched_begin();
    sched_op(SCRIPT_EAGAIN);
    sched_op(SCRIPT_TIMEOUT);
    sched_str("pong");
    const struct sockio *io = client_start();
    uint8_t reply[64];
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 3, 1000,
                        reply, sizeof reply, &ex);
    assert_int_equal(ex.status, SIO_OK);
    assert_int_equal(ex.tries_used, 2);
    assert_int_equal(sh_s.sent_total, 8);
}

static void test_exchange_truncated_reply(void **state)
{
    (void)state;
    sched_begin();
    sched_str("pong-but-much-longer");
    const struct sockio *io = client_start();
    uint8_t reply[8];
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 3, 1000,
                        reply, 4, &ex);
    assert_int_equal(ex.status, SIO_OK);
    assert_true(ex.reply_truncated);
    assert_int_equal(ex.reply_len, 4);
    assert_memory_equal(reply, "pong", 4);

    sched_begin();
    sched_trunc(60000, "pong", 4);
    io = client_start();
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 3, 1000,
                        reply, 4, &ex);
    assert_int_equal(ex.status, SIO_OK);
    assert_true(ex.reply_truncated);
    assert_int_equal(ex.reply_len, 4);
}

static void test_exchange_send_errors(void **state)
{
    (void)state;
    /* send faults need a prior schedule read (see test_client_send_epipe):
     * receive once on the script before the exchange */
    sched_begin();
    sched_op(SCRIPT_SEND_EINTR);
    sched_op(SCRIPT_SEND_RESET);
    sched_str("primer");
    sched_str("pong");
    const struct sockio *io = client_start();
    uint8_t reply[64];
    struct datagram d;
    int err;
    assert_int_equal(sockio_recv_datagram(io, 3, reply, sizeof reply, SOCKIO_NO_DEADLINE, &d, &err),
                     SIO_OK);
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 3, 1000,
                        reply, sizeof reply, &ex);
    assert_int_equal(ex.status, SIO_RESET); /* EINTR retried, EPIPE ends it */
    assert_int_equal(ex.err, EPIPE);
    assert_int_equal(ex.tries_used, 1);
    assert_int_equal(sh_s.sent_total, 0);

    /* EAGAIN on send is loss: the next try goes on */
    sched_begin();
    sched_op(SCRIPT_SEND_AGAIN);
    sched_str("primer");
    sched_str("pong");
    io = client_start();
    assert_int_equal(sockio_recv_datagram(io, 3, reply, sizeof reply, SOCKIO_NO_DEADLINE, &d, &err),
                     SIO_OK);
    udp_client_exchange(io, 3, (struct sockaddr *)&server, (const uint8_t *)"ping", 4, 3, 1000,
                        reply, sizeof reply, &ex);
    assert_int_equal(ex.status, SIO_OK);
    assert_int_equal(ex.tries_used, 2);
    assert_int_equal(sh_s.sent_total, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_expect_parse),
        cmocka_unit_test(test_client_time_ok),
        cmocka_unit_test(test_client_time_short_form_ok),
        cmocka_unit_test(test_client_time_malformed),
        cmocka_unit_test(test_client_echo_equal),
        cmocka_unit_test(test_client_echo_different),
        cmocka_unit_test(test_client_echo_close_after_reply),
        cmocka_unit_test(test_client_overflow),
        cmocka_unit_test(test_client_reset),
        cmocka_unit_test(test_client_timeout),
        cmocka_unit_test(test_client_send_partial_writes),
        cmocka_unit_test(test_client_send_epipe),
        cmocka_unit_test(test_client_send_epipe_after_poll),
        cmocka_unit_test(test_client_judge),
        cmocka_unit_test(test_udp_echo_port_rules),
        cmocka_unit_test(test_udp_echo_never_to_itself),
        cmocka_unit_test(test_udp_echo_rate_per_source),
        cmocka_unit_test(test_server_echo_not_to_itself),
        cmocka_unit_test(test_server_line_cut_is_marked),
        cmocka_unit_test(test_server_line),
        cmocka_unit_test(test_server_escaped_line),
        cmocka_unit_test(test_server_empty_datagram),
        cmocka_unit_test(test_server_truncated_line),
        cmocka_unit_test(test_server_long_datagram_line),
        cmocka_unit_test(test_server_echo_exact_bytes),
        cmocka_unit_test(test_server_echo_eintr_eagain),
        cmocka_unit_test(test_server_echo_refused),
        cmocka_unit_test(test_server_echo_foreign),
        cmocka_unit_test(test_server_timeout),
        cmocka_unit_test(test_exchange_reply_ok),
        cmocka_unit_test(test_exchange_foreign_ignored),
        cmocka_unit_test(test_exchange_refused),
        cmocka_unit_test(test_exchange_all_tries_time_out),
        cmocka_unit_test(test_exchange_second_try),
        cmocka_unit_test(test_exchange_truncated_reply),
        cmocka_unit_test(test_exchange_send_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
