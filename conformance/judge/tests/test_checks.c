/* Each rule with a sequence that passes (or is seen) and one that fails,
 * through the public analysis API as the runner uses it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis.h"
#include "capfile.h"
#include "packet_builder.h"
#include "report.h"

#define DATA_DIR WIRECHECK_SOURCE_DIR "/conformance/tests/data"

struct run {
    struct analysis *a;
    uint32_t frame;
    int64_t ts;
    struct pb_conv c;
};

static void emit(void *ctx, const uint8_t *bytes, size_t len)
{
    struct run *r = ctx;
    r->frame++;
    r->ts += 100;
    analysis_feed(r->a, r->frame, r->ts, r->c.linktype, (uint32_t)len, (uint32_t)len, bytes);
}

/* A run whose analysis keeps its reports (retain_reports on). */
static struct run *new_run(void)
{
    struct run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    r->a = analysis_create(&o);
    assert_non_null(r->a);
    return r;
}

static struct run *start(int linktype, const char *client, const char *server)
{
    struct run *r = new_run();
    pb_conv_init(&r->c, linktype, client, 40000, server, 3434, emit, r);
    return r;
}

static struct run *start4(void) { return start(WC_LINK_EN10MB, "10.0.0.1", "10.0.0.2"); }

/* Finishes and returns the only flow report of `proto`. */
static const struct flow_report *finish(struct run *r, enum flow_proto proto)
{
    analysis_finish(r->a);
    const struct flow_report *found = NULL;
    for (size_t i = 0; i < analysis_report_count(r->a); i++) {
        const struct flow_report *f = analysis_report(r->a, i);
        if (f->proto == proto) {
            assert_null(found);
            found = f;
        }
    }
    assert_non_null(found);
    return found;
}

static void done(struct run *r)
{
    analysis_destroy(r->a);
    free(r);
}

static void expect(const struct flow_report *f, const char *rule, enum verdict_kind kind)
{
    const struct verdict *v = flow_report_find(f, rule);
    if (!v)
        fail_msg("rule %s not evaluated", rule);
    if (v->kind != kind)
        fail_msg("%s: expected %s, got %s (%s; expected %s; seen %s)", rule, verdict_name(kind),
                 verdict_name(v->kind), v->text, v->expected, v->seen);
}

static void expect_frame(const struct flow_report *f, const char *rule, uint32_t frame)
{
    const struct verdict *v = flow_report_find(f, rule);
    assert_non_null(v);
    for (unsigned i = 0; i < v->nframes; i++)
        if (v->frames[i] == frame)
            return;
    fail_msg("%s does not name frame %u", rule, frame);
}

static void test_clean_session_passes_everything(void **state)
{
    (void)state;
    for (int fam = 4; fam <= 6; fam += 2) {
        struct run *r = fam == 4 ? start4() : start(WC_LINK_LINUX_SLL, "::1", "::1");
        if (fam == 6)
            r->c.port[1] = 3435;
        pb_conv_clean_session(&r->c, "hello", "Tue Nov 25 16:30:00 2025\r\n");
        const struct flow_report *f = finish(r, FLOW_TCP);
        for (size_t i = 0; i < f->nverdicts; i++)
            if (f->verdicts[i].kind == VERDICT_FAIL)
                fail_msg("%s failed: %s", f->verdicts[i].id, f->verdicts[i].text);
        expect(f, "tcp.handshake.syn", VERDICT_PASS);
        expect_frame(f, "tcp.handshake.syn", 1);
        expect(f, "tcp.handshake.synack_acks_isn", VERDICT_PASS);
        expect_frame(f, "tcp.handshake.synack_acks_isn", 2);
        expect(f, "tcp.handshake.ack_acks_server_isn", VERDICT_PASS);
        expect(f, "tcp.handshake.mss", VERDICT_PASS);
        expect(f, "tcp.handshake.options_negotiated", VERDICT_PASS);
        expect(f, "tcp.handshake.no_early_data", VERDICT_PASS);
        expect(f, "tcp.no_rst", VERDICT_PASS);
        expect(f, "tcp.refused", VERDICT_NA);
        expect(f, "tcp.data.all_acked", VERDICT_PASS);
        expect(f, "tcp.data.no_retransmission", VERDICT_PASS);
        expect(f, "tcp.teardown.first_fin", VERDICT_INFO);
        expect(f, "tcp.teardown.fin_acked", VERDICT_PASS);
        expect(f, "tcp.teardown.no_data_after_fin", VERDICT_PASS);
        expect(f, "tcp.teardown.half_close", VERDICT_NA);
        expect(f, "tcp.teardown.abortive", VERDICT_NA);
        expect(f, "tcp.teardown.rst_unread_data", VERDICT_NA);
        expect(f, "tcp.teardown.time_wait_side", VERDICT_INFO);
        expect(f, "tcp.checksum", VERDICT_PASS);
        expect(f, "ip.checksum", fam == 4 ? VERDICT_PASS : VERDICT_NA);
        expect(f, "checksum.offloaded", VERDICT_NA);
        assert_non_null(strstr(flow_report_find(f, "tcp.teardown.first_fin")->text, "client"));
        assert_non_null(strstr(flow_report_find(f, "tcp.teardown.time_wait_side")->text, "client"));
        assert_true(f->handshake_seen);
        assert_int_equal(f->teardown, TEARDOWN_FIN);
        assert_int_equal(f->first_fin_side, SIDE_CLIENT);
        assert_int_equal(f->bytes[SIDE_CLIENT], 5);
        assert_int_equal(f->bytes[SIDE_SERVER], 26);
        char ep[64];
        endpoint_format(&f->server, ep, sizeof ep);
        assert_string_equal(ep, fam == 4 ? "10.0.0.2.3434" : "::1.3435");

        /* Payload assertions. */
        const uint8_t *bytes;
        size_t len;
        assert_true(flow_report_payload(f, SIDE_CLIENT, &bytes, &len));
        assert_int_equal(len, 5);
        assert_memory_equal(bytes, "hello", 5);
        assert_true(flow_report_payload(f, SIDE_SERVER, &bytes, &len));
        assert_int_equal(len, 26);
        assert_memory_equal(bytes, "Tue Nov 25 16:30:00 2025\r\n", 26);

        /* Packet comments for the pcapng writer. */
        char comment[1024];
        assert_true(analysis_frame_comment(r->a, 2, comment, sizeof comment) > 0);
        assert_non_null(strstr(comment, "tcp.handshake.synack_acks_isn: SYN/ACK acks ISN+1: pass"));
        assert_int_equal(analysis_frame_comment(r->a, 999, comment, sizeof comment), 0);
        assert_string_equal(comment, "");
        size_t need = analysis_frame_comment(r->a, 1, comment, 8);
        assert_true(need > 7);
        assert_int_equal(strlen(comment), 7);
        done(r);
    }
}

static void test_synack_acks_wrong_isn(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_tcp(&r->c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, r->c.seq[1], r->c.seq[0] + 7, pb_syn_options,
                    sizeof pb_syn_options, NULL, 0);
    r->c.seq[1]++;
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.synack_acks_isn", VERDICT_FAIL);
    const struct verdict *v = flow_report_find(f, "tcp.handshake.synack_acks_isn");
    assert_string_equal(v->expected, "SYN/ACK with ack 1001 (client ISN+1)");
    assert_string_equal(v->seen, "ack 1008");
    expect(f, "tcp.handshake.ack_acks_server_isn", VERDICT_PASS);
    done(r);
}

