/* Fuzz target: udp-server's receive path (udp_server_handle_one).
 *
 * Input: a schedule (core/script.h) of the datagrams, errors, timeouts,
 * source addresses and send faults the server's socket sees. The harness
 * calls udp_server_handle_one with echo on, as the server's loop does, until
 * it reports SIO_TIMEOUT (bounded), once with a small --max (most datagrams
 * truncated) and once with a large one. The datagram buffer is a heap block
 * of exactly `max` bytes.
 *
 * A thin tap between the server and the scripted sockio remembers the last
 * datagram recvfrom delivered and checks every sendto at the seam.
 *
 * Invariants: never a sendto to port 0 or a port below 1024; an echo goes to
 * the datagram's source and carries exactly the bytes kept of it; echoed and
 * echo_refused agree with what happened; the line is NUL-terminated and
 * printable (no byte below 0x20, no 0x7f, no UTF-8 C1 control). */
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "script.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROUNDS 4096

struct tap {
    struct sockio inner;
    uint8_t *last;            /* bytes of the last datagram, as stored */
    size_t last_len;
    struct sockaddr_storage last_from;
    socklen_t last_fromlen;
    size_t sendtos;
};

FUZZ_NO_COVERAGE static ssize_t tap_recvfrom(void *ctx, int fd, void *buf, size_t len, int flags,
                            struct sockaddr *from, socklen_t *fromlen)
{
    struct tap *t = ctx;
    ssize_t n = t->inner.ops->recvfrom(t->inner.ctx, fd, buf, len, flags, from, fromlen);
    if (n >= 0) {
        t->last_len = (size_t)n < len ? (size_t)n : len;
        memcpy(t->last, buf, t->last_len);
        tap_note_source(&t->last_from, &t->last_fromlen, from, fromlen);
    }
    return n;
}

static ssize_t tap_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
    (void)ctx;
    (void)fd;
    (void)buf;
    (void)len;
    (void)flags;
    FUZZ_CHECK(false, "udp-server used send() on an unconnected socket");
    return -1;
}

FUZZ_NO_COVERAGE static ssize_t tap_sendto(void *ctx, int fd, const void *buf, size_t len, int flags,
                          const struct sockaddr *to, socklen_t tolen)
{
    struct tap *t = ctx;
    t->sendtos++;
    FUZZ_CHECK(to != NULL && tolen >= (socklen_t)sizeof(struct sockaddr_in) &&
                   to->sa_family == AF_INET,
               "echo to a missing or unexpected address (len %u)", (unsigned)tolen);
    struct sockaddr_in dst, src;
    memcpy(&dst, to, sizeof dst);
    memcpy(&src, &t->last_from, sizeof src);
    uint16_t port = ntohs(dst.sin_port);
    FUZZ_CHECK(port >= 1024, "echo to privileged port %u", port);
    FUZZ_CHECK(dst.sin_port == src.sin_port && dst.sin_addr.s_addr == src.sin_addr.s_addr,
               "echo not sent to the datagram's source");
    FUZZ_CHECK(len == t->last_len && (len == 0 || memcmp(buf, t->last, len) == 0),
               "echo of %zu bytes differs from the %zu bytes received", len, t->last_len);
    return t->inner.ops->sendto(t->inner.ctx, fd, buf, len, flags, to, tolen);
}

static const struct sockio_ops tap_ops = {
    .recv = tap_pass_recv, .recvfrom = tap_recvfrom,
    .send = tap_send, .sendto = tap_sendto,
    .accept = tap_pass_accept, .shutdown = tap_pass_shutdown,
    .poll = tap_pass_poll, .now_ms = tap_pass_now_ms,
};

FUZZ_NO_COVERAGE __attribute__((noinline)) static void check_line(const char *line, size_t cap)
{
    const char *nul = memchr(line, '\0', cap);
    FUZZ_CHECK(nul != NULL, "line not NUL-terminated");
    const unsigned char *p = (const unsigned char *)line;
    size_t n = (size_t)(nul - line);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(p[i] >= 0x20 && p[i] != 0x7f, "control byte 0x%02x at %zu in line: %s", p[i],
                   i, line);
        FUZZ_CHECK(!(p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f),
                   "C1 control at %zu in line: %s", i, line);
    }
}

FUZZ_NO_COVERAGE static void run(const uint8_t *data, size_t size, size_t max)
{
    static struct script s;
    static struct udp_server_event ev;
    script_init(&s, data, size, false);
    struct tap t = {.inner = script_sockio(&s), .last = malloc(max)};
    uint8_t *buf = malloc(max);
    FUZZ_CHECK(buf != NULL && t.last != NULL, "out of memory");
    struct sockio io = {.ops = &tap_ops, .ctx = &t};
    /* The server as bound by default: a scripted source may claim its
     * address, a reflector port or flood it, as a spoofer can. */
    static struct udp_echo_guard guard;
    struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(3434),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    udp_echo_guard_init(&guard, (const struct sockaddr *)&self, sizeof self);

    for (int round = 0; round < MAX_ROUNDS; round++) {
        size_t sent_before = s.sent_total, sendtos_before = t.sendtos;
        int64_t deadline = sockio_deadline_in(&io, 1000);
        udp_server_handle_one(&io, FUZZ_FD, buf, max, deadline, &guard, &ev);
        check_line(ev.line, sizeof ev.line);
        FUZZ_CHECK(!(ev.echoed && ev.echo_refused), "echoed and refused at once");
        FUZZ_CHECK(ev.echo_refused == (ev.refusal != UDP_ECHO_ALLOWED), "refusal without a reason");
        if (ev.status != SIO_OK) {
            FUZZ_CHECK(!ev.echoed && !ev.echo_refused && t.sendtos == sendtos_before,
                       "echo without a datagram (status %s)", sio_status_text(ev.status));
        } else {
            FUZZ_CHECK(ev.line[0] != '\0', "datagram without a line");
        }
        if (ev.echo_refused)
            FUZZ_CHECK(s.sent_total == sent_before && t.sendtos == sendtos_before,
                       "refused echo was sent anyway");
        if (ev.echoed)
            FUZZ_CHECK(t.sendtos > sendtos_before, "echoed without a sendto");
        if (ev.status == SIO_TIMEOUT)
            break;
    }
    free(buf);
    free(t.last);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, 16);    /* udp-server --max 16: most datagrams truncated */
    run(data, size, 65536); /* the largest UDP payload and then some */
    return 0;
}
