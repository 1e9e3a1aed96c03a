/* The clients' and the UDP server's receive paths over the sockio seam.
 * The programs in clients/ and servers/ call these; so do the fuzz
 * harnesses and the tests, with a scripted sockio. */
#ifndef WIRECHECK_SESSION_H
#define WIRECHECK_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockio.h"

/* ---- tcp-client ---- */

enum reply_expect { EXPECT_TIME, EXPECT_ECHO, EXPECT_ANY };
bool reply_expect_parse(const char *s, enum reply_expect *out);

struct tcp_client_opts {
    const uint8_t *send;    /* bytes to send first (may be NULL) */
    size_t send_len;
    bool shutdown_write;    /* half-close after sending */
    bool close_after_reply; /* stop once the reply is complete (echo: send_len
                               bytes; time: TIMEMSG_LEN), not at EOF */
    enum reply_expect expect;
    int64_t deadline;       /* on io's clock, for the whole exchange */
};

struct tcp_client_result {
    enum sio_status status; /* how the transfer ended */
    int err;                /* errno for SIO_ERROR */
    size_t reply_len;       /* bytes stored in the caller's buffer */
    bool reply_ok;          /* the reply is what `expect` asks for */
    char why[128];          /* when !reply_ok or status != SIO_OK: what went wrong */
};

/* Sends, optionally half-closes, receives into buf[cap] and judges the reply.
 * Returns true when the transfer and the reply are both as expected. */
bool tcp_client_session(const struct sockio *io, int fd, const struct tcp_client_opts *opts,
                        uint8_t *buf, size_t cap, struct tcp_client_result *res);

/* Judges a reply against the expectation (pure). */
bool tcp_client_judge(enum reply_expect expect, const uint8_t *sent, size_t sent_len,
                      const uint8_t *reply, size_t reply_len, char *why, size_t why_cap);

/* ---- udp-server ---- */

/* What an echo server must not answer. A UDP source address is whatever
 * the sender wrote, so every reply can be aimed at a third party
 * (reflection) or at another echo service (a loop that never ends). Refused,
 * in this order:
 *   - port 0 or a port below 1024: the well-known services (echo 7,
 *     discard 9, daytime 13, qotd 17, chargen 19, time 37, DNS 53, NTP 123,
 *     SNMP 161, CLDAP 389...) all live there;
 *   - the server's own address and port (a spoofed datagram from itself
 *     would be echoed to itself forever), and, when it listens on the
 *     wildcard address, any source with its own port;
 *   - a source port above 1023 of a UDP service known to answer or amplify
 *     (udp_reflector_port: SSDP 1900, WS-Discovery 3702, mDNS 5353, CoAP 5683,
 *     memcached 11211, ..., and 3434, wirecheck's own default port);
 *   - more than UDP_ECHO_RATE replies per second to one source address
 *     (token bucket, bursts of UDP_ECHO_BURST), so a flood with a spoofed
 *     victim address reflects at most that rate towards the victim.
 *
 *   struct udp_echo_guard g;
 *   udp_echo_guard_init(&g, (struct sockaddr *)&bound.ss, bound.len);
 *   if (udp_echo_check(&g, (struct sockaddr *)&d.from, now_ms) == UDP_ECHO_ALLOWED) ...
 * (udp-server runs udp_loop.h: udp_server_log_line and udp_server_echo, which
 * asks the guard, for each datagram.)
 */
#define UDP_ECHO_RATE 100   /* replies per second per source address */
#define UDP_ECHO_BURST 200  /* tokens a quiet source may spend at once */
#define UDP_ECHO_SOURCES 256 /* source addresses tracked at once (hashed) */

enum udp_echo_refusal {
    UDP_ECHO_ALLOWED = 0,
    UDP_ECHO_PRIVILEGED_PORT,
    UDP_ECHO_SELF,
    UDP_ECHO_REFLECTOR_PORT,
    UDP_ECHO_RATE_LIMITED,
};

/* "source port below 1024 or 0", ... ("" for UDP_ECHO_ALLOWED). */
const char *udp_echo_refusal_text(enum udp_echo_refusal r);

/* A well-known UDP service port above 1023 that answers or amplifies. */
bool udp_reflector_port(uint16_t port);

struct udp_echo_bucket {
    uint8_t addr[16];  /* source address (IPv4 in the first 4 bytes) */
    uint8_t family;    /* 0: slot free */
    int64_t last_ms;   /* last refill */
    int64_t millitokens; /* 1000 per reply */
};

struct udp_echo_guard {
    struct sockaddr_storage self; /* the server's bound address */
    socklen_t self_len;
    struct udp_echo_bucket buckets[UDP_ECHO_SOURCES];
};

void udp_echo_guard_init(struct udp_echo_guard *g, const struct sockaddr *self, socklen_t len);

/* Whether a reply to `to` may go out at now_ms (spends a token if so). */
enum udp_echo_refusal udp_echo_check(struct udp_echo_guard *g, const struct sockaddr *to,
                                     int64_t now_ms);

/* A datagram's log line shows at most UDP_LINE_TEXT - 1 characters of its
 * escaped bytes; the rest fits the other 256 bytes of UDP_LINE_CAP: the
 * "Truncated:" words (about 70), the longest address (63), the cut note
 * (about 30) and three lengths of at most 20 digits each. */
#define UDP_LINE_TEXT 4096
#define UDP_LINE_CAP (UDP_LINE_TEXT + 256)

/* The line the server logs for a datagram received into buf (d from
 * sockio_recv_datagram or sockio_recv_batch), NUL-terminated, without a
 * newline: "Received: TEXT from ADDR:PORT", or "Truncated: datagram of N
 * bytes from ADDR:PORT exceeds --max MAX; kept: TEXT" when it did not fit.
 * TEXT whose escaped form does not fit ends with " [cut: N of M bytes
 * shown]". Returns strlen(out). */
size_t udp_server_log_line(const struct datagram *d, const uint8_t *buf, size_t max,
                           char out[UDP_LINE_CAP]);

/* Echoes what was kept of d back to its source when the guard allows it at
 * now_ms (*refusal says why not). true when the reply left (a full send
 * queue drops it, as the network may). */
bool udp_server_echo(const struct sockio *io, int fd, const uint8_t *buf,
                     const struct datagram *d, struct udp_echo_guard *echo, int64_t now_ms,
                     enum udp_echo_refusal *refusal);

/* ---- udp-client ---- */

struct udp_exchange {
    enum sio_status status; /* SIO_OK: sent and, when waiting, a reply came */
    bool sent;              /* the datagram left (at least one try) */
    bool replied;           /* a reply from the server is in the buffer */
    int err;
    size_t reply_len;
    bool reply_truncated;
    unsigned tries_used;
    unsigned foreign_dropped; /* datagrams from other addresses, ignored */
};

/* Sends msg to server (fd connected to it), waits per_try_ms for a reply
 * from exactly that address, retries up to tries times. per_try_ms <= 0:
 * send once and do not wait. */
void udp_client_exchange(const struct sockio *io, int fd, const struct sockaddr *server,
                         const uint8_t *msg, size_t len, unsigned tries, int64_t per_try_ms,
                         uint8_t *reply, size_t cap, struct udp_exchange *out);

#endif
