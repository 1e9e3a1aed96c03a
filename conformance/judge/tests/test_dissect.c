/* Dissector: every link type and layer, valid and malformed, and every
 * truncation of a valid frame (copied to an exact-size heap buffer so the
 * sanitizers catch any read past the end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dissect.h"
#include "packet_builder.h"

static uint8_t frame_buf[PB_MAX_FRAME];

/* A client SYN with the usual options, over `family`, framed for `linktype`. */
static size_t syn_frame(int linktype, int vlans, const char *src, const char *dst, uint8_t *out)
{
    static uint8_t seg[256], ip[512];
    struct pb_addr s = pb_addr(src), d = pb_addr(dst);
    struct pb_tcp t = { .sport = 40000, .dport = 3434, .seq = 123456, .flags = TCP_SYN,
                        .window = 65495, .opts = pb_syn_options, .opts_len = sizeof pb_syn_options };
    size_t n = pb_tcp_segment(seg, sizeof seg, &s, &d, &t);
    n = pb_ip_packet(ip, sizeof ip, &s, &d, WC_IPPROTO_TCP, seg, n, NULL);
    return pb_link_frame(out, PB_MAX_FRAME, linktype, vlans, ip, n);
}

static enum dissect_error dissect_copy(struct packet *p, int linktype, const uint8_t *bytes,
                                       uint32_t caplen, uint32_t wirelen)
{
    /* Exact-size copy: an over-read is a sanitizer error, not silent. */
    uint8_t *copy = malloc(caplen ? caplen : 1);
    assert_non_null(copy);
    memcpy(copy, bytes, caplen);
    enum dissect_error e = dissect_frame(p, 1, 0, linktype, copy, caplen, wirelen);
    /* Pointers into the frame must not be used after this. */
    p->payload = p->ip_payload = NULL;
    free(copy);
    return e;
}

static void assert_syn_decoded(const struct packet *p, int family)
{
    assert_int_equal(p->error, DISSECT_OK);
    assert_int_equal(p->ip_version, family);
    assert_int_equal(p->l4, L4_TCP);
    assert_int_equal(p->sport, 40000);
    assert_int_equal(p->dport, 3434);
    assert_int_equal(p->seq, 123456);
    assert_int_equal(p->tcp_flags, TCP_SYN);
    assert_true(p->opt.has_mss);
    assert_int_equal(p->opt.mss, 1460);
    assert_true(p->opt.sack_permitted);
    assert_true(p->opt.has_timestamps);
    assert_int_equal(p->opt.tsval, 1);
    assert_true(p->opt.has_wscale);
    assert_int_equal(p->opt.wscale, 7);
    assert_int_equal(p->l4_checksum, CSUM_GOOD);
    assert_int_equal(p->ip_checksum, family == 4 ? CSUM_GOOD : CSUM_ABSENT);
    assert_int_equal(p->payload_len, 0);
}

