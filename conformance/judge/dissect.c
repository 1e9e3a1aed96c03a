/* dissect: link layer -> IP -> TCP/UDP/ICMP, every byte read through a
 * cursor. Each layer is a small function taking the cursor positioned at its
 * header and the absolute offset of that header in the frame (for error
 * reports). See dissect.h for the contract. */
#include "dissect.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cursor.h"

enum {
    MAX_VLAN_TAGS = 4,
    MAX_IPV6_EXT_HEADERS = 8,
};

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

const char *checksum_state_name(enum checksum_state s)
{
    switch (s) {
    case CSUM_ABSENT: return "absent";
    case CSUM_GOOD: return "good";
    case CSUM_BAD: return "bad";
    case CSUM_UNVERIFIABLE: return "not verifiable";
    case CSUM_OFFLOADED: return "offloaded";
    case CSUM_UNUSED: return "unused";
    }
    return "?";
}

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

/* ---- error reporting --------------------------------------------------- */

/* A read that ran out of bytes: snapshot truncation if the capture cut the
 * frame, a malformed frame otherwise. */
static enum dissect_error short_read(struct packet *p, enum dissect_error e, size_t at)
{
    p->error = e;
    p->error_offset = at;
    if (p->caplen < p->wirelen)
        p->snap_truncated = true;
    return e;
}

static enum dissect_error malformed(struct packet *p, enum dissect_error e, size_t at)
{
    p->error = e;
    p->error_offset = at;
    return e;
}

/* ---- checksums ---------------------------------------------------------- */

static uint32_t pseudo_header_sum(const struct packet *p, uint32_t l4_len)
{
    size_t alen = p->src.family == 4 ? 4 : 16;
    const struct ip_addr *dst = p->final_dst.family ? &p->final_dst : &p->dst;
    uint32_t sum = inet_sum(0, p->src.bytes, alen);
    sum = inet_sum(sum, dst->bytes, alen);
    sum += p->proto;
    sum += l4_len >> 16;
    sum += l4_len & 0xffff;
    return sum;
}

/* Judges a TCP/UDP/ICMPv6 checksum. `field` is the value in the header,
 * `l4` the captured segment of claimed length l4_len. */
static enum checksum_state judge_l4_checksum(const struct packet *p, const uint8_t *l4,
                                             uint32_t l4_caplen, uint32_t l4_len,
                                             uint16_t field, bool with_pseudo)
{
    if (l4_caplen < l4_len)
        return CSUM_UNVERIFIABLE;
    uint32_t pseudo = with_pseudo ? pseudo_header_sum(p, l4_len) : 0;
    if (inet_fold(inet_sum(pseudo, l4, l4_len)) == 0xffff)
        return CSUM_GOOD;
    /* CHECKSUM_PARTIAL: the stack leaves the folded pseudo-header sum in the
     * field for the NIC to finish; loopback and veth never finish it. */
    unsigned partial = inet_fold(pseudo);
    unsigned inverted = 0xffffu ^ partial;
    if (with_pseudo && (field == partial || field == inverted || field == 0))
        return CSUM_OFFLOADED;
    return CSUM_BAD;
}

/* ---- transport ---------------------------------------------------------- */