static void test_final_ack_wrong_and_missing(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_tcp(&r->c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp(&r->c, 1, TCP_SYN | TCP_ACK, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, r->c.seq[0], r->c.seq[1] - 1, NULL, 0, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.ack_acks_server_isn", VERDICT_FAIL);
    expect_frame(f, "tcp.handshake.ack_acks_server_isn", 3);
    done(r);

    r = start4();
    pb_conv_tcp(&r->c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp(&r->c, 1, TCP_SYN | TCP_ACK, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.ack_acks_server_isn", VERDICT_FAIL);
    done(r);
}

static void test_syn_with_rst_flag_fails(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN | TCP_FIN, 1000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.syn", VERDICT_FAIL);
    done(r);
}

static void test_mss_missing(void **state)
{
    (void)state;
    static const uint8_t no_mss[] = { 4, 2, 1, 1 }; /* sackOK only */
    struct run *r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, no_mss, sizeof no_mss, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, 5000, 1001, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.mss", VERDICT_WARN); /* SHLD-5: a SHOULD */
    /* And the SYN/ACK answered with options the SYN never offered. */
    expect(f, "tcp.handshake.options_negotiated", VERDICT_FAIL);
    assert_non_null(strstr(flow_report_find(f, "tcp.handshake.options_negotiated")->text, "wscale"));
    done(r);

    /* No SYN/ACK (refused): the SYN alone is judged, as RULES.md says (the
     * golden connection-refused captures pin "pass tcp.handshake.mss [1]"). */
    r = start4();
    pb_conv_tcp(&r->c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST | TCP_ACK, 0, r->c.seq[0], NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.mss", VERDICT_PASS);
    assert_string_equal(flow_report_find(f, "tcp.handshake.mss")->text, "MSS in SYN (1460)");
    assert_int_equal(flow_report_find(f, "tcp.handshake.mss")->nframes, 1);
    expect_frame(f, "tcp.handshake.mss", 1);
    done(r);

    r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, no_mss, sizeof no_mss, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST | TCP_ACK, 0, 1001, NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.mss", VERDICT_WARN);
    assert_string_equal(flow_report_find(f, "tcp.handshake.mss")->text, "MSS option missing from the SYN");
    done(r);

    /* No SYN at all: n/a. */
    r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, 1001, 5001, NULL, 0, "mid", 3);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.mss", VERDICT_NA);
    done(r);
}

static void test_early_data_and_tfo(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_tcp(&r->c, 0, TCP_SYN, "early", 5);    /* data on a SYN without TFO */
    pb_conv_tcp(&r->c, 1, TCP_SYN | TCP_ACK, NULL, 0);
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    /* RFC 9293 3.10.7.2 allows it (queued until established): a warning. */
    expect(f, "tcp.handshake.no_early_data", VERDICT_WARN);
    expect_frame(f, "tcp.handshake.no_early_data", 1);
    done(r);

    /* Same with a TFO cookie option: allowed. */
    static const uint8_t tfo[] = { 2, 4, 0x05, 0xb4, 34, 10, 1, 2, 3, 4, 5, 6, 7, 8 };
    r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, tfo, sizeof tfo, "early", 5);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, 5000, 1006, pb_syn_options + 0, 4, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, 1006, 5001, NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.no_early_data", VERDICT_PASS);
    done(r);

    /* Server data before the client's ACK. */
    r = start4();
    pb_conv_tcp(&r->c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp(&r->c, 1, TCP_SYN | TCP_ACK, NULL, 0);
    pb_conv_tcp(&r->c, 1, TCP_ACK | TCP_PSH, "hi", 2);
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.no_early_data", VERDICT_FAIL);
    expect_frame(f, "tcp.handshake.no_early_data", 3);
    done(r);
}

static void test_refused(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_tcp(&r->c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST | TCP_ACK, 0, r->c.seq[0], NULL, 0, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.refused", VERDICT_INFO);
    expect_frame(f, "tcp.refused", 2);
    expect(f, "tcp.no_rst", VERDICT_NA);
    expect(f, "tcp.teardown.abortive", VERDICT_NA);
    expect(f, "tcp.handshake.synack_acks_isn", VERDICT_NA);
    assert_int_equal(f->teardown, TEARDOWN_REFUSED);
    done(r);

    /* An RST that does not ack the SYN is not a refusal. */
    r = start4();
    pb_conv_tcp(&r->c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST | TCP_ACK, 0, r->c.seq[0] + 5, NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.refused", VERDICT_NA);
    expect(f, "tcp.no_rst", VERDICT_FAIL);
    done(r);
}

static void test_abortive_close(void **state)
{
    (void)state;
    /* SO_LINGER 0: the server sends its message, then one RST at SND.NXT. */
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 1, TCP_ACK | TCP_PSH, "time\r\n", 6);
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST | TCP_ACK, r->c.seq[1], r->c.seq[0], NULL, 0, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.abortive", VERDICT_PASS);
    expect_frame(f, "tcp.teardown.abortive", 6);
    expect(f, "tcp.no_rst", VERDICT_FAIL);
    assert_string_equal(flow_report_find(f, "tcp.no_rst")->seen, "RST from the server in frame 6");
    expect(f, "tcp.teardown.rst_unread_data", VERDICT_NA);
    expect(f, "tcp.teardown.time_wait_side", VERDICT_NA);
    assert_int_equal(f->teardown, TEARDOWN_RST);
    done(r);

    /* Out of window. */
    r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST, r->c.seq[1] + 0x40000000u, 0, NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.abortive", VERDICT_FAIL);
    done(r);

    /* Two RSTs from the same side. */
    r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST, r->c.seq[1], 0, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST, r->c.seq[1], 0, NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.abortive", VERDICT_FAIL);
    done(r);
}

static void test_rst_with_unread_data(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 0, TCP_ACK | TCP_PSH, "unread", 6);
    pb_conv_tcp(&r->c, 1, TCP_ACK, NULL, 0);
    pb_conv_tcp(&r->c, 1, TCP_RST | TCP_ACK, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.rst_unread_data", VERDICT_INFO);
    expect_frame(f, "tcp.teardown.rst_unread_data", 6);
    expect(f, "tcp.teardown.abortive", VERDICT_PASS);
    done(r);
}

static void test_unacked_data_and_retransmission(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 1, TCP_ACK | TCP_PSH, "lost?", 5);
    r->c.seq[1] -= 5;
    pb_conv_tcp(&r->c, 1, TCP_ACK | TCP_PSH, "lost?", 5);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.data.all_acked", VERDICT_FAIL);
    expect(f, "tcp.data.no_retransmission", VERDICT_FAIL);
    expect_frame(f, "tcp.data.no_retransmission", 5);
    assert_int_equal(f->bytes[SIDE_SERVER], 5);
    assert_int_equal(f->teardown, TEARDOWN_NONE);
    done(r);
}

static void test_fin_not_acked_and_data_after_fin(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 1, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, r->c.seq[0], r->c.seq[1] - 1, NULL, 0, NULL, 0); /* acks data, not FIN */
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.fin_acked", VERDICT_FAIL);
    expect_frame(f, "tcp.teardown.fin_acked", 4);
    expect(f, "tcp.teardown.first_fin", VERDICT_INFO);
    assert_non_null(strstr(flow_report_find(f, "tcp.teardown.first_fin")->text, "server"));
    assert_int_equal(f->teardown, TEARDOWN_HALF);
    done(r);

    r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 1, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp(&r->c, 1, TCP_ACK | TCP_PSH, "zombie", 6);
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.no_data_after_fin", VERDICT_FAIL);
    expect_frame(f, "tcp.teardown.no_data_after_fin", 5);
    done(r);
}

static void test_half_close_and_simultaneous_close(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 0, TCP_ACK | TCP_PSH, "request", 7);
    pb_conv_tcp(&r->c, 0, TCP_FIN | TCP_ACK, NULL, 0);      /* shutdown(SHUT_WR) */
    pb_conv_tcp(&r->c, 1, TCP_ACK, NULL, 0);
    pb_conv_tcp(&r->c, 1, TCP_ACK | TCP_PSH, "reply", 5);   /* still flows */
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    pb_conv_tcp(&r->c, 1, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.half_close", VERDICT_INFO);
    expect_frame(f, "tcp.teardown.half_close", 7);
    expect(f, "tcp.teardown.fin_acked", VERDICT_PASS);
    expect(f, "tcp.teardown.no_data_after_fin", VERDICT_PASS);
    expect(f, "tcp.data.all_acked", VERDICT_PASS);
    done(r);

    r = start4();
    pb_conv_handshake(&r->c);
    uint32_t c_fin = r->c.seq[0], s_fin = r->c.seq[1];
    pb_conv_tcp_raw(&r->c, 0, TCP_FIN | TCP_ACK, c_fin, s_fin, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_FIN | TCP_ACK, s_fin, c_fin, NULL, 0, NULL, 0); /* crossed */
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, c_fin + 1, s_fin + 1, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_ACK, s_fin + 1, c_fin + 1, NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.time_wait_side", VERDICT_INFO);
    assert_non_null(strstr(flow_report_find(f, "tcp.teardown.time_wait_side")->text, "both"));
    expect(f, "tcp.teardown.fin_acked", VERDICT_PASS);
    done(r);
}

/* Judges a capture file from tests/data (retain_reports on). */
static struct run *start_file(const char *name)
{
    struct run *r = new_run();
    char path[1024], perr[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/%s", DATA_DIR, name);
    pcap_t *pc = pcap_open_offline(path, perr);
    if (!pc)
        fail_msg("%s: %s", path, perr);
    uint32_t frames = 0;
    assert_int_equal(capfile_feed(pc, r->a, 0, &frames), PCAP_ERROR_BREAK);
    pcap_close(pc);
    r->frame = frames;
    return r;
}

static void expect_text(const struct flow_report *f, const char *rule, const char *words)
{
    const struct verdict *v = flow_report_find(f, rule);
    assert_non_null(v);
    if (!strstr(v->text, words))
        fail_msg("%s: '%s' lacks '%s'", rule, v->text, words);
}

/* Live captures (conformance/cases/simultaneous-close.case, lo, Linux 6.18):
 * the server's FIN (frame 6, ack 1: the client's FIN not seen) and the
 * client's FIN (frame 7, ack 43: the server's FIN not seen) crossed, then
 * each side acked the other's FIN + 1 (frames 8, 9): both went FIN-WAIT-1 ->
 * CLOSING -> TIME-WAIT. */
static void test_simultaneous_close_live_captures(void **state)
{
    (void)state;
    const char *files[] = { "simultaneous-close-ipv4.pcap", "simultaneous-close-ipv6.pcap" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct run *r = start_file(files[i]);
        assert_int_equal(r->frame, 9);
        const struct flow_report *f = finish(r, FLOW_TCP);
        for (size_t k = 0; k < f->nverdicts; k++)
            if (f->verdicts[k].kind == VERDICT_FAIL)
                fail_msg("%s: %s failed: %s", files[i], f->verdicts[k].id, f->verdicts[k].text);
        assert_true(f->simultaneous_close);
        assert_int_equal(f->teardown, TEARDOWN_FIN);
        expect(f, "tcp.teardown.first_fin", VERDICT_INFO);
        expect_text(f, "tcp.teardown.first_fin", "server sent the first FIN (simultaneous close)");
        expect_frame(f, "tcp.teardown.first_fin", 6);
        expect_frame(f, "tcp.teardown.first_fin", 7); /* the FIN that crossed it */
        expect(f, "tcp.teardown.fin_acked", VERDICT_PASS);
        expect_text(f, "tcp.teardown.fin_acked", "both FINs");
        expect(f, "tcp.data.no_retransmission", VERDICT_PASS);
        expect(f, "tcp.no_rst", VERDICT_PASS);
        expect(f, "tcp.teardown.time_wait_side", VERDICT_INFO);
        expect_text(f, "tcp.teardown.time_wait_side", "both sides end in TIME_WAIT");
        expect_frame(f, "tcp.teardown.time_wait_side", 8);
        expect_frame(f, "tcp.teardown.time_wait_side", 9);
        done(r);
    }
}

/* Live capture (a run with the server's first FIN dropped at lo's input and
 * the client closing after the reply; the run stopped before the FIN was
 * retransmitted): the FINs crossed, since the client's FIN (frame 7, ack 43)
 * was sent without the server's (frame 6, lost), but the server's FIN is
 * never acknowledged. The server is left in CLOSING, the client in
 * FIN-WAIT-2: time_wait_side used to say "both sides end in TIME_WAIT"
 * for any simultaneous close; with a FIN unacknowledged it is n/a. */
static void test_simultaneous_close_with_fin_never_acked(void **state)
{
    (void)state;
    struct run *r = start_file("fins-crossed-fin-lost-ipv4.pcap");
    assert_int_equal(r->frame, 8);
    const struct flow_report *f = finish(r, FLOW_TCP);
    assert_true(f->simultaneous_close);
    expect(f, "tcp.teardown.first_fin", VERDICT_INFO);
    expect_text(f, "tcp.teardown.first_fin", "(simultaneous close)");
    expect(f, "tcp.teardown.fin_acked", VERDICT_FAIL);
    expect_frame(f, "tcp.teardown.fin_acked", 6);
    expect(f, "tcp.teardown.time_wait_side", VERDICT_NA);
    expect_text(f, "tcp.teardown.time_wait_side", "server's FIN was never acknowledged");
    expect_frame(f, "tcp.teardown.time_wait_side", 6);
    done(r);
}

/* ---- TCP corners, each as RFC 9293 / 7413 say ---------------------------------- */

/* One segment from `side` with an explicit window (0 included, which the
 * conversation builder cannot send). */
static void send_window(struct run *r, int side, uint8_t flags, uint32_t seq, uint32_t ack,
                        uint16_t window, const void *payload, size_t len)
{
    uint8_t l4[128], frame[256];
    struct pb_tcp t = { .sport = r->c.port[side], .dport = r->c.port[1 - side], .seq = seq,
                        .ack = ack, .flags = flags, .window = window ? window : 1,
                        .payload = payload, .payload_len = len };
    size_t n = pb_tcp_segment(l4, sizeof l4, &r->c.addr[side], &r->c.addr[1 - side], &t);
    assert_true(n > 0);
    if (window == 0) {
        l4[14] = l4[15] = 0;
        pb_fill_l4_checksum(l4, n, 16, &r->c.addr[side], &r->c.addr[1 - side], WC_IPPROTO_TCP,
                            PB_CSUM_GOOD);
    }
    struct pb_link link = { .linktype = r->c.linktype };
    size_t fl = pb_wrap(frame, sizeof frame, &link, &r->c.addr[side], &r->c.addr[1 - side],
                        WC_IPPROTO_TCP, l4, n, NULL);
    assert_true(fl > 0);
    emit(r, frame, fl);
}

static const char *text_of(const struct flow_report *f, const char *rule)
{
    const struct verdict *v = flow_report_find(f, rule);
    assert_non_null(v);
    return v->text;
}

/* RFC 7413 4.2.2 / RFC 9293 3.10.7.3: a SYN/ACK that accepts the SYN's data
 * acknowledges ISN + 1 + its length. */
static void test_syn_data_acked_with_the_syn(void **state)
{
    (void)state;
    static const uint8_t tfo[] = { 2, 4, 0x05, 0xb4, 34, 10, 1, 2, 3, 4, 5, 6, 7, 8 };
    struct run *r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, tfo, sizeof tfo, "hello", 5);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, 5000, 1006, pb_syn_options, 4, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, 1006, 5001, NULL, 0, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.synack_acks_isn", VERDICT_PASS);
    assert_string_equal(text_of(f, "tcp.handshake.synack_acks_isn"), "SYN/ACK acks ISN+1+5 (the SYN's data)");
    expect(f, "tcp.handshake.no_early_data", VERDICT_PASS);
    expect(f, "tcp.data.all_acked", VERDICT_PASS);
    expect(f, "tcp.data.no_retransmission", VERDICT_PASS);
    assert_int_equal(f->bytes[SIDE_CLIENT], 5);
    done(r);

    /* An ack that is neither ISN+1 nor ISN+1+len fails. */
    r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, tfo, sizeof tfo, "hello", 5);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, 5000, 1004, pb_syn_options, 4, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.synack_acks_isn", VERDICT_FAIL);
    done(r);

    /* A data SYN sent twice is one retransmission, not two. */
    r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, tfo, sizeof tfo, "hello", 5);
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, tfo, sizeof tfo, "hello", 5);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, 5000, 1006, pb_syn_options, 4, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, 1006, 5001, NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.data.no_retransmission", VERDICT_FAIL);
    assert_string_equal(text_of(f, "tcp.data.no_retransmission"), "1 retransmitted segment(s)");
    expect_frame(f, "tcp.data.no_retransmission", 2);
    done(r);

    /* Cookie refused: the SYN/ACK acks ISN+1 only and the client MUST send
     * the data again (RFC 7413 4.2.2): not a failure. */
    r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, tfo, sizeof tfo, "hello", 5);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, 5000, 1001, pb_syn_options, 4, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK | TCP_PSH, 1001, 5001, NULL, 0, "hello", 5);
    pb_conv_tcp_raw(&r->c, 1, TCP_ACK, 5001, 1006, NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.synack_acks_isn", VERDICT_PASS);
    expect(f, "tcp.data.no_retransmission", VERDICT_PASS);
    assert_non_null(strstr(text_of(f, "tcp.data.no_retransmission"), "SYN data resent"));
    done(r);
}

