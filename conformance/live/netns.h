/* netns: a private network world for one conformance case.
 *
 * Each case runs in a child process that calls netns_enter_private(): the
 * child gets a fresh network namespace (and, when not root, a user namespace
 * in which it is root, so it may configure that network namespace). Nothing
 * here touches the host's interfaces, routes or firewall: every link, address
 * and nftables rule is created inside namespaces that disappear when the last
 * process in them exits and the last descriptor to them is closed.
 *
 * Topologies:
 *   loopback  one namespace; server and client talk over lo (127.0.0.1, ::1)
 *   veth      two namespaces joined by a veth pair with MTU 1500: the server
 *             side (where the case process and the capture stay) has
 *             NETNS_SERVER_IPV4/6 on "wc-server", the client side has
 *             NETNS_CLIENT_IPV4/6 on "wc-client". A datagram larger than the
 *             MTU is really fragmented there, which lo (MTU 65536) never does.
 *
 * Faults are nftables rules (faults.c, loaded by nft.c) inside the server's
 * namespace, on the input hook so the capture still sees the dropped packet;
 * the slow-teardown fault adds a shaped class there too (tc.c).
 *
 *   // in a freshly forked child:
 *   struct netns_env env;
 *   if (!netns_enter_private(err, sizeof err) ||
 *       !netns_build(&env, NETNS_VETH, err, sizeof err))
 *       ... err says which step failed and what would allow it ...
 *   // capture on env.capture_if; the client's child: netns_enter_client(&env, ...)
 *   netns_release(&env); */
#ifndef WIRECHECK_NETNS_H
#define WIRECHECK_NETNS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define NETNS_SERVER_IF "wc-server"
#define NETNS_CLIENT_IF "wc-client"
#define NETNS_SERVER_IPV4 "10.0.0.1"
#define NETNS_CLIENT_IPV4 "10.0.0.2"
#define NETNS_SERVER_IPV6 "fd00::1"
#define NETNS_CLIENT_IPV6 "fd00::2"
#define NETNS_VETH_MTU 1500

enum netns_topology { NETNS_LOOPBACK = 0, NETNS_VETH };

struct netns_env {
    enum netns_topology topology;
    int server_fd;          /* nsfs descriptor of the namespace we run in */
    int client_fd;          /* the client's namespace; -1 on loopback */
    char capture_if[16];    /* "lo" or NETNS_SERVER_IF */
};

/* Moves the calling process into a new, empty network namespace with lo up.
 * Meant for a freshly forked child: the namespace lives as long as it does.
 * As root this is unshare(CLONE_NEWNET); otherwise a user namespace is
 * created first, mapping our uid/gid to root inside it. On failure, err says
 * which step failed and what would allow it (root, or user namespaces). */
bool netns_enter_private(char *err, size_t errlen);

/* Builds the topology inside the current (private) namespace. With
 * NETNS_VETH this creates the client namespace, the veth pair and the
 * addresses and waits (bounded) until both links are running. */
bool netns_build(struct netns_env *env, enum netns_topology topology,
                 char *err, size_t errlen);

/* Switches the calling process (typically a child about to exec the client)
 * into the client's namespace; a no-op on loopback. */
bool netns_enter_client(const struct netns_env *env, char *err, size_t errlen);

/* Closes the namespace descriptors (the namespaces go away with the last
 * process in them). */
void netns_release(struct netns_env *env);

/* Sets interface `ifname` in the current namespace up (SIOCSIFFLAGS). */
bool netns_link_up(const char *ifname, char *err, size_t errlen);

#endif
