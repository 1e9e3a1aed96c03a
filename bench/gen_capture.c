/* gen_capture: writes a large, deterministic, valid Ethernet/IPv4 capture
 * for the `wirecheck check` throughput bench (bench_check_throughput.c
 * includes this file; built alone it is the `bench-gen-capture` tool).
 *
 * The traffic: `concurrency` slots, each holding one flow at a time; every
 * packet comes from a slot drawn at random, so a few thousand flows are open
 * at once and their packets interleave. When a flow ends its slot starts a
 * new one, so the number of open flows stays the same however many packets
 * are written (which is what lets the bench show that wirecheck's memory
 * follows open flows, not the file).
 *   - TCP (90% of slots): SYN / SYN-ACK / ACK with MSS, SACK-permitted,
 *     timestamps and window scale; 1-3 request/response rounds (requests of
 *     up to 3 segments, responses of up to 14), the receiver ACKing every
 *     second segment and the end of each response; then a FIN teardown,
 *     closed by either side, as FIN / FIN-ACK / ACK or FIN / ACK / FIN / ACK.
 *     Timestamps on every segment, no loss, no retransmission, no RST.
 *   - UDP (10% of slots): DNS query/answer exchanges (1-4), or one-way
 *     media-like streams of 20-60 datagrams.
 * After PACKETS frames no new flow starts and the open ones finish, so the
 * file holds a little more than PACKETS frames (about 8% more with 4000
 * flows open) and every flow in it is complete.
 * IPv4 header, TCP and UDP checksums are all valid. A fixed seed makes the
 * file byte-for-byte the same on every run.
 *
 *   bench-gen-capture FILE [PACKETS [CONCURRENCY [SEED]]] */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gen_config {
    uint64_t packets;     /* frames to write */
    unsigned concurrency; /* flows open at once */
    uint64_t seed;
};

struct gen_stats {
    uint64_t packets, tcp_conns, udp_flows, tcp_completed, udp_completed;
    uint64_t bytes;       /* captured bytes (frames) */
    int64_t duration_usec;/* capture time from first to last frame */
};

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

/* ---- frame building -------------------------------------------------------- */

#define GEN_MSS 1448u     /* segment size with timestamps, as on Ethernet */
#define GEN_WSCALE 7
#define GEN_ETH 14
#define GEN_IP 20

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };

static uint8_t gen_payload_src[65536]; /* what the payloads are cut from */

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (; n > 1; n -= 2, p += 2)
        sum += (uint32_t)p[0] << 8 | p[1];
    if (n)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Ethernet + IPv4 header for an L4 payload of l4len bytes (already at
 * f + GEN_ETH + GEN_IP); fills the L4 checksum at l4 offset csum_at. */
static size_t gen_finish_frame(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto,
                               uint16_t ip_id, size_t l4len, size_t csum_at)
{
    static const uint8_t mac_client[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t mac_router[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xFE};
    bool from_client = (src >> 24) == 10;
    memcpy(f, from_client ? mac_router : mac_client, 6);
    memcpy(f + 6, from_client ? mac_client : mac_router, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + GEN_ETH;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, (uint32_t)(GEN_IP + l4len));
    put16(ip + 4, ip_id);
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = proto;
    put16(ip + 10, 0);
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, csum_fold(csum_add(0, ip, GEN_IP)));
    uint8_t *l4 = ip + GEN_IP;
    uint32_t sum = csum_add(0, ip + 12, 8); /* pseudo-header */
    sum += proto;
    sum += (uint32_t)l4len;
    sum = csum_add(sum, l4, l4len);
    uint16_t c = csum_fold(sum);
    if (proto == 17 && c == 0)
        c = 0xFFFF;
    put16(l4 + csum_at, c);
    return GEN_ETH + GEN_IP + l4len;
}

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
    struct gen_stats *st;
};

