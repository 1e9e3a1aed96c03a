/* packet_builder: header-only helpers that build test frames (Ethernet /
 * Linux cooked v1, v2 / BSD null, loop / raw IP around IPv4 or IPv6 around
 * TCP, UDP or ICMP) with correct checksums, plus a small TCP/UDP
 * "conversation" driver that keeps sequence numbers for you.
 *
 * Shared by the conformance unit tests and the fuzz seeds. Every function
 * writes into a caller buffer and returns the bytes written (0 if it would
 * not fit). Checksums are computed here independently of dissect.c, so a
 * test comparing the two can fail. */
#ifndef WIRECHECK_PACKET_BUILDER_H
#define WIRECHECK_PACKET_BUILDER_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PB_MAX_FRAME 70000

static inline void pb_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void pb_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static inline uint32_t pb_sum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static inline uint16_t pb_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* An address from text ("10.0.0.1", "::1"); family 4 or 6. */
struct pb_addr {
    int family;
    uint8_t b[16];
};

static inline struct pb_addr pb_addr(const char *text)
{
    struct pb_addr a;
    memset(&a, 0, sizeof a);
    if (inet_pton(AF_INET, text, a.b) == 1)
        a.family = 4;
    else if (inet_pton(AF_INET6, text, a.b) == 1)
        a.family = 6;
    return a;
}

static inline uint32_t pb_pseudo_sum(const struct pb_addr *src, const struct pb_addr *dst,
                                     uint8_t proto, uint32_t len)
{
    size_t n = src->family == 4 ? 4 : 16;
    uint32_t sum = pb_sum(0, src->b, n);
    sum = pb_sum(sum, dst->b, n);
    return sum + proto + (len >> 16) + (len & 0xffff);
}

/* How the TCP/UDP checksum field is filled. */
enum pb_csum { PB_CSUM_GOOD, PB_CSUM_BAD, PB_CSUM_PARTIAL /* pseudo-header sum, as offload leaves it */ };

static inline void pb_fill_l4_checksum(uint8_t *l4, size_t len, size_t field,
                                       const struct pb_addr *src, const struct pb_addr *dst,
                                       uint8_t proto, enum pb_csum how)
{
    pb_put16(l4 + field, 0);
    uint32_t pseudo = pb_pseudo_sum(src, dst, proto, (uint32_t)len);
    uint16_t c;
    if (how == PB_CSUM_PARTIAL) {
        c = pb_fold(pseudo);
    } else {
        c = (uint16_t)~pb_fold(pb_sum(pseudo, l4, len));
        if (c == 0 && proto == 17)
            c = 0xffff; /* UDP: 0 means "no checksum" */
        if (how == PB_CSUM_BAD)
            c = (uint16_t)(c ^ 0x5a5a);
    }
    pb_put16(l4 + field, c);
}

/* ---- transport ---------------------------------------------------------- */

struct pb_tcp {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;            /* TCP_* bits from dissect.h: FIN 1 SYN 2 RST 4 PSH 8 ACK 16 */
    uint16_t window;
    const uint8_t *opts;      /* raw option bytes, padded with NOPs to 4 */
    size_t opts_len;
    const void *payload;
    size_t payload_len;
    enum pb_csum csum;
};

static inline size_t pb_tcp_segment(uint8_t *out, size_t cap, const struct pb_addr *src,
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
    memset(out + 20, 1, olen);
    if (t->opts_len)
        memcpy(out + 20, t->opts, t->opts_len);
    if (t->payload_len)
        memcpy(out + hlen, t->payload, t->payload_len);
    pb_fill_l4_checksum(out, len, 16, src, dst, 6, t->csum);
    return len;
}

static inline size_t pb_udp_datagram(uint8_t *out, size_t cap, const struct pb_addr *src,
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
    pb_fill_l4_checksum(out, len, 6, src, dst, 17, csum);
    return len;
}

/* ICMP (v4) or ICMPv6 error quoting `quoted` (an IP packet, first bytes). */
static inline size_t pb_icmp_error(uint8_t *out, size_t cap, const struct pb_addr *src,
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
    uint32_t sum = src->family == 6 ? pb_pseudo_sum(src, dst, 58, (uint32_t)len) : 0;
    pb_put16(out + 2, (uint16_t)~pb_fold(pb_sum(sum, out, len)));
    return len;
}

/* ---- network ------------------------------------------------------------- */

struct pb_ip {
    uint8_t ttl;              /* 0: 64 */
    uint16_t id;
    bool df, mf;
    uint16_t frag_offset;     /* bytes, multiple of 8 */
    bool ipv6_frag_header;    /* IPv6: add a fragment header (uses id/mf/offset) */
    bool ipv6_hop_by_hop;     /* IPv6: add an empty hop-by-hop header first */
    bool ipv6_dest_opts;      /* IPv6: add an empty destination options header */
    size_t ipv4_options;      /* IPv4: this many bytes of NOP options (multiple of 4) */
    bool bad_checksum;        /* IPv4 header checksum */
};

