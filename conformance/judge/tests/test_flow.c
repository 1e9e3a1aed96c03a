/* Flow tracker facts (sequence bookkeeping, FIN/RST, payload copy) and the
 * analysis table's memory bound (reassembly: test_reasm.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis.h"
#include "flow.h"
#include "packet_builder.h"

/* Feeds emitted frames straight into one tcp_flow. */
struct tcp_sink {
    struct tcp_flow flow;
    bool started;
    uint32_t frame;
    size_t cap;
};

static void tcp_sink_emit(void *ctx, const uint8_t *bytes, size_t len)
{
    struct tcp_sink *s = ctx;
    struct packet p;
    s->frame++;
    assert_int_equal(dissect_frame(&p, s->frame, s->frame * 1000, WC_LINK_EN10MB, bytes, (uint32_t)len, (uint32_t)len),
                     DISSECT_OK);
    if (!s->started) {
        tcp_flow_init(&s->flow, &p, s->cap);
        s->started = true;
    }
    tcp_flow_update(&s->flow, &p);
}

static void test_clean_session_facts(void **state)
{
    (void)state;
    struct tcp_sink s = { .cap = 1024 };
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, tcp_sink_emit, &s);
    pb_conv_clean_session(&c, "GET", "Tue Nov 25 16:30:00 2025\r\n");
    const struct tcp_flow *f = &s.flow;
    assert_true(f->established);
    assert_true(f->handshake_ack_ok);
    assert_int_equal(f->synack_frame, 2);
    assert_int_equal(f->handshake_ack_frame, 3);
    assert_int_equal(tcp_flow_bytes(f, 0), 3);
    assert_int_equal(tcp_flow_bytes(f, 1), 26);
    assert_int_equal(f->side[0].isn, 1000);
    assert_int_equal(f->side[1].isn, 5000);
    assert_int_equal(f->first_fin_side, 0);
    assert_true(f->side[0].fin_seen && f->side[1].fin_seen);
    assert_int_equal(f->side[0].fin_rel, 3);   /* FIN occupies the seq after the data */
    assert_int_equal(f->side[1].fin_rel, 26);
    assert_int_equal(f->side[1].fin_ack_frame, 9); /* server acks the client FIN with its own FIN */
    assert_int_equal(f->side[0].fin_ack_frame, 10);
    assert_true(f->closed);
    assert_false(f->simultaneous_close);
    assert_int_equal(f->side[0].retransmits.count + f->side[1].retransmits.count, 0);
    assert_int_equal(f->half_close_side, -1);
    assert_int_equal(f->side[1].copy.contiguous, 26);
    assert_memory_equal(f->side[1].copy.bytes, "Tue Nov 25", 10);
    tcp_flow_free(&s.flow);
}

static void test_retransmission_and_out_of_order_copy(void **state)
{
    (void)state;
    struct tcp_sink s = { .cap = 6 };
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, tcp_sink_emit, &s);
    pb_conv_handshake(&c);
    uint32_t base = c.seq[0];
    /* "defg" arrives before "abc", then "abc" is sent again. */
    pb_conv_tcp_raw(&c, 0, TCP_ACK, base + 3, c.seq[1], NULL, 0, "defg", 4);
    pb_conv_tcp_raw(&c, 0, TCP_ACK, base, c.seq[1], NULL, 0, "abc", 3);
    pb_conv_tcp_raw(&c, 0, TCP_ACK, base, c.seq[1], NULL, 0, "abc", 3);
    const struct tcp_side *cl = &s.flow.side[0];
    assert_int_equal(cl->hi, 7);
    /* Frame 5 ("abc" after "defg") fills the gap frame 4 opened, at once:
     * overtaken on the way, not resent (Wireshark: "out-of-order"); frame
     * 6 covers bytes already seen: a retransmission. */
    assert_int_equal(cl->out_of_order.count, 1);
    assert_int_equal(FLOW_FRAMES(&s.flow, cl->out_of_order)->frames[0], 5);
    assert_int_equal(cl->retransmits.count, 1);
    assert_int_equal(FLOW_FRAMES(&s.flow, cl->retransmits)->frames[0], 6);
    /* The copy is bounded at cap (6) and in sequence order. */
    assert_int_equal(cl->copy.contiguous, 6);
    assert_memory_equal(cl->copy.bytes, "abcdef", 6);
    tcp_flow_free(&s.flow);
}

