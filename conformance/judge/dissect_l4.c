/* dissect_l4: the upper layers (TCP and its options, UDP, ICMP and ICMPv6
 * with the quoted header of an error) and their checksums, over the cursor.
 * See dissect.h for the contract, dissect_internal.h for the shared part. */
#include <string.h>

#include "dissect_internal.h"
#include "inet_csum.h"

/* ---- checksums ---------------------------------------------------------- */

static uint32_t pseudo_header_sum(const struct packet *p, uint32_t l4_len)
{
    size_t alen = p->src.family == 4 ? 4 : 16;
    const struct ip_addr *dst = p->final_dst.family ? &p->final_dst : &p->dst;
    /* The addresses' 16-bit words added straight (no call per address for
     * 2 or 8 words): the sum is folded later, and a one's complement sum
     * folds the same however it was carried (it is never 0: proto is not). */
    uint32_t sum = 0;
    for (size_t i = 0; i < alen; i += 2)
        sum += (uint32_t)(p->src.bytes[i] << 8 | p->src.bytes[i + 1]) +
               (uint32_t)(dst->bytes[i] << 8 | dst->bytes[i + 1]);
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

/* The payload after an `hdr`-byte header of an upper layer `len` bytes long
 * (as its headers claim) of which l4_caplen were captured. */
static void set_payload(struct packet *p, const uint8_t *l4, uint32_t hdr, uint32_t len,
                        uint32_t l4_caplen)
{
    p->payload = l4 + hdr;
    p->payload_len = len - hdr;
    p->payload_caplen = l4_caplen - hdr;
    if (p->payload_caplen > p->payload_len)
        p->payload_caplen = p->payload_len;
}

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

static enum dissect_error dissect_tcp_rest(struct packet *p, struct cursor *c, size_t at,
                                           uint32_t l4_len, const uint8_t *start,
                                           uint32_t l4_caplen, uint8_t doff_byte, uint8_t flags,
                                           uint16_t csum);

static enum dissect_error dissect_tcp(struct packet *p, struct cursor *c, size_t at,
                                      uint32_t l4_len)
{
    const uint8_t *start = c->p + cursor_offset(c);
    uint32_t l4_caplen = (uint32_t)cursor_remaining(c);
    uint8_t doff_byte, flags;
    uint16_t urg, csum;
    p->l4 = L4_TCP;
    if (l4_caplen >= WC_TCP_MIN_HEADER_LEN) {
        /* The fixed header captured whole: one bounds check, not eleven. */
        const uint8_t *h = start;
        p->sport = (uint16_t)(h[0] << 8 | h[1]);
        p->dport = (uint16_t)(h[2] << 8 | h[3]);
        p->seq = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
        p->ack = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
        doff_byte = h[12];
        flags = h[13];
        p->window = (uint16_t)(h[14] << 8 | h[15]);
        csum = (uint16_t)(h[16] << 8 | h[17]);
        cursor_skip(c, WC_TCP_MIN_HEADER_LEN);
        return dissect_tcp_rest(p, c, at, l4_len, start, l4_caplen, doff_byte, flags, csum);
    }
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
    (void)urg;
    return dissect_tcp_rest(p, c, at, l4_len, start, l4_caplen, doff_byte, flags, csum);
}

/* dissect_tcp past the fixed header's fields: the data offset, options,
 * payload and checksum. */
static enum dissect_error dissect_tcp_rest(struct packet *p, struct cursor *c, size_t at,
                                           uint32_t l4_len, const uint8_t *start,
                                           uint32_t l4_caplen, uint8_t doff_byte, uint8_t flags,
                                           uint16_t csum)
{
    p->tcp_flags = flags;
    uint32_t hlen = (uint32_t)(doff_byte >> 4) * 4;
    p->tcp_header_len = (uint16_t)hlen;
    if (hlen < WC_TCP_MIN_HEADER_LEN || hlen > l4_len)
        return malformed(p, DISSECT_BAD_TCP_DATA_OFFSET, at + 12);
    struct cursor opts;
    if (!cursor_sub(c, hlen - WC_TCP_MIN_HEADER_LEN, &opts))
        return short_read(p, DISSECT_SHORT_TCP, at + WC_TCP_MIN_HEADER_LEN);
    if (tcp_options(p, &opts, at + WC_TCP_MIN_HEADER_LEN) != DISSECT_OK)
        return p->error;
    set_payload(p, start, hlen, l4_len, l4_caplen);
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
    if (p->udp_len < WC_UDP_HEADER_LEN || p->udp_len > l4_len)
        return malformed(p, DISSECT_BAD_UDP_LEN, at + 4);
    set_payload(p, start, WC_UDP_HEADER_LEN, p->udp_len, l4_caplen);
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
        if (vihl >> 4 != 4 || ihl < WC_IPV4_MIN_HEADER_LEN)
            return;
        cursor_skip(c, 9);
        cursor_u8(c, &q->proto);
        cursor_skip(c, 2);
        q->src.ip.family = q->dst.ip.family = 4;
        cursor_copy(c, q->src.ip.bytes, 4);
        cursor_copy(c, q->dst.ip.bytes, 4);
        cursor_skip(c, ihl - WC_IPV4_MIN_HEADER_LEN);
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
    if (!cursor_ok(c) || l4_len < WC_ICMP_HEADER_LEN)
        return l4_len < WC_ICMP_HEADER_LEN ? malformed(p, DISSECT_SHORT_ICMP, at)
                          : short_read(p, DISSECT_SHORT_ICMP, at);
    set_payload(p, start, WC_ICMP_HEADER_LEN, l4_len, l4_caplen);
    p->l4_checksum = judge_l4_checksum(p, start, l4_caplen, l4_len, csum, v6);
    if (icmp_is_error(p)) {
        struct cursor quote;
        cursor_rest(c, &quote);
        dissect_icmp_quote(p, &quote);
    }
    return DISSECT_OK;
}

/* Decodes the upper layer in c (the captured part of l4_len bytes). */
enum dissect_error dissect_l4(struct packet *p, struct cursor *c, size_t at,
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
