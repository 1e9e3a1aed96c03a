/* dissect_link: one captured frame in, the link layer (Ethernet with
 * 802.1Q/QinQ tags, Linux cooked v1/v2, BSD loopback, raw IP) peeled off,
 * the IP layer handed to dissect_ip.c. Also the names of link types and
 * dissector errors. See dissect.h for the contract. */
#include <string.h>

#include "dissect_internal.h"

enum { MAX_VLAN_TAGS = 4 };

bool dissect_linktype_supported(int linktype)
{
    switch (linktype) {
    case WC_LINK_NULL: case WC_LINK_EN10MB: case WC_LINK_RAW_DLT: case WC_LINK_RAW:
    case WC_LINK_LOOP: case WC_LINK_LINUX_SLL: case WC_LINK_IPV4: case WC_LINK_IPV6:
    case WC_LINK_LINUX_SLL2:
        return true;
    default:
        return false;
    }
}

const char *dissect_linktype_name(int linktype)
{
    switch (linktype) {
    case WC_LINK_NULL: return "NULL (BSD loopback)";
    case WC_LINK_EN10MB: return "EN10MB (Ethernet)";
    case WC_LINK_RAW_DLT: case WC_LINK_RAW: return "RAW (IP)";
    case WC_LINK_LOOP: return "LOOP (OpenBSD loopback)";
    case WC_LINK_LINUX_SLL: return "LINUX_SLL (Linux cooked v1)";
    case WC_LINK_IPV4: return "IPV4";
    case WC_LINK_IPV6: return "IPV6";
    case WC_LINK_LINUX_SLL2: return "LINUX_SLL2 (Linux cooked v2)";
    default: return "unsupported";
    }
}

const char *dissect_error_name(enum dissect_error e)
{
    static const char *const names[DISSECT_ERROR_COUNT] = {
        [DISSECT_OK] = "ok",
        [DISSECT_UNSUPPORTED_LINKTYPE] = "unsupported link type",
        [DISSECT_SHORT_LINK] = "link-layer header cut short",
        [DISSECT_NOT_IP] = "not IP",
        [DISSECT_SHORT_IP] = "IP header cut short",
        [DISSECT_BAD_IP_VERSION] = "bad IP version",
        [DISSECT_BAD_IP_HEADER_LEN] = "bad IP header length",
        [DISSECT_BAD_IP_TOTAL_LEN] = "IP length runs past the frame",
        [DISSECT_BAD_IPV6_EXT] = "malformed IPv6 extension header",
        [DISSECT_SHORT_TCP] = "TCP header cut short",
        [DISSECT_BAD_TCP_DATA_OFFSET] = "bad TCP data offset",
        [DISSECT_BAD_TCP_OPTION] = "malformed TCP option",
        [DISSECT_SHORT_UDP] = "UDP header cut short",
        [DISSECT_BAD_UDP_LEN] = "bad UDP length",
        [DISSECT_SHORT_ICMP] = "ICMP header cut short",
    };
    return (unsigned)e < DISSECT_ERROR_COUNT && names[e] ? names[e] : "unknown error";
}

static enum dissect_error by_ethertype(struct packet *p, struct cursor *c, uint16_t type)
{
    size_t at = cursor_offset(c);
    if (type == WC_ETHERTYPE_IPV4)
        return dissect_ip(p, c, at, 4);
    if (type == WC_ETHERTYPE_IPV6)
        return dissect_ip(p, c, at, 6);
    p->error = DISSECT_NOT_IP;
    p->error_offset = at;
    return DISSECT_NOT_IP;
}

static enum dissect_error dissect_ethernet(struct packet *p, struct cursor *c)
{
    uint16_t type;
    cursor_skip(c, 12);
    cursor_be16(c, &type);
    for (int tags = 0; type == WC_ETHERTYPE_VLAN || type == WC_ETHERTYPE_QINQ ||
                       type == WC_ETHERTYPE_QINQ_OLD; tags++) {
        uint16_t tci;
        if (tags == MAX_VLAN_TAGS)
            return malformed(p, DISSECT_NOT_IP, cursor_offset(c));
        cursor_be16(c, &tci);
        cursor_be16(c, &type);
        if (cursor_ok(c) && p->vlan_count < 2)
            p->vlan[p->vlan_count++] = tci & 0x0fff;
    }
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_LINK, 0);
    return by_ethertype(p, c, type);
}

static enum dissect_error dissect_sll(struct packet *p, struct cursor *c)
{
    uint16_t type;
    cursor_skip(c, 14); /* packet type, ARPHRD, address length, address */
    cursor_be16(c, &type);
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_LINK, 0);
    return by_ethertype(p, c, type);
}

static enum dissect_error dissect_sll2(struct packet *p, struct cursor *c)
{
    uint16_t type;
    cursor_be16(c, &type);
    cursor_skip(c, 18); /* reserved, ifindex, ARPHRD, packet type, addr len, addr */
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_LINK, 0);
    return by_ethertype(p, c, type);
}

/* BSD loopback: a 4-byte address family, in the capturing host's byte order
 * for NULL and network order for LOOP, but files travel between hosts, so
 * accept either. AF_INET6 differs per OS: 24 (Net/OpenBSD), 28 (FreeBSD),
 * 30 (Darwin), 10 (Linux). */
static enum dissect_error dissect_bsd_loopback(struct packet *p, struct cursor *c)
{
    uint32_t family;
    if (!cursor_le32(c, &family))
        return short_read(p, DISSECT_SHORT_LINK, 0);
    if (family > 0xffff) /* written big-endian */
        family = __builtin_bswap32(family);
    size_t at = cursor_offset(c);
    switch (family) {
    case WC_BSD_AF_INET:
        return dissect_ip(p, c, at, 4);
    case WC_BSD_AF_INET6_LINUX: case WC_BSD_AF_INET6_BSD: case WC_BSD_AF_INET6_FREEBSD:
    case WC_BSD_AF_INET6_DARWIN:
        return dissect_ip(p, c, at, 6);
    default:
        p->error = DISSECT_NOT_IP;
        p->error_offset = 0;
        return DISSECT_NOT_IP;
    }
}

enum dissect_error dissect_frame(struct packet *out, uint32_t frame, int64_t ts_usec,
                                 int linktype, const uint8_t *bytes,
                                 uint32_t caplen, uint32_t wirelen)
{
    memset(out, 0, sizeof *out);
    out->frame = frame;
    out->ts_usec = ts_usec;
    out->linktype = linktype;
    out->caplen = caplen;
    /* A wire length below the captured one is a lie; trust the bytes. */
    out->wirelen = wirelen < caplen ? caplen : wirelen;
    struct cursor c;
    cursor_init(&c, bytes, caplen);
    switch (linktype) {
    case WC_LINK_EN10MB: return dissect_ethernet(out, &c);
    case WC_LINK_LINUX_SLL: return dissect_sll(out, &c);
    case WC_LINK_LINUX_SLL2: return dissect_sll2(out, &c);
    case WC_LINK_NULL: case WC_LINK_LOOP: return dissect_bsd_loopback(out, &c);
    case WC_LINK_RAW_DLT: case WC_LINK_RAW: return dissect_ip(out, &c, 0, 0);
    case WC_LINK_IPV4: return dissect_ip(out, &c, 0, 4);
    case WC_LINK_IPV6: return dissect_ip(out, &c, 0, 6);
    default:
        return malformed(out, DISSECT_UNSUPPORTED_LINKTYPE, 0);
    }
}
