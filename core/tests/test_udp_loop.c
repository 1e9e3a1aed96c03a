/* udp-server's event loop (core/udp_loop.c) over the scripted seam: what it
 * logs, in which writes, what it echoes, when it stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "script_helpers.h"
#include "udp_loop.h"

/* What the hooks saw. */
static char logged[1 << 16];
static size_t logged_len;
static unsigned writes, flushes, errors, stop_asks, stop_after_asks;
static size_t flushed_len; /* logged_len at the last flush */
static enum sio_status last_error;
static bool fail_writes, fail_flushes;

static bool write_log(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    writes++;
    if (fail_writes) {
        errno = ENOSPC;
        return false;
    }
    assert_true(len <= sizeof logged - 1 - logged_len);
    memcpy(logged + logged_len, text, len);
    logged_len += len;
    logged[logged_len] = '\0';
    return true;
}

static bool flush_log(void *ctx)
{
    (void)ctx;
    flushes++;
    flushed_len = logged_len;
    if (fail_flushes) {
        errno = EPIPE;
        return false;
    }
    return true;
}

static void recv_error(void *ctx, enum sio_status s, int err)
{
    (void)ctx;
    (void)err;
    errors++;
    last_error = s;
}

/* Asked for the n-th time: a stop is requested from the stop_after_asks-th on. */
static bool stop_requested(void *ctx)
{
    (void)ctx;
    stop_asks++;
    return stop_after_asks > 0 && stop_asks >= stop_after_asks;
}

static const struct udp_loop_hooks hooks = {.write_log = write_log, .flush_log = flush_log,
                                            .recv_error = recv_error,
                                            .stop_requested = stop_requested};

/* The server's own address in these tests: 127.0.0.1:7777. */
static struct sockaddr_in self_addr;

static struct udp_loop *loop_with(size_t max, unsigned batch, bool echo, unsigned long count)
{
    logged_len = 0;
    logged[0] = '\0';
    writes = flushes = errors = stop_asks = stop_after_asks = 0;
    flushed_len = 0;
    fail_writes = fail_flushes = false;
    self_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(7777),
                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct udp_loop_config c = {.max = max, .batch = batch, .echo = echo, .count = count,
                                .stop_fd = -1, .self = (struct sockaddr *)&self_addr,
                                .self_len = sizeof self_addr};
    struct udp_loop *l = udp_loop_new(&c);
    assert_non_null(l);
    return l;
}

static void test_batch_logged_in_order_with_one_write(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 8, false, 0);
    sched_begin();
    sched_str("one");
    sched_str("two\x1b");
    sched_str("three");
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_IDLE);
    assert_string_equal(logged, "Received: one from 127.0.0.1:40000\n"
                                "Received: two\\x1b from 127.0.0.1:40000\n"
                                "Received: three from 127.0.0.1:40000\n");
    assert_int_equal(writes, 1);
    assert_int_equal(udp_loop_stats(l)->receives, 1);
    assert_int_equal(udp_loop_stats(l)->handled, 3);
    /* flushed once the queue ran empty, before the wait that ended the run */
    assert_int_equal(flushes, 1);
    assert_int_equal(flushed_len, logged_len);
    udp_loop_free(l);
}

/* A batch holds at most `batch` datagrams: five in batches of two are
 * three receives and three writes, still in order. */
static void test_batches_split_and_keep_order(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 2, false, 0);
    sched_begin();
    for (char c = 'a'; c <= 'e'; c++)
        sched_data(&c, 1);
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_IDLE);
    assert_string_equal(logged, "Received: a from 127.0.0.1:40000\nReceived: b from 127.0.0.1:40000\n"
                                "Received: c from 127.0.0.1:40000\nReceived: d from 127.0.0.1:40000\n"
                                "Received: e from 127.0.0.1:40000\n");
    assert_int_equal(udp_loop_stats(l)->receives, 3);
    assert_int_equal(writes, 3);
    udp_loop_free(l);
}

/* Without a recvmmsg in the seam, the loop takes one datagram a receive. */
static void test_no_batch_op_falls_back_to_recvfrom(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 8, false, 0);
    sched_begin();
    sched_str("x");
    sched_str("y");
    const struct sockio *io = sched_start(false);
    struct sockio_ops ops = *io->ops;
    ops.recvmmsg = NULL;
    struct sockio plain = {.ops = &ops, .ctx = io->ctx};
    assert_int_equal(udp_loop_run(l, &plain, 3, &hooks), UDP_LOOP_IDLE);
    assert_string_equal(logged, "Received: x from 127.0.0.1:40000\nReceived: y from 127.0.0.1:40000\n");
    assert_int_equal(udp_loop_stats(l)->receives, 2);
    udp_loop_free(l);
}