static inline size_t pb_ip_packet(uint8_t *out, size_t cap, const struct pb_addr *src,
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
        memset(out + 20, 1, x->ipv4_options);
        uint16_t c = (uint16_t)~pb_fold(pb_sum(0, out, hlen));
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
        *nh = 0;
        memset(p, 0, 8);
        p[2] = 1; p[3] = 4; /* PadN option filling the 6 bytes */
        nh = p; p += 8;
    }
    if (x->ipv6_dest_opts) {
        *nh = 60;
        memset(p, 0, 8);
        p[2] = 1; p[3] = 4;
        nh = p; p += 8;
    }
    if (x->ipv6_frag_header) {
        *nh = 44;
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

/* Wraps an IP packet for `linktype` (1 Ethernet, 113 SLL, 276 SLL2, 0 NULL,
 * 108 LOOP, 12/101 raw, 228/229). vlan_tags: 802.1Q tags for Ethernet. */
static inline size_t pb_link_frame(uint8_t *out, size_t cap, int linktype, int vlan_tags,
                                   const uint8_t *ip, size_t ip_len)
{
    uint16_t ethertype = (ip_len && ip[0] >> 4 == 6) ? 0x86DD : 0x0800;
    size_t h = 0;
    uint8_t hdr[64];
    memset(hdr, 0, sizeof hdr);
    switch (linktype) {
    case 1:
        memcpy(hdr, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
        h = 12;
        for (int i = 0; i < vlan_tags && i < 4; i++) {
            pb_put16(hdr + h, i == 0 && vlan_tags > 1 ? 0x88A8 : 0x8100);
            pb_put16(hdr + h + 2, (uint16_t)(100 + i));
            h += 4;
        }
        pb_put16(hdr + h, ethertype);
        h += 2;
        break;
    case 113:
        pb_put16(hdr, 4);     /* sent by us */
        pb_put16(hdr + 2, 772); /* ARPHRD_LOOPBACK */
        pb_put16(hdr + 4, 6);
        pb_put16(hdr + 14, ethertype);
        h = 16;
        break;
    case 276:
        pb_put16(hdr, ethertype);
        pb_put32(hdr + 4, 1); /* ifindex */
        pb_put16(hdr + 8, 772);
        hdr[10] = 4;
        hdr[11] = 6;
        h = 20;
        break;
    case 0: { /* host (little-endian here) order */
        uint32_t fam = ethertype == 0x86DD ? 10 : 2;
        hdr[0] = (uint8_t)fam;
        h = 4;
        break;
    }
    case 108:
        pb_put32(hdr, ethertype == 0x86DD ? 24 : 2);
        h = 4;
        break;
    default:
        h = 0;
        break;
    }
    if (h + ip_len > cap)
        return 0;
    memcpy(out, hdr, h);
    memcpy(out + h, ip, ip_len);
    return h + ip_len;
}

/* ---- conversation driver ----------------------------------------------------- */

/* Two endpoints exchanging TCP segments or UDP datagrams; each call builds
 * one frame and hands it to emit(). seq[side] is the next sequence number
 * each side will use; pb_conv_tcp() advances it by payload + SYN + FIN. */
struct pb_conv {
    int linktype;
    struct pb_addr addr[2];   /* [0] client, [1] server */
    uint16_t port[2];
    uint32_t seq[2];
    uint16_t ip_id[2];        /* next IPv4 id per side: +1 per packet, as a
                                 connected Linux socket numbers them */
    enum pb_csum csum;
    void (*emit)(void *ctx, const uint8_t *frame, size_t len);
    void *ctx;
};

static inline void pb_conv_init(struct pb_conv *c, int linktype, const char *client, uint16_t cport,
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

/* The usual SYN options: MSS 1460, SACK permitted, timestamps, wscale 7. */
static const uint8_t pb_syn_options[] = {
    2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
};

/* Sends one TCP segment from `side` with explicit seq/ack and options. */
static inline void pb_conv_tcp_raw(struct pb_conv *c, int side, uint8_t flags, uint32_t seq,
                                   uint32_t ack, const uint8_t *opts, size_t opts_len,
                                   const void *payload, size_t len)
{
    static uint8_t seg[PB_MAX_FRAME], ip[PB_MAX_FRAME], frame[PB_MAX_FRAME];
    struct pb_tcp t = {
        .sport = c->port[side], .dport = c->port[1 - side], .seq = seq, .ack = ack,
        .flags = flags, .window = 512, .opts = opts, .opts_len = opts_len,
        .payload = payload, .payload_len = len, .csum = c->csum,
    };
    size_t n = pb_tcp_segment(seg, sizeof seg, &c->addr[side], &c->addr[1 - side], &t);
    struct pb_ip x = { .id = c->ip_id[side]++ };
    n = pb_ip_packet(ip, sizeof ip, &c->addr[side], &c->addr[1 - side], 6, seg, n, &x);
    n = pb_link_frame(frame, sizeof frame, c->linktype, 0, ip, n);
    c->emit(c->ctx, frame, n);
}

/* Sends from `side` at its current seq, acking everything the other side
 * sent (if ACK is in flags); SYNs carry pb_syn_options. */
static inline void pb_conv_tcp(struct pb_conv *c, int side, uint8_t flags, const void *payload,
                               size_t len)
{
    bool syn = flags & 0x02;
    pb_conv_tcp_raw(c, side, flags, c->seq[side], (flags & 0x10) ? c->seq[1 - side] : 0,
                    syn ? pb_syn_options : NULL, syn ? sizeof pb_syn_options : 0, payload, len);
    c->seq[side] += (uint32_t)len + (syn ? 1 : 0) + ((flags & 0x01) ? 1 : 0);
}

static inline void pb_conv_udp(struct pb_conv *c, int side, const void *payload, size_t len)
{
    static uint8_t dg[PB_MAX_FRAME], ip[PB_MAX_FRAME], frame[PB_MAX_FRAME];
    size_t n = pb_udp_datagram(dg, sizeof dg, &c->addr[side], &c->addr[1 - side], c->port[side],
                               c->port[1 - side], payload, len, c->csum);
    struct pb_ip x = { .id = c->ip_id[side]++ };
    n = pb_ip_packet(ip, sizeof ip, &c->addr[side], &c->addr[1 - side], 17, dg, n, &x);
    n = pb_link_frame(frame, sizeof frame, c->linktype, 0, ip, n);
    c->emit(c->ctx, frame, n);
}

/* The server side answers a client datagram with ICMP port unreachable,
 * quoting the client's IP header and UDP header. */
static inline void pb_conv_port_unreachable(struct pb_conv *c, const void *payload, size_t len)
{
    static uint8_t dg[PB_MAX_FRAME], ip[PB_MAX_FRAME], icmp[PB_MAX_FRAME], out[PB_MAX_FRAME],
        frame[PB_MAX_FRAME];
    size_t n = pb_udp_datagram(dg, sizeof dg, &c->addr[0], &c->addr[1], c->port[0], c->port[1],
                               payload, len, c->csum);
    struct pb_ip qx = { .id = (uint16_t)(c->ip_id[0] - 1) }; /* the client's last datagram */
    n = pb_ip_packet(ip, sizeof ip, &c->addr[0], &c->addr[1], 17, dg, n, &qx);
    bool v6 = c->addr[0].family == 6;
    size_t q = n < 548 ? n : 548;
    n = pb_icmp_error(icmp, sizeof icmp, &c->addr[1], &c->addr[0], v6 ? 1 : 3, v6 ? 4 : 3, ip, q);
    struct pb_ip x = { .id = c->ip_id[1]++ };
    n = pb_ip_packet(out, sizeof out, &c->addr[1], &c->addr[0], v6 ? 58 : 1, icmp, n, &x);
    n = pb_link_frame(frame, sizeof frame, c->linktype, 0, out, n);
    c->emit(c->ctx, frame, n);
}

/* Whole scripted connections. */
static inline void pb_conv_handshake(struct pb_conv *c)
{
    pb_conv_tcp(c, 0, 0x02, NULL, 0);        /* SYN */
    pb_conv_tcp(c, 1, 0x12, NULL, 0);        /* SYN/ACK */
    pb_conv_tcp(c, 0, 0x10, NULL, 0);        /* ACK */
}

/* Handshake, request, reply, client FIN first, clean close. */
static inline void pb_conv_clean_session(struct pb_conv *c, const char *request, const char *reply)
{
    pb_conv_handshake(c);
    if (request && *request) {
        pb_conv_tcp(c, 0, 0x18, request, strlen(request));
        pb_conv_tcp(c, 1, 0x10, NULL, 0);
    }
    if (reply && *reply) {
        pb_conv_tcp(c, 1, 0x18, reply, strlen(reply));
        pb_conv_tcp(c, 0, 0x10, NULL, 0);
    }
    pb_conv_tcp(c, 0, 0x11, NULL, 0);        /* FIN/ACK */
    pb_conv_tcp(c, 1, 0x11, NULL, 0);        /* FIN/ACK */
    pb_conv_tcp(c, 0, 0x10, NULL, 0);        /* last ACK */
}

#endif