static void test_rst_window_and_refusal(void **state)
{
    (void)state;
    struct tcp_sink s = { 0 };
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, tcp_sink_emit, &s);
    pb_conv_tcp(&c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp_raw(&c, 1, TCP_RST | TCP_ACK, 0, c.seq[0], NULL, 0, NULL, 0);
    assert_true(s.flow.refused);
    assert_int_equal(s.flow.refused_frame, 2);
    assert_true(s.flow.closed);

    struct tcp_sink t = { 0 };
    pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40001, "10.0.0.2", 3434, tcp_sink_emit, &t);
    pb_conv_handshake(&c);
    /* RST far outside the client's window (512 << 7). */
    pb_conv_tcp_raw(&c, 1, TCP_RST, c.seq[1] + 10000000, 0, NULL, 0, NULL, 0);
    assert_false(t.flow.refused);
    assert_false(t.flow.side[1].rst_in_window);
    assert_int_equal(t.flow.side[1].rsts.count, 1);
    tcp_flow_free(&s.flow);
    tcp_flow_free(&t.flow);
}

static void test_half_close_and_data_after_fin(void **state)
{
    (void)state;
    struct tcp_sink s = { 0 };
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, tcp_sink_emit, &s);
    pb_conv_handshake(&c);
    pb_conv_tcp(&c, 0, TCP_FIN | TCP_ACK, NULL, 0);     /* 4: client SHUT_WR */
    pb_conv_tcp(&c, 1, TCP_ACK | TCP_PSH, "late", 4);   /* 5: server keeps sending */
    pb_conv_tcp(&c, 0, TCP_ACK, "oops", 4);             /* 6: client data after FIN */
    assert_int_equal(s.flow.half_close_side, 0);
    assert_int_equal(s.flow.half_close_data_frame, 5);
    assert_int_equal(s.flow.side[0].data_after_fin.count, 1);
    assert_int_equal(FLOW_FRAMES(&s.flow, s.flow.side[0].data_after_fin)->frames[0], 6);
    tcp_flow_free(&s.flow);
}

/* p: frame 1, a UDP datagram "ping" from 10.0.0.1.40000 to 10.0.0.2.3434,
 * dissected from ip (which it points into). */
static void udp_ping(struct packet *p, uint8_t ip[128])
{
    uint8_t dg[64];
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    size_t n = pb_udp_datagram(dg, sizeof dg, &a, &b, 40000, 3434, "ping", 4, PB_CSUM_GOOD);
    n = pb_ip_packet(ip, 128, &a, &b, WC_IPPROTO_UDP, dg, n, NULL);
    assert_int_equal(dissect_frame(p, 1, 0, WC_LINK_RAW, ip, (uint32_t)n, (uint32_t)n), DISSECT_OK);
}

static void test_udp_flow_and_icmp(void **state)
{
    (void)state;
    struct packet p;
    struct udp_flow f;
    uint8_t ip[128];
    udp_ping(&p, ip);
    udp_flow_init(&f, &p, 64);
    udp_flow_update(&f, &p);
    udp_flow_update(&f, &p);
    assert_int_equal(f.side[0].datagrams, 2);
    assert_int_equal(f.side[0].bytes, 8);
    assert_int_equal(f.side[0].good_checksums, 2);
    assert_int_equal(f.side[0].copy.contiguous, 8);
    assert_memory_equal(f.side[0].copy.bytes, "pingping", 8);
    assert_int_equal(udp_flow_sender(&f, &p), 0);
    udp_flow_free(&f);
}

/* Each list keeps its first FLOW_MAX_NOTED_FRAMES frames, in order, however
 * the lists' frames interleave; an empty list reads as empty. */
