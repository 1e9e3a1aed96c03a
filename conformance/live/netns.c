/* netns: private namespaces, links and addresses for one case. See netns.h.
 *
 * Links and addresses are made with rtnetlink directly (netlink.c): a veth
 * whose peer is created straight inside the client namespace needs
 * IFLA_NET_NS_FD, which `ip` can only express through a pid or a name under
 * /run/netns, and the latter would leave a trace on the host. */
#include "netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netlink.h"

/* How long a fresh veth may take to report carrier on both ends. */
#define LINK_RUNNING_TIMEOUT_MS 2000

/* ---- user and network namespaces --------------------------------------- */

static bool write_proc_file(const char *path, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return false;
    }
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int saved = errno;
    close(fd);
    if (n != (ssize_t)len) {
        snprintf(err, errlen, "write '%s' to %s: %s", text, path,
                 n < 0 ? strerror(saved) : "short write");
        return false;
    }
    return true;
}

/* Inside a new user namespace we are nobody until the maps are written; map
 * our own uid/gid to 0 so we hold CAP_NET_ADMIN/CAP_NET_RAW over the network
 * namespace created together with it. setgroups must be denied first or the
 * kernel refuses an unprivileged gid_map. */
static bool map_self_to_root(uid_t uid, gid_t gid, char *err, size_t errlen)
{
    char line[64];
    if (!write_proc_file("/proc/self/setgroups", "deny", err, errlen))
        return false;
    snprintf(line, sizeof line, "0 %u 1", (unsigned)uid);
    if (!write_proc_file("/proc/self/uid_map", line, err, errlen))
        return false;
    snprintf(line, sizeof line, "0 %u 1", (unsigned)gid);
    return write_proc_file("/proc/self/gid_map", line, err, errlen);
}

static bool unshare_net(char *err, size_t errlen)
{
    if (unshare(CLONE_NEWNET) == 0)
        return true;
    int net_errno = errno;

    /* Not privileged in our user namespace: become root in a new one. */
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0)
        return map_self_to_root(uid, gid, err, errlen);
    int user_errno = errno;

    snprintf(err, errlen,
             "cannot create a private network namespace: unshare(CLONE_NEWNET): %s; "
             "unshare(CLONE_NEWUSER|CLONE_NEWNET): %s. Run as root (or with "
             "CAP_SYS_ADMIN and CAP_NET_ADMIN), or allow unprivileged user "
             "namespaces (sysctl user.max_user_namespaces > 0, "
             "kernel.unprivileged_userns_clone=1 where it exists, and no "
             "AppArmor/seccomp rule denying them, as in some containers)",
             strerror(net_errno), strerror(user_errno));
    return false;
}

/* Reads ifname's flags (SIOCGIFFLAGS) into *flags and, when `raise` has
 * bits, sets them too (SIOCSIFFLAGS); `what` names the purpose in errors. */
static bool if_flags(const char *ifname, short raise, short *flags, const char *what, char *err,
                     size_t errlen)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket(AF_INET) to %s %s: %s", what, ifname, strerror(errno));
        return false;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    bool ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    if (!ok) {
        snprintf(err, errlen, "ioctl SIOCGIFFLAGS %s: %s", ifname, strerror(errno));
    } else if (raise) {
        ifr.ifr_flags |= raise;
        ok = ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
        if (!ok)
            snprintf(err, errlen, "ioctl SIOCSIFFLAGS %s %s: %s", ifname, what, strerror(errno));
    }
    *flags = ifr.ifr_flags;
    close(s);
    return ok;
}

bool netns_link_up(const char *ifname, char *err, size_t errlen)
{
    short flags;
    return if_flags(ifname, IFF_UP, &flags, "set up", err, errlen);
}

bool netns_enter_private(char *err, size_t errlen)
{
    return unshare_net(err, errlen) && netns_link_up("lo", err, errlen);
}

/* The veth pair: `server_if` stays here, `client_if` is created directly in
 * the namespace `client_ns_fd` refers to. */