static void gen_new_flow(struct gen_state *g, struct gen_flow *fl)
{
    memset(fl, 0, sizeof *fl);
    uint64_t id = g->next_id++;
    /* 10.x.y.z client (65521 addresses), a port per 65521 flows: unique. */
    fl->ip[0] = 0x0A000000u | (uint32_t)(1 + (id % 65521) * 251 % 0xFFFFFE);
    fl->port[0] = (uint16_t)(1024 + (id / 65521) % 64000);
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

/* One TCP segment from side s. */
static size_t gen_tcp_segment(struct gen_state *g, struct gen_flow *fl, int s, uint8_t flags,
                              uint32_t len, uint8_t *f)
{
    uint8_t *t = f + GEN_ETH + GEN_IP;
    bool syn = flags & F_SYN;
    size_t hlen = syn ? 40 : 32;
    put16(t, fl->port[s]);
    put16(t + 2, fl->port[!s]);
    put32(t + 4, fl->next_seq[s]);
    put32(t + 8, (flags & F_ACK) ? fl->next_seq[!s] : 0);
    t[12] = (uint8_t)((hlen / 4) << 4);
    t[13] = flags;
    put16(t + 14, syn ? 64240 : fl->window[s]);
    put16(t + 16, 0);
    put16(t + 18, 0);
    uint32_t tsval = fl->ts_base[s] + (uint32_t)(g->now_usec / 1000);
    uint8_t *o = t + 20;
    if (syn) { /* Linux order: MSS, SACK-permitted, timestamps, NOP, wscale */
        o[0] = 2, o[1] = 4;
        put16(o + 2, GEN_MSS + 12);
        o[4] = 4, o[5] = 2;
        o[6] = 8, o[7] = 10;
        put32(o + 8, tsval);
        put32(o + 12, (flags & F_ACK) ? fl->ts_last[!s] : 0);
        o[16] = 1;
        o[17] = 3, o[18] = 3, o[19] = GEN_WSCALE;
    } else {
        o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
        put32(o + 4, tsval);
        put32(o + 8, fl->ts_last[!s]);
    }
    fl->ts_last[s] = tsval;
    if (len) {
        size_t at = (size_t)gen_rand(&g->rng) % (sizeof gen_payload_src - len);
        memcpy(t + hlen, gen_payload_src + at, len);
    }
    fl->next_seq[s] += len + (syn ? 1 : 0) + ((flags & F_FIN) ? 1 : 0);
    return gen_finish_frame(f, fl->ip[s], fl->ip[!s], 6, fl->ip_id[s]++, hlen + len, 16);
}

/* A well-formed DNS query (side 0) or its answer (side 1) at p. */
static uint32_t gen_dns_message(struct gen_state *g, struct gen_flow *fl, int s, uint8_t *p)
{
    if (s == 0)
        fl->dns_id = (uint16_t)gen_rand(&g->rng);
    put16(p, fl->dns_id);
    put16(p + 2, s ? 0x8180 : 0x0100); /* response, RD, RA / query, RD */
    put16(p + 4, 1);                   /* one question */
    put16(p + 6, s ? 1 : 0);           /* one answer in the response */
    put16(p + 8, 0);
    put16(p + 10, 0);
    uint8_t *q = p + 12;
    q[0] = 6;
    snprintf((char *)q + 1, 7, "h%05u", (unsigned)(fl->dns_name % 100000));
    memcpy(q + 7, "\7example\3com\0", 13);
    put16(q + 20, 1);                  /* type A */
    put16(q + 22, 1);                  /* class IN */
    uint32_t len = 12 + 24;
    if (s) {
        uint8_t *a = p + len;
        put16(a, 0xC00C);              /* the name in the question */
        put16(a + 2, 1);
        put16(a + 4, 1);
        put32(a + 6, 300);             /* TTL */
        put16(a + 10, 4);
        put32(a + 12, 0xC6336400u | (fl->dns_name & 0xFF)); /* 198.51.100.x */
        len += 16;
    }
    return len;
}

static size_t gen_udp_datagram(struct gen_state *g, struct gen_flow *fl, int s, uint8_t *f)
{
    uint8_t *u = f + GEN_ETH + GEN_IP;
    uint32_t len;
    if (fl->udp_stream) {
        len = fl->udp_len[s];
        size_t at = (size_t)gen_rand(&g->rng) % (sizeof gen_payload_src - len);
        memcpy(u + 8, gen_payload_src + at, len);
    } else {
        len = gen_dns_message(g, fl, s, u + 8);
    }
    put16(u, fl->port[s]);
    put16(u + 2, fl->port[!s]);
    put16(u + 4, 8 + len);
    put16(u + 6, 0);
    return gen_finish_frame(f, fl->ip[s], fl->ip[!s], 17, fl->ip_id[s]++, 8 + len, 6);
}

/* The flow's next frame into f (room for 1600 bytes); returns its length.
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
        fl->phase = P_SYNACK;
        return gen_tcp_segment(g, fl, 0, F_SYN, 0, f);
    case P_SYNACK:
        fl->phase = P_HSACK;
        return gen_tcp_segment(g, fl, 1, F_SYN | F_ACK, 0, f);
    case P_HSACK:
        gen_start_transfer(g, fl, true);
        return gen_tcp_segment(g, fl, 0, F_ACK, 0, f);
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
        return gen_tcp_segment(g, fl, fl->xfer_from, F_ACK | (last ? F_PSH : 0), len, f);
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
        return gen_tcp_segment(g, fl, s, F_ACK, 0, f);
    }
    case P_FIN1:
        fl->phase = fl->four_way ? P_FIN2_ACK : P_FIN2;
        return gen_tcp_segment(g, fl, closer, F_FIN | F_ACK, 0, f);
    case P_FIN2_ACK: /* the passive side ACKs the FIN, then sends its own */
        fl->phase = P_FIN2;
        return gen_tcp_segment(g, fl, !closer, F_ACK, 0, f);
    case P_FIN2:
        fl->phase = P_LAST_ACK;
        return gen_tcp_segment(g, fl, !closer, F_FIN | F_ACK, 0, f);
    case P_LAST_ACK:
        fl->phase = P_DONE;
        return gen_tcp_segment(g, fl, closer, F_ACK, 0, f);
    case P_UDP:
    case P_DONE:
        break;
    }
    return 0;
}