static void test_noted_frames_per_list(void **state)
{
    (void)state;
    struct packet p;
    struct udp_flow f;
    uint8_t ip[128];
    udp_ping(&p, ip);
    udp_flow_init(&f, &p, 0);
    uint16_t good_len = p.udp_len;
    for (uint32_t k = 1; k <= 30; k++) {
        p.frame = k;
        p.l4_checksum = k % 2 ? CSUM_BAD : CSUM_GOOD;  /* 1, 3, 5...: 15 */
        p.udp_len = k % 3 ? good_len : 0;               /* 3, 6, 9...: 10 */
        udp_flow_update(&f, &p);
    }
    const struct udp_side *S = &f.side[0];
    const struct frame_list *bad = FLOW_FRAMES(&f, S->bad_checksum);
    const struct frame_list *len = FLOW_FRAMES(&f, S->bad_length);
    assert_int_equal(bad->count, 15);
    assert_int_equal(len->count, 10);
    for (uint32_t k = 0; k < FLOW_MAX_NOTED_FRAMES; k++) {
        assert_int_equal(bad->frames[k], 2 * k + 1);
        assert_int_equal(len->frames[k], 3 * k + 3);
    }
    const struct frame_list *none = FLOW_FRAMES(&f, S->reassembled);
    assert_int_equal(none->count, 0);
    assert_int_equal(none->frames[0], 0);
    udp_flow_free(&f);
}

/* Analysis memory: thousands of sequential connections keep only a few
 * open at once; an idle one is judged by the timeout. */
struct feed {
    struct analysis *a;
    uint32_t frame;
    int64_t ts;
};

static void feed_emit(void *ctx, const uint8_t *bytes, size_t len)
{
    struct feed *f = ctx;
    f->frame++;
    f->ts += 1000; /* 1 ms apart */
    analysis_feed(f->a, f->frame, f->ts, WC_LINK_EN10MB, (uint32_t)len, (uint32_t)len, bytes);
}

static void count_done(const struct flow_report *r, void *ctx)
{
    (void)r;
    (*(unsigned *)ctx)++;
}

static void test_memory_grows_with_open_flows_only(void **state)
{
    (void)state;
    unsigned done = 0;
    struct analysis_options o;
    analysis_options_default(&o);
    o.on_flow_done = count_done;
    o.ctx = &done;
    struct feed f = { analysis_create(&o), 0, 0 };
    assert_non_null(f.a);
    for (int i = 0; i < 3000; i++) {
        struct pb_conv c;
        pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", (uint16_t)(20000 + i), "10.0.0.2", 3434, feed_emit, &f);
        pb_conv_clean_session(&c, "q", "a");
    }
    struct analysis_summary s;
    analysis_get_summary(f.a, &s);
    /* 10 frames of 1 ms per connection, judged 2 s after closing: ~200 open. */
    assert_true(s.max_open_flows < 300);
    assert_true(done > 2500);
    analysis_finish(f.a);
    analysis_get_summary(f.a, &s);
    assert_int_equal(done, 3000);
    assert_int_equal(s.tcp_flows, 3000);
    assert_int_equal(s.open_flows, 0);
    assert_int_equal(s.verdicts[VERDICT_FAIL], 0);
    analysis_destroy(f.a);

    /* Idle timeout: an open connection is judged once capture time passes it. */
    done = 0;
    o.tcp_idle_usec = 1000000;
    f.a = analysis_create(&o);
    f.frame = 0;
    f.ts = 0;
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, feed_emit, &f);
    pb_conv_handshake(&c);
    assert_int_equal(done, 0);
    f.ts += 5000000;
    pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40001, "10.0.0.2", 3434, feed_emit, &f);
    pb_conv_tcp(&c, 0, TCP_SYN, NULL, 0);
    assert_int_equal(done, 1);
    analysis_destroy(f.a); /* destroying with open flows must not leak (ASan) */
}

/* Feeds the next frame at capture time `usec` (feed_emit adds its 1 ms). */
static void feed_at(struct feed *f, int64_t usec)
{
    f->ts = usec - 1000;
}

#define SEC 1000000LL

/* Idle judgement goes by each flow's deadline, which moves with its
 * packets: later as it keeps talking, earlier when the clock steps back. */