static bool create_veth(const char *server_if, const char *client_if, int client_ns_fd,
                        unsigned mtu, char *err, size_t errlen)
{
    struct nl_request r;
    /* Explicit, distinct interface indexes: in two fresh namespaces both ends
     * would otherwise get index 2, and the kernel takes a link whose peer
     * index equals its own for a non-stacked device, whose carrier changes it
     * batches for up to a second instead of applying at once. */
    struct ifinfomsg link = { .ifi_family = AF_UNSPEC, .ifi_index = 10 };
    struct ifinfomsg peer_link = { .ifi_family = AF_UNSPEC, .ifi_index = 20 };
    uint32_t mtu32 = mtu;
    uint32_t nsfd = (uint32_t)client_ns_fd;

    nl_request_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    nl_append(&r, &link, sizeof link);
    nl_attr(&r, IFLA_IFNAME, server_if, strlen(server_if) + 1);
    nl_attr(&r, IFLA_MTU, &mtu32, sizeof mtu32);
    struct rtattr *linkinfo = nl_nest_begin(&r, IFLA_LINKINFO);
    nl_attr(&r, IFLA_INFO_KIND, "veth", sizeof "veth");
    struct rtattr *data = nl_nest_begin(&r, IFLA_INFO_DATA);
    struct rtattr *peer = nl_nest_begin(&r, VETH_INFO_PEER);
    nl_append(&r, &peer_link, sizeof peer_link); /* the peer's own header */
    nl_attr(&r, IFLA_IFNAME, client_if, strlen(client_if) + 1);
    nl_attr(&r, IFLA_MTU, &mtu32, sizeof mtu32);
    nl_attr(&r, IFLA_NET_NS_FD, &nsfd, sizeof nsfd);
    nl_nest_end(&r, peer);
    nl_nest_end(&r, data);
    nl_nest_end(&r, linkinfo);

    char what[96];
    snprintf(what, sizeof what, "create veth %s <-> %s", server_if, client_if);
    return nl_transact(&r, what, err, errlen);
}

/* Adds ADDR/prefix to ifname in the current namespace. IPv6 addresses are
 * added with IFA_F_NODAD: duplicate address detection would keep them
 * tentative (unusable) for a second or more, and nothing else can be on this
 * private link. */
static bool add_address(const char *ifname, const char *addr, unsigned prefix,
                        char *err, size_t errlen)
{
    uint8_t bytes[16];
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, addr, bytes) != 1) {
        snprintf(err, errlen, "bad address %s", addr);
        return false;
    }
    unsigned index = if_nametoindex(ifname);
    if (index == 0) {
        snprintf(err, errlen, "if_nametoindex %s: %s", ifname, strerror(errno));
        return false;
    }
    size_t len = family == AF_INET ? 4 : 16;
    struct ifaddrmsg ifa = {
        .ifa_family = (uint8_t)family,
        .ifa_prefixlen = (uint8_t)prefix,
        .ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0,
        .ifa_scope = RT_SCOPE_UNIVERSE,
        .ifa_index = index,
    };
    struct nl_request r;
    nl_request_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    nl_append(&r, &ifa, sizeof ifa);
    nl_attr(&r, IFA_LOCAL, bytes, len);
    nl_attr(&r, IFA_ADDRESS, bytes, len);

    char what[96];
    snprintf(what, sizeof what, "add address %s/%u to %s", addr, prefix, ifname);
    return nl_transact(&r, what, err, errlen);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool link_running(const char *ifname, bool *running, char *err, size_t errlen)
{
    short flags;
    if (!if_flags(ifname, 0, &flags, "query", err, errlen))
        return false;
    *running = (flags & IFF_RUNNING) != 0;
    return true;
}

/* A veth end reports carrier asynchronously (linkwatch) after both ends are
 * up, and the kernel drops what is sent before. Wait for it on link
 * notifications rather than sleeping; the subscription is made before the
 * first look so no change can slip in between. */
