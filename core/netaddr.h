/* Address parsing and formatting, and short socket helpers in the style of
 * Redis' anet.c: each does one thing, returns -1 on failure and leaves an
 * error message naming the operation and the address in err. */
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

/* Resolves host (numeric or a name) and port for socktype; the first
 * result wins. */
int net_resolve(const char *host, uint16_t port, int socktype, struct net_addr *out,
                char err[NET_ERR_LEN]);

/* "127.0.0.1:3434" or "[::1]:3434". */
void net_format(const struct sockaddr *sa, socklen_t len, char out[NET_ADDRSTR_LEN]);
uint16_t net_port_of(const struct sockaddr *sa);
bool net_same_endpoint(const struct sockaddr *a, const struct sockaddr *b);

/* A listening TCP socket (SO_REUSEADDR, IPV6_V6ONLY for ::, non-blocking,
 * close-on-exec); *bound gets the real address (the port for port 0). */
int net_tcp_listen(const struct net_addr *addr, int backlog, struct net_addr *bound,
                   char err[NET_ERR_LEN]);
/* A bound UDP socket, non-blocking, close-on-exec. */
int net_udp_bind(const struct net_addr *addr, struct net_addr *bound, char err[NET_ERR_LEN]);
/* Connects a TCP socket within timeout_ms; *refused tells ECONNREFUSED. */
int net_tcp_connect(const struct net_addr *addr, int64_t timeout_ms, int *errno_out,
                    char err[NET_ERR_LEN]);
/* A connected UDP socket: the kernel then filters other sources and
 * reports ICMP port unreachable as ECONNREFUSED. */
int net_udp_connect(const struct net_addr *addr, char err[NET_ERR_LEN]);
/* SO_LINGER {1, 0}: close() then sends one RST (abortive close). */
int net_set_abortive_close(int fd);

#endif