static void test_idle_deadlines_follow_the_packets(void **state)
{
    (void)state;
    unsigned done = 0;
    struct analysis_options o;
    analysis_options_default(&o); /* UDP idle 60 s */
    o.on_flow_done = count_done;
    o.ctx = &done;
    struct feed f = { analysis_create(&o), 0, 0 };
    struct pb_conv talker, other;
    pb_conv_init(&talker, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 53, feed_emit, &f);
    pb_conv_init(&other, WC_LINK_EN10MB, "10.0.0.3", 40000, "10.0.0.2", 53, feed_emit, &f);
    /* A datagram every 40 s: past its first deadline, never idle 60 s. */
    for (int64_t t = 0; t <= 160; t += 40) {
        feed_at(&f, t * SEC);
        pb_conv_udp(&talker, 0, "q", 1);
    }
    assert_int_equal(done, 0);
    feed_at(&f, 221 * SEC);
    pb_conv_udp(&other, 0, "q", 1); /* 61 s after the talker's last */
    assert_int_equal(done, 1);

    /* The clock steps back from 300 s to 10 s: idle since 10 s, so due at
     * 70 s, long before the deadline its first datagram set (360 s). */
    feed_at(&f, 300 * SEC);
    pb_conv_udp(&talker, 0, "q", 1);        /* a new talker flow */
    assert_int_equal(done, 2);              /* other: idle since 221 s */
    feed_at(&f, 10 * SEC);
    pb_conv_udp(&talker, 0, "q", 1);
    feed_at(&f, 301 * SEC);
    pb_conv_udp(&other, 0, "q", 1);
    assert_int_equal(done, 3);
    analysis_destroy(f.a);
}

/* Flows due in the same scan are judged in the order they began, whatever
 * the order of their deadlines. */
static void test_flows_due_together_are_judged_oldest_first(void **state)
{
    (void)state;
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    struct feed f = { analysis_create(&o), 0, 0 };
    struct pb_conv udp, tcp, late;
    pb_conv_init(&udp, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 53, feed_emit, &f);
    pb_conv_init(&tcp, WC_LINK_EN10MB, "10.0.0.1", 40001, "10.0.0.2", 3434, feed_emit, &f);
    pb_conv_init(&late, WC_LINK_EN10MB, "10.0.0.3", 40000, "10.0.0.2", 53, feed_emit, &f);
    feed_at(&f, 0);
    pb_conv_udp(&udp, 0, "q", 1);           /* due at 60 s */
    feed_at(&f, 1 * SEC);
    pb_conv_tcp(&tcp, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp(&tcp, 1, TCP_RST | TCP_ACK, NULL, 0); /* refused: due 2 s later */
    assert_int_equal(analysis_report_count(f.a), 0);
    feed_at(&f, 100 * SEC);
    pb_conv_udp(&late, 0, "q", 1);          /* one scan finds both due */
    assert_int_equal(analysis_report_count(f.a), 2);
    assert_int_equal(analysis_report(f.a, 0)->proto, FLOW_UDP);
    assert_int_equal(analysis_report(f.a, 1)->proto, FLOW_TCP);
    analysis_finish(f.a);
    analysis_destroy(f.a);
}

static void test_port_reuse_starts_a_new_flow(void **state)
{
    (void)state;
    unsigned done = 0;
    struct analysis_options o;
    analysis_options_default(&o);
    o.on_flow_done = count_done;
    o.ctx = &done;
    struct feed f = { analysis_create(&o), 0, 0 };
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, feed_emit, &f);
    pb_conv_clean_session(&c, "a", "b");
    c.seq[0] += 100000;
    pb_conv_clean_session(&c, "c", "d");  /* same 4-tuple within the linger */
    analysis_finish(f.a);
    assert_int_equal(done, 2);
    analysis_destroy(f.a);
}

/* Corrupted sessions, time running backwards, fragments of garbage: the
 * analysis must neither crash nor leak (run under ASan), and must still
 * account for every frame. */
struct mutate {
    struct analysis *a;
    uint32_t frame, rng;
    int64_t ts;
};

static void mutate_emit(void *ctx, const uint8_t *bytes, size_t len)
{
    struct mutate *m = ctx;
    static uint8_t copy[PB_MAX_FRAME];
    memcpy(copy, bytes, len);
    m->rng = m->rng * 1103515245u + 12345u;
    if (m->rng >> 28 < 6) /* corrupt some frames, keep most intact */
        copy[(m->rng >> 8) % len] ^= (uint8_t)(m->rng >> 16 | 1);
    m->frame++;
    m->ts += (m->rng >> 20) % 3 == 0 ? -50000 : 1000000;
    uint8_t *exact = malloc(len);
    assert_non_null(exact);
    memcpy(exact, copy, len);
    analysis_feed(m->a, m->frame, m->ts, WC_LINK_EN10MB, (uint32_t)len, (uint32_t)len, exact);
    free(exact);
}