/* RFC 9293 3.8.4: a keep-alive may carry one garbage byte at SND.NXT - 1
 * once everything is acknowledged; it is not a retransmission. */
static void test_keepalive_with_garbage_byte(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 0, TCP_ACK | TCP_PSH, "req", 3);
    pb_conv_tcp(&r->c, 1, TCP_ACK, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, r->c.seq[0] - 1, r->c.seq[1], NULL, 0, "x", 1); /* 6 */
    pb_conv_tcp(&r->c, 1, TCP_ACK, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.data.no_retransmission", VERDICT_PASS);
    assert_string_equal(text_of(f, "tcp.data.no_retransmission"),
                        "no retransmission (1 keep-alive(s) not counted)");
    expect_frame(f, "tcp.data.no_retransmission", 6);
    expect(f, "tcp.data.all_acked", VERDICT_PASS);
    done(r);

    /* The same byte while it is still unacknowledged is a resend. */
    r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 0, TCP_ACK | TCP_PSH, "req", 3);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, r->c.seq[0] - 1, r->c.seq[1], NULL, 0, "q", 1);
    pb_conv_tcp(&r->c, 1, TCP_ACK, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.data.no_retransmission", VERDICT_FAIL);
    done(r);
}

/* RFC 9293 3.8.6.1: while the peer advertises window 0 the sender MUST
 * probe it; the probes are not retransmissions. */
