/* Short socket helpers in the style of Redis' anet.c: each does one thing,
 * returns -1 on failure and leaves an error message naming the operation
 * and the address in err. With sockio.c the only code in core/ that makes
 * socket system calls; part of the programs' shell (wirecheck_shell), not
 * of the pure core the fuzz harnesses link.
 *
 *   struct net_addr a, bound;
 *   char err[NET_ERR_LEN];
 *   if (net_resolve("::1", 3434, SOCK_STREAM, &a, err) < 0) cli_fail(prog, "%s", err);
 *   int fd = net_tcp_listen(&a, 128, &bound, err);
 */
#ifndef WIRECHECK_NETSOCK_H
#define WIRECHECK_NETSOCK_H

#include <stdint.h>

#include "netaddr.h"

/* Resolves host (numeric or a name) and port for socktype; the first
 * result wins. */
int net_resolve(const char *host, uint16_t port, int socktype, struct net_addr *out,
                char err[NET_ERR_LEN]);

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