static void test_every_link_type(void **state)
{
    (void)state;
    static const int links[] = { WC_LINK_EN10MB, WC_LINK_LINUX_SLL, WC_LINK_LINUX_SLL2, WC_LINK_NULL,
                                  WC_LINK_LOOP, WC_LINK_RAW_DLT, WC_LINK_RAW };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        for (int fam = 4; fam <= 6; fam += 2) {
            struct packet p;
            size_t n = syn_frame(links[i], 0, fam == 4 ? "10.0.0.1" : "2001:db8::1",
                                 fam == 4 ? "10.0.0.2" : "2001:db8::2", frame_buf);
            assert_true(n > 0);
            assert_int_equal(dissect_copy(&p, links[i], frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
            assert_syn_decoded(&p, fam);
            char s[64];
            ip_addr_format(&p.src, s, sizeof s);
            assert_string_equal(s, fam == 4 ? "10.0.0.1" : "2001:db8::1");
        }
    }
    struct packet p;
    size_t n = syn_frame(WC_LINK_IPV4, 0, "10.0.0.1", "10.0.0.2", frame_buf);
    assert_int_equal(dissect_copy(&p, WC_LINK_IPV4, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    /* LINKTYPE_IPV6 refuses an IPv4 packet. */
    assert_int_equal(dissect_copy(&p, WC_LINK_IPV6, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_IP_VERSION);
    n = syn_frame(WC_LINK_IPV6, 0, "::1", "::1", frame_buf);
    assert_int_equal(dissect_copy(&p, WC_LINK_IPV6, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_syn_decoded(&p, 6);
}

static void test_vlan_tags(void **state)
{
    (void)state;
    for (int tags = 1; tags <= 2; tags++) {
        struct packet p;
        size_t n = syn_frame(WC_LINK_EN10MB, tags, "10.0.0.1", "10.0.0.2", frame_buf);
        assert_int_equal(dissect_copy(&p, WC_LINK_EN10MB, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
        assert_int_equal(p.vlan_count, tags);
        assert_int_equal(p.vlan[0], 100);
        assert_syn_decoded(&p, 4);
    }
}

static void test_null_loopback_both_byte_orders(void **state)
{
    (void)state;
    struct packet p;
    size_t n = syn_frame(WC_LINK_NULL, 0, "10.0.0.1", "10.0.0.2", frame_buf);
    /* DLT_NULL written by a big-endian host: family 2 in network order. */
    memcpy(frame_buf, "\0\0\0\2", 4);
    assert_int_equal(dissect_copy(&p, WC_LINK_NULL, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_syn_decoded(&p, 4);
    /* DLT_LOOP written little-endian, and Darwin's AF_INET6 (30). */
    n = syn_frame(WC_LINK_LOOP, 0, "::1", "::2", frame_buf);
    memcpy(frame_buf, "\36\0\0\0", 4);
    assert_int_equal(dissect_copy(&p, WC_LINK_LOOP, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_syn_decoded(&p, 6);
    memcpy(frame_buf, "\0\0\0\7", 4); /* AF 7: not IP */
    assert_int_equal(dissect_copy(&p, WC_LINK_LOOP, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_NOT_IP);
}

static void test_not_ip_and_unsupported(void **state)
{
    (void)state;
    struct packet p;
    size_t n = syn_frame(WC_LINK_EN10MB, 0, "10.0.0.1", "10.0.0.2", frame_buf);
    pb_put16(frame_buf + 12, 0x0806); /* ARP */
    assert_int_equal(dissect_copy(&p, WC_LINK_EN10MB, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_NOT_IP);
    assert_int_equal(dissect_copy(&p, 105, frame_buf, (uint32_t)n, (uint32_t)n),
                     DISSECT_UNSUPPORTED_LINKTYPE);
    assert_false(dissect_linktype_supported(105));
    assert_true(dissect_linktype_supported(WC_LINK_LINUX_SLL2));
}

/* PPP (RFC 1661/1662), PPPoE (RFC 2516), Cisco HDLC, NFLOG and PKTAP: the
 * raw IP SYN behind each header, hand-built from the formats' definitions. */
static size_t wrap(uint8_t *out, const uint8_t *hdr, size_t hlen, const uint8_t *ip, size_t n)
{
    memcpy(out, hdr, hlen);
    memcpy(out + hlen, ip, n);
    return hlen + n;
}

static void test_ppp_nflog_pktap(void **state)
{
    (void)state;
    static uint8_t ip4[PB_MAX_FRAME], ip6[PB_MAX_FRAME], f[PB_MAX_FRAME + 256];
    size_t n4 = syn_frame(WC_LINK_RAW, 0, "10.0.0.1", "10.0.0.2", ip4);
    size_t n6 = syn_frame(WC_LINK_RAW, 0, "2001:db8::1", "2001:db8::2", ip6);
    struct packet p;
    size_t n;
#define DECODES(link, fam) do { \
        assert_true(dissect_linktype_supported(link)); \
        assert_int_equal(dissect_copy(&p, (link), f, (uint32_t)n, (uint32_t)n), DISSECT_OK); \
        assert_syn_decoded(&p, (fam)); \
    } while (0)

    /* PPP: FF 03 and protocol 0x0021; compressed away (protocol 0x21 alone); IPv6 0x0057. */
    n = wrap(f, (const uint8_t[]){ 0xFF, 0x03, 0x00, 0x21 }, 4, ip4, n4);
    DECODES(WC_LINK_PPP, 4);
    n = wrap(f, (const uint8_t[]){ 0x21 }, 1, ip4, n4);
    DECODES(WC_LINK_PPP, 4);
    n = wrap(f, (const uint8_t[]){ 0xFF, 0x03, 0x00, 0x57 }, 4, ip6, n6);
    DECODES(WC_LINK_PPP_HDLC, 6);
    n = wrap(f, (const uint8_t[]){ 0xFF, 0x03, 0xC0, 0x21 }, 4, ip4, n4); /* LCP */
    assert_int_equal(dissect_copy(&p, WC_LINK_PPP, f, (uint32_t)n, (uint32_t)n), DISSECT_NOT_IP);
    assert_int_equal(dissect_copy(&p, WC_LINK_PPP, f, 3, (uint32_t)n), DISSECT_SHORT_LINK);
    assert_true(p.snap_truncated);

    /* Cisco HDLC, directly and as a PPP_HDLC capture of a Cisco link. */
    n = wrap(f, (const uint8_t[]){ 0x0F, 0x00, 0x08, 0x00 }, 4, ip4, n4);
    DECODES(WC_LINK_C_HDLC, 4);
    DECODES(WC_LINK_PPP_HDLC, 4);

    /* PPPoE session in Ethernet: version/type 0x11, code 0, session, length, PPP 0x0057. */
    uint8_t eth[22] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0x64,
                        0x11, 0x00, 0x12, 0x34, 0x00, 0x00, 0x00, 0x57 };
    n = wrap(f, eth, sizeof eth, ip6, n6);
    DECODES(WC_LINK_EN10MB, 6);

    /* NFLOG: AF_INET, version 0, resource 1; a prefix TLV ("x\0", padded),
     * then NFULA_PAYLOAD; little-endian TLV header, then big-endian. */
    uint8_t nfl[16] = { 2, 0, 0, 1, 6, 0, 10, 0, 'x', 0, 0, 0 };
    uint16_t plen = (uint16_t)(4 + n4);
    nfl[12] = (uint8_t)plen; nfl[13] = (uint8_t)(plen >> 8); nfl[14] = 9; nfl[15] = 0;
    n = wrap(f, nfl, sizeof nfl, ip4, n4);
    DECODES(WC_LINK_NFLOG, 4);
    uint8_t nfl_be[16] = { 2, 0, 0, 1, 0, 6, 0, 10, 'x', 0, 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, 0, 9 };
    n = wrap(f, nfl_be, sizeof nfl_be, ip4, n4);
    DECODES(WC_LINK_NFLOG, 4);
    n = 12; /* a log entry without the packet */
    assert_int_equal(dissect_copy(&p, WC_LINK_NFLOG, f, (uint32_t)n, (uint32_t)n), DISSECT_NOT_IP);

    /* PKTAP: a 108-byte header (length, record type 1, DLT 1 Ethernet). */
    uint8_t pk[108] = { 108, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 'e', 'n', '0' };
    size_t ne = syn_frame(WC_LINK_EN10MB, 0, "10.0.0.1", "10.0.0.2", frame_buf);
    n = wrap(f, pk, sizeof pk, frame_buf, ne);
    DECODES(WC_LINK_PKTAP, 4);
    pk[8] = 12; /* DLT_RAW */
    n = wrap(f, pk, sizeof pk, ip6, n6);
    DECODES(WC_LINK_PKTAP, 6);
    f[0] = 100; /* a header length below the header's own size */
    assert_int_equal(dissect_copy(&p, WC_LINK_PKTAP, f, (uint32_t)n, (uint32_t)n), DISSECT_SHORT_LINK);
#undef DECODES
}

static size_t udp_frame(const char *src, const char *dst, const char *payload, enum pb_csum csum,
                        const struct pb_ip *ipx, uint8_t *out)
{
    static uint8_t dg[2048], ip[2048];
    struct pb_addr s = pb_addr(src), d = pb_addr(dst);
    size_t n = pb_udp_datagram(dg, sizeof dg, &s, &d, 5353, 3434, payload, strlen(payload), csum);
    n = pb_ip_packet(ip, sizeof ip, &s, &d, WC_IPPROTO_UDP, dg, n, ipx);
    return pb_link_frame(out, PB_MAX_FRAME, WC_LINK_RAW, 0, ip, n);
}

static void test_udp_checksums(void **state)
{
    (void)state;
    struct packet p;
    size_t n = udp_frame("10.0.0.1", "10.0.0.2", "hello", PB_CSUM_GOOD, NULL, frame_buf);
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_int_equal(p.l4, L4_UDP);
    assert_int_equal(p.udp_len, 13);
    assert_int_equal(p.payload_len, 5);
    assert_int_equal(p.l4_checksum, CSUM_GOOD);

    n = udp_frame("10.0.0.1", "10.0.0.2", "hello", PB_CSUM_BAD, NULL, frame_buf);
    dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n);
    assert_int_equal(p.l4_checksum, CSUM_BAD);

    n = udp_frame("::1", "::1", "hello", PB_CSUM_PARTIAL, NULL, frame_buf);
    dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n);
    assert_int_equal(p.l4_checksum, CSUM_OFFLOADED);

    n = udp_frame("10.0.0.1", "10.0.0.2", "hello", PB_CSUM_GOOD, NULL, frame_buf);
    pb_put16(frame_buf + 26, 0);
    dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n);
    assert_int_equal(p.l4_checksum, CSUM_UNUSED);

    /* Snapshot-truncated payload: headers decode, checksum not verifiable. */
    n = udp_frame("10.0.0.1", "10.0.0.2", "hello world", PB_CSUM_GOOD, NULL, frame_buf);
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n - 4, (uint32_t)n), DISSECT_OK);
    assert_true(p.snap_truncated);
    assert_int_equal(p.l4_checksum, CSUM_UNVERIFIABLE);
    assert_int_equal(p.payload_len, 11);
    assert_int_equal(p.payload_caplen, 7);
}

static void test_ipv4_options_and_bad_header_checksum(void **state)
{
    (void)state;
    struct packet p;
    struct pb_ip x = { .ipv4_options = 8 };
    size_t n = udp_frame("10.0.0.1", "10.0.0.2", "hi", PB_CSUM_GOOD, &x, frame_buf);
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_int_equal(p.ip_header_len, 28);
    assert_int_equal(p.ip_checksum, CSUM_GOOD);
    assert_int_equal(p.sport, 5353);
    x.bad_checksum = true;
    n = udp_frame("10.0.0.1", "10.0.0.2", "hi", PB_CSUM_GOOD, &x, frame_buf);
    dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n);
    assert_int_equal(p.ip_checksum, CSUM_BAD);
}

static void test_fragments_recorded(void **state)
{
    (void)state;
    struct packet p;
    struct pb_ip x = { .id = 0x4242, .mf = true };
    size_t n = udp_frame("10.0.0.1", "10.0.0.2", "first fragment!!", PB_CSUM_GOOD, &x, frame_buf);
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_true(p.is_fragment);
    assert_true(p.more_fragments);
    assert_int_equal(p.frag_id, 0x4242);
    assert_int_equal(p.frag_offset, 0);
    assert_int_equal(p.l4, L4_NONE); /* decoded after reassembly */

    struct pb_ip x6 = { .id = 77, .frag_offset = 1024, .ipv6_frag_header = true,
                        .ipv6_hop_by_hop = true };
    n = udp_frame("2001:db8::1", "2001:db8::2", "tail", PB_CSUM_GOOD, &x6, frame_buf);
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_true(p.is_fragment);
    assert_false(p.more_fragments);
    assert_int_equal(p.frag_offset, 1024);
    assert_int_equal(p.frag_id, 77);
    assert_int_equal(p.proto, 17);
}

static void test_ipv6_extension_headers(void **state)
{
    (void)state;
    struct packet p;
    struct pb_ip x = { .ipv6_hop_by_hop = true, .ipv6_dest_opts = true };
    size_t n = udp_frame("2001:db8::1", "2001:db8::2", "ext", PB_CSUM_GOOD, &x, frame_buf);
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_int_equal(p.ip_header_len, 56);
    assert_int_equal(p.l4, L4_UDP);
    assert_int_equal(p.l4_checksum, CSUM_GOOD);
    /* A hop-by-hop header claiming more bytes than the payload holds. */
    frame_buf[41] = 200;
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_IPV6_EXT);
}

static void test_icmp_port_unreachable_quote(void **state)
{
    (void)state;
    for (int fam = 4; fam <= 6; fam += 2) {
        struct pb_addr cl = pb_addr(fam == 4 ? "10.0.0.1" : "fd00::1");
        struct pb_addr sv = pb_addr(fam == 4 ? "10.0.0.2" : "fd00::2");
        uint8_t dg[64], ip[128], icmp[256], out[512];
        size_t n = pb_udp_datagram(dg, sizeof dg, &cl, &sv, 40000, 3434, "x", 1, PB_CSUM_GOOD);
        n = pb_ip_packet(ip, sizeof ip, &cl, &sv, WC_IPPROTO_UDP, dg, n, NULL);
        n = pb_icmp_error(icmp, sizeof icmp, &sv, &cl, fam == 4 ? WC_ICMP_DEST_UNREACH : WC_ICMP6_DEST_UNREACH,
                          fam == 4 ? WC_ICMP_UNREACH_PORT : WC_ICMP6_UNREACH_PORT, ip, n);
        n = pb_ip_packet(out, sizeof out, &sv, &cl, fam == 4 ? WC_IPPROTO_ICMP : WC_IPPROTO_ICMPV6, icmp, n, NULL);
        struct packet p;
        assert_int_equal(dissect_copy(&p, WC_LINK_RAW, out, (uint32_t)n, (uint32_t)n), DISSECT_OK);
        assert_int_equal(p.l4, fam == 4 ? L4_ICMP : L4_ICMPV6);
        assert_true(p.quote.present);
        assert_int_equal(p.quote.proto, 17);
        assert_int_equal(p.quote.src.port, 40000);
        assert_int_equal(p.quote.dst.port, 3434);
        assert_int_equal(p.l4_checksum, CSUM_GOOD);
        char s[64];
        ip_addr_format(&p.quote.src.ip, s, sizeof s);
        assert_string_equal(s, fam == 4 ? "10.0.0.1" : "fd00::1");
    }
}

static void test_malformed_headers(void **state)
{
    (void)state;
    struct packet p;
    size_t n;

    n = syn_frame(WC_LINK_RAW, 0, "10.0.0.1", "10.0.0.2", frame_buf);
    frame_buf[0] = 0x44; /* IHL 4 */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_IP_HEADER_LEN);
    frame_buf[0] = 0x55;
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_IP_VERSION);
    frame_buf[0] = 0x45;
    pb_put16(frame_buf + 2, (uint16_t)(n + 10)); /* total length past the frame */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_IP_TOTAL_LEN);

    n = syn_frame(WC_LINK_RAW, 0, "10.0.0.1", "10.0.0.2", frame_buf);
    frame_buf[20 + 12] = 0x40; /* data offset 4 words */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_TCP_DATA_OFFSET);
    assert_int_equal(p.error_offset, 32);
    frame_buf[20 + 12] = 0xf0; /* 60 bytes: past the segment */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_TCP_DATA_OFFSET);

    n = syn_frame(WC_LINK_RAW, 0, "10.0.0.1", "10.0.0.2", frame_buf);
    frame_buf[20 + 21] = 1; /* MSS option length 1 */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_TCP_OPTION);
    frame_buf[20 + 21] = 40; /* runs past the header */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_TCP_OPTION);
    frame_buf[20 + 21] = 3; /* MSS of the wrong size */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_TCP_OPTION);

    n = udp_frame("10.0.0.1", "10.0.0.2", "hello", PB_CSUM_GOOD, NULL, frame_buf);
    pb_put16(frame_buf + 24, 4); /* UDP length < 8 */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_UDP_LEN);
    pb_put16(frame_buf + 24, 200); /* past the IP payload */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_BAD_UDP_LEN);
    pb_put16(frame_buf + 24, 10); /* shorter than the IP payload: decodes, flow judges it */
    assert_int_equal(dissect_copy(&p, WC_LINK_RAW, frame_buf, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_int_equal(p.udp_len, 10);
    assert_int_equal(p.ip_payload_len, 13);
}

/* Every prefix of a valid frame: never a crash; with the wire length equal
 * to the prefix the frame is malformed (an error); with the real wire
 * length it is snapshot truncation (flagged, never "malformed silently"). */
static void truncate_everywhere(int linktype, const uint8_t *frame, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        struct packet p;
        enum dissect_error e = dissect_copy(&p, linktype, frame, (uint32_t)k, (uint32_t)k);
        assert_int_not_equal(e, DISSECT_OK);
        e = dissect_copy(&p, linktype, frame, (uint32_t)k, (uint32_t)n);
        assert_true(p.snap_truncated || e == DISSECT_NOT_IP || e == DISSECT_SHORT_LINK);
        if (e == DISSECT_OK)
            assert_int_not_equal(p.l4_checksum, CSUM_GOOD);
    }
    struct packet p;
    assert_int_equal(dissect_copy(&p, linktype, frame, (uint32_t)n, (uint32_t)n), DISSECT_OK);
}

