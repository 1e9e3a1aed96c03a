#include "packet_builder.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect.h"
#include "inet_csum.h"

/* Linux cooked capture packet types (linux/if_packet.h's PACKET_HOST and
 * PACKET_OUTGOING). */
enum { SLL_TO_US = 0, SLL_SENT_BY_US = 4 };

/* The family values a BSD loopback header holds: AF_INET everywhere,
 * AF_INET6 as Linux (NULL, host order) and OpenBSD (LOOP, network order)
 * number it. */
enum { LOOP_AF_INET6_OPENBSD = 24 };

void pb_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void pb_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

struct pb_addr pb_addr(const char *text)
{
    struct pb_addr a;
    memset(&a, 0, sizeof a);
    if (inet_pton(AF_INET, text, a.b) == 1)
        a.family = 4;
    else if (inet_pton(AF_INET6, text, a.b) == 1)
        a.family = 6;
    return a;
}

struct pb_addr pb_addr4(uint32_t host_order)
{
    struct pb_addr a;
    memset(&a, 0, sizeof a);
    a.family = 4;
    pb_put32(a.b, host_order);
    return a;
}

/* The sum of the TCP/UDP/ICMPv6 pseudo-header, not folded. */
static uint32_t pseudo_header_sum(const struct pb_addr *src, const struct pb_addr *dst,
                                  uint8_t proto, uint32_t len)
{
    size_t n = src->family == 4 ? 4 : 16;
    uint32_t sum = inet_sum(0, src->b, n);
    sum = inet_sum(sum, dst->b, n);
    return sum + proto + (len >> 16) + (len & 0xffff);
}

void pb_fill_l4_checksum(uint8_t *l4, size_t len, size_t field, const struct pb_addr *src,
                         const struct pb_addr *dst, uint8_t proto, enum pb_csum how)
{
    pb_put16(l4 + field, 0);
    if (how == PB_CSUM_NONE)
        return;
    uint32_t pseudo = pseudo_header_sum(src, dst, proto, (uint32_t)len);
    uint16_t c;
    if (how == PB_CSUM_PARTIAL) {
        c = inet_fold(pseudo);
    } else {
        c = (uint16_t)~inet_fold(inet_sum(pseudo, l4, len));
        if (c == 0 && proto == IPPROTO_UDP)
            c = 0xffff; /* UDP: 0 means "no checksum" */
        if (how == PB_CSUM_BAD)
            c = (uint16_t)(c ^ 0x5a5a);
    }
    pb_put16(l4 + field, c);
}

/* ---- transport ---------------------------------------------------------- */

size_t pb_tcp_segment(uint8_t *out, size_t cap, const struct pb_addr *src,
                      const struct pb_addr *dst, const struct pb_tcp *t)
{
    size_t olen = (t->opts_len + 3) / 4 * 4;
    size_t hlen = 20 + olen, len = hlen + t->payload_len;
    if (len > cap || hlen > 60)
        return 0;
    pb_put16(out, t->sport);
    pb_put16(out + 2, t->dport);
    pb_put32(out + 4, t->seq);
    pb_put32(out + 8, t->ack);
    out[12] = (uint8_t)(hlen / 4 << 4);
    out[13] = t->flags;
    pb_put16(out + 14, t->window ? t->window : 512);
    pb_put16(out + 18, 0);
    memset(out + 20, TCPOPT_NOP, olen);
    if (t->opts_len)
        memcpy(out + 20, t->opts, t->opts_len);
    if (t->payload_len)
        memcpy(out + hlen, t->payload, t->payload_len);
    pb_fill_l4_checksum(out, len, 16, src, dst, IPPROTO_TCP, t->csum);
    return len;
}

