/* Flow tracker facts (sequence bookkeeping, FIN/RST, payload copy), the
 * fragment reassembler, and the analysis table's memory bound. */
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
#include "reasm.h"

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
    assert_int_equal(dissect_frame(&p, s->frame, s->frame * 1000, 1, bytes, (uint32_t)len, (uint32_t)len),
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
    pb_conv_init(&c, 1, "10.0.0.1", 40000, "10.0.0.2", 3434, tcp_sink_emit, &s);
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
    pb_conv_init(&c, 1, "10.0.0.1", 40000, "10.0.0.2", 3434, tcp_sink_emit, &s);
    pb_conv_handshake(&c);
    uint32_t base = c.seq[0];
    /* "defg" arrives before "abc", then "abc" is sent again. */
    pb_conv_tcp_raw(&c, 0, TCP_ACK, base + 3, c.seq[1], NULL, 0, "defg", 4);
    pb_conv_tcp_raw(&c, 0, TCP_ACK, base, c.seq[1], NULL, 0, "abc", 3);
    pb_conv_tcp_raw(&c, 0, TCP_ACK, base, c.seq[1], NULL, 0, "abc", 3);
    const struct tcp_side *cl = &s.flow.side[0];
    assert_int_equal(cl->hi, 7);
    /* Frame 5 ("abc" after "defg") fills a hole below hi: counted, like
     * Wireshark's "retransmission or out-of-order"; frame 6 surely is. */
    assert_int_equal(cl->retransmits.count, 2);
    assert_int_equal(cl->retransmits.frames[1], 6);
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
    pb_conv_init(&c, 1, "10.0.0.1", 40000, "10.0.0.2", 3434, tcp_sink_emit, &s);
    pb_conv_tcp(&c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp_raw(&c, 1, TCP_RST | TCP_ACK, 0, c.seq[0], NULL, 0, NULL, 0);
    assert_true(s.flow.refused);
    assert_int_equal(s.flow.refused_frame, 2);
    assert_true(s.flow.closed);

    struct tcp_sink t = { 0 };
    pb_conv_init(&c, 1, "10.0.0.1", 40001, "10.0.0.2", 3434, tcp_sink_emit, &t);
    pb_conv_handshake(&c);
    /* RST far outside the client's window (512 << 7). */
    pb_conv_tcp_raw(&c, 1, TCP_RST, c.seq[1] + 10000000, 0, NULL, 0, NULL, 0);
    assert_false(t.flow.refused);
    assert_false(t.flow.side[1].rst_in_window);
    assert_int_equal(t.flow.side[1].rsts.count, 1);
}

static void test_half_close_and_data_after_fin(void **state)
{
    (void)state;
    struct tcp_sink s = { 0 };
    struct pb_conv c;
    pb_conv_init(&c, 1, "10.0.0.1", 40000, "10.0.0.2", 3434, tcp_sink_emit, &s);
    pb_conv_handshake(&c);
    pb_conv_tcp(&c, 0, TCP_FIN | TCP_ACK, NULL, 0);     /* 4: client SHUT_WR */
    pb_conv_tcp(&c, 1, TCP_ACK | TCP_PSH, "late", 4);   /* 5: server keeps sending */
    pb_conv_tcp(&c, 0, TCP_ACK, "oops", 4);             /* 6: client data after FIN */
    assert_int_equal(s.flow.half_close_side, 0);
    assert_int_equal(s.flow.half_close_data_frame, 5);
    assert_int_equal(s.flow.side[0].data_after_fin.count, 1);
    assert_int_equal(s.flow.side[0].data_after_fin.frames[0], 6);
}

static void test_udp_flow_and_icmp(void **state)
{
    (void)state;
    struct packet p;
    struct udp_flow f;
    uint8_t dg[64], ip[128];
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    size_t n = pb_udp_datagram(dg, sizeof dg, &a, &b, 40000, 3434, "ping", 4, PB_CSUM_GOOD);
    n = pb_ip_packet(ip, sizeof ip, &a, &b, 17, dg, n, NULL);
    assert_int_equal(dissect_frame(&p, 1, 0, 101, ip, (uint32_t)n, (uint32_t)n), DISSECT_OK);
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

/* Fragments: in order, out of order, overlapping with different bytes. */
static size_t fragment(uint8_t *out, const uint8_t *l4, size_t off, size_t len, bool mf, uint16_t id)
{
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    struct pb_ip x = { .id = id, .mf = mf, .frag_offset = (uint16_t)off };
    return pb_ip_packet(out, 2048, &a, &b, 17, l4 + off, len, &x);
}

static void test_reassembly(void **state)
{
    (void)state;
    uint8_t dg[1100], f1[2048], f2[2048];
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    size_t n = pb_udp_datagram(dg, sizeof dg, &a, &b, 40000, 3434, payload, sizeof payload, PB_CSUM_GOOD);
    size_t n1 = fragment(f1, dg, 0, 512, true, 9), n2 = fragment(f2, dg, 512, n - 512, false, 9);

    struct reasm *r = reasm_create(4, 1000000);
    struct frame_list failed = { 0 };
    struct packet p1, p2;
    const uint8_t *whole;
    uint32_t len;
    dissect_frame(&p2, 1, 0, 101, f2, (uint32_t)n2, (uint32_t)n2);
    dissect_frame(&p1, 2, 0, 101, f1, (uint32_t)n1, (uint32_t)n1);
    assert_int_equal(reasm_add(r, &p2, &whole, &len, &failed), REASM_PENDING);
    assert_int_equal(reasm_pending(r), 1);
    assert_int_equal(reasm_add(r, &p1, &whole, &len, &failed), REASM_DONE);
    assert_int_equal(len, n);
    assert_memory_equal(whole, dg, n);
    assert_int_equal(dissect_transport(&p1, whole, len), DISSECT_OK);
    assert_int_equal(p1.l4, L4_UDP);
    assert_int_equal(p1.payload_len, 1000);
    assert_int_equal(p1.l4_checksum, CSUM_GOOD);
    assert_true(p1.reassembled);
    assert_int_equal(reasm_pending(r), 0);

    /* Overlap with different bytes: given up. */
    dissect_frame(&p1, 3, 0, 101, f1, (uint32_t)n1, (uint32_t)n1);
    assert_int_equal(reasm_add(r, &p1, &whole, &len, &failed), REASM_PENDING);
    f1[28 + 100] ^= 0xff; /* same fragment, one byte changed */
    dissect_frame(&p1, 4, 0, 101, f1, (uint32_t)n1, (uint32_t)n1);
    assert_int_equal(reasm_add(r, &p1, &whole, &len, &failed), REASM_FAILED);
    assert_int_equal(failed.count, 1);
    assert_int_equal(failed.frames[0], 4);

    /* Missing tail: expires. */
    dissect_frame(&p1, 5, 10, 101, f1, (uint32_t)n1, (uint32_t)n1);
    assert_int_equal(reasm_add(r, &p1, &whole, &len, &failed), REASM_PENDING);
    assert_int_equal(reasm_expire(r, 500, &failed), 0);
    assert_int_equal(reasm_expire(r, 2000000, &failed), 1);
    assert_int_equal(failed.count, 2);

    /* Bounded: a fifth pending datagram evicts the oldest of four. */
    for (uint16_t id = 100; id < 105; id++) {
        n1 = fragment(f1, dg, 0, 512, true, id);
        dissect_frame(&p1, id, id, 101, f1, (uint32_t)n1, (uint32_t)n1);
        reasm_add(r, &p1, &whole, &len, &failed);
    }
    assert_int_equal(reasm_pending(r), 4);
    assert_int_equal(failed.count, 3);
    reasm_destroy(r);
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
    analysis_feed(f->a, f->frame, f->ts, 1, (uint32_t)len, (uint32_t)len, bytes);
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
        pb_conv_init(&c, 1, "10.0.0.1", (uint16_t)(20000 + i), "10.0.0.2", 3434, feed_emit, &f);
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
    pb_conv_init(&c, 1, "10.0.0.1", 40000, "10.0.0.2", 3434, feed_emit, &f);
    pb_conv_handshake(&c);
    assert_int_equal(done, 0);
    f.ts += 5000000;
    pb_conv_init(&c, 1, "10.0.0.1", 40001, "10.0.0.2", 3434, feed_emit, &f);
    pb_conv_tcp(&c, 0, TCP_SYN, NULL, 0);
    assert_int_equal(done, 1);
    analysis_destroy(f.a); /* destroying with open flows must not leak (ASan) */
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
    pb_conv_init(&c, 1, "10.0.0.1", 40000, "10.0.0.2", 3434, feed_emit, &f);
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
    analysis_feed(m->a, m->frame, m->ts, 1, (uint32_t)len, (uint32_t)len, exact);
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
        pb_conv_init(&c, 1, i % 2 ? "10.0.0.1" : "fd00::1", (uint16_t)(30000 + i % 7),
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_session_facts),
        cmocka_unit_test(test_retransmission_and_out_of_order_copy),
        cmocka_unit_test(test_rst_window_and_refusal),
        cmocka_unit_test(test_half_close_and_data_after_fin),
        cmocka_unit_test(test_udp_flow_and_icmp),
        cmocka_unit_test(test_reassembly),
        cmocka_unit_test(test_memory_grows_with_open_flows_only),
        cmocka_unit_test(test_port_reuse_starts_a_new_flow),
        cmocka_unit_test(test_corrupted_traffic_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
