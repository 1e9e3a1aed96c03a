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

/* The port rule for UDP echo: never reply to port 0 or a privileged port
 * (a spoofed source there turns an echo into a reflection loop). */
bool udp_echo_permitted(const struct sockaddr *to);

struct udp_server_event {
    enum sio_status status;
    int err;
    bool echoed;
    bool echo_refused;
    char line[4096 + 192]; /* what the server prints for this datagram */
};

/* Receives one datagram into buf[max], formats its line, echoes it back when
 * echo is on and the source port permits. status SIO_TIMEOUT when nothing
 * came before deadline. */
void udp_server_handle_one(const struct sockio *io, int fd, uint8_t *buf, size_t max,
                           int64_t deadline, bool echo, struct udp_server_event *ev);

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