static void test_truncation_reports_real_length(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(8, 4, false, 0);
    sched_begin();
    sched_trunc(3000, "ABCDEFGH", 8);
    sched_str("0123456789ab");
    sched_str("fits");
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_IDLE);
    assert_string_equal(logged,
                        "Truncated: datagram of 3000 bytes from 127.0.0.1:40000 exceeds --max 8; "
                        "kept: ABCDEFGH\n"
                        "Truncated: datagram of 12 bytes from 127.0.0.1:40000 exceeds --max 8; "
                        "kept: 01234567\n"
                        "Received: fits from 127.0.0.1:40000\n");
    assert_int_equal(writes, 1);
    udp_loop_free(l);
}

static void test_ipv6_peers_formatted(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 8, false, 0);
    sched_begin();
    sched_peer_port(5000);
    assert_true(script_add_source(&sh_b, SCRIPT_FROM_PEER_V6));
    sched_str("a");
    assert_true(script_add_source(&sh_b, SCRIPT_FROM_FOREIGN_V6));
    sched_str("b");
    assert_true(script_add_source(&sh_b, SCRIPT_FROM_PEER_MAPPED));
    sched_str("c");
    sched_str("d"); /* back to the IPv4 peer */
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_IDLE);
    assert_string_equal(logged, "Received: a from [::1]:5000\n"
                                "Received: b from [2001:db8::7]:5000\n"
                                "Received: c from [::ffff:127.0.0.1]:5000\n"
                                "Received: d from 127.0.0.1:5000\n");
    udp_loop_free(l);
}

static void test_echo_and_its_refusals(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 8, true, 0);
    sched_begin();
    sched_peer_port(7777); /* 127.0.0.1:7777 is the server itself */
    sched_str("loop?");
    sched_peer_port(53);
    sched_str("dns");
    sched_peer_port(5353);
    sched_str("mdns");
    sched_peer_port(40000);
    assert_true(script_add_source(&sh_b, SCRIPT_FROM_PEER_V6));
    sched_str("fine");
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_IDLE);
    assert_string_equal(logged,
                        "Received: loop? from 127.0.0.1:7777\n"
                        "Echo refused: source is this server's own address and port\n"
                        "Received: dns from 127.0.0.1:53\n"
                        "Echo refused: source port below 1024 or 0\n"
                        "Received: mdns from 127.0.0.1:5353\n"
                        "Echo refused: source port is a UDP service known for reflection\n"
                        "Received: fine from [::1]:40000\n");
    assert_int_equal(writes, 1);
    assert_int_equal(udp_loop_stats(l)->echoed, 1);
    assert_int_equal(udp_loop_stats(l)->refused, 3);
    assert_int_equal(sh_s.sent_total, 4);
    assert_memory_equal(sh_s.sent, "fine", 4);
    udp_loop_free(l);
}

/* --count 3 with five datagrams queued and batches of eight: the second
 * receive asks for one, and the rest stays queued. */
static void test_count_stops_mid_batch(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 8, false, 3);
    sched_begin();
    sched_str("1");
    sched_str("2");
    sched_op(SCRIPT_EAGAIN);
    sched_str("3");
    sched_str("4");
    sched_str("5");
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_COUNT);
    assert_string_equal(logged, "Received: 1 from 127.0.0.1:40000\nReceived: 2 from 127.0.0.1:40000\n"
                                "Received: 3 from 127.0.0.1:40000\n");
    assert_int_equal(udp_loop_stats(l)->handled, 3);
    uint8_t rest[8];
    struct datagram d;
    assert_int_equal(sockio_recv_datagram(io, 3, rest, sizeof rest, sched_now(), &d, NULL), SIO_OK);
    assert_memory_equal(rest, "4", 1);
    udp_loop_free(l);
}

/* An error after datagrams of a batch comes with the next receive; the
 * loop reports it and goes on. EINTR is retried, EAGAIN ends a batch. */
