/* gen_capture: the throughput bench's capture (see gen_capture.h): a
 * deterministic traffic model; testsupport's packet builder writes the
 * frames. */
#include "gen_capture.h"

#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "packet_builder.h"

/* ---- deterministic randomness (splitmix64) -------------------------------- */

static uint64_t gen_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint32_t gen_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(gen_rand(s) % ((uint64_t)hi - lo + 1));
}

#define GEN_MSS 1448u     /* segment size with timestamps, as on Ethernet */
#define GEN_WSCALE 7
#define GEN_FRAME_MAX 2048

static uint8_t gen_payload_src[65536]; /* what the payloads are cut from */

/* ---- flows ---------------------------------------------------------------- */

enum gen_phase {
    P_SYN, P_SYNACK, P_HSACK, /* handshake */
    P_XFER,                    /* `xfer_from` sends xfer_left bytes */
    P_XFER_ACK,                /* the receiver ACKs */
    P_FIN1, P_FIN2, P_FIN2_ACK, P_LAST_ACK, /* teardown */
    P_UDP,
    P_DONE,
};

struct gen_flow {
    bool udp;
    bool tiny;                /* connection-heavy shape: one 26-byte response */
    uint8_t phase;
    uint32_t ip[2];           /* [0] client, [1] server */
    uint16_t port[2];
    uint16_t ip_id[2];
    /* TCP */
    uint32_t next_seq[2];     /* absolute; everything sent is delivered in order */
    uint32_t ts_base[2], ts_last[2];
    uint16_t window[2];
    uint8_t rounds_left;
    uint8_t xfer_from;        /* side sending the current transfer */
    bool xfer_is_request;
    uint8_t unacked;          /* segments since the receiver's last ACK */
    uint32_t xfer_left;
    uint8_t closer;           /* side sending the first FIN */
    bool four_way;            /* FIN, ACK, FIN, ACK (else FIN, FIN-ACK, ACK) */
    /* UDP */
    bool udp_stream;
    uint16_t udp_left;
    uint16_t udp_len[2];      /* stream: datagram size */
    uint32_t dns_name;        /* DNS: asks for A of hNNNNN.example.com */
    uint16_t dns_id;
};

struct gen_state {
    uint64_t rng;
    uint64_t next_id;         /* flow counter: makes every 4-tuple unique */
    int64_t now_usec;         /* capture time */
    bool conns;               /* the connection-heavy shape */
    bool syn_only;            /* ... as a SYN flood */
    struct gen_stats *st;
};

static void gen_new_flow(struct gen_state *g, struct gen_flow *fl)
{
    memset(fl, 0, sizeof *fl);
    uint64_t id = g->next_id++;
    /* 10.x.y.z client (65521 addresses), a port per 65521 flows: unique. */
    fl->ip[0] = 0x0A000000u | (uint32_t)(1 + (id % 65521) * 251 % 0xFFFFFE);
    fl->port[0] = (uint16_t)(1024 + (id / 65521) % 64000);
    if (g->conns) { /* a time server's client: 8 frames, the server closes */
        g->st->tcp_conns++;
        fl->tiny = true;
        fl->ip[1] = 0xC0A80001u; /* 192.168.0.1:3434 */
        fl->port[1] = 3434;
        fl->ip_id[0] = (uint16_t)gen_rand(&g->rng);
        fl->ip_id[1] = (uint16_t)gen_rand(&g->rng);
        fl->phase = P_SYN;
        for (int s = 0; s < 2; s++) {
            fl->next_seq[s] = (uint32_t)gen_rand(&g->rng);
            fl->ts_base[s] = (uint32_t)gen_rand(&g->rng);
            fl->window[s] = (uint16_t)gen_range(&g->rng, 400, 512);
        }
        fl->rounds_left = 1;
        fl->closer = 1;
        fl->four_way = false;
        return;
    }
    fl->udp = gen_range(&g->rng, 1, 100) <= 10;
    fl->ip_id[0] = (uint16_t)gen_rand(&g->rng);
    fl->ip_id[1] = (uint16_t)gen_rand(&g->rng);
    if (fl->udp) {
        g->st->udp_flows++;
        fl->phase = P_UDP;
        fl->udp_stream = gen_range(&g->rng, 1, 100) <= 30;
        if (fl->udp_stream) {
            fl->ip[1] = 0xC0A80200u | gen_range(&g->rng, 1, 8); /* 192.168.2.x */
            fl->port[1] = (uint16_t)(16384 + 2 * gen_range(&g->rng, 0, 999));
            fl->udp_left = (uint16_t)gen_range(&g->rng, 20, 60);
            fl->udp_len[0] = 172; /* RTP + 160 bytes of audio */
        } else {
            fl->ip[1] = 0xC0A80135u; /* 192.168.1.53 */
            fl->port[1] = 53;
            fl->udp_left = (uint16_t)(2 * gen_range(&g->rng, 1, 4));
            fl->dns_name = (uint32_t)(id % 100000);
        }
        return;
    }
    g->st->tcp_conns++;
    static const uint16_t server_ports[] = {80, 443, 8080, 3434};
    fl->ip[1] = 0xC0A80000u | gen_range(&g->rng, 1, 16); /* 192.168.0.1-16 */
    fl->port[1] = server_ports[gen_range(&g->rng, 0, 3)];
    fl->phase = P_SYN;
    for (int s = 0; s < 2; s++) {
        fl->next_seq[s] = (uint32_t)gen_rand(&g->rng); /* ISN, sometimes near wrap */
        fl->ts_base[s] = (uint32_t)gen_rand(&g->rng);
        fl->window[s] = (uint16_t)gen_range(&g->rng, 400, 512); /* x128 */
    }
    fl->rounds_left = (uint8_t)gen_range(&g->rng, 1, 3);
    fl->closer = (uint8_t)gen_range(&g->rng, 0, 1);
    fl->four_way = gen_range(&g->rng, 0, 1);
}