/* Writes the capture; false (with a message on stderr) on error. */
static bool gen_capture_write(const char *path, const struct gen_config *cfg, struct gen_stats *st)
{
    memset(st, 0, sizeof *st);
    if (cfg->concurrency == 0 || cfg->packets == 0) {
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

    struct gen_state g = {.rng = cfg->seed, .st = st};
    for (size_t i = 0; i < sizeof gen_payload_src; i++) /* printable, like HTTP */
        gen_payload_src[i] = (uint8_t)(' ' + gen_rand(&g.rng) % 95);
    struct gen_flow *slots = calloc(cfg->concurrency, sizeof *slots);
    if (!slots) {
        fprintf(stderr, "gen-capture: out of memory\n");
        pcap_dump_close(d);
        pcap_close(dead);
        return false;
    }
    for (unsigned i = 0; i < cfg->concurrency; i++)
        gen_new_flow(&g, &slots[i]);

    const int64_t start = 1700000000LL * 1000000; /* 2023-11-14 */
    /* Mean gap 100 us (10k packets/s): capture time runs well past the
     * 60 s UDP idle timeout, so wirecheck reaches its steady state. */
    g.now_usec = start;
    uint8_t frame[2048];
    bool ok = true;
    /* Once `packets` frames are written no flow starts any more and the open
     * ones run to their end (a finished flow is swapped with the last live
     * slot), so every connection is complete and the file passes. */
    unsigned live = cfg->concurrency;
    uint64_t n;
    for (n = 0; live > 0; n++) {
        struct gen_flow *fl = &slots[gen_rand(&g.rng) % live];
        size_t len = gen_next_frame(&g, fl, frame);
        if (fl->phase == P_DONE) {
            if (fl->udp)
                st->udp_completed++;
            else
                st->tcp_completed++;
            if (n + 1 < cfg->packets)
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
        g.now_usec += gen_range(&g.rng, 1, 199);
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

#ifndef GEN_CAPTURE_EMBEDDED
int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5 || argv[1][0] == '-') {
        fprintf(stderr, "usage: bench-gen-capture FILE [PACKETS [CONCURRENCY [SEED]]]\n"
                        "defaults: 1000000 packets, 4000 concurrent flows, seed 1\n");
        return 2;
    }
    struct gen_config cfg = {1000000, 4000, 1};
    if (argc > 2)
        cfg.packets = strtoull(argv[2], NULL, 10);
    if (argc > 3)
        cfg.concurrency = (unsigned)strtoul(argv[3], NULL, 10);
    if (argc > 4)
        cfg.seed = strtoull(argv[4], NULL, 10);
    struct gen_stats st;
    if (!gen_capture_write(argv[1], &cfg, &st))
        return 1;
    printf("%s: %llu packets (%.1f MB), %llu TCP connections, %llu UDP flows, "
           "%.1f s of capture time\n",
           argv[1], (unsigned long long)st.packets, st.bytes / 1e6,
           (unsigned long long)st.tcp_conns, (unsigned long long)st.udp_flows,
           st.duration_usec / 1e6);
    return 0;
}
#endif
