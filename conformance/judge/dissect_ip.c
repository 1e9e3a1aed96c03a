/* dissect_ip: IPv4 (options, fragments) and IPv6 (hop-by-hop, routing,
 * fragment, destination options, AH) headers over the cursor, and the
 * address helpers of dissect.h. The upper layer is dissect_l4.c's. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "dissect_internal.h"
#include "inet_csum.h"

enum { MAX_IPV6_EXT_HEADERS = 8 };

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
    size_t n = a->family == 4 ? 4 : 16;
    return a->family == b->family && memcmp(a->bytes, b->bytes, n) == 0;
}

bool endpoint_equal(const struct endpoint *a, const struct endpoint *b)
{
    return a->port == b->port && ip_addr_equal(&a->ip, &b->ip);
}

void ip_addr_format(const struct ip_addr *a, char *buf, size_t size)
{
    char tmp[INET6_ADDRSTRLEN];
    const char *s = "?";
    if (a->family == 4)
        s = inet_ntop(AF_INET, a->bytes, tmp, sizeof tmp);
    else if (a->family == 6)
        s = inet_ntop(AF_INET6, a->bytes, tmp, sizeof tmp);
    snprintf(buf, size, "%s", s ? s : "?");
}

void endpoint_format(const struct endpoint *e, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    ip_addr_format(&e->ip, ip, sizeof ip);
    snprintf(buf, size, "%s.%u", ip, e->port);
}

/* Captured L4 bytes limited to what the IP header claims (drops Ethernet
 * padding), then the transport, unless this is a non-first fragment. */
static enum dissect_error dissect_ip_payload(struct packet *p, struct cursor *c, size_t at,
                                             uint32_t l4_len)
{
    size_t captured = cursor_remaining(c);
    struct cursor l4;
    cursor_sub(c, captured < l4_len ? captured : l4_len, &l4);
    p->ip_payload = l4.p;
    p->ip_payload_caplen = (uint32_t)l4.len;
    p->ip_payload_len = l4_len;
    if (captured < l4_len)
        p->snap_truncated = true;
    if (p->is_fragment)
        return DISSECT_OK; /* decoded after reassembly */
    return dissect_l4(p, &l4, at, l4_len);
}

static enum dissect_error dissect_ipv4(struct packet *p, struct cursor *c, size_t at,
                                       size_t wire_left)
{
    const uint8_t *hdr = c->p + cursor_offset(c);
    uint8_t vihl, tos;
    uint16_t total, id, frag, csum;
    p->src.family = p->dst.family = 4;
    if (cursor_remaining(c) >= WC_IPV4_MIN_HEADER_LEN) {
        /* The fixed header captured whole: one bounds check, not ten. */
        vihl = hdr[0];
        total = (uint16_t)(hdr[2] << 8 | hdr[3]);
        id = (uint16_t)(hdr[4] << 8 | hdr[5]);
        frag = (uint16_t)(hdr[6] << 8 | hdr[7]);
        p->ttl = hdr[8];
        p->proto = hdr[9];
        csum = (uint16_t)(hdr[10] << 8 | hdr[11]);
        memcpy(p->src.bytes, hdr + 12, 4);
        memcpy(p->dst.bytes, hdr + 16, 4);
        cursor_skip(c, WC_IPV4_MIN_HEADER_LEN);
    } else {
        cursor_u8(c, &vihl);
        cursor_u8(c, &tos);
        cursor_be16(c, &total);
        cursor_be16(c, &id);
        cursor_be16(c, &frag);
        cursor_u8(c, &p->ttl);
        cursor_u8(c, &p->proto);
        cursor_be16(c, &csum);
        cursor_copy(c, p->src.bytes, 4);
        cursor_copy(c, p->dst.bytes, 4);
        (void)tos;
    }
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_IP, at);
    if (vihl >> 4 != 4)
        return malformed(p, DISSECT_BAD_IP_VERSION, at);
    p->ip_version = 4;
    uint32_t hlen = (uint32_t)(vihl & 0x0f) * 4;
    p->ip_header_len = (uint16_t)hlen;
    /* Total length 0 is what a TSO super-packet captured on the way out
     * shows: take the frame's length instead. */
    uint32_t tot = total ? total : (uint32_t)(wire_left > 0xffff ? 0xffff : wire_left);
    if (hlen < WC_IPV4_MIN_HEADER_LEN || hlen > tot)
        return malformed(p, DISSECT_BAD_IP_HEADER_LEN, at);
    if (tot > wire_left)
        return malformed(p, DISSECT_BAD_IP_TOTAL_LEN, at + 2);
    if (!cursor_skip(c, hlen - WC_IPV4_MIN_HEADER_LEN))
        return short_read(p, DISSECT_SHORT_IP, at + WC_IPV4_MIN_HEADER_LEN);
    p->ip_checksum = csum == 0 ? CSUM_OFFLOADED
                   : inet_fold(inet_sum(0, hdr, hlen)) == 0xffff ? CSUM_GOOD : CSUM_BAD;
    p->frag_id = id;
    p->dont_fragment = (frag & WC_IPV4_FLAG_DF) != 0;
    p->more_fragments = (frag & WC_IPV4_FLAG_MF) != 0;
    p->frag_offset = (uint16_t)((frag & WC_IPV4_FRAG_OFFSET_MASK) * 8);
    p->is_fragment = p->more_fragments || p->frag_offset != 0;
    return dissect_ip_payload(p, c, at + hlen, tot - hlen);
}