static enum dissect_error tcp_option(struct packet *p, uint8_t kind, struct cursor *body,
                                     size_t len)
{
    struct tcp_options *o = &p->opt;
    switch (kind) {
    case WC_TCPOPT_MSS:
        if (len != 2)
            return DISSECT_BAD_TCP_OPTION;
        o->has_mss = cursor_be16(body, &o->mss);
        break;
    case WC_TCPOPT_WSCALE:
        if (len != 1)
            return DISSECT_BAD_TCP_OPTION;
        o->has_wscale = cursor_u8(body, &o->wscale);
        break;
    case WC_TCPOPT_SACK_PERMITTED:
        if (len != 0)
            return DISSECT_BAD_TCP_OPTION;
        o->sack_permitted = true;
        break;
    case WC_TCPOPT_SACK:
        if (len == 0 || len % 8 != 0)
            return DISSECT_BAD_TCP_OPTION;
        for (size_t i = 0; i < len / 8; i++) {
            uint32_t l, r;
            cursor_be32(body, &l);
            cursor_be32(body, &r);
            if (o->sack_blocks < TCP_MAX_SACK_BLOCKS) {
                o->sack[o->sack_blocks][0] = l;
                o->sack[o->sack_blocks][1] = r;
                o->sack_blocks++;
            }
        }
        break;
    case WC_TCPOPT_TIMESTAMPS:
        if (len != 8)
            return DISSECT_BAD_TCP_OPTION;
        cursor_be32(body, &o->tsval);
        cursor_be32(body, &o->tsecr);
        o->has_timestamps = true;
        break;
    case WC_TCPOPT_FASTOPEN: /* TCP Fast Open, RFC 7413: cookie of 0 or 4..16 bytes */
        o->has_tfo = true;
        o->tfo_cookie_len = (uint8_t)len;
        break;
    case WC_TCPOPT_EXPERIMENTAL: { /* experimental TFO */
        uint16_t magic;
        if (len >= 2 && cursor_be16(body, &magic) && magic == WC_TCPOPT_EXP_FASTOPEN_MAGIC) {
            o->has_tfo = true;
            o->tfo_cookie_len = (uint8_t)(len - 2);
        }
        break;
    }
    default:
        break; /* unknown options are skipped by their length */
    }
    return DISSECT_OK;
}

static enum dissect_error tcp_options(struct packet *p, struct cursor *c, size_t at)
{
    while (cursor_remaining(c) > 0) {
        size_t here = at + cursor_offset(c);
        uint8_t kind, len;
        cursor_u8(c, &kind);
        if (kind == WC_TCPOPT_EOL)
            break;          /* end of option list: the rest is padding */
        if (kind == WC_TCPOPT_NOP)
            continue;       /* NOP */
        if (!cursor_u8(c, &len) || len < 2)
            return malformed(p, DISSECT_BAD_TCP_OPTION, here);
        struct cursor body;
        if (!cursor_sub(c, len - 2u, &body))
            return malformed(p, DISSECT_BAD_TCP_OPTION, here);
        if (tcp_option(p, kind, &body, len - 2u) != DISSECT_OK)
            return malformed(p, DISSECT_BAD_TCP_OPTION, here);
    }
    return DISSECT_OK;
}

static enum dissect_error dissect_tcp(struct packet *p, struct cursor *c, size_t at,
                                      uint32_t l4_len)
{
    const uint8_t *start = c->p + cursor_offset(c);
    uint32_t l4_caplen = (uint32_t)cursor_remaining(c);
    uint8_t doff_byte, flags;
    uint16_t urg, csum;
    p->l4 = L4_TCP;
    cursor_be16(c, &p->sport);
    cursor_be16(c, &p->dport);
    cursor_be32(c, &p->seq);
    cursor_be32(c, &p->ack);
    cursor_u8(c, &doff_byte);
    cursor_u8(c, &flags);
    cursor_be16(c, &p->window);
    cursor_be16(c, &csum);
    cursor_be16(c, &urg);
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_TCP, at);
    p->tcp_flags = flags;
    uint32_t hlen = (uint32_t)(doff_byte >> 4) * 4;
    p->tcp_header_len = (uint16_t)hlen;
    if (hlen < 20 || hlen > l4_len)
        return malformed(p, DISSECT_BAD_TCP_DATA_OFFSET, at + 12);
    struct cursor opts;
    if (!cursor_sub(c, hlen - 20, &opts))
        return short_read(p, DISSECT_SHORT_TCP, at + 20);
    if (tcp_options(p, &opts, at + 20) != DISSECT_OK)
        return p->error;
    p->payload = start + hlen;
    p->payload_len = l4_len - hlen;
    p->payload_caplen = l4_caplen - hlen;
    if (p->payload_caplen > p->payload_len)
        p->payload_caplen = p->payload_len;
    p->l4_checksum = judge_l4_checksum(p, start, l4_caplen, l4_len, csum, true);
    return DISSECT_OK;
}

