/* dissect_link: one captured frame in, the link layer (Ethernet with
 * 802.1Q/QinQ tags and PPPoE sessions, Linux cooked v1/v2, BSD loopback,
 * raw IP, PPP, Cisco HDLC, NFLOG, PKTAP) peeled off,
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
    case WC_LINK_LINUX_SLL2: case WC_LINK_PPP: case WC_LINK_PPP_HDLC: case WC_LINK_C_HDLC:
    case WC_LINK_NFLOG: case WC_LINK_PKTAP:
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
    case WC_LINK_PPP: return "PPP";
    case WC_LINK_PPP_HDLC: return "PPP_HDLC (PPP in HDLC-like framing)";
    case WC_LINK_C_HDLC: return "C_HDLC (Cisco HDLC)";
    case WC_LINK_NFLOG: return "NFLOG (Linux netfilter log)";
    case WC_LINK_PKTAP: return "PKTAP (Apple)";
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

static enum dissect_error not_ip(struct packet *p, size_t at)
{
    p->error = DISSECT_NOT_IP;
    p->error_offset = at;
    return DISSECT_NOT_IP;
}

static enum dissect_error by_ppp_protocol(struct packet *p, struct cursor *c);

static enum dissect_error by_ethertype(struct packet *p, struct cursor *c, uint16_t type)
{
    size_t at = cursor_offset(c);
    if (type == WC_ETHERTYPE_IPV4)
        return dissect_ip(p, c, at, 4);
    if (type == WC_ETHERTYPE_IPV6)
        return dissect_ip(p, c, at, 6);
    if (type == WC_ETHERTYPE_PPPOE_SESSION) {
        /* RFC 2516: version/type, code (0 in a session), session id, length;
         * then the PPP protocol field. */
        uint8_t vt, code;
        cursor_u8(c, &vt);
        cursor_u8(c, &code);
        cursor_skip(c, 4);
        if (!cursor_ok(c))
            return short_read(p, DISSECT_SHORT_LINK, at);
        if (vt != 0x11 || code != 0)
            return not_ip(p, at);
        return by_ppp_protocol(p, c);
    }
    return not_ip(p, at);
}

/* The PPP protocol field (RFC 1661 2): two bytes, or one when compressed
 * (RFC 1661 6.5: a protocol number's low byte is odd, its high byte even). */
static enum dissect_error by_ppp_protocol(struct packet *p, struct cursor *c)
{
    size_t at = cursor_offset(c);
    uint8_t b;
    uint16_t proto;
    if (!cursor_u8(c, &b))
        return short_read(p, DISSECT_SHORT_LINK, at);
    proto = b;
    if (!(b & 1)) {
        uint8_t lo;
        if (!cursor_u8(c, &lo))
            return short_read(p, DISSECT_SHORT_LINK, at);
        proto = (uint16_t)(b << 8 | lo);
    }
    if (proto == WC_PPP_IPV4)
        return dissect_ip(p, c, cursor_offset(c), 4);
    if (proto == WC_PPP_IPV6)
        return dissect_ip(p, c, cursor_offset(c), 6);
    return not_ip(p, at);
}

/* Cisco HDLC: address (0x0F unicast, 0x8F broadcast), control, Ethernet type. */
static enum dissect_error dissect_chdlc(struct packet *p, struct cursor *c)
{
    uint16_t type;
    cursor_skip(c, 2);
    cursor_be16(c, &type);
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_LINK, 0);
    return by_ethertype(p, c, type);
}

/* PPP (LINKTYPE_PPP) and PPP in HDLC-like framing (LINKTYPE_PPP_HDLC,
 * RFC 1662): the address/control bytes FF 03 when present (RFC 1661 6.6
 * lets them be compressed away), then the protocol. A PPP_HDLC capture of a
 * Cisco HDLC link starts with 0x0F/0x8F instead, as tcpdump knows. */
static enum dissect_error dissect_ppp(struct packet *p, struct cursor *c)
{
    uint8_t b0, b1;
    if (!cursor_peek_u8(c, 0, &b0))
        return short_read(p, DISSECT_SHORT_LINK, 0);
    if (b0 == 0x0F || b0 == 0x8F)
        return dissect_chdlc(p, c);
    if (b0 == 0xFF) {
        if (!cursor_peek_u8(c, 1, &b1))
            return short_read(p, DISSECT_SHORT_LINK, 0);
        if (b1 != 0x03)
            return not_ip(p, 0);
        cursor_skip(c, 2);
    }
    return by_ppp_protocol(p, c);
}

