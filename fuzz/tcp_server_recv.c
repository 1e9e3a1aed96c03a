/* Fuzz target: tcp-time-server's connection state machine (tcp_conn_serve_one).
 *
 * Input: a schedule (core/script.h) of what each recv/poll/send on one
 * accepted connection returns. The same schedule drives every service
 * (time, echo, discard) under every close mode (fin, rst, unread), at most
 * MAX_STEPS polls each, exactly as the server's event loop would.
 *
 * A thin tap between the connection and the scripted sockio copies what each
 * recv handed the server, so the harness can check what it sent back against
 * what it was given without decoding the schedule itself.
 *
 * Invariants:
 *   all      bytes_in == bytes the recvs returned; an ended connection is
 *            done; at most one shutdown; CONN_ABORT only in mode rst,
 *            CONN_UNREAD only in mode unread
 *   time     what was sent is a prefix of the reply; all of it on CONN_CLEAN
 *   echo     bytes_out <= bytes_in, and what was sent is exactly a prefix of
 *            what was received
 *   discard  nothing sent */
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "script.h"
#include "tcpconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 256
/* Enough for MAX_STEPS polls of TCP_CONN_BURST full receives would be 64 MiB;
 * the schedule is the only source of bytes, so its size bounds what arrives. */

struct tap {
    struct sockio inner;
    uint8_t *rx;      /* every byte recv returned, in order */
    size_t rx_len, rx_cap;
};

static ssize_t tap_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
    struct tap *t = ctx;
    ssize_t n = t->inner.ops->recv(t->inner.ctx, fd, buf, len, flags);
    if (n > 0 && !(flags & MSG_PEEK)) { /* a peek leaves the bytes queued */
        FUZZ_CHECK((size_t)n <= len, "recv returned %zd for a %zu-byte buffer", n, len);
        FUZZ_CHECK(t->rx_len + (size_t)n <= t->rx_cap, "more received than scheduled");
        memcpy(t->rx + t->rx_len, buf, (size_t)n);
        t->rx_len += (size_t)n;
    }
    return n;
}

static ssize_t tap_recvfrom(void *ctx, int fd, void *buf, size_t len, int flags,
                            struct sockaddr *from, socklen_t *fromlen)
{
    (void)from;
    (void)fromlen;
    return tap_recv(ctx, fd, buf, len, flags); /* a stream socket */
}

static const struct sockio_ops tap_ops = {
    .recv = tap_recv, .recvfrom = tap_recvfrom,
    .send = tap_pass_send, .sendto = tap_pass_sendto,
    .accept = tap_pass_accept, .shutdown = tap_pass_shutdown,
    .poll = tap_pass_poll, .now_ms = tap_pass_now_ms,
};

static void serve(const uint8_t *data, size_t size, enum tcp_service svc, enum close_mode mode)
{
    static struct script s;    /* large: keep them off the stack */
    static struct tcp_conn c;
    static const char reply[] = FUZZ_TIME_REPLY;
    const size_t reply_len = sizeof reply - 1;

    script_init(&s, data, size, true);
    /* Each scheduled byte arrives at most once: the schedule bounds rx. */
    struct tap t = {.inner = script_sockio(&s), .rx = malloc(size + 1), .rx_cap = size};
    FUZZ_CHECK(t.rx != NULL, "out of memory");
    struct sockio io = {.ops = &tap_ops, .ctx = &t};

    tcp_conn_open(&c, FUZZ_FD, svc, mode, io.ops->now_ms(io.ctx), 5000, reply, reply_len);
    enum conn_end end = tcp_conn_serve_one(&io, &c, MAX_STEPS);

    FUZZ_CHECK(end == c.end, "serve_one returned %s, connection says %s", conn_end_text(end),
               conn_end_text(c.end));
    FUZZ_CHECK((end == CONN_OPEN) == !tcp_conn_done(&c), "end %s but done=%d",
               conn_end_text(end), tcp_conn_done(&c));
    FUZZ_CHECK(c.bytes_in == t.rx_len, "bytes_in %llu, recv returned %zu",
               (unsigned long long)c.bytes_in, t.rx_len);
    FUZZ_CHECK(c.bytes_out == s.sent_total, "bytes_out %llu, sent %zu",
               (unsigned long long)c.bytes_out, s.sent_total);
    FUZZ_CHECK(s.shutdowns <= 1, "%zu shutdowns", s.shutdowns);
    FUZZ_CHECK(end != CONN_ABORT || mode == CLOSE_MODE_RST, "abortive close in another mode");
    FUZZ_CHECK(end != CONN_UNREAD || mode == CLOSE_MODE_UNREAD, "unread close in another mode");
    FUZZ_CHECK(tcp_conn_done(&c) || tcp_conn_wanted_events(&c) != 0,
               "open connection waits for nothing");

    switch (svc) {
    case TCP_SERVICE_TIME:
        FUZZ_CHECK(s.sent_len <= reply_len && memcmp(s.sent, reply, s.sent_len) == 0,
                   "time service sent %zu bytes that are not a prefix of the reply", s.sent_len);
        if (end == CONN_CLEAN || end == CONN_ABORT || end == CONN_UNREAD)
            FUZZ_CHECK(s.sent_len == reply_len, "closed (%s) after %zu of %zu reply bytes",
                       conn_end_text(end), s.sent_len, reply_len);
        break;
    case TCP_SERVICE_ECHO:
        FUZZ_CHECK(c.bytes_out <= c.bytes_in, "echoed %llu bytes of %llu received",
                   (unsigned long long)c.bytes_out, (unsigned long long)c.bytes_in);
        FUZZ_CHECK(s.sent_len <= t.rx_len && memcmp(s.sent, t.rx, s.sent_len) == 0,
                   "echo is not a prefix of what was received (%zu sent, %zu received)",
                   s.sent_len, t.rx_len);
        if (end == CONN_CLEAN)
            FUZZ_CHECK(c.bytes_out == c.bytes_in, "clean close with %llu of %llu bytes echoed",
                       (unsigned long long)c.bytes_out, (unsigned long long)c.bytes_in);
        break;
    case TCP_SERVICE_DISCARD:
        FUZZ_CHECK(s.sent_total == 0, "discard sent %zu bytes", s.sent_total);
        break;
    }
    free(t.rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum tcp_service services[] = {TCP_SERVICE_TIME, TCP_SERVICE_ECHO,
                                                TCP_SERVICE_DISCARD};
    static const enum close_mode modes[] = {CLOSE_MODE_FIN, CLOSE_MODE_RST, CLOSE_MODE_UNREAD};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            serve(data, size, services[i], modes[j]);
    return 0;
}