size_t pb_udp_datagram(uint8_t *out, size_t cap, const struct pb_addr *src,
                       const struct pb_addr *dst, uint16_t sport, uint16_t dport,
                       const void *payload, size_t payload_len, enum pb_csum csum)
{
    size_t len = 8 + payload_len;
    if (len > cap || len > 0xffff)
        return 0;
    pb_put16(out, sport);
    pb_put16(out + 2, dport);
    pb_put16(out + 4, (uint16_t)len);
    if (payload_len)
        memcpy(out + 8, payload, payload_len);
    pb_fill_l4_checksum(out, len, 6, src, dst, IPPROTO_UDP, csum);
    return len;
}

size_t pb_icmp_error(uint8_t *out, size_t cap, const struct pb_addr *src,
                     const struct pb_addr *dst, uint8_t type, uint8_t code,
                     const uint8_t *quoted, size_t quoted_len)
{
    size_t len = 8 + quoted_len;
    if (len > cap)
        return 0;
    memset(out, 0, 8);
    out[0] = type;
    out[1] = code;
    memcpy(out + 8, quoted, quoted_len);
    /* ICMPv6 sums a pseudo-header, ICMP (v4) does not. */
    uint32_t sum = src->family == 6 ? pseudo_header_sum(src, dst, IPPROTO_ICMPV6, (uint32_t)len) : 0;
    pb_put16(out + 2, (uint16_t)~inet_fold(inet_sum(sum, out, len)));
    return len;
}

size_t pb_port_unreachable(uint8_t *out, size_t cap, const struct pb_addr *client,
                           const struct pb_addr *server, uint16_t cport, uint16_t sport,
                           const void *payload, size_t len, enum pb_csum csum,
                           uint16_t quoted_ip_id)
{
    static uint8_t dg[PB_MAX_FRAME], ip[PB_MAX_FRAME];
    size_t n = pb_udp_datagram(dg, sizeof dg, client, server, cport, sport, payload, len, csum);
    struct pb_ip x = {.id = quoted_ip_id};
    n = pb_ip_packet(ip, sizeof ip, client, server, IPPROTO_UDP, dg, n, &x);
    bool v6 = client->family == 6;
    size_t quoted = n < 548 ? n : 548; /* 576 bytes (RFC 1812) less the IPv4 and ICMP headers */
    return pb_icmp_error(out, cap, server, client, v6 ? ICMP6_DST_UNREACH : ICMP_DEST_UNREACH,
                         v6 ? ICMP6_DST_UNREACH_NOPORT : ICMP_PORT_UNREACH, ip, quoted);
}

/* The 10-byte timestamps option. */
static void put_timestamps(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
    o[0] = TCPOPT_TIMESTAMP;
    o[1] = TCPOLEN_TIMESTAMP;
    pb_put32(o + 2, tsval);
    pb_put32(o + 6, tsecr);
}

size_t pb_syn_options_linux(uint8_t out[PB_SYN_OPTIONS_LEN], uint16_t mss, uint32_t tsval,
                            uint32_t tsecr, uint8_t wscale)
{
    out[0] = TCPOPT_MAXSEG;
    out[1] = TCPOLEN_MAXSEG;
    pb_put16(out + 2, mss);
    out[4] = TCPOPT_SACK_PERMITTED;
    out[5] = TCPOLEN_SACK_PERMITTED;
    put_timestamps(out + 6, tsval, tsecr);
    out[16] = TCPOPT_NOP;
    out[17] = TCPOPT_WINDOW;
    out[18] = TCPOLEN_WINDOW;
    out[19] = wscale;
    return PB_SYN_OPTIONS_LEN;
}

size_t pb_ts_options(uint8_t out[PB_TS_OPTIONS_LEN], uint32_t tsval, uint32_t tsecr)
{
    out[0] = TCPOPT_NOP;
    out[1] = TCPOPT_NOP;
    put_timestamps(out + 2, tsval, tsecr);
    return PB_TS_OPTIONS_LEN;
}