static void test_corrupted_traffic_never_crashes(void **state)
{
    (void)state;
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    o.tcp_idle_usec = 3000000;
    struct mutate m = { analysis_create(&o), 0, 99, 0 };
    for (int i = 0; i < 300; i++) {
        struct pb_conv c;
        pb_conv_init(&c, WC_LINK_EN10MB, i % 2 ? "10.0.0.1" : "fd00::1", (uint16_t)(30000 + i % 7),
                     i % 2 ? "10.0.0.2" : "fd00::2", 3434, mutate_emit, &m);
        pb_conv_clean_session(&c, "abc", "defgh");
        pb_conv_udp(&c, 0, "u", 1);
        pb_conv_port_unreachable(&c, "u", 1);
    }
    analysis_finish(m.a);
    struct analysis_summary s;
    analysis_get_summary(m.a, &s);
    assert_int_equal(s.frames, m.frame);
    assert_int_equal(s.open_flows, 0);
    assert_true(s.malformed > 0);
    char comment[256];
    for (uint32_t f = 1; f <= m.frame; f += 97)
        analysis_frame_comment(m.a, f, comment, sizeof comment);
    analysis_destroy(m.a);
}


/* ---- capture duplicates ------------------------------------------------------ */

/* Records the IP packets a conversation emits (linktype 101: raw IP). */
struct ip_log {
    size_t n;
    size_t len[64];
    uint8_t pkt[64][1600];
};

static void ip_log_emit(void *ctx, const uint8_t *bytes, size_t len)
{
    struct ip_log *l = ctx;
    assert_true(l->n < 64 && len <= sizeof l->pkt[0]);
    memcpy(l->pkt[l->n], bytes, len);
    l->len[l->n++] = len;
}

struct dup_feed {
    struct analysis *a;
    uint32_t frame;
};

/* Feeds one IP packet behind `linktype`'s header at ts. */
static void feed_ip(struct dup_feed *d, int linktype, int64_t ts, const uint8_t *ip, size_t len)
{
    static uint8_t frame[PB_MAX_FRAME];
    size_t n = pb_link_frame(frame, sizeof frame, linktype, 0, ip, len);
    assert_true(n > 0);
    d->frame++;
    assert_int_equal(analysis_feed(d->a, d->frame, ts, linktype, (uint32_t)n, (uint32_t)n, frame),
                     DISSECT_OK);
}

static struct analysis *dup_analysis(void)
{
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    struct analysis *a = analysis_create(&o);
    assert_non_null(a);
    return a;
}

static const struct verdict *only_tcp_verdict(struct analysis *a, const char *rule)
{
    const struct verdict *found = NULL;
    for (size_t i = 0; i < analysis_report_count(a); i++) {
        const struct flow_report *r = analysis_report(a, i);
        if (r->proto == FLOW_TCP) {
            assert_null(found);
            found = flow_report_find(r, rule);
            assert_non_null(found);
        }
    }
    assert_non_null(found);
    return found;
}

/* IPv4: decrements the TTL and fixes the header checksum, as a router does. */
static void forward_hop(uint8_t *ip)
{
    ip[8]--;
    pb_put16(ip + 10, 0);
    pb_put16(ip + 10, (uint16_t)~inet_fold(inet_sum(0, ip, (size_t)(ip[0] & 0x0f) * 4)));
}

