#include "netsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* "<op> <address>: <reason>", the shape of every socket error we print. */
static void set_err(char err[NET_ERR_LEN], const char *op, const char *where, int e)
{
    if (err)
        snprintf(err, NET_ERR_LEN, "%s %s: %s", op, where, strerror(e));
}

int net_resolve(const char *host, uint16_t port, int socktype, struct net_addr *out,
                char err[NET_ERR_LEN])
{
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0 || !res) {
        if (err)
            snprintf(err, NET_ERR_LEN, "cannot resolve host '%s': %s", host,
                     rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    memset(out, 0, sizeof *out);
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int bound_address(int fd, struct net_addr *bound)
{
    if (!bound)
        return 0;
    bound->len = sizeof bound->ss;
    return getsockname(fd, (struct sockaddr *)&bound->ss, &bound->len);
}

static int open_bound(const struct net_addr *addr, int type, struct net_addr *bound,
                      char err[NET_ERR_LEN])
{
    char where[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&addr->ss, addr->len, where);
    int fd = socket(addr->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, "socket", where, errno);
        return -1;
    }
    int one = 1;
    if (type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
        set_err(err, "bind", where, errno);
        close(fd);
        return -1;
    }
    if (bound_address(fd, bound) != 0) {
        set_err(err, "getsockname", where, errno);
        close(fd);
        return -1;
    }
    return fd;
}

int net_tcp_listen(const struct net_addr *addr, int backlog, struct net_addr *bound,
                   char err[NET_ERR_LEN])
{
    int fd = open_bound(addr, SOCK_STREAM, bound, err);
    if (fd < 0)
        return -1;
    if (listen(fd, backlog) != 0) {
        char where[NET_ADDRSTR_LEN];
        net_format((const struct sockaddr *)&addr->ss, addr->len, where);
        set_err(err, "listen", where, errno);
        close(fd);
        return -1;
    }
    return fd;
}

int net_udp_bind(const struct net_addr *addr, struct net_addr *bound, char err[NET_ERR_LEN])
{
    return open_bound(addr, SOCK_DGRAM, bound, err);
}

int net_tcp_connect(const struct net_addr *addr, int64_t timeout_ms, int *errno_out,
                    char err[NET_ERR_LEN])
{
    char where[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&addr->ss, addr->len, where);
    *errno_out = 0;
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *errno_out = errno;
        set_err(err, "socket", where, errno);
        return -1;
    }
    int e = 0;
    if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
        e = errno;
        if (e == EINPROGRESS || e == EINTR) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int n;
            do {
                n = poll(&p, 1, timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms);
            } while (n < 0 && errno == EINTR); /* a signal: wait the full time again, bounded */
            socklen_t elen = sizeof e;
            if (n == 0)
                e = ETIMEDOUT;
            else if (n < 0)
                e = errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
                e = errno;
        }
    }
    if (e != 0) {
        *errno_out = e;
        set_err(err, "connect", where, e);
        close(fd);
        return -1;
    }
    return fd;
}

int net_udp_connect(const struct net_addr *addr, char err[NET_ERR_LEN])
{
    char where[NET_ADDRSTR_LEN];
    net_format((const struct sockaddr *)&addr->ss, addr->len, where);
    int fd = socket(addr->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, "socket", where, errno);
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
        set_err(err, "connect", where, errno);
        close(fd);
        return -1;
    }
    return fd;
}

int net_set_abortive_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}