static bool is_ipv6_ext(uint8_t nh)
{
    return nh == WC_IPPROTO_HOPOPTS || nh == WC_IPPROTO_ROUTING || nh == WC_IPPROTO_FRAGMENT ||
           nh == WC_IPPROTO_DSTOPTS || nh == WC_IPPROTO_AH;
}

/* A Routing header (the `size` bytes after next header and length, in
 * `body`) with segments left names the final destination, which is what the
 * upper-layer pseudo-header uses (RFC 8200 8.1): the last address of a type
 * 0 list (deprecated, RFC 5095, still seen in captures), the one address of
 * type 2 (Mobile IPv6, RFC 6275), Segment List[0] of a type 4 Segment
 * Routing Header (RFC 8754 4.3.1.1: the list is stored last segment first).
 * Other types (3: RPL, compressed) are left alone. With no segments left,
 * the header's destination already is the final one. */
static void ipv6_routing_final_dst(struct packet *p, struct cursor *body, uint32_t size)
{
    uint8_t type, left;
    if (!cursor_u8(body, &type) || !cursor_u8(body, &left) || left == 0 || size < 24)
        return;
    size_t at;
    switch (type) {
    case WC_IPV6_ROUTING_TYPE0: at = 8 + ((size - 8) / 16 - 1) * 16; break;
    case WC_IPV6_ROUTING_MIP6: at = 8; break;
    case WC_IPV6_ROUTING_SRH: at = 8; break;
    default: return;
    }
    struct ip_addr a = { .family = 6 };
    if (cursor_skip(body, at - 4) && cursor_copy(body, a.bytes, 16))
        p->final_dst = a;
}

static enum dissect_error dissect_ipv6(struct packet *p, struct cursor *c, size_t at,
                                       size_t wire_left)
{
    uint32_t vtcfl;
    uint16_t plen;
    uint8_t nh;
    cursor_be32(c, &vtcfl);
    cursor_be16(c, &plen);
    cursor_u8(c, &nh);
    cursor_u8(c, &p->ttl);
    p->src.family = p->dst.family = 6;
    cursor_copy(c, p->src.bytes, 16);
    cursor_copy(c, p->dst.bytes, 16);
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_IP, at);
    if (vtcfl >> 28 != 6)
        return malformed(p, DISSECT_BAD_IP_VERSION, at);
    p->ip_version = 6;
    if (wire_left < WC_IPV6_HEADER_LEN)
        return malformed(p, DISSECT_BAD_IP_TOTAL_LEN, at + 4);
    uint32_t payload = plen ? plen : (uint32_t)(wire_left - WC_IPV6_HEADER_LEN); /* 0: jumbo/TSO */
    if (payload > wire_left - WC_IPV6_HEADER_LEN)
        return malformed(p, DISSECT_BAD_IP_TOTAL_LEN, at + 4);

    uint32_t ext_len = 0;
    for (int n = 0; is_ipv6_ext(nh); n++) {
        size_t here = at + WC_IPV6_HEADER_LEN + ext_len;
        uint8_t next, len8;
        if (n >= MAX_IPV6_EXT_HEADERS || ext_len + 8 > payload)
            return malformed(p, DISSECT_BAD_IPV6_EXT, here);
        cursor_u8(c, &next);
        cursor_u8(c, &len8);
        uint32_t size;
        if (nh == WC_IPPROTO_FRAGMENT) {
            uint16_t offflags;
            uint32_t ident;
            cursor_be16(c, &offflags);
            cursor_be32(c, &ident);
            p->frag_offset = offflags & WC_IPV6_FRAG_OFFSET_MASK;
            p->more_fragments = (offflags & WC_IPV6_FRAG_MORE) != 0;
            p->frag_id = ident;
            p->is_fragment = p->more_fragments || p->frag_offset != 0;
            size = 8;
        } else {
            size = nh == WC_IPPROTO_AH ? ((uint32_t)len8 + 2) * 4 : ((uint32_t)len8 + 1) * 8;
            /* A length past the payload is malformed, not a short capture. */
            if (ext_len + size > payload)
                return malformed(p, DISSECT_BAD_IPV6_EXT, here);
            if (nh == WC_IPPROTO_ROUTING) {
                struct cursor body;
                if (cursor_sub(c, size - 2, &body))
                    ipv6_routing_final_dst(p, &body, size);
            } else {
                cursor_skip(c, size - 2);
            }
        }
        if (!cursor_ok(c))
            return short_read(p, DISSECT_SHORT_IP, here);
        ext_len += size;
        nh = next;
    }
    p->proto = nh;
    p->ip_header_len = (uint16_t)(WC_IPV6_HEADER_LEN + ext_len);
    if (nh == WC_IPPROTO_NONE) {
        p->l4 = L4_NONE;
        return DISSECT_OK;
    }
    return dissect_ip_payload(p, c, at + WC_IPV6_HEADER_LEN + ext_len, payload - ext_len);
}

enum dissect_error dissect_ip(struct packet *p, struct cursor *c, size_t at, int want_version)
{
    uint8_t first;
    if (!cursor_peek_u8(c, 0, &first))
        return short_read(p, DISSECT_SHORT_IP, at);
    int version = first >> 4;
    if (want_version && version != want_version)
        return malformed(p, DISSECT_BAD_IP_VERSION, at);
    size_t wire_left = p->wirelen > at ? p->wirelen - at : 0;
    if (version == 4)
        return dissect_ipv4(p, c, at, wire_left);
    if (version == 6)
        return dissect_ipv6(p, c, at, wire_left);
    return malformed(p, DISSECT_BAD_IP_VERSION, at);
}