static void test_capture_duplicates_are_not_retransmissions(void **state)
{
    (void)state;
    for (int fam = 4; fam <= 6; fam += 2) {
        struct ip_log log = { 0 };
        struct pb_conv c;
        pb_conv_init(&c, WC_LINK_RAW, fam == 4 ? "10.0.0.1" : "fd00::1", 40000,
                     fam == 4 ? "10.0.0.2" : "fd00::2", 3434, ip_log_emit, &log);
        pb_conv_clean_session(&c, "GET", "Tue Nov 25 16:30:00 2025\r\n");
        /* `tcpdump -i any` on a router: each packet once as it comes in
         * (Linux cooked v2), once as it leaves (Ethernet, TTL - 1), 7 us
         * later. */
        struct dup_feed d = { dup_analysis(), 0 };
        for (size_t i = 0; i < log.n; i++) {
            int64_t ts = 1000000 + (int64_t)i * 1000;
            feed_ip(&d, WC_LINK_LINUX_SLL2, ts, log.pkt[i], log.len[i]);
            if (fam == 4)
                forward_hop(log.pkt[i]);
            else
                log.pkt[i][7]--;
            feed_ip(&d, WC_LINK_EN10MB, ts + 7, log.pkt[i], log.len[i]);
        }
        analysis_finish(d.a);
        struct analysis_summary s;
        analysis_get_summary(d.a, &s);
        assert_int_equal(s.frames, 2 * log.n);
        assert_int_equal(s.duplicates, log.n);
        assert_int_equal(s.tcp_flows, 1);
        assert_int_equal(s.verdicts[VERDICT_FAIL], 0);
        assert_int_equal(only_tcp_verdict(d.a, "tcp.data.no_retransmission")->kind, VERDICT_PASS);
        assert_int_equal(only_tcp_verdict(d.a, "tcp.teardown.fin_acked")->kind, VERDICT_PASS);
        char comment[256];
        assert_int_equal(analysis_frame_comment(d.a, 4, comment, sizeof comment),
                         strlen("capture duplicate of frame 3: not judged"));
        assert_string_equal(comment, "capture duplicate of frame 3: not judged");
        /* The first copy keeps its verdict comments. */
        analysis_frame_comment(d.a, 3, comment, sizeof comment);
        assert_non_null(strstr(comment, "tcp.handshake.synack_acks_isn"));
        analysis_destroy(d.a);
    }
}

static void test_genuine_resends_are_not_duplicates(void **state)
{
    (void)state;
    struct ip_log log = { 0 };
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_RAW, "10.0.0.1", 40000, "10.0.0.2", 3434, ip_log_emit, &log);
    pb_conv_handshake(&c);                                   /* 0-2 */
    uint32_t seq = c.seq[0];
    pb_conv_tcp_raw(&c, 0, TCP_ACK | TCP_PSH, seq, c.seq[1], NULL, 0, "abc", 3); /* 3 */
    c.ip_id[0]--; /* 4: the same bytes again, IPv4 id included */
    pb_conv_tcp_raw(&c, 0, TCP_ACK | TCP_PSH, seq, c.seq[1], NULL, 0, "abc", 3);
    pb_conv_tcp_raw(&c, 0, TCP_ACK | TCP_PSH, seq, c.seq[1], NULL, 0, "abc", 3); /* 5: new id */
    assert_int_equal(log.n, 6);
    assert_memory_equal(log.pkt[3], log.pkt[4], log.len[3]);

    /* Identical bytes after an RTO (200 ms): a retransmission. A new IPv4
     * id 10 us later: a retransmission too. */
    struct dup_feed d = { dup_analysis(), 0 };
    for (size_t i = 0; i < 4; i++)
        feed_ip(&d, WC_LINK_EN10MB, (int64_t)i * 100, log.pkt[i], log.len[i]);
    feed_ip(&d, WC_LINK_EN10MB, 300 + 200000, log.pkt[4], log.len[4]);
    feed_ip(&d, WC_LINK_EN10MB, 300 + 200010, log.pkt[5], log.len[5]);
    analysis_finish(d.a);
    struct analysis_summary s;
    analysis_get_summary(d.a, &s);
    assert_int_equal(s.duplicates, 0);
    const struct verdict *v = only_tcp_verdict(d.a, "tcp.data.no_retransmission");
    assert_int_equal(v->kind, VERDICT_FAIL);
    assert_string_equal(v->text, "2 retransmitted segment(s)");
    analysis_destroy(d.a);

    /* Identical bytes 100 us apart, but more than ANALYSIS_DUP_FRAMES
     * packets in between: outside the ring, judged. */
    d = (struct dup_feed){ dup_analysis(), 0 };
    for (size_t i = 0; i < 4; i++)
        feed_ip(&d, WC_LINK_EN10MB, (int64_t)i * 10, log.pkt[i], log.len[i]);
    for (int i = 0; i < ANALYSIS_DUP_FRAMES; i++) {
        uint8_t dg[64], ip[128];
        struct pb_addr x = pb_addr("10.9.0.1"), y = pb_addr("10.9.0.2");
        size_t n = pb_udp_datagram(dg, sizeof dg, &x, &y, (uint16_t)(1000 + i), 53, "q", 1, PB_CSUM_GOOD);
        n = pb_ip_packet(ip, sizeof ip, &x, &y, WC_IPPROTO_UDP, dg, n, NULL);
        feed_ip(&d, WC_LINK_EN10MB, 40 + i, ip, n);
    }
    feed_ip(&d, WC_LINK_EN10MB, 100, log.pkt[4], log.len[4]);
    analysis_finish(d.a);
    analysis_get_summary(d.a, &s);
    assert_int_equal(s.duplicates, 0);
    assert_int_equal(only_tcp_verdict(d.a, "tcp.data.no_retransmission")->kind, VERDICT_FAIL);
    analysis_destroy(d.a);
}