static bool wait_link_running(const char *ifname, int timeout_ms, char *err, size_t errlen)
{
    int s = nl_socket(RTMGRP_LINK, err, errlen);
    if (s < 0)
        return false;
    int64_t deadline = now_ms() + timeout_ms;
    bool ok = false;
    for (;;) {
        bool running = false;
        if (!link_running(ifname, &running, err, errlen))
            break;
        if (running) {
            ok = true;
            break;
        }
        int64_t left = deadline - now_ms();
        struct pollfd p = { .fd = s, .events = POLLIN };
        int rc = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (rc < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll netlink for %s: %s", ifname, strerror(errno));
            break;
        }
        if (rc == 0) {
            snprintf(err, errlen, "%s not running after %d ms", ifname, timeout_ms);
            break;
        }
        uint8_t drain[8192];
        if (recv(s, drain, sizeof drain, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != EINTR &&
            errno != ENOBUFS) {
            snprintf(err, errlen, "receive netlink notification for %s: %s", ifname, strerror(errno));
            break;
        }
    }
    close(s);
    return ok;
}

/* Brings up one host's end: the link, then its addresses. */
static bool configure_host(const char *ifname, const char *ipv4, const char *ipv6,
                           char *err, size_t errlen)
{
    return netns_link_up(ifname, err, errlen) &&
           add_address(ifname, ipv4, 24, err, errlen) &&
           add_address(ifname, ipv6, 64, err, errlen);
}

static int open_current_netns(char *err, size_t errlen)
{
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        snprintf(err, errlen, "open /proc/self/ns/net: %s", strerror(errno));
    return fd;
}

static bool switch_netns(int fd, const char *which, char *err, size_t errlen)
{
    if (setns(fd, CLONE_NEWNET) == 0)
        return true;
    snprintf(err, errlen, "setns to the %s network namespace: %s", which, strerror(errno));
    return false;
}

/* Creates the client namespace and returns a descriptor to it, leaving the
 * caller where it was. The descriptor alone keeps the namespace alive. */
static int make_client_netns(int server_fd, char *err, size_t errlen)
{
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(err, errlen, "unshare(CLONE_NEWNET) for the client host: %s", strerror(errno));
        return -1;
    }
    int fd = open_current_netns(err, errlen);
    bool ok = fd >= 0 && netns_link_up("lo", err, errlen);
    if (!switch_netns(server_fd, "server", err, errlen)) {
        /* We would be stranded in the wrong namespace: nothing sane to do. */
        ok = false;
    }
    if (!ok && fd >= 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static bool build_veth(struct netns_env *env, char *err, size_t errlen)
{
    env->client_fd = make_client_netns(env->server_fd, err, errlen);
    if (env->client_fd < 0)
        return false;
    if (!create_veth(NETNS_SERVER_IF, NETNS_CLIENT_IF, env->client_fd, NETNS_VETH_MTU, err, errlen))
        return false;
    if (!configure_host(NETNS_SERVER_IF, NETNS_SERVER_IPV4, NETNS_SERVER_IPV6, err, errlen))
        return false;

    if (!switch_netns(env->client_fd, "client", err, errlen))
        return false;
    bool ok = configure_host(NETNS_CLIENT_IF, NETNS_CLIENT_IPV4, NETNS_CLIENT_IPV6, err, errlen) &&
              wait_link_running(NETNS_CLIENT_IF, LINK_RUNNING_TIMEOUT_MS, err, errlen);
    /* Always go back, even after a failure, so the caller stays the server. */
    char back_err[128];
    if (!switch_netns(env->server_fd, "server", back_err, sizeof back_err)) {
        if (ok)
            snprintf(err, errlen, "%s", back_err);
        return false;
    }
    return ok && wait_link_running(NETNS_SERVER_IF, LINK_RUNNING_TIMEOUT_MS, err, errlen);
}

bool netns_build(struct netns_env *env, enum netns_topology topology, char *err, size_t errlen)
{
    memset(env, 0, sizeof *env);
    env->topology = topology;
    env->client_fd = -1;
    env->server_fd = open_current_netns(err, errlen);
    if (env->server_fd < 0)
        return false;
    if (topology == NETNS_LOOPBACK) {
        snprintf(env->capture_if, sizeof env->capture_if, "lo");
        return true;
    }
    snprintf(env->capture_if, sizeof env->capture_if, "%s", NETNS_SERVER_IF);
    if (!build_veth(env, err, errlen)) {
        netns_release(env);
        return false;
    }
    return true;
}

bool netns_enter_client(const struct netns_env *env, char *err, size_t errlen)
{
    if (env->client_fd < 0)
        return true;
    return switch_netns(env->client_fd, "client", err, errlen);
}

void netns_release(struct netns_env *env)
{
    if (env->client_fd >= 0)
        close(env->client_fd);
    if (env->server_fd > 0)
        close(env->server_fd);
    env->client_fd = -1;
    env->server_fd = -1;
}