const uint8_t pb_syn_options[PB_SYN_OPTIONS_LEN] = {
    TCPOPT_MAXSEG, TCPOLEN_MAXSEG, 0x05, 0xb4,         /* 1460 */
    TCPOPT_SACK_PERMITTED, TCPOLEN_SACK_PERMITTED,
    TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP, 0, 0, 0, 1, 0, 0, 0, 0,
    TCPOPT_NOP, TCPOPT_WINDOW, TCPOLEN_WINDOW, 7,
};

/* ---- network ------------------------------------------------------------- */

/* An empty IPv6 hop-by-hop or destination options header: a PadN option
 * filling its 6 bytes. */
static void ipv6_empty_options(uint8_t *p)
{
    memset(p, 0, 8);
    p[2] = IP6OPT_PADN;
    p[3] = 4;
}

size_t pb_ip_packet(uint8_t *out, size_t cap, const struct pb_addr *src,
                    const struct pb_addr *dst, uint8_t proto, const uint8_t *l4,
                    size_t l4_len, const struct pb_ip *x)
{
    static const struct pb_ip none;
    if (!x)
        x = &none;
    if (src->family == 4) {
        size_t hlen = 20 + x->ipv4_options, len = hlen + l4_len;
        if (len > cap || len > 0xffff || hlen > 60)
            return 0;
        out[0] = (uint8_t)(0x40 | hlen / 4);
        out[1] = 0;
        pb_put16(out + 2, (uint16_t)len);
        pb_put16(out + 4, x->id);
        pb_put16(out + 6, (uint16_t)((x->df ? 0x4000 : 0) | (x->mf ? 0x2000 : 0) | (x->frag_offset / 8)));
        out[8] = x->ttl ? x->ttl : 64;
        out[9] = proto;
        pb_put16(out + 10, 0);
        memcpy(out + 12, src->b, 4);
        memcpy(out + 16, dst->b, 4);
        memset(out + 20, IPOPT_NOP, x->ipv4_options);
        uint16_t c = (uint16_t)~inet_fold(inet_sum(0, out, hlen));
        pb_put16(out + 10, x->bad_checksum ? (uint16_t)(c ^ 0x1111) : c);
        memcpy(out + hlen, l4, l4_len);
        return len;
    }
    size_t ext = (x->ipv6_hop_by_hop ? 8 : 0) + (x->ipv6_dest_opts ? 8 : 0) + (x->ipv6_frag_header ? 8 : 0);
    size_t len = 40 + ext + l4_len;
    if (len > cap || ext + l4_len > 0xffff)
        return 0;
    pb_put32(out, 0x60000000u);
    pb_put16(out + 4, (uint16_t)(ext + l4_len));
    out[7] = x->ttl ? x->ttl : 64;
    memcpy(out + 8, src->b, 16);
    memcpy(out + 24, dst->b, 16);
    uint8_t *nh = out + 6, *p = out + 40;
    if (x->ipv6_hop_by_hop) {
        *nh = IPPROTO_HOPOPTS;
        ipv6_empty_options(p);
        nh = p; p += 8;
    }
    if (x->ipv6_dest_opts) {
        *nh = IPPROTO_DSTOPTS;
        ipv6_empty_options(p);
        nh = p; p += 8;
    }
    if (x->ipv6_frag_header) {
        *nh = IPPROTO_FRAGMENT;
        memset(p, 0, 8);
        pb_put16(p + 2, (uint16_t)(x->frag_offset | (x->mf ? 1 : 0)));
        pb_put32(p + 4, x->id);
        nh = p; p += 8;
    }
    *nh = proto;
    memcpy(p, l4, l4_len);
    return len;
}

/* ---- link layers --------------------------------------------------------- */

/* The link header for an IPv4 (ip_version 4) or IPv6 packet into hdr (64
 * bytes); returns its length. */