static void test_truncate_at_every_offset(void **state)
{
    (void)state;
    static const int links[] = { 1, 113, 276, 0, 108, 101 };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        size_t n = syn_frame(links[i], links[i] == 1 ? 2 : 0, "10.0.0.1", "10.0.0.2", frame_buf);
        truncate_everywhere(links[i], frame_buf, n);
        n = syn_frame(links[i], 0, "2001:db8::1", "2001:db8::2", frame_buf);
        truncate_everywhere(links[i], frame_buf, n);
    }
    struct pb_ip x = { .ipv6_hop_by_hop = true, .ipv6_dest_opts = true };
    size_t n = udp_frame("2001:db8::1", "2001:db8::2", "payload", PB_CSUM_GOOD, &x, frame_buf);
    truncate_everywhere(101, frame_buf, n);
}

/* Random corruption of valid frames: only "no crash" (and sanitizers). */
static void test_random_corruption_never_crashes(void **state)
{
    (void)state;
    uint32_t rng = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t n = round % 2 ? syn_frame(WC_LINK_EN10MB, round % 3, "10.0.0.1", "10.0.0.2", frame_buf)
                             : udp_frame("2001:db8::1", "2001:db8::2", "abcdefgh", PB_CSUM_GOOD,
                                         &(struct pb_ip){ .ipv6_hop_by_hop = true }, frame_buf);
        for (int flips = 0; flips < 4; flips++) {
            rng = rng * 1103515245u + 12345u;
            frame_buf[(rng >> 8) % n] = (uint8_t)(rng >> 24);
        }
        rng = rng * 1103515245u + 12345u;
        uint32_t cap = (uint32_t)((rng >> 8) % (n + 1));
        struct packet p;
        dissect_copy(&p, round % 2 ? 1 : 101, frame_buf, cap, (uint32_t)n);
        assert_true((unsigned)p.error < DISSECT_ERROR_COUNT);
    }
}