static void test_zero_window_probes(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    uint32_t c = r->c.seq[0], s = r->c.seq[1];
    send_window(r, 0, TCP_ACK | TCP_PSH, c, s, 512, "abc", 3);
    send_window(r, 1, TCP_ACK, s, c + 3, 0, NULL, 0);          /* window closed */
    send_window(r, 0, TCP_ACK, c + 3, s, 512, "d", 1);          /* 6: probe */
    send_window(r, 1, TCP_ACK, s, c + 3, 0, NULL, 0);
    send_window(r, 0, TCP_ACK, c + 3, s, 512, "d", 1);          /* 8: probe again */
    send_window(r, 1, TCP_ACK, s, c + 3, 512, NULL, 0);        /* window open */
    send_window(r, 0, TCP_ACK | TCP_PSH, c + 3, s, 512, "defg", 4);
    send_window(r, 1, TCP_ACK, s, c + 7, 512, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.data.no_retransmission", VERDICT_PASS);
    assert_string_equal(text_of(f, "tcp.data.no_retransmission"),
                        "no retransmission (2 zero-window probe(s) not counted)");
    expect_frame(f, "tcp.data.no_retransmission", 6);
    expect_frame(f, "tcp.data.no_retransmission", 8);
    expect(f, "tcp.data.all_acked", VERDICT_PASS);
    assert_int_equal(f->bytes[SIDE_CLIENT], 7);
    done(r);

    /* With the window open the same byte twice is a retransmission. */
    r = start4();
    pb_conv_handshake(&r->c);
    c = r->c.seq[0], s = r->c.seq[1];
    send_window(r, 0, TCP_ACK | TCP_PSH, c, s, 512, "abc", 3);
    send_window(r, 1, TCP_ACK, s, c + 3, 512, NULL, 0);
    send_window(r, 0, TCP_ACK, c + 3, s, 512, "d", 1);
    r->ts += 300000; /* an RTO later: not a capture duplicate */
    send_window(r, 0, TCP_ACK, c + 3, s, 512, "d", 1);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.data.no_retransmission", VERDICT_FAIL);
    done(r);
}

/* RFC 9293 figure 8: SYN, SYN, SYN/ACK, SYN/ACK. */
static void test_simultaneous_open(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN, 5000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN | TCP_ACK, 1000, 5001, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, 5000, 1001, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK | TCP_PSH, 1001, 5001, NULL, 0, "hi", 2);
    pb_conv_tcp_raw(&r->c, 1, TCP_ACK, 5001, 1003, NULL, 0, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    for (size_t i = 0; i < f->nverdicts; i++)
        if (f->verdicts[i].kind == VERDICT_FAIL || f->verdicts[i].kind == VERDICT_WARN)
            fail_msg("%s: %s", f->verdicts[i].id, f->verdicts[i].text);
    expect(f, "tcp.handshake.syn", VERDICT_PASS);
    expect(f, "tcp.handshake.synack_acks_isn", VERDICT_PASS);
    expect_frame(f, "tcp.handshake.synack_acks_isn", 4);
    expect(f, "tcp.handshake.ack_acks_server_isn", VERDICT_PASS);
    expect(f, "tcp.handshake.options_negotiated", VERDICT_PASS);
    expect(f, "tcp.handshake.no_early_data", VERDICT_PASS);
    expect(f, "tcp.data.no_retransmission", VERDICT_PASS);
    assert_true(f->handshake_seen);
    done(r);

    /* One SYN/ACK acking the wrong number fails. */
    r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN, 5000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN | TCP_ACK, 1000, 5001, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, 5000, 1002, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.handshake.synack_acks_isn", VERDICT_FAIL);
    done(r);
}

/* RFC 9293 3.3.1: an acceptable ACK is SND.UNA < SEG.ACK =< SND.NXT; a FIN
 * is acknowledged by exactly FIN + 1. */
static void test_ack_of_data_never_sent(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 0, TCP_ACK | TCP_PSH, "hi", 2);
    pb_conv_tcp_raw(&r->c, 1, TCP_ACK, r->c.seq[1], r->c.seq[0] + 5000, NULL, 0, NULL, 0); /* 5 */
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.data.all_acked", VERDICT_FAIL);
    assert_string_equal(text_of(f, "tcp.data.all_acked"), "the server acknowledges client data never sent");
    expect_frame(f, "tcp.data.all_acked", 5);
    done(r);

    /* FINs acked 5000 bytes beyond: neither FIN is acknowledged as it must be. */
    r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 0, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_FIN | TCP_ACK, r->c.seq[1], r->c.seq[0] + 5000, NULL, 0, NULL, 0);
    r->c.seq[1]++;
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.fin_acked", VERDICT_FAIL);
    assert_non_null(strstr(flow_report_find(f, "tcp.teardown.fin_acked")->seen, "beyond the FIN"));
    expect(f, "tcp.data.all_acked", VERDICT_FAIL);
    done(r);

    /* Exactly FIN + 1 passes. */
    r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 0, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp(&r->c, 1, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.fin_acked", VERDICT_PASS);
    expect(f, "tcp.data.all_acked", VERDICT_NA);
    done(r);
}

/* RFC 9293 3.10.7.3: in SYN-SENT a RST whose ACK does not acknowledge the
 * SYN is dropped, so the SYN sent again belongs to the same connection. */
static void test_unacceptable_rst_keeps_the_flow(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST | TCP_ACK, 0, 1005, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_SYN | TCP_ACK, 5000, 1001, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, 1001, 5001, NULL, 0, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP); /* asserts one TCP flow */
    expect(f, "tcp.handshake.synack_acks_isn", VERDICT_PASS);
    expect(f, "tcp.handshake.ack_acks_server_isn", VERDICT_PASS);
    expect(f, "tcp.refused", VERDICT_NA);
    expect(f, "tcp.teardown.abortive", VERDICT_FAIL); /* the RST is not acceptable */
    assert_string_equal(text_of(f, "tcp.data.no_retransmission"), "1 retransmitted segment(s)");
    expect_frame(f, "tcp.data.no_retransmission", 3);
    done(r);

    /* An acceptable refusal closes it: the next SYN is a new connection. */
    r = start4();
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST | TCP_ACK, 0, 1001, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    analysis_finish(r->a);
    assert_int_equal(analysis_report_count(r->a), 2);
    done(r);
}

/* RFC 9293 3.10.7.1: after an abortive close the CLOSED socket answers each
 * segment still arriving with <SEQ=SEG.ACK><CTL=RST>. */
static void test_closed_socket_answers_in_flight_data(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 1, TCP_ACK | TCP_PSH, "bye\r\n", 5);
    pb_conv_tcp(&r->c, 0, TCP_ACK | TCP_PSH, "more", 4);         /* 5 */
    pb_conv_tcp_raw(&r->c, 1, TCP_RST | TCP_ACK, r->c.seq[1], r->c.seq[0], NULL, 0, NULL, 0);
    pb_conv_tcp(&r->c, 0, TCP_ACK | TCP_PSH, "late", 4);         /* 7: in flight */
    pb_conv_tcp_raw(&r->c, 1, TCP_RST, r->c.seq[1], 0, NULL, 0, NULL, 0); /* 8: SEQ = its ACK */
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.abortive", VERDICT_PASS);
    assert_non_null(strstr(text_of(f, "tcp.teardown.abortive"), "3.10.7.1"));
    expect_frame(f, "tcp.teardown.abortive", 8);
    done(r);

    /* A second RST answering nothing fails. */
    r = start4();
    pb_conv_handshake(&r->c);
    pb_conv_tcp(&r->c, 1, TCP_ACK | TCP_PSH, "bye\r\n", 5);
    pb_conv_tcp(&r->c, 0, TCP_ACK, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST | TCP_ACK, r->c.seq[1], r->c.seq[0], NULL, 0, NULL, 0);
    pb_conv_tcp_raw(&r->c, 1, TCP_RST, r->c.seq[1] + 7, 0, NULL, 0, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.teardown.abortive", VERDICT_FAIL);
    done(r);
}