static void gen_start_transfer(struct gen_state *g, struct gen_flow *fl, bool request)
{
    fl->xfer_is_request = request;
    fl->xfer_from = request ? 0 : 1;
    fl->xfer_left = request ? gen_range(&g->rng, 80, 3 * GEN_MSS)
                            : gen_range(&g->rng, 200, 14 * GEN_MSS);
    fl->unacked = 0;
    fl->phase = P_XFER;
}

/* ---- frames ------------------------------------------------------------- */

/* An L4 message from src to dst in an Ethernet/IPv4 frame at f (DF, TTL 64),
 * between the client's MAC and the router's. */
static size_t gen_frame(uint8_t *f, const struct pb_addr *src, const struct pb_addr *dst,
                        uint8_t proto, uint16_t ip_id, const uint8_t *l4, size_t l4len)
{
    static const uint8_t mac_client[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t mac_router[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xFE};
    bool from_client = src->b[0] == 10; /* clients are 10.x.y.z */
    struct pb_link eth = {
        .linktype = WC_LINK_EN10MB,
        .dst_mac = from_client ? mac_router : mac_client,
        .src_mac = from_client ? mac_client : mac_router,
    };
    struct pb_ip ip = {.id = ip_id, .df = true};
    return pb_wrap(f, GEN_FRAME_MAX, &eth, src, dst, proto, l4, l4len, &ip);
}

/* One TCP segment from side s. */
static size_t gen_tcp_segment(struct gen_state *g, struct gen_flow *fl, int s, uint8_t flags,
                              uint32_t len, uint8_t *f)
{
    bool syn = flags & TCP_SYN;
    uint32_t tsval = fl->ts_base[s] + (uint32_t)(g->now_usec / 1000);
    uint8_t opts[PB_SYN_OPTIONS_LEN];
    size_t opts_len = syn ? pb_syn_options_linux(opts, GEN_MSS + 12, tsval,
                                                 (flags & TCP_ACK) ? fl->ts_last[!s] : 0, GEN_WSCALE)
                          : pb_ts_options(opts, tsval, fl->ts_last[!s]);
    fl->ts_last[s] = tsval;
    const uint8_t *payload = NULL;
    if (len)
        payload = gen_payload_src + (size_t)gen_rand(&g->rng) % (sizeof gen_payload_src - len);
    struct pb_tcp t = {
        .sport = fl->port[s], .dport = fl->port[!s],
        .seq = fl->next_seq[s], .ack = (flags & TCP_ACK) ? fl->next_seq[!s] : 0,
        .flags = flags, .window = syn ? 64240 : fl->window[s],
        .opts = opts, .opts_len = opts_len, .payload = payload, .payload_len = len,
    };
    struct pb_addr src = pb_addr4(fl->ip[s]), dst = pb_addr4(fl->ip[!s]);
    uint8_t seg[GEN_FRAME_MAX];
    size_t n = pb_tcp_segment(seg, sizeof seg, &src, &dst, &t);
    fl->next_seq[s] += len + (syn ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
    return gen_frame(f, &src, &dst, IPPROTO_TCP, fl->ip_id[s]++, seg, n);
}

/* A well-formed DNS query (side 0) or its answer (side 1) at p. */
static uint32_t gen_dns_message(struct gen_state *g, struct gen_flow *fl, int s, uint8_t *p)
{
    if (s == 0)
        fl->dns_id = (uint16_t)gen_rand(&g->rng);
    pb_put16(p, fl->dns_id);
    pb_put16(p + 2, s ? 0x8180 : 0x0100); /* response, RD, RA / query, RD */
    pb_put16(p + 4, 1);                   /* one question */
    pb_put16(p + 6, s ? 1 : 0);           /* one answer in the response */
    pb_put16(p + 8, 0);
    pb_put16(p + 10, 0);
    uint8_t *q = p + 12;
    q[0] = 6;
    snprintf((char *)q + 1, 7, "h%05u", (unsigned)(fl->dns_name % 100000));
    memcpy(q + 7, "\7example\3com\0", 13);
    pb_put16(q + 20, 1);                  /* type A */
    pb_put16(q + 22, 1);                  /* class IN */
    uint32_t len = 12 + 24;
    if (s) {
        uint8_t *a = p + len;
        pb_put16(a, 0xC00C);              /* the name in the question */
        pb_put16(a + 2, 1);
        pb_put16(a + 4, 1);
        pb_put32(a + 6, 300);             /* TTL */
        pb_put16(a + 10, 4);
        pb_put32(a + 12, 0xC6336400u | (fl->dns_name & 0xFF)); /* 198.51.100.x */
        len += 16;
    }
    return len;
}

static size_t gen_udp_datagram(struct gen_state *g, struct gen_flow *fl, int s, uint8_t *f)
{
    uint8_t msg[GEN_FRAME_MAX];
    const uint8_t *payload = msg;
    uint32_t len;
    if (fl->udp_stream) {
        len = fl->udp_len[s];
        payload = gen_payload_src + (size_t)gen_rand(&g->rng) % (sizeof gen_payload_src - len);
    } else {
        len = gen_dns_message(g, fl, s, msg);
    }
    struct pb_addr src = pb_addr4(fl->ip[s]), dst = pb_addr4(fl->ip[!s]);
    uint8_t dg[GEN_FRAME_MAX];
    size_t n = pb_udp_datagram(dg, sizeof dg, &src, &dst, fl->port[s], fl->port[!s], payload, len,
                               PB_CSUM_GOOD);
    return gen_frame(f, &src, &dst, IPPROTO_UDP, fl->ip_id[s]++, dg, n);
}

/* The flow's next frame into f (room for GEN_FRAME_MAX bytes); returns its length.
 * Leaves fl->phase == P_DONE after the flow's last frame. */
static size_t gen_next_frame(struct gen_state *g, struct gen_flow *fl, uint8_t *f)
{
    if (fl->phase == P_UDP) {
        int s = fl->udp_stream ? 0 : (int)(fl->udp_left % 2 == 1);
        size_t n = gen_udp_datagram(g, fl, s, f);
        if (--fl->udp_left == 0)
            fl->phase = P_DONE;
        return n;
    }
    int closer = fl->closer;
    switch ((enum gen_phase)fl->phase) {
    case P_SYN:
        fl->phase = g->syn_only ? P_DONE : P_SYNACK;
        return gen_tcp_segment(g, fl, 0, TCP_SYN, 0, f);
    case P_SYNACK:
        fl->phase = P_HSACK;
        return gen_tcp_segment(g, fl, 1, TCP_SYN | TCP_ACK, 0, f);
    case P_HSACK:
        gen_start_transfer(g, fl, !fl->tiny);
        if (fl->tiny)
            fl->xfer_left = 26; /* "Thu Nov 30 02:35:52 2026\r\n" */
        return gen_tcp_segment(g, fl, 0, TCP_ACK, 0, f);
    case P_XFER: {
        uint32_t len = fl->xfer_left < GEN_MSS ? fl->xfer_left : GEN_MSS;
        fl->xfer_left -= len;
        bool last = fl->xfer_left == 0;
        fl->unacked++;
        if (last) {
            if (fl->xfer_is_request) /* the response's first segment ACKs it */
                gen_start_transfer(g, fl, false);
            else
                fl->phase = P_XFER_ACK;
        } else if (fl->unacked == 2) {
            fl->phase = P_XFER_ACK;
        }
        return gen_tcp_segment(g, fl, fl->xfer_from, TCP_ACK | (last ? TCP_PSH : 0), len, f);
    }
    case P_XFER_ACK: {
        int s = !fl->xfer_from;
        fl->unacked = 0;
        if (fl->xfer_left)
            fl->phase = P_XFER;
        else if (--fl->rounds_left)
            gen_start_transfer(g, fl, true);
        else
            fl->phase = P_FIN1;
        return gen_tcp_segment(g, fl, s, TCP_ACK, 0, f);
    }
    case P_FIN1:
        fl->phase = fl->four_way ? P_FIN2_ACK : P_FIN2;
        return gen_tcp_segment(g, fl, closer, TCP_FIN | TCP_ACK, 0, f);
    case P_FIN2_ACK: /* the passive side ACKs the FIN, then sends its own */
        fl->phase = P_FIN2;
        return gen_tcp_segment(g, fl, !closer, TCP_ACK, 0, f);
    case P_FIN2:
        fl->phase = P_LAST_ACK;
        return gen_tcp_segment(g, fl, !closer, TCP_FIN | TCP_ACK, 0, f);
    case P_LAST_ACK:
        fl->phase = P_DONE;
        return gen_tcp_segment(g, fl, closer, TCP_ACK, 0, f);
    case P_UDP:
    case P_DONE:
        break;
    }
    return 0;
}

bool gen_capture_write(const char *path, const struct gen_config *cfg, struct gen_stats *st)
{
    memset(st, 0, sizeof *st);
    if (cfg->concurrency == 0 || (cfg->packets == 0 && cfg->connections == 0)) {
        fprintf(stderr, "gen-capture: packets and concurrency must be > 0\n");
        return false;
    }
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    if (!dead) {
        fprintf(stderr, "gen-capture: pcap_open_dead failed\n");
        return false;
    }
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    if (!d) {
        fprintf(stderr, "gen-capture: %s: %s\n", path, pcap_geterr(dead));
        pcap_close(dead);
        return false;
    }
    static char iobuf[1 << 20];
    setvbuf(pcap_dump_file(d), iobuf, _IOFBF, sizeof iobuf);

    struct gen_state g = {.rng = cfg->seed, .conns = cfg->connections != 0,
                           .syn_only = cfg->connections != 0 && cfg->syn_only, .st = st};
    for (size_t i = 0; i < sizeof gen_payload_src; i++) /* printable, like HTTP */
        gen_payload_src[i] = (uint8_t)(' ' + gen_rand(&g.rng) % 95);
    struct gen_flow *slots = calloc(cfg->concurrency, sizeof *slots);
    if (!slots) {
        fprintf(stderr, "gen-capture: out of memory\n");
        pcap_dump_close(d);
        pcap_close(dead);
        return false;
    }
    unsigned live = cfg->concurrency;
    if (g.conns && live > cfg->connections)
        live = (unsigned)cfg->connections;
    for (unsigned i = 0; i < live; i++)
        gen_new_flow(&g, &slots[i]);

    const int64_t start = 1700000000LL * 1000000; /* 2023-11-14 */
    /* Mean gap 100 us (10k packets/s): capture time runs well past the
     * 60 s UDP idle timeout, so wirecheck reaches its steady state. */
    g.now_usec = start;
    uint8_t frame[GEN_FRAME_MAX];
    bool ok = true;
    /* Once `packets` frames are written no flow starts any more and the open
     * ones run to their end (a finished flow is swapped with the last live
     * slot), so every connection is complete and the file passes. */
    uint64_t n;
    for (n = 0; live > 0; n++) {
        struct gen_flow *fl = &slots[gen_rand(&g.rng) % live];
        size_t len = gen_next_frame(&g, fl, frame);
        if (fl->phase == P_DONE) {
            if (fl->udp)
                st->udp_completed++;
            else
                st->tcp_completed++;
            if (g.conns ? g.next_id < cfg->connections : n + 1 < cfg->packets)
                gen_new_flow(&g, fl);
            else
                *fl = slots[--live];
        }
        struct pcap_pkthdr h;
        h.ts.tv_sec = (time_t)(g.now_usec / 1000000);
        h.ts.tv_usec = (suseconds_t)(g.now_usec % 1000000);
        h.caplen = h.len = (bpf_u_int32)len;
        pcap_dump((u_char *)d, &h, frame);
        st->bytes += len;
        g.now_usec += g.conns ? 1 : gen_range(&g.rng, 1, 199);
    }
    st->packets = n;
    st->duration_usec = g.now_usec - start;
    if (pcap_dump_flush(d) != 0 || ferror(pcap_dump_file(d))) {
        fprintf(stderr, "gen-capture: %s: write failed: %s\n", path, strerror(errno));
        ok = false;
    }
    pcap_dump_close(d);
    pcap_close(dead);
    free(slots);
    return ok;
}
