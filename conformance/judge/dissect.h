/* dissect: one captured frame in, one `struct packet` out.
 *
 *   struct packet p;
 *   if (dissect_frame(&p, frame_no, ts_usec, WC_LINK_EN10MB, bytes, caplen, wirelen)
 *           == DISSECT_OK && packet_is_tcp(&p))
 *       printf("%u -> %u flags 0x%02x\n", p.sport, p.dport, p.tcp_flags);
 *   else if (p.error != DISSECT_OK)
 *       printf("%s at byte %zu\n", dissect_error_name(p.error), p.error_offset);
 *
 * Link layers (dissect_link.c): Ethernet (with 802.1Q / QinQ tags, PPPoE
 * sessions), Linux cooked v1 and v2, BSD null/loopback (either byte order of
 * the family), raw IP, PPP (plain and HDLC-framed), Cisco HDLC, NFLOG and
 * PKTAP. Network (dissect_ip.c): IPv4 (options, fragments), IPv6
 * (hop-by-hop, routing, fragment, destination options, AH). Transport
 * (dissect_l4.c): TCP (options), UDP, ICMP/ICMPv6 (with the quoted original
 * header of an error, so it can be matched to a flow). The numbers of every
 * protocol are named in proto.h; what the three files share is in
 * dissect_internal.h, not here.
 *
 * Every read goes through struct cursor. A short or malformed frame is never
 * a crash: `error` says what was wrong and `error_offset` where, and the
 * fields decoded before the problem stay valid. A frame cut short by the
 * snapshot length (caplen < wirelen) is not malformed: it is decoded as far
 * as the bytes go and `snap_truncated` is set. */
#ifndef WIRECHECK_DISSECT_H
#define WIRECHECK_DISSECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inet_csum.h"
#include "proto.h"

/* The link types (WC_LINK_* in proto.h) dissect_frame decodes, and a name
 * for messages ("EN10MB (Ethernet)", "unsupported"). */
bool dissect_linktype_supported(int linktype);
const char *dissect_linktype_name(int linktype);

/* Why a frame could not be decoded completely. Snapshot truncation is not
 * here: see packet.snap_truncated. */
enum dissect_error {
    DISSECT_OK = 0,
    DISSECT_UNSUPPORTED_LINKTYPE,
    DISSECT_SHORT_LINK,        /* link header cut short */
    DISSECT_NOT_IP,            /* ARP, LLDP...: fine, just not ours */
    DISSECT_SHORT_IP,          /* IP header cut short (not by snaplen) */
    DISSECT_BAD_IP_VERSION,
    DISSECT_BAD_IP_HEADER_LEN, /* IHL < 5 or past the total length */
    DISSECT_BAD_IP_TOTAL_LEN,  /* total/payload length past the frame */
    DISSECT_BAD_IPV6_EXT,      /* extension header chain malformed */
    DISSECT_SHORT_TCP,
    DISSECT_BAD_TCP_DATA_OFFSET,
    DISSECT_BAD_TCP_OPTION,
    DISSECT_SHORT_UDP,
    DISSECT_BAD_UDP_LEN,
    DISSECT_SHORT_ICMP,
    DISSECT_ERROR_COUNT
};

const char *dissect_error_name(enum dissect_error e);

/* An IPv4 or IPv6 address; family 4 or 6 (0: none). */
struct ip_addr {
    uint8_t family;
    uint8_t bytes[16];
};

struct endpoint {
    struct ip_addr ip;
    uint16_t port;
};

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);
bool endpoint_equal(const struct endpoint *a, const struct endpoint *b);
/* "127.0.0.1" / "::1"; always NUL-terminates (size >= 1). */
void ip_addr_format(const struct ip_addr *a, char *buf, size_t size);
/* "127.0.0.1.3434" / "::1.3434" as tcpdump writes them. */
void endpoint_format(const struct endpoint *e, char *buf, size_t size);

enum checksum_state {
    CSUM_ABSENT = 0,       /* no such checksum (or not decoded that far) */
    CSUM_GOOD,
    CSUM_BAD,
    CSUM_UNVERIFIABLE,     /* bytes missing (snaplen) or fragment */
    CSUM_OFFLOADED,        /* field holds the pseudo-header sum or 0: left to
                              the NIC (loopback/veth do this) */
    CSUM_UNUSED,           /* UDP over IPv4 with checksum 0 */
};

#define TCP_MAX_SACK_BLOCKS 4

struct tcp_options {
    bool has_mss;
    bool has_wscale;
    bool sack_permitted;
    bool has_timestamps;
    bool has_tfo;         /* WC_TCPOPT_FASTOPEN or the experimental kind */
    uint16_t mss;
    uint8_t wscale;
    uint8_t tfo_cookie_len;
    uint8_t sack_blocks;
    uint32_t sack[TCP_MAX_SACK_BLOCKS][2];
    uint32_t tsval, tsecr;
};

enum l4_kind { L4_NONE = 0, L4_TCP, L4_UDP, L4_ICMP, L4_ICMPV6, L4_OTHER };

