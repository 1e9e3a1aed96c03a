/* Fuzz target: udp-client's exchange (udp_client_exchange).
 *
 * Input: a schedule (core/script.h) of what the client's connected UDP
 * socket sees: replies, replies from foreign hosts or other ports, truncated
 * replies, ICMP-refused errors, timeouts, send faults. The server is
 * script_peer_addr (127.0.0.1:40000 until the schedule moves the peer port).
 * The reply buffer is a heap block of exactly `cap` bytes; a small and a
 * large cap are both run.
 *
 * A thin tap between the client and the scripted sockio remembers where the
 * last datagram came from.
 *
 * Invariants: the client never sends to a foreign address
 * (sends_to_foreign == 0); a reply is accepted only from the server's exact
 * address and port; reply_len <= cap, and a truncated reply fills cap;
 * 1 <= tries_used <= tries; every datagram sent is the whole message. */
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

#define TRIES 3

struct tap {
    struct sockio inner;
    struct sockaddr_storage last_from;
    socklen_t last_fromlen;
    size_t sends, send_bytes;
};

static ssize_t tap_recvfrom(void *ctx, int fd, void *buf, size_t len, int flags,
                            struct sockaddr *from, socklen_t *fromlen)
{
    struct tap *t = ctx;
    ssize_t n = t->inner.ops->recvfrom(t->inner.ctx, fd, buf, len, flags, from, fromlen);
    if (n >= 0) {
        tap_note_source(&t->last_from, &t->last_fromlen, from, fromlen);
    }
    return n;
}

static ssize_t tap_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
    struct tap *t = ctx;
    FUZZ_CHECK(len == sizeof FUZZ_UDP_MSG - 1 && memcmp(buf, FUZZ_UDP_MSG, len) == 0,
               "client sent %zu bytes that are not its message", len);
    ssize_t n = t->inner.ops->send(t->inner.ctx, fd, buf, len, flags);
    if (n >= 0) {
        t->sends++;
        t->send_bytes += (size_t)n;
    }
    return n;
}

static const struct sockio_ops tap_ops = {
    .recv = tap_pass_recv, .recvfrom = tap_recvfrom,
    .send = tap_send, .sendto = tap_pass_sendto,
    .accept = tap_pass_accept, .shutdown = tap_pass_shutdown,
    .poll = tap_pass_poll, .now_ms = tap_pass_now_ms,
};

static void run(const uint8_t *data, size_t size, size_t cap)
{
    static struct script s;
    script_init(&s, data, size, false);
    struct tap t = {.inner = script_sockio(&s)};
    struct sockio io = {.ops = &tap_ops, .ctx = &t};
    struct sockaddr_storage server;
    socklen_t server_len;
    script_peer_addr(&s, &server, &server_len);
    uint8_t *reply = malloc(cap);
    FUZZ_CHECK(reply != NULL, "out of memory");

    struct udp_exchange out;
    udp_client_exchange(&io, FUZZ_FD, (const struct sockaddr *)&server,
                        (const uint8_t *)FUZZ_UDP_MSG, sizeof FUZZ_UDP_MSG - 1, TRIES, 1000,
                        reply, cap, &out);

    FUZZ_CHECK(s.sends_to_foreign == 0, "%zu datagrams sent to a foreign host",
               s.sends_to_foreign);
    FUZZ_CHECK(out.tries_used >= 1 && out.tries_used <= TRIES, "tries_used %u", out.tries_used);
    FUZZ_CHECK(t.sends <= out.tries_used, "%zu sends in %u tries", t.sends, out.tries_used);
    FUZZ_CHECK(out.reply_len <= cap, "reply_len %zu > cap %zu", out.reply_len, cap);
    FUZZ_CHECK(!out.reply_truncated || out.reply_len == cap, "truncated reply of %zu < cap %zu",
               out.reply_len, cap);
    if (out.status == SIO_OK) {
        const struct sockaddr_in *want = (const struct sockaddr_in *)&server;
        struct sockaddr_in got;
        memcpy(&got, &t.last_from, sizeof got);
        FUZZ_CHECK(t.last_fromlen == server_len && got.sin_family == want->sin_family &&
                       got.sin_port == want->sin_port &&
                       got.sin_addr.s_addr == want->sin_addr.s_addr,
                   "accepted a reply from %08x:%u, server is %08x:%u",
                   (unsigned)ntohl(got.sin_addr.s_addr), ntohs(got.sin_port),
                   (unsigned)ntohl(want->sin_addr.s_addr), ntohs(want->sin_port));
        FUZZ_CHECK(t.sends >= 1, "a reply accepted before anything was sent");
    } else {
        FUZZ_CHECK(out.reply_len == 0 && !out.reply_truncated, "failed exchange with a reply");
    }
    free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, 8);    /* most replies truncated */
    run(data, size, 2048);
    return 0;
}