/* Over IPv6 (no id) a stack does send identical bytes within microseconds:
 * one RST per segment of a burst reaching a closed port. The peer's
 * segments lie between them, so they are not capture duplicates. */
static void test_rst_burst_answering_segments_is_kept(void **state)
{
    (void)state;
    struct ip_log log = { 0 };
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_RAW, "fd00::1", 40000, "fd00::2", 3434, ip_log_emit, &log);
    pb_conv_handshake(&c);                                              /* 0-2 */
    pb_conv_tcp(&c, 0, TCP_ACK | TCP_PSH, "a", 1);                      /* 3 */
    pb_conv_tcp_raw(&c, 1, TCP_RST, c.seq[1], 0, NULL, 0, NULL, 0);    /* 4 */
    pb_conv_tcp(&c, 0, TCP_ACK | TCP_PSH, "b", 1);                      /* 5 */
    pb_conv_tcp_raw(&c, 1, TCP_RST, c.seq[1], 0, NULL, 0, NULL, 0);    /* 6 */
    assert_memory_equal(log.pkt[4], log.pkt[6], log.len[4]);
    struct dup_feed d = { dup_analysis(), 0 };
    for (size_t i = 0; i < log.n; i++)
        feed_ip(&d, WC_LINK_LINUX_SLL, (int64_t)i * 20, log.pkt[i], log.len[i]);
    analysis_finish(d.a);
    struct analysis_summary s;
    analysis_get_summary(d.a, &s);
    assert_int_equal(s.duplicates, 0);
    const struct verdict *v = only_tcp_verdict(d.a, "tcp.teardown.abortive");
    /* Two RSTs from the server, the second answering the client's segment
     * that arrived after the close (RFC 9293 3.10.7.1): both judged. */
    assert_int_equal(v->kind, VERDICT_PASS);
    assert_non_null(strstr(v->text, "1 more answering segments in flight"));
    analysis_destroy(d.a);

    /* The same RST captured twice with nothing in between is one RST. */
    d = (struct dup_feed){ dup_analysis(), 0 };
    for (size_t i = 0; i < 5; i++)
        feed_ip(&d, WC_LINK_LINUX_SLL, (int64_t)i * 20, log.pkt[i], log.len[i]);
    feed_ip(&d, WC_LINK_LINUX_SLL, 85, log.pkt[6], log.len[6]);
    analysis_finish(d.a);
    analysis_get_summary(d.a, &s);
    assert_int_equal(s.duplicates, 1);
    assert_int_equal(only_tcp_verdict(d.a, "tcp.teardown.abortive")->kind, VERDICT_PASS);
    analysis_destroy(d.a);
}

/* Under load a client resends its FIN because the ACK came late; the copy
 * reaches a server that has already closed (both FINs acknowledged), and
 * the CLOSED socket answers <SEQ=SEG.ACK><CTL=RST> (RFC 9293 3.10.7.1),
 * out of the client's window, dropped in TIME-WAIT. Seen live in the
 * random-loss case: an orderly close, not an abort. A RST after the close
 * that answers nothing stays an abort that fails. */
