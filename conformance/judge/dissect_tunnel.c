/* dissect_tunnel: what a tunnel packet carries, found from its decoded
 * outer packet, for the analysis to decode and judge as a packet of its own.
 * See dissect.h. */
#include "dissect_internal.h"

/* The link type of what an ethertype-like protocol field announces, 0 if
 * not a packet the judge decodes. */
static int linktype_of(uint16_t type)
{
    switch (type) {
    case WC_ETHERTYPE_IPV4: return WC_LINK_IPV4;
    case WC_ETHERTYPE_IPV6: return WC_LINK_IPV6;
    case WC_ETHERTYPE_TEB: return WC_LINK_EN10MB;
    default: return 0;
    }
}

/* bytes[at...] of a message whose captured and claimed lengths are given. */
static bool inner_at(const uint8_t *bytes, uint32_t caplen, uint32_t len, size_t at, int linktype,
                     const char *name, struct tunnel_inner *out)
{
    if (!linktype || at >= caplen)
        return false;
    out->bytes = bytes + at;
    out->caplen = caplen - (uint32_t)at;
    out->wirelen = len > at ? len - (uint32_t)at : out->caplen;
    out->linktype = linktype;
    out->name = name;
    return true;
}

/* GRE (RFC 2784, key and sequence number of RFC 2890): version 0 only,
 * no source routing (RFC 1701's routing is obsolete). */
static bool gre_inner(const struct packet *p, struct tunnel_inner *out)
{
    struct cursor c;
    cursor_init(&c, p->ip_payload, p->ip_payload_caplen);
    uint16_t flags, type;
    if (!cursor_be16(&c, &flags) || !cursor_be16(&c, &type))
        return false;
    if ((flags & WC_GRE_VERSION_MASK) || (flags & WC_GRE_FLAG_ROUTING))
        return false;
    size_t at = 4 + ((flags & WC_GRE_FLAG_CSUM) ? 4 : 0) + ((flags & WC_GRE_FLAG_KEY) ? 4 : 0) +
                ((flags & WC_GRE_FLAG_SEQ) ? 4 : 0);
    return inner_at(p->ip_payload, p->ip_payload_caplen, p->ip_payload_len, at,
                    linktype_of(type), "GRE", out);
}

/* VXLAN (RFC 7348): 8 bytes, the I flag set, then an Ethernet frame. */
static bool vxlan_inner(const struct packet *p, struct tunnel_inner *out)
{
    uint8_t flags;
    struct cursor c;
    cursor_init(&c, p->payload, p->payload_caplen);
    if (!cursor_u8(&c, &flags) || !(flags & WC_VXLAN_FLAG_VNI))
        return false;
    return inner_at(p->payload, p->payload_caplen, p->payload_len, WC_VXLAN_HEADER_LEN,
                    WC_LINK_EN10MB, "VXLAN", out);
}

/* GENEVE (RFC 8926): version 0, options length in 4-byte words, protocol
 * type an ethertype. */
static bool geneve_inner(const struct packet *p, struct tunnel_inner *out)
{
    uint8_t ver_optlen, flags;
    uint16_t type;
    struct cursor c;
    cursor_init(&c, p->payload, p->payload_caplen);
    if (!cursor_u8(&c, &ver_optlen) || !cursor_u8(&c, &flags) || !cursor_be16(&c, &type))
        return false;
    if (ver_optlen >> 6)
        return false;
    size_t at = WC_GENEVE_HEADER_LEN + (size_t)(ver_optlen & 0x3f) * 4;
    return inner_at(p->payload, p->payload_caplen, p->payload_len, at, linktype_of(type),
                    "GENEVE", out);
}

bool dissect_tunnel_inner(const struct packet *p, struct tunnel_inner *out)
{
    if (p->error != DISSECT_OK || p->is_fragment || !p->ip_payload)
        return false;
    switch (p->proto) {
    case WC_IPPROTO_IPIP:
        return inner_at(p->ip_payload, p->ip_payload_caplen, p->ip_payload_len, 0, WC_LINK_IPV4,
                        "IP in IP", out);
    case WC_IPPROTO_IPV6_IN_IP:
        return inner_at(p->ip_payload, p->ip_payload_caplen, p->ip_payload_len, 0, WC_LINK_IPV6,
                        "IPv6 in IP", out);
    case WC_IPPROTO_GRE:
        return gre_inner(p, out);
    case WC_IPPROTO_UDP:
        if (p->l4 != L4_UDP || !p->payload)
            return false;
        if (p->dport == WC_UDP_PORT_VXLAN)
            return vxlan_inner(p, out);
        if (p->dport == WC_UDP_PORT_GENEVE)
            return geneve_inner(p, out);
        return false;
    default:
        return false;
    }
}
