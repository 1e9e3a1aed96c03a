/* Fuzz target: udp-client's exchange (udp_client_exchange).
 *
 * Input: a schedule (core/script.h) of what the client's connected UDP
 * socket sees: replies, replies from foreign hosts or other ports, truncated
 * replies, ICMP-refused errors, timeouts, send faults. The server is
 * script_peer_addr (127.0.0.1:40000 until the schedule moves the peer port).
 * The reply buffer is a heap block of exactly `cap` bytes; a small and a
 * large cap are both run, a server at [::1] (IPv6 replies) and a client
 * that waits for no reply.
 *
 * A thin tap between the client and the scripted sockio remembers where the
 * last datagram came from.
 *
 * Invariants: the client never sends to a foreign address
 * (sends_to_foreign == 0); a reply is accepted only from the server's exact
 * address and port; reply_len <= cap, and a truncated reply fills cap;
 * 1 <= tries_used <= tries; every datagram sent is the whole message; an
 * accepted reply printed as udp-client prints it (fuzz_check_reply_print);
 * without a wait: one send, no reply, status ok exactly when it was sent. */
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

/* Whether a and b are the same address family, address and port (the
 * harness's own comparison, not net_same_endpoint under test). */
FUZZ_NO_COVERAGE static bool same_endpoint(const struct sockaddr_storage *a,
                                           const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return a->ss_family == AF_INET6 && x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/* One client: the reply buffer of `cap` bytes; the server at the script's
 * peer (127.0.0.1) or, with v6, at [::1] on the same port (replies from
 * it are FOREIGN with source 1, the peer over IPv6); per_try_ms 0 is
 * udp-client without --expect-reply (send once, wait for nothing); print:
 * the reply printed as udp-client does (one configuration: escaping is
 * most of an execution's cost). */
static void run(const uint8_t *data, size_t size, size_t cap, bool v6, int64_t per_try_ms,
                bool print)
{
    static struct script s;
    script_init(&s, data, size, false);
    struct tap t = {.inner = script_sockio(&s)};
    struct sockio io = {.ops = &tap_ops, .ctx = &t};
    struct sockaddr_storage server;
    socklen_t server_len;
    script_peer_addr(&s, &server, &server_len);
    if (v6) {
        struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT,
                                   .sin6_port = ((struct sockaddr_in *)&server)->sin_port};
        memset(&server, 0, sizeof server);
        memcpy(&server, &six, sizeof six);
        server_len = sizeof six;
    }
    uint8_t *reply = malloc(cap);
    FUZZ_CHECK(reply != NULL, "out of memory");

    unsigned tries = per_try_ms > 0 ? TRIES : 1; /* as udp-client */
    struct udp_exchange out;
    udp_client_exchange(&io, FUZZ_FD, (const struct sockaddr *)&server,
                        (const uint8_t *)FUZZ_UDP_MSG, sizeof FUZZ_UDP_MSG - 1, tries, per_try_ms,
                        reply, cap, &out);

    FUZZ_CHECK(s.sends_to_foreign == 0, "%zu datagrams sent to a foreign host",
               s.sends_to_foreign);
    FUZZ_CHECK(out.tries_used >= 1 && out.tries_used <= tries, "tries_used %u", out.tries_used);
    FUZZ_CHECK(t.sends <= out.tries_used, "%zu sends in %u tries", t.sends, out.tries_used);
    FUZZ_CHECK(out.reply_len <= cap, "reply_len %zu > cap %zu", out.reply_len, cap);
    FUZZ_CHECK(!out.reply_truncated || out.reply_len == cap, "truncated reply of %zu < cap %zu",
               out.reply_len, cap);
    if (per_try_ms <= 0) {
        FUZZ_CHECK(!out.replied && t.sends <= 1 && out.sent == (out.status == SIO_OK),
                   "no wait for a reply: replied %d, %zu sends, sent %d, status %s", out.replied,
                   t.sends, out.sent, sio_status_text(out.status));
    } else if (out.status == SIO_OK) {
        FUZZ_CHECK(out.replied, "status ok without a reply");
        FUZZ_CHECK(t.last_fromlen == server_len && same_endpoint(&t.last_from, &server),
                   "accepted a reply from family %d, not the server's %d (or another address "
                   "or port)", t.last_from.ss_family, server.ss_family);
        FUZZ_CHECK(t.sends >= 1, "a reply accepted before anything was sent");
        if (print)
            fuzz_check_reply_print(reply, out.reply_len); /* as udp-client prints it */
    } else {
        FUZZ_CHECK(out.reply_len == 0 && !out.reply_truncated, "failed exchange with a reply");
    }
    free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, 8, false, 1000, false); /* most replies truncated */
    run(data, size, 2048, false, 1000, true);
    run(data, size, 2048, true, 1000, false);
    run(data, size, 8, false, 0, false);
    return 0;
}
