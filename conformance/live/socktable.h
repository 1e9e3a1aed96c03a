/* socktable: is anything listening (TCP) or bound (UDP) on a port here?
 *
 * Reads the socket table of the calling process's network namespace
 * (/proc/net/tcp, tcp6, udp, udp6: /proc/net follows the reader's network
 * namespace), so the runner, inside a case's namespace, sees exactly the
 * sockets of that case, whatever program opened them and whatever it
 * printed. A server is ready for a TCP case once a socket in LISTEN state
 * has the case's port as its local port (any address: 127.0.0.1, ::1,
 * 0.0.0.0, ::), for a UDP case once a socket is bound to it.
 *
 *   if (socktable_port_bound(SOCKTABLE_TCP, 3434, &found, err, sizeof err) && found) ...
 *
 * The kernel offers no event for "a socket started listening", so the
 * runner polls this on a short bounded tick (SOCKTABLE_TICK_MS) while it
 * waits for readiness, alongside the server's output (the "Listening on"
 * line is the fast path) and its exit. */
#ifndef WIRECHECK_SOCKTABLE_H
#define WIRECHECK_SOCKTABLE_H

#include <stdbool.h>
#include <stddef.h>

enum socktable_proto { SOCKTABLE_TCP, SOCKTABLE_UDP };

/* Poll period of the readiness wait on the socket table. */
#define SOCKTABLE_TICK_MS 5

/* *found: a TCP socket listens / a UDP socket is bound on local port `port`
 * (IPv4 or IPv6). False only if no table could be read (err says which). */
bool socktable_port_bound(enum socktable_proto proto, unsigned port, bool *found, char *err,
                          size_t errlen);

/* One line of a /proc/net/{tcp,udp}[6] table (pure, for tests): true if it
 * is a socket row with local port `port` and, for TCP, state LISTEN. */
bool socktable_line_matches(const char *line, enum socktable_proto proto, unsigned port);

#endif
