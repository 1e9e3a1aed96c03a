/* netlink: the little of rtnetlink the live runner needs, without a library.
 *
 * A request is built in fixed, aligned storage: a header, the family
 * message, then attributes, nests closed after their contents. One call
 * sends it and waits for the kernel's acknowledgement, and an error names
 * the operation:
 *
 *   struct nl_request r;
 *   struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = 24, .ifa_index = index };
 *   nl_request_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
 *   nl_append(&r, &ifa, sizeof ifa);
 *   nl_attr(&r, IFA_LOCAL, bytes, 4);
 *   struct rtattr *nest = nl_nest_begin(&r, IFLA_LINKINFO);   // (for links)
 *   ...
 *   nl_nest_end(&r, nest);
 *   if (!nl_transact(&r, "add address 10.0.0.1/24 to wc-server", err, errlen))
 *       ... err: "add address ...: File exists" ...
 *
 * A request that outgrows its storage is refused by nl_transact ("netlink
 * request too large"), so builders need not check every append. */
#ifndef WIRECHECK_NETLINK_H
#define WIRECHECK_NETLINK_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nl_request {
    struct nlmsghdr *hdr;
    size_t cap;
    bool overflow;
    union { /* aligned storage for the message */
        struct nlmsghdr h;
        uint8_t bytes[1024];
    } buf;
};

/* A request of `type` asking for an acknowledgement, with extra flags. */
void nl_request_init(struct nl_request *r, uint16_t type, uint16_t flags);

/* Appends len bytes (aligned; data NULL: zeros); returns where they went,
 * NULL on overflow. */
void *nl_append(struct nl_request *r, const void *data, size_t len);

/* Appends one attribute; NULL on overflow. */
struct rtattr *nl_attr(struct nl_request *r, uint16_t type, const void *data, size_t len);

/* A nested attribute: begin, append its contents, end (fixes its length). */
struct rtattr *nl_nest_begin(struct nl_request *r, uint16_t type);
void nl_nest_end(struct nl_request *r, struct rtattr *nest);

/* A NETLINK_ROUTE socket bound to the multicast `groups` (0: none); -1 with err. */
int nl_socket(unsigned groups, char *err, size_t errlen);

/* Sends the request and waits for the kernel's acknowledgement. `what`
 * names the operation in the error message. */
bool nl_transact(struct nl_request *r, const char *what, char *err, size_t errlen);

#endif