static void test_inet_checksum_rfc1071_example(void **state)
{
    (void)state;
    /* RFC 1071 section 3: these bytes sum to ddf2 (one's complement). */
    static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    assert_int_equal(inet_fold(inet_sum(0, b, sizeof b)), 0xddf2);
    static const uint8_t odd[] = { 0xff, 0xff, 0x01 };
    assert_int_equal(inet_fold(inet_sum(0, odd, sizeof odd)), 0x0100);
}

/* The sum as RFC 1071 writes it, 16 bits at a time in network order (an
 * odd last byte padded with a zero), against inet_sum's words and tails:
 * every length up to 100, at every start within 8 bytes, from several
 * running sums, in pieces of even length too. */
static uint32_t reference_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    uint64_t total = sum;
    for (size_t i = 0; i < len; i += 2)
        total += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
    while (total >> 16)
        total = (total & 0xffff) + (total >> 16);
    return (uint32_t)total;
}

static void test_inet_sum_matches_rfc1071_at_every_length(void **state)
{
    (void)state;
    uint8_t buf[120];
    uint32_t rng = 7;
    for (size_t i = 0; i < sizeof buf; i++) {
        rng = rng * 1103515245u + 12345u;
        buf[i] = (uint8_t)(rng >> 16);
    }
    static const uint32_t starts[] = {0, 1, 0xfffe, 0xffff, 0x1234};
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++)
        for (size_t off = 0; off < 8; off++)
            for (size_t len = 0; len <= 100; len++) {
                uint32_t want = reference_sum(starts[s], buf + off, len);
                assert_int_equal(inet_fold(inet_sum(starts[s], buf + off, len)), want);
                size_t half = len / 2 & ~(size_t)1; /* a running sum over two pieces */
                uint32_t two = inet_sum(inet_sum(starts[s], buf + off, half), buf + off + half, len - half);
                assert_int_equal(inet_fold(two), want);
            }
    memset(buf, 0xff, sizeof buf); /* every carry */
    for (size_t len = 0; len <= 100; len++)
        assert_int_equal(inet_fold(inet_sum(0xffff, buf, len)), reference_sum(0xffff, buf, len));
}