static size_t link_header(uint8_t *hdr, const struct pb_link *link, int ip_version)
{
    static const uint8_t default_dst[6] = {2, 0, 0, 0, 0, 2}, default_src[6] = {2, 0, 0, 0, 0, 1};
    bool v6 = ip_version == 6;
    uint16_t ethertype = v6 ? ETH_P_IPV6 : ETH_P_IP;
    uint16_t sll_type = link->incoming ? SLL_TO_US : SLL_SENT_BY_US;
    size_t h = 0;
    memset(hdr, 0, 64);
    switch (link->linktype) {
    case WC_LINK_EN10MB:
        memcpy(hdr, link->dst_mac ? link->dst_mac : default_dst, 6);
        memcpy(hdr + 6, link->src_mac ? link->src_mac : default_src, 6);
        h = 12;
        for (int i = 0; i < link->vlan_tags && i < 4; i++) {
            pb_put16(hdr + h, i == 0 && link->vlan_tags > 1 ? ETH_P_8021AD : ETH_P_8021Q);
            pb_put16(hdr + h + 2, (uint16_t)(100 + i));
            h += 4;
        }
        pb_put16(hdr + h, ethertype);
        h += 2;
        break;
    case WC_LINK_LINUX_SLL:
        pb_put16(hdr, sll_type);
        pb_put16(hdr + 2, ARPHRD_LOOPBACK);
        pb_put16(hdr + 4, 6); /* address length */
        pb_put16(hdr + 14, ethertype);
        h = 16;
        break;
    case WC_LINK_LINUX_SLL2:
        pb_put16(hdr, ethertype);
        pb_put32(hdr + 4, 1); /* ifindex */
        pb_put16(hdr + 8, ARPHRD_LOOPBACK);
        hdr[10] = (uint8_t)sll_type;
        hdr[11] = 6;          /* address length */
        h = 20;
        break;
    case WC_LINK_NULL:        /* host (little-endian here) order */
        hdr[0] = v6 ? AF_INET6 : AF_INET;
        h = 4;
        break;
    case WC_LINK_LOOP:
        pb_put32(hdr, v6 ? LOOP_AF_INET6_OPENBSD : AF_INET);
        h = 4;
        break;
    default:
        h = 0;
        break;
    }
    return h;
}

size_t pb_frame(uint8_t *out, size_t cap, const struct pb_link *link, const uint8_t *ip,
                size_t ip_len)
{
    uint8_t hdr[64];
    size_t h = link_header(hdr, link, ip_len ? ip[0] >> 4 : 4);
    if (h + ip_len > cap)
        return 0;
    memcpy(out, hdr, h);
    memcpy(out + h, ip, ip_len);
    return h + ip_len;
}

size_t pb_link_frame(uint8_t *out, size_t cap, int linktype, int vlan_tags, const uint8_t *ip,
                     size_t ip_len)
{
    struct pb_link link = {.linktype = linktype, .vlan_tags = vlan_tags};
    return pb_frame(out, cap, &link, ip, ip_len);
}

size_t pb_wrap(uint8_t *out, size_t cap, const struct pb_link *link, const struct pb_addr *src,
               const struct pb_addr *dst, uint8_t proto, const uint8_t *l4, size_t l4_len,
               const struct pb_ip *x)
{
    uint8_t hdr[64];
    size_t h = link_header(hdr, link, src->family);
    if (h > cap)
        return 0;
    size_t n = pb_ip_packet(out + h, cap - h, src, dst, proto, l4, l4_len, x);
    if (n == 0)
        return 0;
    memcpy(out, hdr, h);
    return h + n;
}

/* ---- conversation driver ----------------------------------------------------- */

void pb_conv_init(struct pb_conv *c, int linktype, const char *client, uint16_t cport,
                  const char *server, uint16_t sport,
                  void (*emit)(void *ctx, const uint8_t *frame, size_t len), void *ctx)
{
    memset(c, 0, sizeof *c);
    c->linktype = linktype;
    c->addr[0] = pb_addr(client);
    c->addr[1] = pb_addr(server);
    c->port[0] = cport;
    c->port[1] = sport;
    c->seq[0] = 1000;
    c->seq[1] = 5000;
    c->emit = emit;
    c->ctx = ctx;
}