/* NFLOG (Linux netfilter log, LINKTYPE_NFLOG): family, version 0, resource
 * id (big-endian), then TLVs whose length (header included, padded to 4)
 * and type are in the byte order of the host that captured: little-endian
 * unless that reads as nonsense. The packet is the NFULA_PAYLOAD TLV, an IP
 * packet of the header's family. */
static enum dissect_error dissect_nflog(struct packet *p, struct cursor *c)
{
    uint8_t family, version;
    cursor_u8(c, &family);
    cursor_u8(c, &version);
    cursor_skip(c, 2);
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_LINK, 0);
    if (version != 0)
        return not_ip(p, 1);
    int want = family == WC_NFLOG_AF_INET ? 4 : family == WC_NFLOG_AF_INET6 ? 6 : 0;
    for (;;) {
        size_t at = cursor_offset(c);
        uint16_t len, type;
        cursor_le16(c, &len);
        cursor_le16(c, &type);
        if (!cursor_ok(c))
            return short_read(p, DISSECT_SHORT_LINK, at);
        if (type > 0xff && __builtin_bswap16(type) <= 0xff) { /* big-endian host */
            len = __builtin_bswap16(len);
            type = __builtin_bswap16(type);
        }
        if (len < 4)
            return malformed(p, DISSECT_SHORT_LINK, at);
        if (type == WC_NFULA_PAYLOAD) {
            if (!want)
                return not_ip(p, 0);
            return dissect_ip(p, c, cursor_offset(c), want);
        }
        size_t skip = ((size_t)len + 3u) / 4u * 4u - 4u;
        if (!cursor_skip(c, skip))
            return short_read(p, DISSECT_SHORT_LINK, at);
        if (cursor_remaining(c) == 0) /* no payload TLV: a log entry without the packet */
            return p->caplen < p->wirelen ? short_read(p, DISSECT_SHORT_LINK, at) : not_ip(p, at);
    }
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

static enum dissect_error dissect_link(struct packet *p, struct cursor *c, int linktype,
                                       bool in_pktap);

/* Apple PKTAP (LINKTYPE_PKTAP): a little-endian header, at least 108 bytes:
 * its own length, the record type (1: a packet), the DLT of what follows,
 * the interface name, process information. What follows is dissected by
 * that DLT (Ethernet, loopback, raw IP... on macOS). */
static enum dissect_error dissect_pktap(struct packet *p, struct cursor *c)
{
    uint32_t hdrlen, rectype, dlt;
    cursor_le32(c, &hdrlen);
    cursor_le32(c, &rectype);
    cursor_le32(c, &dlt);
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_LINK, 0);
    if (hdrlen < 108)
        return malformed(p, DISSECT_SHORT_LINK, 0);
    if (rectype != 1)
        return not_ip(p, 4);
    if (!cursor_skip(c, hdrlen - 12))
        return short_read(p, DISSECT_SHORT_LINK, 0);
    int inner = dlt == 12 || dlt == 14 ? WC_LINK_RAW : (int)(dlt & 0xffff);
    if (dlt > 0xffff || inner == WC_LINK_PKTAP || !dissect_linktype_supported(inner))
        return not_ip(p, 8);
    return dissect_link(p, c, inner, true);
}

static enum dissect_error dissect_link(struct packet *out, struct cursor *c, int linktype,
                                       bool in_pktap)
{
    switch (linktype) {
    case WC_LINK_EN10MB: return dissect_ethernet(out, c);
    case WC_LINK_LINUX_SLL: return dissect_sll(out, c);
    case WC_LINK_LINUX_SLL2: return dissect_sll2(out, c);
    case WC_LINK_NULL: case WC_LINK_LOOP: return dissect_bsd_loopback(out, c);
    case WC_LINK_RAW_DLT: case WC_LINK_RAW: return dissect_ip(out, c, cursor_offset(c), 0);
    case WC_LINK_IPV4: return dissect_ip(out, c, cursor_offset(c), 4);
    case WC_LINK_IPV6: return dissect_ip(out, c, cursor_offset(c), 6);
    case WC_LINK_PPP: case WC_LINK_PPP_HDLC: return dissect_ppp(out, c);
    case WC_LINK_C_HDLC: return dissect_chdlc(out, c);
    case WC_LINK_NFLOG: return dissect_nflog(out, c);
    case WC_LINK_PKTAP:
        if (!in_pktap)
            return dissect_pktap(out, c);
        break;
    default:
        break;
    }
    return malformed(out, DISSECT_UNSUPPORTED_LINKTYPE, cursor_offset(c));
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
    return dissect_link(out, &c, linktype, false);
}