/* IPv6 + a Routing header + TCP or UDP whose checksum covers the pseudo-header
 * with `csum_dst`. `rh` is the routing header's type-specific part after its
 * first 4 bytes (next header, length, type, segments left). */
static size_t ipv6_with_routing(uint8_t *out, const char *dst_text, uint8_t type, uint8_t left,
                                const uint8_t *rh, size_t rh_len, uint8_t proto,
                                const char *csum_dst_text)
{
    struct pb_addr src = pb_addr("2001:db8::1"), dst = pb_addr(dst_text);
    struct pb_addr csum_dst = pb_addr(csum_dst_text);
    uint8_t l4[64];
    size_t n;
    if (proto == WC_IPPROTO_TCP) {
        struct pb_tcp t = { .sport = 40000, .dport = 3434, .seq = 1, .flags = TCP_SYN,
                            .payload = "hi", .payload_len = 2 };
        n = pb_tcp_segment(l4, sizeof l4, &src, &csum_dst, &t);
    } else {
        n = pb_udp_datagram(l4, sizeof l4, &src, &csum_dst, 40000, 3434, "hi", 2, PB_CSUM_GOOD);
    }
    size_t rlen = 4 + rh_len;
    assert_int_equal(rlen % 8, 0);
    pb_put32(out, 0x60000000u);
    pb_put16(out + 4, (uint16_t)(rlen + n));
    out[6] = WC_IPPROTO_ROUTING;
    out[7] = 64;
    memcpy(out + 8, src.b, 16);
    memcpy(out + 24, dst.b, 16);
    uint8_t *r = out + 40;
    r[0] = proto;
    r[1] = (uint8_t)(rlen / 8 - 1);
    r[2] = type;
    r[3] = left;
    memcpy(r + 4, rh, rh_len);
    memcpy(r + rlen, l4, n);
    return 40 + rlen + n;
}

