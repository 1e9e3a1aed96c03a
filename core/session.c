#include "session.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "netaddr.h"
#include "textput.h"
#include "timemsg.h"

bool reply_expect_parse(const char *s, enum reply_expect *out)
{
    if (strcmp(s, "time") == 0)
        *out = EXPECT_TIME;
    else if (strcmp(s, "echo") == 0)
        *out = EXPECT_ECHO;
    else if (strcmp(s, "any") == 0)
        *out = EXPECT_ANY;
    else
        return false;
    return true;
}

bool tcp_client_judge(enum reply_expect expect, const uint8_t *sent, size_t sent_len,
                      const uint8_t *reply, size_t reply_len, char *why, size_t why_cap)
{
    why[0] = '\0';
    if (expect == EXPECT_ANY)
        return true;
    if (expect == EXPECT_TIME) {
        struct timemsg t;
        enum timemsg_error e = timemsg_parse(reply, reply_len, &t);
        if (e != TIMEMSG_OK)
            snprintf(why, why_cap, "not a time message: %s", timemsg_error_text(e));
        return e == TIMEMSG_OK;
    }
    if (reply_len != sent_len) {
        snprintf(why, why_cap, "echo has %zu bytes, sent %zu", reply_len, sent_len);
        return false;
    }
    for (size_t i = 0; i < sent_len; i++) {
        if (reply[i] != sent[i]) {
            snprintf(why, why_cap, "echo differs from what was sent at byte %zu", i);
            return false;
        }
    }
    return true;
}

bool tcp_client_session(const struct sockio *io, int fd, const struct tcp_client_opts *opts,
                        uint8_t *buf, size_t cap, struct tcp_client_result *res)
{
    memset(res, 0, sizeof *res);
    if (opts->send_len > 0) {
        res->status = sockio_send_all(io, fd, opts->send, opts->send_len, opts->deadline,
                                      &res->err);
        if (res->status != SIO_OK) {
            snprintf(res->why, sizeof res->why, "send: %s", sio_status_text(res->status));
            return false;
        }
    }
    if (opts->shutdown_write && io->ops->shutdown(io->ctx, fd, SHUT_WR) != 0) {
        res->status = sio_status_from_errno(errno);
        res->err = errno;
        snprintf(res->why, sizeof res->why, "shutdown: %s", strerror(res->err));
        return false;
    }
    /* Closing after the reply: read exactly the reply's known length (the
     * echo of what was sent, or a full time message), never wait for EOF. */
    bool exact = opts->close_after_reply && opts->expect != EXPECT_ANY;
    size_t want = opts->expect == EXPECT_ECHO ? opts->send_len : TIMEMSG_LEN;
    if (exact && want > cap) {
        res->status = SIO_OVERFLOW;
        snprintf(res->why, sizeof res->why, "%s of %zu bytes exceeds the reply limit %zu",
                 opts->expect == EXPECT_ECHO ? "echo" : "time message", want, cap);
        return false;
    }
    res->status = exact ? sockio_read_exact(io, fd, buf, want, opts->deadline, &res->reply_len,
                                            &res->err)
                        : sockio_read_to_eof(io, fd, buf, cap, opts->deadline, &res->reply_len,
                                             &res->err);
    if (res->status != SIO_OK) {
        snprintf(res->why, sizeof res->why, "receive: %s after %zu bytes",
                 res->status == SIO_ERROR ? strerror(res->err) : sio_status_text(res->status),
                 res->reply_len);
        return false;
    }
    res->reply_ok = tcp_client_judge(opts->expect, opts->send, opts->send_len, buf,
                                     res->reply_len, res->why, sizeof res->why);
    return res->reply_ok;
}

const char *udp_echo_refusal_text(enum udp_echo_refusal r)
{
    switch (r) {
    case UDP_ECHO_ALLOWED: return "";
    case UDP_ECHO_PRIVILEGED_PORT: return "source port below 1024 or 0";
    case UDP_ECHO_SELF: return "source is this server's own address and port";
    case UDP_ECHO_REFLECTOR_PORT: return "source port is a UDP service known for reflection";
    case UDP_ECHO_RATE_LIMITED: return "rate limit of replies to this source address reached";
    }
    return "?";
}

