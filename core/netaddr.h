/* Addresses without sockets: strict parsing of option values, formatting
 * and comparing socket addresses. Pure; the socket helpers are in netsock.h.
 *
 *   uint16_t port;
 *   if (!net_parse_port("3434", &port)) ...          // strict decimal 0..65535
 *   char s[NET_ADDRSTR_LEN];
 *   net_format((struct sockaddr *)&ss, len, s);      // "127.0.0.1:3434", "[::1]:3434"
 */
#ifndef WIRECHECK_NETADDR_H
#define WIRECHECK_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NET_ERR_LEN 256
#define NET_ADDRSTR_LEN 64 /* "[ffff:...:ffff%scope]:65535" fits */
#define WIRECHECK_DEFAULT_PORT 3434
#define WIRECHECK_DEFAULT_HOST "127.0.0.1"

struct net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* Strict decimal port 0..65535 ("0" means ephemeral where allowed). */
bool net_parse_port(const char *s, uint16_t *out);
/* Strict positive decimal with an upper bound. */
bool net_parse_uint(const char *s, unsigned long max, unsigned long *out);
/* Seconds with an optional fraction ("2", "0.25") into milliseconds, > 0. */
bool net_parse_seconds(const char *s, int64_t *ms_out);

/* "127.0.0.1:3434" or "[::1]:3434". */
void net_format(const struct sockaddr *sa, socklen_t len, char out[NET_ADDRSTR_LEN]);
/* The same text at p, without the NUL (at most NET_ADDRSTR_LEN - 1 chars),
 * IPv4 without inet_ntop and snprintf (a server formats one per datagram or
 * connection); returns the end. */
char *net_put_addr(char *p, const struct sockaddr *sa, socklen_t len);
uint16_t net_port_of(const struct sockaddr *sa);
bool net_same_endpoint(const struct sockaddr *a, const struct sockaddr *b);

#endif
