/* netlink: rtnetlink requests built in place and acknowledged. See netlink.h. */
#include "netlink.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void nl_request_init(struct nl_request *r, uint16_t type, uint16_t flags)
{
    memset(r, 0, sizeof *r);
    r->hdr = &r->buf.h;
    r->cap = sizeof r->buf.bytes;
    r->hdr->nlmsg_len = NLMSG_LENGTH(0);
    r->hdr->nlmsg_type = type;
    r->hdr->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
    r->hdr->nlmsg_seq = 1;
}

/* Appends len bytes (aligned) to the message; returns where they went. */
void *nl_append(struct nl_request *r, const void *data, size_t len)
{
    size_t at = NLMSG_ALIGN(r->hdr->nlmsg_len);
    if (at + NLMSG_ALIGN(len) > r->cap) {
        r->overflow = true;
        return NULL;
    }
    uint8_t *dst = r->buf.bytes + at;
    memset(dst, 0, NLMSG_ALIGN(len));
    if (data)
        memcpy(dst, data, len);
    r->hdr->nlmsg_len = (uint32_t)(at + len);
    return dst;
}

struct rtattr *nl_attr(struct nl_request *r, uint16_t type, const void *data, size_t len)
{
    struct rtattr *a = nl_append(r, NULL, RTA_LENGTH(len));
    if (!a)
        return NULL;
    a->rta_type = type;
    a->rta_len = (uint16_t)RTA_LENGTH(len);
    if (data)
        memcpy(RTA_DATA(a), data, len);
    return a;
}

struct rtattr *nl_nest_begin(struct nl_request *r, uint16_t type)
{
    return nl_attr(r, type, NULL, 0);
}

void nl_nest_end(struct nl_request *r, struct rtattr *nest)
{
    if (nest)
        nest->rta_len = (uint16_t)((uint8_t *)r->buf.bytes + r->hdr->nlmsg_len - (uint8_t *)nest);
}

int nl_socket(unsigned groups, char *err, size_t errlen)
{
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0) {
        snprintf(err, errlen, "socket(AF_NETLINK, NETLINK_ROUTE): %s", strerror(errno));
        return -1;
    }
    struct sockaddr_nl local = { .nl_family = AF_NETLINK, .nl_groups = groups };
    if (bind(s, (struct sockaddr *)&local, sizeof local) < 0) {
        snprintf(err, errlen, "bind netlink socket (groups 0x%x): %s", groups, strerror(errno));
        close(s);
        return -1;
    }
    return s;
}

/* Sends the request and waits for the kernel's acknowledgement. `what` names
 * the operation for the error message. */
bool nl_transact(struct nl_request *r, const char *what, char *err, size_t errlen)
{
    if (r->overflow) {
        snprintf(err, errlen, "%s: netlink request too large", what);
        return false;
    }
    int s = nl_socket(0, err, errlen);
    if (s < 0)
        return false;
    bool ok = false;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(s, r->hdr, r->hdr->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        snprintf(err, errlen, "%s: send netlink request: %s", what, strerror(errno));
        goto out;
    }
    union { struct nlmsghdr h; uint8_t bytes[4096]; } reply;
    ssize_t n = recv(s, &reply, sizeof reply, 0);
    if (n < 0) {
        snprintf(err, errlen, "%s: receive netlink reply: %s", what, strerror(errno));
        goto out;
    }
    if (!NLMSG_OK(&reply.h, (size_t)n) || reply.h.nlmsg_type != NLMSG_ERROR) {
        snprintf(err, errlen, "%s: unexpected netlink reply (type %u)", what,
                 (unsigned)reply.h.nlmsg_type);
        goto out;
    }
    const struct nlmsgerr *e = NLMSG_DATA(&reply.h);
    if (e->error != 0) {
        snprintf(err, errlen, "%s: %s", what, strerror(-e->error));
        goto out;
    }
    ok = true;
out:
    close(s);
    return ok;
}