/* What an ICMP error quotes of the datagram that caused it. */
struct icmp_quote {
    bool present;         /* quoted IP header and the first 8 L4 bytes */
    uint8_t proto;        /* WC_IPPROTO_TCP or WC_IPPROTO_UDP */
    struct endpoint src, dst; /* of the original datagram */
    uint32_t tcp_seq;
};

/* A conversation's hash, the same both ways, and which way this is
 * (hash_mix.h: hash_mix_tuple). */
struct tuple_hash {
    uint64_t hash;
    int order;            /* sign of the source end against the destination end */
};

struct packet {
    /* Given by the caller. */
    uint32_t frame;       /* 1-based, as Wireshark counts */
    int64_t ts_usec;
    int linktype;
    uint32_t caplen, wirelen;

    enum dissect_error error;
    size_t error_offset;  /* byte offset in the frame where decoding stopped */
    bool snap_truncated;  /* caplen < wirelen cut into a layer we decode */

    uint8_t vlan_count;
    uint16_t vlan[2];

    /* Network layer: ip_version 0 if none. */
    uint8_t ip_version;
    struct ip_addr src, dst;
    /* IPv6 with a Routing header that still has segments left (type 0, 2
     * or 4): the final destination, which the TCP/UDP/ICMPv6 pseudo-header
     * uses instead of dst (RFC 8200 8.1). family 0: none, use dst. */
    struct ip_addr final_dst;
    uint8_t ttl;          /* TTL / hop limit */
    uint8_t proto;        /* final upper-layer protocol number */
    uint16_t ip_header_len;   /* IPv4 header / IPv6 header + ext headers */
    uint32_t ip_payload_len;  /* L4 bytes per the IP length fields */
    enum checksum_state ip_checksum;
    /* Fragmentation (IPv4 flags/offset, IPv6 fragment header). */
    bool is_fragment;     /* MF set or offset != 0 */
    bool more_fragments;
    bool dont_fragment;
    uint32_t frag_id;     /* IPv4 id or IPv6 identification */
    uint16_t frag_offset; /* in bytes */
    bool reassembled;     /* L4 decoded from fragments (dissect_transport) */
    const uint8_t *ip_payload; /* captured L4 bytes (<= ip_payload_len) */
    uint32_t ip_payload_caplen;

    enum l4_kind l4;
    uint16_t sport, dport;
    enum checksum_state l4_checksum;

    /* TCP */
    uint32_t seq, ack;
    uint8_t tcp_flags;
    uint16_t window;
    uint16_t tcp_header_len;
    struct tcp_options opt;

    /* UDP */
    uint16_t udp_len;     /* length field */

    /* ICMP / ICMPv6 */
    uint8_t icmp_type, icmp_code;
    struct icmp_quote quote;

    /* L4 payload: captured bytes and the length the headers claim. */
    const uint8_t *payload;
    uint32_t payload_caplen;
    uint32_t payload_len;

    /* Set by the analysis, not the dissector: this frame is a capture
     * duplicate (the same IP packet seen again, `tcpdump -i any`) of that
     * earlier frame, and is not judged. 0: not a duplicate. */
    uint32_t duplicate_of;
    /* Set by the analysis once per packet (capdup and the flow table both
     * hash the conversation): hash_mix_tuple of (proto, src:sport,
     * dst:dport), valid when tuple_hashed. */
    bool tuple_hashed;
    struct tuple_hash tuple;
};

/* Decodes one frame. `bytes` must stay valid while `out` is used (payload
 * pointers point into it). Returns out->error. */
enum dissect_error dissect_frame(struct packet *out, uint32_t frame, int64_t ts_usec,
                                 int linktype, const uint8_t *bytes,
                                 uint32_t caplen, uint32_t wirelen);

/* Decodes an upper layer (TCP/UDP/ICMP) whose IP header was already decoded
 * into `p` (used after reassembling fragments): `l4` holds the whole
 * reassembled payload. Returns p->error. */
enum dissect_error dissect_transport(struct packet *p, const uint8_t *l4, uint32_t len);

/* The packet a tunnel carries, when p is a decoded (not fragmented) IP in
 * IP, IPv6 in IPv4, plain GRE (version 0, no routing), VXLAN (UDP 4789) or
 * GENEVE (UDP 6081) packet: the inner bytes as a frame of *linktype
 * (Ethernet or IPv4/IPv6), ready for dissect_frame. false otherwise, or
 * when the tunnel header is cut short or carries something else. */
struct tunnel_inner {
    const uint8_t *bytes;
    uint32_t caplen, wirelen;
    int linktype;
    const char *name;     /* "VXLAN", "GRE", ... */
};
bool dissect_tunnel_inner(const struct packet *p, struct tunnel_inner *out);

/* A fully decoded TCP / UDP packet (what the flow tracker consumes). */
static inline bool packet_is_tcp(const struct packet *p) { return p->error == DISSECT_OK && p->l4 == L4_TCP; }
static inline bool packet_is_udp(const struct packet *p) { return p->error == DISSECT_OK && p->l4 == L4_UDP; }

#endif