static enum dissect_error dissect_udp(struct packet *p, struct cursor *c, size_t at,
                                      uint32_t l4_len)
{
    const uint8_t *start = c->p + cursor_offset(c);
    uint32_t l4_caplen = (uint32_t)cursor_remaining(c);
    uint16_t csum;
    p->l4 = L4_UDP;
    cursor_be16(c, &p->sport);
    cursor_be16(c, &p->dport);
    cursor_be16(c, &p->udp_len);
    cursor_be16(c, &csum);
    if (!cursor_ok(c))
        return short_read(p, DISSECT_SHORT_UDP, at);
    if (p->udp_len < 8 || p->udp_len > l4_len)
        return malformed(p, DISSECT_BAD_UDP_LEN, at + 4);
    p->payload = start + 8;
    p->payload_len = p->udp_len - 8u;
    p->payload_caplen = l4_caplen - 8;
    if (p->payload_caplen > p->payload_len)
        p->payload_caplen = p->payload_len;
    if (csum == 0)
        p->l4_checksum = p->ip_version == 4 ? CSUM_UNUSED : CSUM_BAD; /* RFC 8200 8.1 */
    else
        p->l4_checksum = judge_l4_checksum(p, start, l4_caplen, p->udp_len, csum, true);
    return DISSECT_OK;
}

static bool icmp_is_error(const struct packet *p)
{
    if (p->l4 == L4_ICMP)
        return p->icmp_type == WC_ICMP_DEST_UNREACH || p->icmp_type == WC_ICMP_SOURCE_QUENCH ||
               p->icmp_type == WC_ICMP_REDIRECT || p->icmp_type == WC_ICMP_TIME_EXCEEDED ||
               p->icmp_type == WC_ICMP_PARAM_PROBLEM;
    return p->icmp_type >= WC_ICMP6_DEST_UNREACH && p->icmp_type <= WC_ICMP6_PARAM_PROBLEM;
}

/* The quoted datagram of an ICMP error: its IP header and first 8 L4 bytes.
 * Anything missing just leaves quote.present false. */
static void dissect_icmp_quote(struct packet *p, struct cursor *c)
{
    struct icmp_quote *q = &p->quote;
    uint8_t vihl;
    if (!cursor_peek_u8(c, 0, &vihl))
        return;
    if (p->l4 == L4_ICMP) {
        size_t ihl = (size_t)(vihl & 0x0f) * 4;
        if (vihl >> 4 != 4 || ihl < 20)
            return;
        cursor_skip(c, 9);
        cursor_u8(c, &q->proto);
        cursor_skip(c, 2);
        q->src.ip.family = q->dst.ip.family = 4;
        cursor_copy(c, q->src.ip.bytes, 4);
        cursor_copy(c, q->dst.ip.bytes, 4);
        cursor_skip(c, ihl - 20);
    } else {
        if (vihl >> 4 != 6)
            return;
        cursor_skip(c, 6);
        cursor_u8(c, &q->proto);
        cursor_skip(c, 1);
        q->src.ip.family = q->dst.ip.family = 6;
        cursor_copy(c, q->src.ip.bytes, 16);
        cursor_copy(c, q->dst.ip.bytes, 16);
    }
    if (q->proto != WC_IPPROTO_TCP && q->proto != WC_IPPROTO_UDP)
        return;
    cursor_be16(c, &q->src.port);
    cursor_be16(c, &q->dst.port);
    cursor_be32(c, &q->tcp_seq);
    q->present = cursor_ok(c);
}