bool udp_reflector_port(uint16_t port)
{
    /* Registered services above 1023 that answer an unsolicited datagram,
     * several with a larger reply (amplification). A switch: one test per
     * datagram echoed, not one per entry. */
    switch (port) {
    case 1194:  /* OpenVPN */
    case 1434:  /* MS-SQL monitor */
    case 1900:  /* SSDP */
    case 3283:  /* Apple Remote Desktop */
    case 3389:  /* RDP over UDP */
    case 3434:  /* wirecheck's own default port: another echo server */
    case 3478:  /* STUN / TURN */
    case 3702:  /* WS-Discovery */
    case 4500:  /* IPsec NAT-T */
    case 5060:  /* SIP */
    case 5353:  /* mDNS */
    case 5683:  /* CoAP */
    case 10001: /* Ubiquiti discovery */
    case 11211: /* memcached */
    case 27015: /* Steam / Source engine queries */
    case 32414: /* Plex discovery */
    case 37810: /* DVR (DHDiscover) */
        return true;
    default:
        return false;
    }
}

/* The address bytes of a sockaddr (4 or 16) and its family; 0 if neither. */
static size_t addr_bytes(const struct sockaddr *sa, const uint8_t **bytes)
{
    if (sa->sa_family == AF_INET) {
        *bytes = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        return 4;
    }
    if (sa->sa_family == AF_INET6) {
        *bytes = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        return 16;
    }
    static const uint8_t none[1];
    *bytes = none;
    return 0;
}

static bool is_wildcard(const struct sockaddr *sa)
{
    const uint8_t *b;
    size_t n = addr_bytes(sa, &b);
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return n > 0;
}

void udp_echo_guard_init(struct udp_echo_guard *g, const struct sockaddr *self, socklen_t len)
{
    memset(g, 0, sizeof *g);
    if (len > sizeof g->self)
        len = sizeof g->self;
    memcpy(&g->self, self, len);
    g->self_len = len;
}

/* The bucket of a source address: one slot per hash; a new address in a
 * taken slot starts a fresh bucket (bounded memory; an attacker spraying
 * addresses gets a burst per address, never more than the rate per victim). */
static struct udp_echo_bucket *bucket_for(struct udp_echo_guard *g, const struct sockaddr *to,
                                          int64_t now_ms)
{
    const uint8_t *b;
    size_t n = addr_bytes(to, &b);
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    struct udp_echo_bucket *k = &g->buckets[h % UDP_ECHO_SOURCES];
    if (k->family != to->sa_family || memcmp(k->addr, b, n) != 0) {
        memset(k, 0, sizeof *k);
        memcpy(k->addr, b, n);
        k->family = (uint8_t)to->sa_family;
        k->last_ms = now_ms;
        k->millitokens = (int64_t)UDP_ECHO_BURST * 1000;
    }
    return k;
}

enum udp_echo_refusal udp_echo_check(struct udp_echo_guard *g, const struct sockaddr *to,
                                     int64_t now_ms)
{
    uint16_t port = net_port_of(to);
    if (port < 1024)
        return UDP_ECHO_PRIVILEGED_PORT;
    const struct sockaddr *self = (const struct sockaddr *)&g->self;
    if (g->self_len > 0 && port == net_port_of(self) &&
        (is_wildcard(self) || net_same_endpoint(to, self)))
        return UDP_ECHO_SELF;
    if (udp_reflector_port(port))
        return UDP_ECHO_REFLECTOR_PORT;
    struct udp_echo_bucket *k = bucket_for(g, to, now_ms);
    if (now_ms > k->last_ms) {
        int64_t cap = (int64_t)UDP_ECHO_BURST * 1000;
        int64_t refill = (now_ms - k->last_ms) * UDP_ECHO_RATE;
        k->millitokens = refill >= cap - k->millitokens ? cap : k->millitokens + refill;
        k->last_ms = now_ms;
    }
    if (k->millitokens < 1000)
        return UDP_ECHO_RATE_LIMITED;
    k->millitokens -= 1000;
    return UDP_ECHO_ALLOWED;
}