static void test_ipv6_routing_header_checksum_uses_final_destination(void **state)
{
    (void)state;
    uint8_t pkt[256], rh[64];
    struct packet p;
    struct pb_addr final = pb_addr("2001:db8::99"), hop = pb_addr("2001:db8::50");

    /* Segment Routing Header (type 4): Segment List[0] is the final
     * destination, the IPv6 destination the active segment. */
    memset(rh, 0, sizeof rh);
    rh[0] = 1; /* last entry */
    memcpy(rh + 4, final.b, 16);
    memcpy(rh + 20, hop.b, 16);
    static const uint8_t protos[] = { WC_IPPROTO_TCP, WC_IPPROTO_UDP };
    for (size_t k = 0; k < sizeof protos; k++) {
        uint8_t proto = protos[k];
        size_t n = ipv6_with_routing(pkt, "2001:db8::50", WC_IPV6_ROUTING_SRH, 1, rh, 36, proto,
                                     "2001:db8::99");
        assert_int_equal(dissect_frame(&p, 1, 0, WC_LINK_RAW, pkt, (uint32_t)n, (uint32_t)n), DISSECT_OK);
        assert_int_equal(p.l4, proto == WC_IPPROTO_TCP ? L4_TCP : L4_UDP);
        assert_int_equal(p.l4_checksum, CSUM_GOOD);
        assert_int_equal(p.final_dst.family, 6);
        assert_memory_equal(p.final_dst.bytes, final.b, 16);
        assert_memory_equal(p.dst.bytes, hop.b, 16); /* the flow key keeps the header's */
        /* Summed over the header's destination instead: wrong. */
        n = ipv6_with_routing(pkt, "2001:db8::50", WC_IPV6_ROUTING_SRH, 1, rh, 36, proto, "2001:db8::50");
        dissect_frame(&p, 1, 0, WC_LINK_RAW, pkt, (uint32_t)n, (uint32_t)n);
        assert_int_equal(p.l4_checksum, CSUM_BAD);
    }

    /* Type 0: the last address of the list. */
    memset(rh, 0, sizeof rh);
    memcpy(rh + 4, hop.b, 16);
    memcpy(rh + 20, final.b, 16);
    size_t n = ipv6_with_routing(pkt, "2001:db8::7", WC_IPV6_ROUTING_TYPE0, 2, rh, 36, WC_IPPROTO_TCP, "2001:db8::99");
    assert_int_equal(dissect_frame(&p, 1, 0, WC_LINK_RAW, pkt, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_int_equal(p.l4_checksum, CSUM_GOOD);

    /* Type 2 (Mobile IPv6): its one address, the home address. */
    memset(rh, 0, sizeof rh);
    memcpy(rh + 4, final.b, 16);
    n = ipv6_with_routing(pkt, "2001:db8::7", WC_IPV6_ROUTING_MIP6, 1, rh, 20, WC_IPPROTO_UDP, "2001:db8::99");
    assert_int_equal(dissect_frame(&p, 1, 0, WC_LINK_RAW, pkt, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_int_equal(p.l4_checksum, CSUM_GOOD);

    /* No segments left: the IPv6 destination is the final one. */
    memset(rh, 0, sizeof rh);
    memcpy(rh + 4, final.b, 16);
    memcpy(rh + 20, hop.b, 16);
    n = ipv6_with_routing(pkt, "2001:db8::50", WC_IPV6_ROUTING_SRH, 0, rh, 36, WC_IPPROTO_TCP, "2001:db8::50");
    assert_int_equal(dissect_frame(&p, 1, 0, WC_LINK_RAW, pkt, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_int_equal(p.l4_checksum, CSUM_GOOD);
    assert_int_equal(p.final_dst.family, 0);

    /* A type-4 header too short to hold a segment: no final destination,
     * no crash, the header's destination is used. */
    memset(rh, 0, sizeof rh);
    n = ipv6_with_routing(pkt, "2001:db8::50", WC_IPV6_ROUTING_SRH, 1, rh, 4, WC_IPPROTO_TCP, "2001:db8::50");
    assert_int_equal(dissect_frame(&p, 1, 0, WC_LINK_RAW, pkt, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    assert_int_equal(p.l4_checksum, CSUM_GOOD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_link_type),
        cmocka_unit_test(test_vlan_tags),
        cmocka_unit_test(test_null_loopback_both_byte_orders),
        cmocka_unit_test(test_not_ip_and_unsupported),
        cmocka_unit_test(test_ppp_nflog_pktap),
        cmocka_unit_test(test_udp_checksums),
        cmocka_unit_test(test_ipv4_options_and_bad_header_checksum),
        cmocka_unit_test(test_fragments_recorded),
        cmocka_unit_test(test_ipv6_extension_headers),
        cmocka_unit_test(test_icmp_port_unreachable_quote),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_truncate_at_every_offset),
        cmocka_unit_test(test_random_corruption_never_crashes),
        cmocka_unit_test(test_inet_checksum_rfc1071_example),
        cmocka_unit_test(test_inet_sum_matches_rfc1071_at_every_length),
        cmocka_unit_test(test_ipv6_routing_header_checksum_uses_final_destination),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