/* Wraps an L4 message from `side` and hands the frame to emit(). */
static void conv_emit(struct pb_conv *c, int side, uint8_t proto, const uint8_t *l4, size_t len)
{
    static uint8_t frame[PB_MAX_FRAME];
    struct pb_link link = {.linktype = c->linktype};
    struct pb_ip x = {.id = c->ip_id[side]++};
    size_t n = pb_wrap(frame, sizeof frame, &link, &c->addr[side], &c->addr[1 - side], proto, l4,
                       len, &x);
    c->emit(c->ctx, frame, n);
}

void pb_conv_tcp_raw(struct pb_conv *c, int side, uint8_t flags, uint32_t seq, uint32_t ack,
                     const uint8_t *opts, size_t opts_len, const void *payload, size_t len)
{
    static uint8_t seg[PB_MAX_FRAME];
    struct pb_tcp t = {
        .sport = c->port[side], .dport = c->port[1 - side], .seq = seq, .ack = ack,
        .flags = flags, .window = 512, .opts = opts, .opts_len = opts_len,
        .payload = payload, .payload_len = len, .csum = c->csum,
    };
    size_t n = pb_tcp_segment(seg, sizeof seg, &c->addr[side], &c->addr[1 - side], &t);
    conv_emit(c, side, IPPROTO_TCP, seg, n);
}

void pb_conv_tcp(struct pb_conv *c, int side, uint8_t flags, const void *payload, size_t len)
{
    bool syn = flags & TCP_SYN;
    pb_conv_tcp_raw(c, side, flags, c->seq[side], (flags & TCP_ACK) ? c->seq[1 - side] : 0,
                    syn ? pb_syn_options : NULL, syn ? sizeof pb_syn_options : 0, payload, len);
    c->seq[side] += (uint32_t)len + (syn ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
}

void pb_conv_udp(struct pb_conv *c, int side, const void *payload, size_t len)
{
    static uint8_t dg[PB_MAX_FRAME];
    size_t n = pb_udp_datagram(dg, sizeof dg, &c->addr[side], &c->addr[1 - side], c->port[side],
                               c->port[1 - side], payload, len, c->csum);
    conv_emit(c, side, IPPROTO_UDP, dg, n);
}

void pb_conv_port_unreachable(struct pb_conv *c, const void *payload, size_t len)
{
    static uint8_t icmp[PB_MAX_FRAME];
    size_t n = pb_port_unreachable(icmp, sizeof icmp, &c->addr[0], &c->addr[1], c->port[0],
                                   c->port[1], payload, len, c->csum,
                                   (uint16_t)(c->ip_id[0] - 1) /* the client's last datagram */);
    conv_emit(c, 1, c->addr[0].family == 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, icmp, n);
}

void pb_conv_handshake(struct pb_conv *c)
{
    pb_conv_tcp(c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp(c, 1, TCP_SYN | TCP_ACK, NULL, 0);
    pb_conv_tcp(c, 0, TCP_ACK, NULL, 0);
}

void pb_conv_clean_session(struct pb_conv *c, const char *request, const char *reply)
{
    pb_conv_handshake(c);
    if (request && *request) {
        pb_conv_tcp(c, 0, TCP_PSH | TCP_ACK, request, strlen(request));
        pb_conv_tcp(c, 1, TCP_ACK, NULL, 0);
    }
    if (reply && *reply) {
        pb_conv_tcp(c, 1, TCP_PSH | TCP_ACK, reply, strlen(reply));
        pb_conv_tcp(c, 0, TCP_ACK, NULL, 0);
    }
    pb_conv_tcp(c, 0, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp(c, 1, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp(c, 0, TCP_ACK, NULL, 0);
}