/* Segments overtaken on the way are sent once: out of order is a warning,
 * not a retransmission. */
static void test_out_of_order_is_not_retransmission(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_handshake(&r->c);
    uint32_t base = r->c.seq[0];
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, base + 3, r->c.seq[1], NULL, 0, "defg", 4);
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, base, r->c.seq[1], NULL, 0, "abc", 3);   /* 5 */
    pb_conv_tcp_raw(&r->c, 1, TCP_ACK, r->c.seq[1], base + 7, NULL, 0, NULL, 0);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.data.no_retransmission", VERDICT_WARN);
    assert_string_equal(text_of(f, "tcp.data.no_retransmission"),
                        "no retransmission; 1 segment(s) out of order");
    expect_frame(f, "tcp.data.no_retransmission", 5);
    expect(f, "tcp.data.all_acked", VERDICT_PASS);
    done(r);

    /* The gap filled long after it opened (an RTO later) is a resend of a
     * segment the capture missed. */
    r = start4();
    pb_conv_handshake(&r->c);
    base = r->c.seq[0];
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, base + 3, r->c.seq[1], NULL, 0, "defg", 4);
    r->ts += 200000;
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, base, r->c.seq[1], NULL, 0, "abc", 3);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.data.no_retransmission", VERDICT_FAIL);
    done(r);
}

/* ---- tunnels: the inner connection is judged --------------------------------- */

enum tunnel { TUN_VXLAN, TUN_GENEVE, TUN_GRE, TUN_IPIP, TUN_6IN4 };

struct tunnel_run {
    struct run *r;
    enum tunnel kind;
};

/* Wraps the conversation's frame (Ethernet for VXLAN/GENEVE, bare IP for
 * the others) in the tunnel between 192.0.2.1 and 192.0.2.2, then feeds it. */
static void tunnel_emit(void *ctx, const uint8_t *inner, size_t len)
{
    struct tunnel_run *t = ctx;
    struct pb_addr a = pb_addr("192.0.2.1"), b = pb_addr("192.0.2.2");
    uint8_t buf[2048], frame[2200];
    uint8_t proto;
    size_t n;
    if (t->kind == TUN_VXLAN || t->kind == TUN_GENEVE) {
        uint8_t hdr[8] = { 0 };
        if (t->kind == TUN_VXLAN)
            hdr[0] = 0x08;          /* I: the VNI is valid */
        else
            hdr[2] = 0x65, hdr[3] = 0x58; /* protocol: Ethernet */
        memcpy(buf, hdr, 8);
        memcpy(buf + 8, inner, len);
        uint8_t udp[2200];
        n = pb_udp_datagram(udp, sizeof udp, &a, &b, 50000,
                            t->kind == TUN_VXLAN ? 4789 : 6081, buf, len + 8, PB_CSUM_GOOD);
        memcpy(buf, udp, n);
        proto = WC_IPPROTO_UDP;
    } else if (t->kind == TUN_GRE) {
        uint8_t gre[4] = { 0, 0, inner[0] >> 4 == 6 ? 0x86 : 0x08, inner[0] >> 4 == 6 ? 0xdd : 0x00 };
        memcpy(buf, gre, 4);
        memcpy(buf + 4, inner, len);
        n = len + 4;
        proto = 47;
    } else {
        memcpy(buf, inner, len);
        n = len;
        proto = t->kind == TUN_IPIP ? 4 : 41;
    }
    struct pb_link link = { .linktype = WC_LINK_EN10MB };
    size_t fl = pb_wrap(frame, sizeof frame, &link, &a, &b, proto, buf, n, NULL);
    assert_true(fl > 0);
    t->r->frame++;
    t->r->ts += 100;
    analysis_feed(t->r->a, t->r->frame, t->r->ts, WC_LINK_EN10MB, (uint32_t)fl, (uint32_t)fl, frame);
}