static void test_errors_between_datagrams(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 8, false, 0);
    sched_begin();
    sched_str("a");
    sched_op(SCRIPT_REFUSED);
    sched_op(SCRIPT_EINTR);
    sched_str("b");
    sched_op(SCRIPT_EAGAIN);
    sched_str("c");
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_IDLE);
    assert_string_equal(logged, "Received: a from 127.0.0.1:40000\nReceived: b from 127.0.0.1:40000\n"
                                "Received: c from 127.0.0.1:40000\n");
    assert_int_equal(errors, 1);
    assert_int_equal(last_error, SIO_REFUSED);
    assert_int_equal(udp_loop_stats(l)->receives, 3);
    udp_loop_free(l);
}

/* A stop request: what is queued is still logged, then the loop ends. */
static void test_stop_logs_the_queue_then_ends(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 8, false, 0);
    stop_after_asks = 1;
    sched_begin();
    sched_str("queued 1");
    sched_str("queued 2");
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_STOPPED);
    assert_string_equal(logged, "Received: queued 1 from 127.0.0.1:40000\n"
                                "Received: queued 2 from 127.0.0.1:40000\n");
    udp_loop_free(l);
}

/* A flood never empties the queue: the stop is looked at every
 * UDP_LOOP_STOP_CHECK_EVERY datagrams, and the drain ends after
 * UDP_LOOP_STOP_DRAIN_MS on the seam's clock. */
static void test_stop_during_a_flood(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 4, false, 0);
    stop_after_asks = 2; /* not at the wake-up, at the first periodic look */
    sched_begin();
    for (int i = 0; i < 2000; i++) {
        sched_str("f");
        sched_clock(1); /* 100 ms a datagram */
    }
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_STOPPED);
    unsigned long handled = udp_loop_stats(l)->handled;
    /* 64 before the stop is seen, the drain deadline is past at the next look */
    assert_true(handled >= UDP_LOOP_STOP_CHECK_EVERY && handled <= 2 * UDP_LOOP_STOP_CHECK_EVERY);
    assert_false(script_exhausted(&sh_s));
    udp_loop_free(l);
}

static void test_log_failure_ends_the_loop(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 8, false, 0);
    fail_writes = true;
    sched_begin();
    sched_str("lost");
    sched_str("never read");
    sched_op(SCRIPT_EAGAIN);
    sched_str("never read");
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_LOG_FAILED);
    assert_int_equal(udp_loop_err(l), ENOSPC);
    assert_false(script_exhausted(&sh_s));
    udp_loop_free(l);
}

static void test_flush_failure_ends_the_loop(void **state)
{
    (void)state;
    struct udp_loop *l = loop_with(1024, 8, false, 0);
    fail_flushes = true;
    sched_begin();
    sched_str("written, then the flush fails");
    sched_op(SCRIPT_EAGAIN);
    sched_str("never read");
    const struct sockio *io = sched_start(false);
    assert_int_equal(udp_loop_run(l, io, 3, &hooks), UDP_LOOP_LOG_FAILED);
    assert_int_equal(udp_loop_err(l), EPIPE);
    assert_int_equal(writes, 1);
    assert_false(script_exhausted(&sh_s));
    udp_loop_free(l);
}

static void test_config_out_of_range(void **state)
{
    (void)state;
    struct udp_loop_config c = {.max = 1024, .batch = UDP_LOOP_BATCH_MAX + 1, .stop_fd = -1};
    assert_null(udp_loop_new(&c));
    c.batch = 0;
    assert_null(udp_loop_new(&c));
    c.batch = 1;
    c.max = 0;
    assert_null(udp_loop_new(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_logged_in_order_with_one_write),
        cmocka_unit_test(test_batches_split_and_keep_order),
        cmocka_unit_test(test_no_batch_op_falls_back_to_recvfrom),
        cmocka_unit_test(test_truncation_reports_real_length),
        cmocka_unit_test(test_ipv6_peers_formatted),
        cmocka_unit_test(test_echo_and_its_refusals),
        cmocka_unit_test(test_count_stops_mid_batch),
        cmocka_unit_test(test_errors_between_datagrams),
        cmocka_unit_test(test_stop_logs_the_queue_then_ends),
        cmocka_unit_test(test_stop_during_a_flood),
        cmocka_unit_test(test_log_failure_ends_the_loop),
        cmocka_unit_test(test_flush_failure_ends_the_loop),
        cmocka_unit_test(test_config_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