size_t udp_server_log_line(const struct datagram *d, const uint8_t *buf, size_t max,
                           char out[UDP_LINE_CAP])
{
    /* The source once, copied where the line shows it. */
    char from[NET_ADDRSTR_LEN];
    size_t from_len = (size_t)(net_put_addr(from, (const struct sockaddr *)&d->from,
                                            d->fromlen) - from);
    char *p = out;
    if (d->truncated) {
        p = put_str(p, "Truncated: datagram of ");
        p = put_u64(p, d->wire_len);
        p = put_str(p, " bytes from ");
        p = put_mem(p, from, from_len);
        p = put_str(p, " exceeds --max ");
        p = put_u64(p, max);
        p = put_str(p, "; kept: ");
    } else {
        p = put_str(p, "Received: ");
    }
    /* Show at most what fits the line, and say so when that is not all:
     * escaped straight into the line (at most UDP_LINE_TEXT - 1 chars). */
    size_t text_len;
    size_t shown = escape_prefix(buf, d->len, p, UDP_LINE_TEXT, &text_len);
    p += text_len;
    if (shown < d->len) {
        p = put_str(p, " [cut: ");
        p = put_u64(p, shown);
        p = put_str(p, " of ");
        p = put_u64(p, d->len);
        p = put_str(p, " bytes shown]");
    }
    if (!d->truncated) {
        p = put_str(p, " from ");
        p = put_mem(p, from, from_len);
    }
    *p = '\0';
    return (size_t)(p - out);
}

bool udp_server_echo(const struct sockio *io, int fd, const uint8_t *buf,
                     const struct datagram *d, struct udp_echo_guard *echo, int64_t now_ms,
                     enum udp_echo_refusal *refusal)
{
    *refusal = udp_echo_check(echo, (const struct sockaddr *)&d->from, now_ms);
    if (*refusal != UDP_ECHO_ALLOWED)
        return false;
    ssize_t n;
    do {
        n = io->ops->sendto(io->ctx, fd, buf, d->len, MSG_DONTWAIT | MSG_NOSIGNAL,
                            (const struct sockaddr *)&d->from, d->fromlen);
    } while (n < 0 && errno == EINTR);
    /* A full send buffer drops the echo, as the network may: UDP promises no
     * delivery, and the server must not block on one peer. */
    return n >= 0;
}

void udp_client_exchange(const struct sockio *io, int fd, const struct sockaddr *server,
                         const uint8_t *msg, size_t len, unsigned tries, int64_t per_try_ms,
                         uint8_t *reply, size_t cap, struct udp_exchange *out)
{
    memset(out, 0, sizeof *out);
    out->status = SIO_TIMEOUT;
    for (unsigned t = 0; t < tries; t++) {
        out->tries_used = t + 1;
        ssize_t n;
        do {
            n = io->ops->send(io->ctx, fd, msg, len, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            out->err = errno;
            out->status = sio_status_from_errno(errno);
            if (errno == EAGAIN || errno == ENOBUFS)
                continue; /* a full queue is loss: try again */
            return;
        }
        out->sent = true;
        if (per_try_ms <= 0) {
            out->status = SIO_OK;
            return;
        }
        int64_t deadline = sockio_deadline_in(io, per_try_ms);
        for (;;) {
            struct datagram d;
            enum sio_status s = sockio_recv_datagram(io, fd, reply, cap, deadline, &d, &out->err);
            if (s == SIO_TIMEOUT)
                break;
            if (s != SIO_OK) {
                out->status = s; /* ECONNREFUSED: the port is closed */
                return;
            }
            if (!net_same_endpoint((const struct sockaddr *)&d.from, server)) {
                out->foreign_dropped++;
                continue;
            }
            out->status = SIO_OK;
            out->replied = true;
            out->reply_len = d.len;
            out->reply_truncated = d.truncated;
            return;
        }
        out->status = SIO_TIMEOUT;
    }
}