static void test_tunnels_are_decapsulated(void **state)
{
    (void)state;
    static const struct { enum tunnel kind; int inner_link; const char *c, *s; bool outer_udp; } cases[] = {
        { TUN_VXLAN, WC_LINK_EN10MB, "10.0.0.1", "10.0.0.2", true },
        { TUN_GENEVE, WC_LINK_EN10MB, "fd00::1", "fd00::2", true },
        { TUN_GRE, WC_LINK_RAW, "10.0.0.1", "10.0.0.2", false },
        { TUN_IPIP, WC_LINK_RAW, "10.0.0.1", "10.0.0.2", false },
        { TUN_6IN4, WC_LINK_RAW, "fd00::1", "fd00::2", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct run *r = new_run();
        struct tunnel_run t = { r, cases[i].kind };
        pb_conv_init(&r->c, cases[i].inner_link, cases[i].c, 40000, cases[i].s, 3434, tunnel_emit, &t);
        pb_conv_clean_session(&r->c, "hello", "world\r\n");
        analysis_finish(r->a);
        const struct flow_report *tcp = NULL;
        size_t udp = 0;
        for (size_t k = 0; k < analysis_report_count(r->a); k++) {
            const struct flow_report *f = analysis_report(r->a, k);
            if (f->proto == FLOW_TCP)
                tcp = f;
            udp += f->proto == FLOW_UDP;
        }
        if (!tcp)
            fail_msg("tunnel %zu: inner TCP connection not judged", i);
        assert_true(tcp->handshake_seen);
        assert_int_equal(tcp->teardown, TEARDOWN_FIN);
        assert_int_equal(tcp->bytes[SIDE_CLIENT], 5);
        for (size_t k = 0; k < tcp->nverdicts; k++)
            if (tcp->verdicts[k].kind == VERDICT_FAIL)
                fail_msg("tunnel %zu: %s failed: %s", i, tcp->verdicts[k].id, tcp->verdicts[k].text);
        assert_int_equal(udp, cases[i].outer_udp ? 1 : 0); /* the outer flow is reported too */
        done(r);
    }
}

static void test_tcp_checksums(void **state)
{
    (void)state;
    struct run *r = start4();
    r->c.csum = PB_CSUM_PARTIAL;
    pb_conv_clean_session(&r->c, "x", "y");
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.checksum", VERDICT_INFO);
    expect(f, "checksum.offloaded", VERDICT_INFO);
    done(r);

    r = start4();
    pb_conv_handshake(&r->c);
    r->c.csum = PB_CSUM_BAD;
    pb_conv_tcp(&r->c, 0, TCP_ACK | TCP_PSH, "x", 1);
    r->c.csum = PB_CSUM_GOOD;
    pb_conv_tcp(&r->c, 1, TCP_ACK, NULL, 0);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.checksum", VERDICT_FAIL);
    expect_frame(f, "tcp.checksum", 4);
    done(r);
}

static void test_udp_rules(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_udp(&r->c, 0, "ping", 4);
    pb_conv_udp(&r->c, 1, "pong", 4);
    const struct flow_report *f = finish(r, FLOW_UDP);
    expect(f, "udp.datagram.length", VERDICT_PASS);
    expect(f, "udp.checksum", VERDICT_PASS);
    expect(f, "udp.port_unreachable", VERDICT_NA);
    expect(f, "ip.reassembly", VERDICT_NA);
    assert_int_equal(f->datagrams[SIDE_CLIENT], 1);
    assert_int_equal(f->datagrams[SIDE_SERVER], 1);
    const uint8_t *b;
    size_t len;
    assert_true(flow_report_payload(f, SIDE_SERVER, &b, &len));
    assert_memory_equal(b, "pong", 4);
    done(r);

    r = start(WC_LINK_RAW, "fd00::1", "fd00::2");
    pb_conv_udp(&r->c, 0, "closed?", 7);
    pb_conv_port_unreachable(&r->c, "closed?", 7);
    f = finish(r, FLOW_UDP);
    expect(f, "udp.port_unreachable", VERDICT_INFO);
    expect_frame(f, "udp.port_unreachable", 2);
    assert_int_equal(f->icmp_unreachable, 1);
    done(r);

    r = start4();
    r->c.csum = PB_CSUM_BAD;
    pb_conv_udp(&r->c, 0, "ping", 4);
    f = finish(r, FLOW_UDP);
    expect(f, "udp.checksum", VERDICT_FAIL);
    done(r);

    r = start4();
    r->c.csum = PB_CSUM_PARTIAL;
    pb_conv_udp(&r->c, 0, "ping", 4);
    f = finish(r, FLOW_UDP);
    expect(f, "udp.checksum", VERDICT_INFO);
    expect(f, "checksum.offloaded", VERDICT_INFO);
    done(r);
}

/* A UDP length shorter than the IP payload (trailing junk). */
static void test_udp_length_mismatch(void **state)
{
    (void)state;
    struct run *r = start4();
    uint8_t dg[64], ip[128], frame[256];
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    size_t n = pb_udp_datagram(dg, sizeof dg, &a, &b, 40000, 3434, "pingjunk", 8, PB_CSUM_GOOD);
    pb_put16(dg + 4, 12);
    pb_fill_l4_checksum(dg, 12, 6, &a, &b, 17, PB_CSUM_GOOD);
    n = pb_ip_packet(ip, sizeof ip, &a, &b, WC_IPPROTO_UDP, dg, n, NULL);
    n = pb_link_frame(frame, sizeof frame, WC_LINK_EN10MB, 0, ip, n);
    emit(r, frame, n);
    const struct flow_report *f = finish(r, FLOW_UDP);
    expect(f, "udp.datagram.length", VERDICT_FAIL);
    expect(f, "udp.checksum", VERDICT_PASS);
    done(r);
}

static void test_reassembly_rules(void **state)
{
    (void)state;
    struct run *r = start4();
    uint8_t payload[3000], dg[3100], ip[2048], frame[2100];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    size_t n = pb_udp_datagram(dg, sizeof dg, &a, &b, 40000, 3434, payload, sizeof payload, PB_CSUM_GOOD);
    for (size_t off = 0; off < n; off += 1480) {
        size_t len = n - off < 1480 ? n - off : 1480;
        struct pb_ip x = { .id = 7, .mf = off + len < n, .frag_offset = (uint16_t)off };
        size_t m = pb_ip_packet(ip, sizeof ip, &a, &b, WC_IPPROTO_UDP, dg + off, len, &x);
        m = pb_link_frame(frame, sizeof frame, WC_LINK_EN10MB, 0, ip, m);
        emit(r, frame, m);
    }
    const struct flow_report *f = finish(r, FLOW_UDP);
    expect(f, "ip.reassembly", VERDICT_PASS);
    expect_frame(f, "ip.reassembly", 3);
    expect(f, "udp.checksum", VERDICT_PASS);
    assert_int_equal(f->bytes[SIDE_CLIENT], 3000);
    done(r);

    /* Only the first fragment: the capture report fails ip.reassembly. */
    r = start4();
    struct pb_ip x = { .id = 8, .mf = true };
    size_t m = pb_ip_packet(ip, sizeof ip, &a, &b, WC_IPPROTO_UDP, dg, 1480, &x);
    m = pb_link_frame(frame, sizeof frame, WC_LINK_EN10MB, 0, ip, m);
    emit(r, frame, m);
    f = finish(r, FLOW_CAPTURE);
    expect(f, "ip.reassembly", VERDICT_FAIL);
    expect_frame(f, "ip.reassembly", 1);
    done(r);
}

static void test_malformed_frame_fails_capture_rule(void **state)
{
    (void)state;
    struct run *r = start4();
    pb_conv_clean_session(&r->c, "a", "b");
    uint8_t junk[40] = { 0 };
    memcpy(junk + 12, "\x08\x00\x47", 3); /* IPv4 with IHL 7 but total length 0... */
    emit(r, junk, sizeof junk);
    const struct flow_report *f = finish(r, FLOW_CAPTURE);
    expect(f, "packet.well_formed", VERDICT_FAIL);
    expect_frame(f, "packet.well_formed", 11);
    struct analysis_summary s;
    analysis_get_summary(r->a, &s);
    assert_int_equal(s.malformed, 1);
    assert_int_equal(s.tcp_flows, 1);
    done(r);
}


/* An ICMP error from `to_side`'s address to `from_side` quoting a TCP
 * segment from_side sent with sequence number seq (and SYN if syn). */
static void emit_icmp_for_tcp(struct run *r, int from_side, uint8_t type, uint8_t code,
                              uint32_t seq, bool syn)
{
    uint8_t seg[128], ip[256], icmp[512], out[1024], frame[1200];
    struct pb_conv *c = &r->c;
    const struct pb_addr *src = &c->addr[from_side], *dst = &c->addr[1 - from_side];
    struct pb_tcp t = { .sport = c->port[from_side], .dport = c->port[1 - from_side], .seq = seq,
                        .flags = syn ? TCP_SYN : TCP_ACK, .opts = syn ? pb_syn_options : NULL,
                        .opts_len = syn ? sizeof pb_syn_options : 0 };
    size_t n = pb_tcp_segment(seg, sizeof seg, src, dst, &t);
    n = pb_ip_packet(ip, sizeof ip, src, dst, WC_IPPROTO_TCP, seg, n, NULL);
    n = pb_icmp_error(icmp, sizeof icmp, dst, src, type, code, ip, n);
    struct pb_ip x = { .id = c->ip_id[1 - from_side]++ };
    n = pb_ip_packet(out, sizeof out, dst, src, src->family == 6 ? WC_IPPROTO_ICMPV6 : WC_IPPROTO_ICMP, icmp, n, &x);
    n = pb_link_frame(frame, sizeof frame, c->linktype, 0, out, n);
    emit(r, frame, n);
}

static void test_icmp_error_for_tcp(void **state)
{
    (void)state;
    /* nftables "reject with icmp port-unreachable" answering the SYN. */
    struct run *r = start4();
    pb_conv_tcp(&r->c, 0, TCP_SYN, NULL, 0);
    emit_icmp_for_tcp(r, 0, WC_ICMP_DEST_UNREACH, WC_ICMP_UNREACH_PORT, 1000, true);
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "tcp.icmp_error", VERDICT_INFO);
    expect_frame(f, "tcp.icmp_error", 1);
    expect_frame(f, "tcp.icmp_error", 2);
    assert_string_equal(flow_report_find(f, "tcp.icmp_error")->text,
                        "ICMP destination unreachable, port unreachable (type 3 code 3) answering the client's SYN");
    /* Reported right after tcp.refused, which stays n/a (no RST). */
    for (size_t i = 0; i + 1 < f->nverdicts; i++)
        if (strcmp(f->verdicts[i].id, "tcp.refused") == 0)
            assert_string_equal(f->verdicts[i + 1].id, "tcp.icmp_error");
    expect(f, "tcp.refused", VERDICT_NA);
    assert_int_equal(f->last_frame, 2);
    for (size_t i = 0; i < f->nverdicts; i++)
        assert_int_not_equal(f->verdicts[i].kind, VERDICT_FAIL);
    char comment[1024];
    analysis_frame_comment(r->a, 2, comment, sizeof comment);
    assert_non_null(strstr(comment, "tcp.icmp_error: ICMP destination unreachable"));
    done(r);

    /* ICMPv6 administratively prohibited, twice, for the SYN and its retry
     * (the same bytes again within microseconds would be a capture duplicate);
     * the UDP flow of the same ports is not credited. */
    r = start(WC_LINK_EN10MB, "fd00::1", "fd00::2");
    pb_conv_udp(&r->c, 0, "u", 1);
    pb_conv_tcp(&r->c, 0, TCP_SYN, NULL, 0);
    emit_icmp_for_tcp(r, 0, WC_ICMP6_DEST_UNREACH, 1 /* prohibited */, 1000, true);
    r->ts += 1000000; /* the SYN's retry, one second later */
    pb_conv_tcp_raw(&r->c, 0, TCP_SYN, 1000, 0, pb_syn_options, sizeof pb_syn_options, NULL, 0);
    emit_icmp_for_tcp(r, 0, WC_ICMP6_DEST_UNREACH, 1 /* prohibited */, 1000, true);
    analysis_finish(r->a);
    bool saw_tcp = false;
    for (size_t i = 0; i < analysis_report_count(r->a); i++) {
        f = analysis_report(r->a, i);
        if (f->proto == FLOW_UDP) {
            expect(f, "udp.port_unreachable", VERDICT_NA);
            assert_null(flow_report_find(f, "tcp.icmp_error"));
            continue;
        }
        saw_tcp = true;
        expect(f, "tcp.icmp_error", VERDICT_INFO);
        const struct verdict *v = flow_report_find(f, "tcp.icmp_error");
        assert_non_null(strstr(v->text, "ICMPv6 destination unreachable, administratively prohibited (type 1 code 1)"));
        assert_non_null(strstr(v->text, "2 ICMP error(s)"));
        assert_int_equal(v->nframes, 3);
    }
    assert_true(saw_tcp);
    done(r);

    /* Packet too big for a server data segment. */
    r = start4();
    pb_conv_handshake(&r->c);
    uint32_t seq = r->c.seq[1];
    pb_conv_tcp(&r->c, 1, TCP_ACK | TCP_PSH, "data", 4);
    emit_icmp_for_tcp(r, 1, WC_ICMP_DEST_UNREACH, 4 /* fragmentation needed */, seq, false);
    f = finish(r, FLOW_TCP);
    expect(f, "tcp.icmp_error", VERDICT_INFO);
    assert_non_null(strstr(flow_report_find(f, "tcp.icmp_error")->text,
                           "fragmentation needed (type 3 code 4) answering the server's segment"));
    done(r);

    /* No ICMP error: the rule is not reported at all. */
    r = start4();
    pb_conv_clean_session(&r->c, "a", "b");
    f = finish(r, FLOW_TCP);
    assert_null(flow_report_find(f, "tcp.icmp_error"));
    done(r);
}