static enum dissect_error dissect_icmp(struct packet *p, struct cursor *c, size_t at,
                                       uint32_t l4_len, bool v6)
{
    const uint8_t *start = c->p + cursor_offset(c);
    uint32_t l4_caplen = (uint32_t)cursor_remaining(c);
    uint16_t csum;
    p->l4 = v6 ? L4_ICMPV6 : L4_ICMP;
    cursor_u8(c, &p->icmp_type);
    cursor_u8(c, &p->icmp_code);
    cursor_be16(c, &csum);
    cursor_skip(c, 4);
    if (!cursor_ok(c) || l4_len < 8)
        return l4_len < 8 ? malformed(p, DISSECT_SHORT_ICMP, at)
                          : short_read(p, DISSECT_SHORT_ICMP, at);
    p->payload = start + 8;
    p->payload_len = l4_len - 8;
    p->payload_caplen = l4_caplen - 8;
    if (p->payload_caplen > p->payload_len)
        p->payload_caplen = p->payload_len;
    p->l4_checksum = judge_l4_checksum(p, start, l4_caplen, l4_len, csum, v6);
    if (icmp_is_error(p)) {
        struct cursor quote;
        cursor_rest(c, &quote);
        dissect_icmp_quote(p, &quote);
    }
    return DISSECT_OK;
}

/* Decodes the upper layer in c (the captured part of l4_len bytes). */
static enum dissect_error dissect_l4(struct packet *p, struct cursor *c, size_t at,
                                     uint32_t l4_len)
{
    switch (p->proto) {
    case WC_IPPROTO_TCP: return dissect_tcp(p, c, at, l4_len);
    case WC_IPPROTO_UDP: return dissect_udp(p, c, at, l4_len);
    case WC_IPPROTO_ICMP:
        if (p->ip_version == 4)
            return dissect_icmp(p, c, at, l4_len, false);
        break;
    case WC_IPPROTO_ICMPV6:
        if (p->ip_version == 6)
            return dissect_icmp(p, c, at, l4_len, true);
        break;
    default:
        break;
    }
    p->l4 = L4_OTHER;
    return DISSECT_OK;
}

enum dissect_error dissect_transport(struct packet *p, const uint8_t *l4, uint32_t len)
{
    struct cursor c;
    cursor_init(&c, l4, len);
    p->error = DISSECT_OK;
    p->is_fragment = false; /* now a whole datagram */
    p->reassembled = true;
    p->ip_payload = l4;
    p->ip_payload_caplen = len;
    p->ip_payload_len = len;
    p->l4 = L4_NONE;
    return dissect_l4(p, &c, p->ip_header_len, len);
}

/* ---- network ------------------------------------------------------------- */

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
    cursor_u8(c, &vihl);
    cursor_u8(c, &tos);
    cursor_be16(c, &total);
    cursor_be16(c, &id);
    cursor_be16(c, &frag);
    cursor_u8(c, &p->ttl);
    cursor_u8(c, &p->proto);
    cursor_be16(c, &csum);
    p->src.family = p->dst.family = 4;
    cursor_copy(c, p->src.bytes, 4);
    cursor_copy(c, p->dst.bytes, 4);
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
    if (hlen < 20 || hlen > tot)
        return malformed(p, DISSECT_BAD_IP_HEADER_LEN, at);
    if (tot > wire_left)
        return malformed(p, DISSECT_BAD_IP_TOTAL_LEN, at + 2);
    if (!cursor_skip(c, hlen - 20))
        return short_read(p, DISSECT_SHORT_IP, at + 20);
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
    if (wire_left < 40)
        return malformed(p, DISSECT_BAD_IP_TOTAL_LEN, at + 4);
    uint32_t payload = plen ? plen : (uint32_t)(wire_left - 40); /* 0: jumbo/TSO */
    if (payload > wire_left - 40)
        return malformed(p, DISSECT_BAD_IP_TOTAL_LEN, at + 4);

    uint32_t ext_len = 0;
    for (int n = 0; is_ipv6_ext(nh); n++) {
        size_t here = at + 40 + ext_len;
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
    p->ip_header_len = (uint16_t)(40 + ext_len);
    if (nh == WC_IPPROTO_NONE) {
        p->l4 = L4_NONE;
        return DISSECT_OK;
    }
    return dissect_ip_payload(p, c, at + 40 + ext_len, payload - ext_len);
}

static enum dissect_error dissect_ip(struct packet *p, struct cursor *c, size_t at,
                                     int want_version)
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

/* ---- link layers --------------------------------------------------------- */

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
