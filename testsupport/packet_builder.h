/* packet_builder: builds frames for tests, the fuzz seed corpus and the
 * bench captures: Ethernet / Linux cooked v1, v2 / BSD null, loop / raw IP
 * around IPv4 or IPv6 around TCP, UDP or ICMP, with correct checksums (the
 * judge's inet_csum), plus a small TCP/UDP "conversation" driver that keeps
 * sequence numbers for you.
 *
 *   struct pb_addr c = pb_addr("10.0.0.1"), s = pb_addr("10.0.0.2");
 *   uint8_t opts[PB_SYN_OPTIONS_LEN], seg[1500], frame[PB_MAX_FRAME];
 *   struct pb_tcp t = { .sport = 40000, .dport = 80, .seq = 1, .flags = TCP_SYN,
 *                       .opts = opts, .opts_len = pb_syn_options_linux(opts, 1460, 1, 0, 7) };
 *   size_t n = pb_tcp_segment(seg, sizeof seg, &c, &s, &t);
 *   struct pb_link eth = { .linktype = 1 };
 *   struct pb_ip ip = { .id = 7, .df = true };
 *   n = pb_wrap(frame, sizeof frame, &eth, &c, &s, IPPROTO_TCP, seg, n, &ip);
 *
 * Every function writes into a caller buffer and returns the bytes written
 * (0 if it would not fit). The builder writes what the caller asks for,
 * including wrong checksums and odd header fields, so tests can give the
 * dissector both good and bad input.
 *
 * Protocol numbers are the C library's names (IPPROTO_* from
 * <netinet/in.h>, ETHERTYPE_* from <net/ethernet.h>, TCPOPT_* from
 * <netinet/tcp.h>); TCP flag bits are dissect.h's TCP_*. */
#ifndef WIRECHECK_PACKET_BUILDER_H
#define WIRECHECK_PACKET_BUILDER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PB_MAX_FRAME 70000

/* Big-endian stores. */
void pb_put16(uint8_t *p, uint16_t v);
void pb_put32(uint8_t *p, uint32_t v);

/* An address from text ("10.0.0.1", "::1"); family 4 or 6 (0: not an address). */
struct pb_addr {
    int family;
    uint8_t b[16];
};
struct pb_addr pb_addr(const char *text);
/* An IPv4 address from its host-order value (0x0A000001 is 10.0.0.1). */
struct pb_addr pb_addr4(uint32_t host_order);

/* How the TCP/UDP checksum field is filled. */
enum pb_csum {
    PB_CSUM_GOOD,
    PB_CSUM_BAD,
    PB_CSUM_PARTIAL,          /* pseudo-header sum, as offload leaves it */
    PB_CSUM_NONE,             /* 0: UDP over IPv4 "no checksum" */
};

/* Fills the checksum field at l4 + field of a `len`-byte TCP/UDP message
 * sent from src to dst (the pseudo-header's addresses). */
void pb_fill_l4_checksum(uint8_t *l4, size_t len, size_t field, const struct pb_addr *src,
                         const struct pb_addr *dst, uint8_t proto, enum pb_csum how);

/* ---- transport ---------------------------------------------------------- */

struct pb_tcp {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;            /* TCP_* bits from dissect.h: FIN 1 SYN 2 RST 4 PSH 8 ACK 16 */
    uint16_t window;          /* 0: 512 */
    const uint8_t *opts;      /* raw option bytes, padded with NOPs to 4 */
    size_t opts_len;
    const void *payload;
    size_t payload_len;
    enum pb_csum csum;
};

size_t pb_tcp_segment(uint8_t *out, size_t cap, const struct pb_addr *src,
                      const struct pb_addr *dst, const struct pb_tcp *t);

size_t pb_udp_datagram(uint8_t *out, size_t cap, const struct pb_addr *src,
                       const struct pb_addr *dst, uint16_t sport, uint16_t dport,
                       const void *payload, size_t payload_len, enum pb_csum csum);

/* ICMP (v4) or ICMPv6 error quoting `quoted` (an IP packet, first bytes). */
size_t pb_icmp_error(uint8_t *out, size_t cap, const struct pb_addr *src,
                     const struct pb_addr *dst, uint8_t type, uint8_t code,
                     const uint8_t *quoted, size_t quoted_len);

/* The ICMP (v4) or ICMPv6 port unreachable `server` sends `client` for a
 * datagram from cport to sport: it quotes (the first 548 bytes of) that
 * datagram, UDP with checksum `csum` in an IP packet with id quoted_ip_id. */