/* checksum.offloaded counts every offloaded checksum but names at most
 * VERDICT_MAX_FRAMES frames; the frame comment reaches every one of them. */
static void test_offloaded_comment_on_every_frame(void **state)
{
    (void)state;
    struct run *r = start(WC_LINK_LINUX_SLL, "127.0.0.1", "127.0.0.1");
    r->c.csum = PB_CSUM_PARTIAL;
    pb_conv_clean_session(&r->c, "hello", "world");          /* frames 1-10 */
    r->c.csum = PB_CSUM_GOOD;
    pb_conv_tcp_raw(&r->c, 0, TCP_ACK, r->c.seq[0], r->c.seq[1], NULL, 0, NULL, 0); /* 11 */
    const struct flow_report *f = finish(r, FLOW_TCP);
    expect(f, "checksum.offloaded", VERDICT_INFO);
    const struct verdict *v = flow_report_find(f, "checksum.offloaded");
    assert_string_equal(v->text, "10 checksum(s) left to offload (normal on loopback/veth): not judged");
    assert_int_equal(v->nframes, VERDICT_MAX_FRAMES);
    assert_int_equal(f->noffloaded, 10);
    char comment[2048], want[256];
    snprintf(want, sizeof want, "checksum.offloaded: %s: info", v->text);
    for (uint32_t frame = 1; frame <= 10; frame++) {
        analysis_frame_comment(r->a, frame, comment, sizeof comment);
        if (!strstr(comment, want))
            fail_msg("frame %u lacks the offload comment: \"%s\"", frame, comment);
        /* Once, even for the frames the verdict names itself. */
        assert_ptr_equal(strstr(strstr(comment, want) + 1, want), NULL);
    }
    analysis_frame_comment(r->a, 11, comment, sizeof comment);
    assert_null(strstr(comment, "checksum.offloaded"));
    done(r);

    /* Without retained reports nothing is kept per frame. */
    struct analysis_options o;
    analysis_options_default(&o);
    struct analysis *a = analysis_create(&o);
    uint8_t seg[64], ip[128];
    struct pb_addr x = pb_addr("10.0.0.1"), y = pb_addr("10.0.0.2");
    struct pb_tcp t = { .sport = 1, .dport = 2, .seq = 1, .flags = TCP_SYN, .csum = PB_CSUM_PARTIAL };
    size_t n = pb_tcp_segment(seg, sizeof seg, &x, &y, &t);
    n = pb_ip_packet(ip, sizeof ip, &x, &y, WC_IPPROTO_TCP, seg, n, NULL);
    analysis_feed(a, 1, 0, WC_LINK_RAW, (uint32_t)n, (uint32_t)n, ip);
    analysis_finish(a);
    assert_int_equal(analysis_report_count(a), 0);
    analysis_destroy(a);
}

/* The same frames into two analyses: one writes every verdict in full, the
 * other is told which kinds' text nobody will read. */
struct twin_run {
    struct analysis *full, *terse;
    uint32_t frame;
    int64_t ts;
};

static void twin_emit(void *ctx, const uint8_t *bytes, size_t len)
{
    struct twin_run *t = ctx;
    t->frame++;
    t->ts += 100;
    analysis_feed(t->full, t->frame, t->ts, WC_LINK_EN10MB, (uint32_t)len, (uint32_t)len, bytes);
    analysis_feed(t->terse, t->frame, t->ts, WC_LINK_EN10MB, (uint32_t)len, (uint32_t)len, bytes);
}

static void assert_same_but_text(const struct verdict *full, const struct verdict *terse,
                                 unsigned textless_kinds)
{
    assert_int_equal(full->rule, terse->rule);
    assert_int_equal(full->kind, terse->kind);
    assert_int_equal(full->nframes, terse->nframes);
    assert_memory_equal(full->frames, terse->frames, sizeof full->frames);
    if (textless_kinds >> full->kind & 1u) {
        assert_string_equal(terse->text, "");
        assert_string_equal(terse->expected, "");
        assert_string_equal(terse->seen, "");
    } else {
        assert_string_equal(full->text, terse->text);
        assert_string_equal(full->expected, terse->expected);
        assert_string_equal(full->seen, terse->seen);
    }
}

/* `check --quiet` skips formatting what it will not print: every verdict
 * keeps its rule, kind and frames, and only the unprinted kinds lose text. */
static void test_textless_kinds_skip_only_the_text(void **state)
{
    (void)state;
    assert_int_equal(report_unprinted_kinds(REPORT_QUIET),
                     1u << VERDICT_NA | 1u << VERDICT_PASS | 1u << VERDICT_INFO |
                         1u << VERDICT_WAIVED);
    assert_int_equal(report_unprinted_kinds(REPORT_NORMAL), 1u << VERDICT_NA);
    assert_int_equal(report_unprinted_kinds(REPORT_VERBOSE), 0);

    unsigned textless = report_unprinted_kinds(REPORT_QUIET);
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    struct twin_run t = { analysis_create(&o), NULL, 0, 0 };
    o.verdict_textless_kinds = textless;
    t.terse = analysis_create(&o);
    assert_non_null(t.full);
    assert_non_null(t.terse);
    struct pb_conv tcp, udp;
    pb_conv_init(&tcp, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, twin_emit, &t);
    pb_conv_handshake(&tcp);
    pb_conv_tcp(&tcp, 0, TCP_PSH | TCP_ACK, "hello", 5);
    pb_conv_tcp(&tcp, 1, TCP_RST | TCP_ACK, NULL, 0); /* tcp.no_rst fails */
    pb_conv_init(&udp, WC_LINK_EN10MB, "10.0.0.1", 40001, "10.0.0.2", 53, twin_emit, &t);
    pb_conv_udp(&udp, 0, "q", 1);
    pb_conv_port_unreachable(&udp, "q", 1);
    analysis_finish(t.full);
    analysis_finish(t.terse);

    assert_int_equal(analysis_report_count(t.full), 2);
    assert_int_equal(analysis_report_count(t.terse), 2);
    unsigned failures = 0;
    for (size_t i = 0; i < 2; i++) {
        const struct flow_report *full = analysis_report(t.full, i);
        const struct flow_report *terse = analysis_report(t.terse, i);
        assert_int_equal(full->nverdicts, terse->nverdicts);
        for (size_t k = 0; k < full->nverdicts; k++) {
            assert_same_but_text(&full->verdicts[k], &terse->verdicts[k], textless);
            failures += full->verdicts[k].kind == VERDICT_FAIL;
        }
    }
    assert_true(failures > 0);
    assert_non_null(strstr(flow_report_find(analysis_report(t.terse, 0), "tcp.no_rst")->seen,
                           "RST from the server"));
    analysis_destroy(t.full);
    analysis_destroy(t.terse);
}

/* Flows drawing every kind of verdict, into a twin run: a TCP connection
 * whose server resets it (tcp.no_rst fails) and whose SYN lacks the MSS
 * (tcp.handshake.mss warns), a UDP flow answered port unreachable (info),
 * and a malformed frame (the capture pseudo-flow fails). */