static void test_rst_answering_late_fin_after_orderly_close(void **state)
{
    (void)state;
    for (int answering = 1; answering >= 0; answering--) {
        struct ip_log log = { 0 };
        struct pb_conv c;
        pb_conv_init(&c, WC_LINK_RAW, "fd00::1", 40000, "fd00::2", 3434, ip_log_emit, &log);
        pb_conv_clean_session(&c, "GET", "Tue Nov 25 16:30:00 2025\r\n");
        uint32_t client_fin = c.seq[0] - 1, old_ack = c.seq[1] - 27; /* acks none of the reply */
        pb_conv_tcp_raw(&c, 0, TCP_FIN | TCP_ACK, client_fin, old_ack, NULL, 0, NULL, 0);
        pb_conv_tcp_raw(&c, 1, TCP_RST, answering ? old_ack : old_ack - 100000, 0, NULL, 0, NULL, 0);
        struct dup_feed d = { dup_analysis(), 0 };
        for (size_t i = 0; i < log.n; i++)
            feed_ip(&d, WC_LINK_RAW, (int64_t)i * 20, log.pkt[i], log.len[i]);
        analysis_finish(d.a);
        const struct verdict *no_rst = only_tcp_verdict(d.a, "tcp.no_rst");
        const struct verdict *abortive = only_tcp_verdict(d.a, "tcp.teardown.abortive");
        const struct verdict *time_wait = only_tcp_verdict(d.a, "tcp.teardown.time_wait_side");
        if (answering) {
            assert_int_equal(no_rst->kind, VERDICT_INFO);
            assert_non_null(strstr(no_rst->text, "after the orderly close"));
            assert_int_equal(abortive->kind, VERDICT_NA);
            assert_int_equal(time_wait->kind, VERDICT_INFO); /* still an orderly teardown */
        } else {
            assert_int_equal(no_rst->kind, VERDICT_FAIL);
            assert_int_equal(abortive->kind, VERDICT_FAIL);
            assert_int_equal(time_wait->kind, VERDICT_NA);
        }
        analysis_destroy(d.a);
    }
}

/* Duplicated fragments are dropped before reassembly: the datagram is
 * rebuilt once and no half-datagram is left to fail ip.reassembly. */
static void test_duplicate_fragments(void **state)
{
    (void)state;
    uint8_t dg[1100], f1[2048], f2[2048];
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    uint8_t payload[1000];
    memset(payload, 'x', sizeof payload);
    size_t n = pb_udp_datagram(dg, sizeof dg, &a, &b, 40000, 3434, payload, sizeof payload, PB_CSUM_GOOD);
    struct pb_ip x1 = { .id = 9, .mf = true }, x2 = { .id = 9, .frag_offset = 512 };
    size_t n1 = pb_ip_packet(f1, sizeof f1, &a, &b, WC_IPPROTO_UDP, dg, 512, &x1);
    size_t n2 = pb_ip_packet(f2, sizeof f2, &a, &b, WC_IPPROTO_UDP, dg + 512, n - 512, &x2);
    struct dup_feed d = { dup_analysis(), 0 };
    feed_ip(&d, WC_LINK_LINUX_SLL2, 0, f1, n1);
    feed_ip(&d, WC_LINK_EN10MB, 5, f1, n1);
    feed_ip(&d, WC_LINK_LINUX_SLL2, 50, f2, n2);
    feed_ip(&d, WC_LINK_EN10MB, 55, f2, n2);
    analysis_finish(d.a);
    struct analysis_summary s;
    analysis_get_summary(d.a, &s);
    assert_int_equal(s.duplicates, 2);
    assert_int_equal(s.udp_flows, 1);
    assert_int_equal(s.verdicts[VERDICT_FAIL], 0);
    assert_int_equal(analysis_report_count(d.a), 1); /* no "capture" report */
    assert_int_equal(analysis_report(d.a, 0)->datagrams[0], 1);
    analysis_destroy(d.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_session_facts),
        cmocka_unit_test(test_retransmission_and_out_of_order_copy),
        cmocka_unit_test(test_rst_window_and_refusal),
        cmocka_unit_test(test_half_close_and_data_after_fin),
        cmocka_unit_test(test_udp_flow_and_icmp),
        cmocka_unit_test(test_noted_frames_per_list),
        cmocka_unit_test(test_memory_grows_with_open_flows_only),
        cmocka_unit_test(test_idle_deadlines_follow_the_packets),
        cmocka_unit_test(test_flows_due_together_are_judged_oldest_first),
        cmocka_unit_test(test_port_reuse_starts_a_new_flow),
        cmocka_unit_test(test_corrupted_traffic_never_crashes),
        cmocka_unit_test(test_capture_duplicates_are_not_retransmissions),
        cmocka_unit_test(test_genuine_resends_are_not_duplicates),
        cmocka_unit_test(test_rst_burst_answering_segments_is_kept),
        cmocka_unit_test(test_rst_answering_late_fin_after_orderly_close),
        cmocka_unit_test(test_duplicate_fragments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