size_t pb_port_unreachable(uint8_t *out, size_t cap, const struct pb_addr *client,
                           const struct pb_addr *server, uint16_t cport, uint16_t sport,
                           const void *payload, size_t len, enum pb_csum csum,
                           uint16_t quoted_ip_id);

/* TCP options in the order Linux sends them. A SYN's: MSS, SACK permitted,
 * timestamps, NOP, window scale (PB_SYN_OPTIONS_LEN bytes); every later
 * segment's: NOP, NOP, timestamps (PB_TS_OPTIONS_LEN bytes). Return the
 * length written. */
#define PB_SYN_OPTIONS_LEN 20
#define PB_TS_OPTIONS_LEN 12
size_t pb_syn_options_linux(uint8_t out[PB_SYN_OPTIONS_LEN], uint16_t mss, uint32_t tsval,
                            uint32_t tsecr, uint8_t wscale);
size_t pb_ts_options(uint8_t out[PB_TS_OPTIONS_LEN], uint32_t tsval, uint32_t tsecr);

/* The usual SYN options: pb_syn_options_linux(mss 1460, tsval 1, tsecr 0, wscale 7). */
extern const uint8_t pb_syn_options[PB_SYN_OPTIONS_LEN];

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

/* An IPv4 or IPv6 packet (src's family) around `l4`; x NULL: all defaults. */
size_t pb_ip_packet(uint8_t *out, size_t cap, const struct pb_addr *src,
                    const struct pb_addr *dst, uint8_t proto, const uint8_t *l4,
                    size_t l4_len, const struct pb_ip *x);

/* ---- link layers --------------------------------------------------------- */

/* The link layer around an IP packet: `linktype` 1 Ethernet, 113 SLL, 276
 * SLL2, 0 NULL, 108 LOOP, anything else (12/101 raw, 228/229) none. */
struct pb_link {
    int linktype;
    int vlan_tags;            /* Ethernet: 802.1Q tags (the outer one 802.1ad if > 1), at most 4 */
    const uint8_t *dst_mac;   /* Ethernet; NULL: 02:00:00:00:00:02 */
    const uint8_t *src_mac;   /* Ethernet; NULL: 02:00:00:00:00:01 */
    bool incoming;            /* Linux cooked: packet type "to us" (0), not "sent by us" (4) */
};

/* Wraps an IP packet (its version picks the ethertype) for `link`. */
size_t pb_frame(uint8_t *out, size_t cap, const struct pb_link *link, const uint8_t *ip,
                size_t ip_len);

/* pb_frame with the default addresses, sent by us. */
size_t pb_link_frame(uint8_t *out, size_t cap, int linktype, int vlan_tags, const uint8_t *ip,
                     size_t ip_len);

/* A whole frame: `l4` wrapped in IP (pb_ip_packet) and in `link`. */
size_t pb_wrap(uint8_t *out, size_t cap, const struct pb_link *link, const struct pb_addr *src,
               const struct pb_addr *dst, uint8_t proto, const uint8_t *l4, size_t l4_len,
               const struct pb_ip *x);

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

void pb_conv_init(struct pb_conv *c, int linktype, const char *client, uint16_t cport,
                  const char *server, uint16_t sport,
                  void (*emit)(void *ctx, const uint8_t *frame, size_t len), void *ctx);

/* Sends one TCP segment from `side` with explicit seq/ack and options. */
void pb_conv_tcp_raw(struct pb_conv *c, int side, uint8_t flags, uint32_t seq, uint32_t ack,
                     const uint8_t *opts, size_t opts_len, const void *payload, size_t len);

/* Sends from `side` at its current seq, acking everything the other side
 * sent (if ACK is in flags); SYNs carry pb_syn_options. */
void pb_conv_tcp(struct pb_conv *c, int side, uint8_t flags, const void *payload, size_t len);

void pb_conv_udp(struct pb_conv *c, int side, const void *payload, size_t len);

/* The server side answers a client datagram with ICMP port unreachable,
 * quoting the client's IP header and UDP header. */
void pb_conv_port_unreachable(struct pb_conv *c, const void *payload, size_t len);

/* Whole scripted connections: the three-way handshake; and handshake,
 * request, reply, client FIN first, clean close. */
void pb_conv_handshake(struct pb_conv *c);
void pb_conv_clean_session(struct pb_conv *c, const char *request, const char *reply);

#endif