static void twin_feed_every_kind(struct twin_run *t)
{
    static const uint8_t no_mss[] = { 4, 2, 1, 1 }; /* sackOK only */
    struct pb_conv tcp, udp;
    pb_conv_init(&tcp, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, twin_emit, t);
    pb_conv_tcp_raw(&tcp, 0, TCP_SYN, 1000, 0, no_mss, sizeof no_mss, NULL, 0);
    pb_conv_tcp_raw(&tcp, 1, TCP_SYN | TCP_ACK, 5000, 1001, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(&tcp, 0, TCP_ACK, 1001, 5001, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(&tcp, 0, TCP_PSH | TCP_ACK, 1001, 5001, NULL, 0, "hello", 5);
    pb_conv_tcp_raw(&tcp, 1, TCP_RST | TCP_ACK, 5001, 1006, NULL, 0, NULL, 0);
    pb_conv_init(&udp, WC_LINK_EN10MB, "10.0.0.1", 40001, "10.0.0.2", 53, twin_emit, t);
    pb_conv_udp(&udp, 0, "q", 1);
    pb_conv_port_unreachable(&udp, "q", 1);
    uint8_t junk[40] = { 0 };
    memcpy(junk + 12, "\x08\x00\x47", 3); /* IPv4 with IHL 7 but total length 0 */
    twin_emit(t, junk, sizeof junk);
    analysis_finish(t->full);
    analysis_finish(t->terse);
}

/* Per kind, the verdicts a report holds. */
static void count_kinds(const struct flow_report *r, uint32_t counts[VERDICT_KINDS])
{
    memset(counts, 0, VERDICT_KINDS * sizeof counts[0]);
    for (size_t k = 0; k < r->nverdicts; k++)
        counts[r->verdicts[k].kind]++;
}

/* `check` keeps only the verdicts it prints; the others are only counted:
 * the kept ones are the full run's verdicts of those kinds, in rule order,
 * text and frames alike; the counts per kind are the full run's, in each
 * report and in the summary, with the policy (strict, waived, only)
 * applied before a verdict is kept or counted. */
static void test_unkept_kinds_are_only_counted(void **state)
{
    (void)state;
    static const struct { bool strict; uint64_t waived, only; } policies[] = {
        { false, 0, 0 },
        { true, 0, 0 }, /* the MSS warning becomes a failure: kept */
        { false, UINT64_C(1) << RULE_TCP_NO_RST | UINT64_C(1) << RULE_PACKET_WELL_FORMED, 0 },
        { true, UINT64_C(1) << RULE_TCP_HANDSHAKE_SYN,
          UINT64_C(1) << RULE_TCP_NO_RST | UINT64_C(1) << RULE_TCP_HANDSHAKE_SYN |
              UINT64_C(1) << RULE_TCP_HANDSHAKE_MSS | UINT64_C(1) << RULE_UDP_PORT_UNREACHABLE },
    };
    unsigned unkept = report_unprinted_kinds(REPORT_QUIET);
    for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
        struct analysis_options o;
        analysis_options_default(&o);
        o.retain_reports = true;
        o.strict = policies[p].strict;
        o.waived_rules = policies[p].waived;
        o.only_rules = policies[p].only;
        struct twin_run t = { analysis_create(&o), NULL, 0, 0 };
        o.verdict_unkept_kinds = o.verdict_textless_kinds = unkept; /* as `check --quiet` */
        t.terse = analysis_create(&o);
        assert_non_null(t.full);
        assert_non_null(t.terse);
        twin_feed_every_kind(&t);

        size_t n = analysis_report_count(t.full);
        assert_int_equal(n, 3); /* TCP, UDP, capture */
        assert_int_equal(analysis_report_count(t.terse), n);
        uint32_t kept_total = 0;
        for (size_t i = 0; i < n; i++) {
            const struct flow_report *full = analysis_report(t.full, i);
            const struct flow_report *terse = analysis_report(t.terse, i);
            uint32_t counted[VERDICT_KINDS];
            count_kinds(full, counted);
            assert_memory_equal(full->verdict_counts, counted, sizeof counted);
            assert_memory_equal(terse->verdict_counts, counted, sizeof counted);
            size_t k = 0;
            for (size_t j = 0; j < full->nverdicts; j++) {
                const struct verdict *v = &full->verdicts[j];
                if (unkept >> v->kind & 1u)
                    continue;
                assert_true(k < terse->nverdicts);
                assert_same_but_text(v, &terse->verdicts[k], 0);
                k++;
            }
            assert_int_equal(terse->nverdicts, k);
            kept_total += (uint32_t)k;
        }
        /* Something was kept and something only counted, in every policy. */
        assert_true(kept_total > 0);
        struct analysis_summary full_sum, terse_sum;
        analysis_get_summary(t.full, &full_sum);
        analysis_get_summary(t.terse, &terse_sum);
        assert_memory_equal(full_sum.verdicts, terse_sum.verdicts, sizeof full_sum.verdicts);
        uint64_t only_counted = 0;
        for (int kind = 0; kind < VERDICT_KINDS; kind++)
            if (unkept >> kind & 1u)
                only_counted += full_sum.verdicts[kind];
        assert_true(only_counted > 0);
        analysis_destroy(t.full);
        analysis_destroy(t.terse);
    }
}

static void test_rule_table(void **state)
{
    (void)state;
    for (int i = 0; i < RULE_COUNT; i++) {
        const struct rule_info *ri = rule_get((enum rule_id)i);
        assert_non_null(ri);
        assert_non_null(ri->id);
        assert_int_equal(rule_lookup(ri->id), i);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ri->id, rule_get((enum rule_id)j)->id);
    }
    assert_int_equal(rule_lookup("tcp.no_such_rule"), -1);
    enum verdict_kind k;
    assert_true(verdict_parse("seen", &k));
    assert_int_equal(k, VERDICT_INFO);
    assert_true(verdict_parse("n/a", &k));
    assert_int_equal(k, VERDICT_NA);
    assert_false(verdict_parse("maybe", &k));
}

/* Every documented id is in RULES.md (the table users read). */
static void test_rules_md_documents_every_rule(void **state)
{
    (void)state;
    FILE *f = fopen(WIRECHECK_SOURCE_DIR "/conformance/RULES.md", "r");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (int i = 0; i < RULE_COUNT; i++) {
        char needle[80];
        snprintf(needle, sizeof needle, "`%s`", rule_get((enum rule_id)i)->id);
        if (!strstr(text, needle))
            fail_msg("RULES.md lacks %s", needle);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_session_passes_everything),
        cmocka_unit_test(test_synack_acks_wrong_isn),
        cmocka_unit_test(test_final_ack_wrong_and_missing),
        cmocka_unit_test(test_syn_with_rst_flag_fails),
        cmocka_unit_test(test_mss_missing),
        cmocka_unit_test(test_early_data_and_tfo),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_abortive_close),
        cmocka_unit_test(test_rst_with_unread_data),
        cmocka_unit_test(test_unacked_data_and_retransmission),
        cmocka_unit_test(test_fin_not_acked_and_data_after_fin),
        cmocka_unit_test(test_half_close_and_simultaneous_close),
        cmocka_unit_test(test_simultaneous_close_live_captures),
        cmocka_unit_test(test_simultaneous_close_with_fin_never_acked),
        cmocka_unit_test(test_syn_data_acked_with_the_syn),
        cmocka_unit_test(test_keepalive_with_garbage_byte),
        cmocka_unit_test(test_zero_window_probes),
        cmocka_unit_test(test_simultaneous_open),
        cmocka_unit_test(test_ack_of_data_never_sent),
        cmocka_unit_test(test_unacceptable_rst_keeps_the_flow),
        cmocka_unit_test(test_closed_socket_answers_in_flight_data),
        cmocka_unit_test(test_out_of_order_is_not_retransmission),
        cmocka_unit_test(test_tunnels_are_decapsulated),
        cmocka_unit_test(test_tcp_checksums),
        cmocka_unit_test(test_udp_rules),
        cmocka_unit_test(test_udp_length_mismatch),
        cmocka_unit_test(test_reassembly_rules),
        cmocka_unit_test(test_malformed_frame_fails_capture_rule),
        cmocka_unit_test(test_icmp_error_for_tcp),
        cmocka_unit_test(test_offloaded_comment_on_every_frame),
        cmocka_unit_test(test_textless_kinds_skip_only_the_text),
        cmocka_unit_test(test_unkept_kinds_are_only_counted),
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_rules_md_documents_every_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
