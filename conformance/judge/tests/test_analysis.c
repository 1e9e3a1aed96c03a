/* analysis: the pipeline as a whole (dissect -> dedup -> reassemble ->
 * route -> expire -> publish) over built frames: reports, summary,
 * callbacks, capture duplicates, frame comments (annotate's index against
 * a plain scan of the reports), and a flow the table has no memory for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis.h"
#include "packet_builder.h"
#include "report.h"
#include "verdict.h"

/* calloc, failing on demand: the judge's allocations in this program come
 * here (a definition in the program wins over the C library's), so a test
 * can make exactly the allocations of one analysis_feed fail. */
static bool calloc_fails;
/* Called through a volatile pointer: the compiler would otherwise turn
 * malloc + memset back into a call to calloc, this very function. */
static void *(*volatile plain_malloc)(size_t) = malloc;

void *calloc(size_t n, size_t size)
{
    size_t total;
    if (calloc_fails || __builtin_mul_overflow(n, size, &total))
        return NULL;
    void *p = plain_malloc(total);
    if (p)
        memset(p, 0, total);
    return p;
}

struct feeder {
    struct analysis *a;
    uint32_t frame;
    int64_t ts;
    unsigned packets_seen;      /* on_packet calls */
    unsigned flows_done;        /* on_flow_done calls */
    enum flow_proto done_order[8];
    bool feed_twice;            /* every frame again 5 us later: a capture duplicate */
};

static void on_packet(const struct packet *p, void *ctx)
{
    struct feeder *f = ctx;
    (void)p;
    f->packets_seen++;
}

static void on_flow_done(const struct flow_report *r, void *ctx)
{
    struct feeder *f = ctx;
    if (f->flows_done < 8)
        f->done_order[f->flows_done] = r->proto;
    f->flows_done++;
}

static void feed_frame(struct feeder *f, const uint8_t *bytes, size_t len)
{
    f->frame++;
    f->ts += 1000;
    analysis_feed(f->a, f->frame, f->ts, WC_LINK_EN10MB, (uint32_t)len, (uint32_t)len, bytes);
    if (f->feed_twice) {
        f->frame++;
        analysis_feed(f->a, f->frame, f->ts + 5, WC_LINK_EN10MB, (uint32_t)len, (uint32_t)len, bytes);
    }
}

static void emit(void *ctx, const uint8_t *bytes, size_t len)
{
    feed_frame(ctx, bytes, len);
}

static struct feeder *start_lingering(bool retain, uint32_t closed_linger_frames)
{
    static struct feeder f;
    memset(&f, 0, sizeof f);
    struct analysis_options o;
    analysis_options_default(&o);
    o.closed_linger_frames = closed_linger_frames;
    o.retain_reports = retain;
    o.on_packet = on_packet;
    o.on_flow_done = on_flow_done;
    o.ctx = &f;
    f.a = analysis_create(&o);
    assert_non_null(f.a);
    f.ts = 1000000;
    return &f;
}

static struct feeder *start(bool retain)
{
    return start_lingering(retain, ANALYSIS_DEFAULT_LINGER_FRAMES);
}

/* A TCP session with a request and a reply, then a UDP exchange. */
static void tcp_and_udp(struct feeder *f, enum pb_csum csum)
{
    struct pb_conv tcp, udp;
    pb_conv_init(&tcp, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, emit, f);
    tcp.csum = csum;
    pb_conv_clean_session(&tcp, "hello", "world!");
    pb_conv_init(&udp, WC_LINK_EN10MB, "10.0.0.1", 50000, "10.0.0.2", 53, emit, f);
    udp.csum = csum;
    pb_conv_udp(&udp, 0, "query", 5);
    pb_conv_udp(&udp, 1, "answer", 6);
}

static const struct flow_report *report_of(const struct analysis *a, enum flow_proto proto)
{
    for (size_t i = 0; i < analysis_report_count(a); i++)
        if (analysis_report(a, i)->proto == proto)
            return analysis_report(a, i);
    fail_msg("no report of proto %d", proto);
    return NULL;
}

static void test_pipeline(void **state)
{
    (void)state;
    struct feeder *f = start(true);
    tcp_and_udp(f, PB_CSUM_GOOD);
    uint32_t flow_frames = f->frame;
    /* An ARP frame: not IP, counted and ignored. */
    uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };
    feed_frame(f, arp, sizeof arp);
    /* A TCP segment whose data offset says 4 words: malformed. */
    uint8_t seg[64], ip[128], frame[256];
    struct pb_addr x = pb_addr("10.0.0.9"), y = pb_addr("10.0.0.2");
    struct pb_tcp t = { .sport = 1, .dport = 2, .seq = 1, .flags = TCP_SYN };
    size_t n = pb_tcp_segment(seg, sizeof seg, &x, &y, &t);
    seg[12] = 0x40;
    n = pb_ip_packet(ip, sizeof ip, &x, &y, WC_IPPROTO_TCP, seg, n, NULL);
    n = pb_link_frame(frame, sizeof frame, WC_LINK_EN10MB, 0, ip, n);
    feed_frame(f, frame, n);
    assert_int_equal(f->flows_done, 0); /* nothing due yet: judged at the end */
    analysis_finish(f->a);

    struct analysis_summary s;
    analysis_get_summary(f->a, &s);
    assert_int_equal(s.frames, flow_frames + 2);
    assert_int_equal(s.not_ip, 1);
    assert_int_equal(s.malformed, 1);
    assert_int_equal(s.duplicates, 0);
    assert_int_equal(s.tcp_flows, 1);
    assert_int_equal(s.udp_flows, 1);
    assert_int_equal(s.open_flows, 0);
    assert_int_equal(s.max_open_flows, 2);
    assert_int_equal(s.untracked_frames, 0);
    assert_int_equal(s.lost_reports, 0);
    assert_int_equal(f->packets_seen, flow_frames + 2);

    /* Judged in creation order, the capture pseudo-flow last. */
    assert_int_equal(f->flows_done, 3);
    assert_int_equal(f->done_order[0], FLOW_TCP);
    assert_int_equal(f->done_order[1], FLOW_UDP);
    assert_int_equal(f->done_order[2], FLOW_CAPTURE);
    assert_int_equal(analysis_report_count(f->a), 3);
    uint64_t counted[VERDICT_KINDS] = { 0 };
    for (size_t i = 0; i < 3; i++) {
        const struct flow_report *r = analysis_report(f->a, i);
        assert_int_equal(r->index, i);
        for (size_t k = 0; k < r->nverdicts; k++)
            counted[r->verdicts[k].kind]++;
    }
    assert_memory_equal(counted, s.verdicts, sizeof counted);
    assert_int_equal(s.verdicts[VERDICT_FAIL], 1); /* the malformed frame, nothing else */

    const struct flow_report *tcp = report_of(f->a, FLOW_TCP);
    assert_true(tcp->handshake_seen);
    assert_int_equal(tcp->teardown, TEARDOWN_FIN);
    assert_int_equal(tcp->first_frame, 1);
    const uint8_t *bytes;
    size_t len;
    assert_true(flow_report_payload(tcp, SIDE_CLIENT, &bytes, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(bytes, "hello", 5);
    assert_true(flow_report_payload(tcp, SIDE_SERVER, &bytes, &len));
    assert_memory_equal(bytes, "world!", 6);
    assert_int_equal(flow_report_find(tcp, "tcp.handshake.syn")->kind, VERDICT_PASS);
    assert_null(flow_report_find(tcp, "udp.checksum"));

    const struct flow_report *udp = report_of(f->a, FLOW_UDP);
    assert_int_equal(udp->datagrams[0], 1);
    assert_int_equal(udp->datagrams[1], 1);
    assert_true(flow_report_payload(udp, SIDE_SERVER, &bytes, &len));
    assert_memory_equal(bytes, "answer", 6);

    const struct flow_report *cap = report_of(f->a, FLOW_CAPTURE);
    const struct verdict *wf = flow_report_find(cap, "packet.well_formed");
    assert_non_null(wf);
    assert_int_equal(wf->kind, VERDICT_FAIL);
    assert_int_equal(wf->nframes, 1);
    assert_int_equal(wf->frames[0], f->frame);
    assert_non_null(strstr(wf->seen, "bad TCP data offset"));
    analysis_destroy(f->a);
}

/* Every frame seen twice: the copies are counted, commented, not judged;
 * the verdicts are those of the capture without them. */
static void test_capture_duplicates(void **state)
{
    (void)state;
    struct feeder *once = start(true);
    tcp_and_udp(once, PB_CSUM_GOOD);
    analysis_finish(once->a);
    struct analysis_summary s1;
    analysis_get_summary(once->a, &s1);
    analysis_destroy(once->a);

    struct feeder *twice = start(true);
    twice->feed_twice = true;
    tcp_and_udp(twice, PB_CSUM_GOOD);
    analysis_finish(twice->a);
    struct analysis_summary s2;
    analysis_get_summary(twice->a, &s2);

    assert_int_equal(s2.frames, 2 * s1.frames);
    assert_int_equal(s2.duplicates, s1.frames);
    assert_memory_equal(s2.verdicts, s1.verdicts, sizeof s1.verdicts);
    char c[512];
    assert_int_equal(analysis_frame_comment(twice->a, 2, c, sizeof c),
                     strlen("capture duplicate of frame 1: not judged"));
    assert_string_equal(c, "capture duplicate of frame 1: not judged");
    analysis_frame_comment(twice->a, 1, c, sizeof c);
    assert_non_null(strstr(c, "tcp.handshake.syn: client SYN without ACK: pass"));
    analysis_destroy(twice->a);
}

/* What analysis_frame_comment must say, by walking every report: the
 * specification annotate's index is held to. */
static size_t scanned_comment(const struct analysis *a, uint32_t frame, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < analysis_report_count(a); i++) {
        const struct flow_report *r = analysis_report(a, i);
        for (size_t k = 0; k < r->nverdicts; k++) {
            const struct verdict *v = &r->verdicts[k];
            bool named = false;
            for (unsigned j = 0; j < v->nframes; j++)
                named |= v->frames[j] == frame;
            if (v->rule == RULE_CHECKSUM_OFFLOADED && v->kind == VERDICT_INFO)
                for (size_t j = 0; j < r->noffloaded; j++)
                    named |= r->offloaded_frames[j] == frame;
            if (!named)
                continue;
            char line[512];
            verdict_format_comment(v, line, sizeof line);
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "\n" : "", line);
            assert_true(used < size);
        }
    }
    return used;
}

static void test_frame_comments(void **state)
{
    (void)state;
    /* Offloaded checksums: checksum.offloaded's line must reach all of the
     * flow's frames, more than the 8 its verdict names. */
    struct feeder *f = start(true);
    tcp_and_udp(f, PB_CSUM_PARTIAL);
    struct pb_conv more;
    pb_conv_init(&more, WC_LINK_EN10MB, "10.0.0.1", 40001, "10.0.0.2", 3434, emit, f);
    more.csum = PB_CSUM_PARTIAL;
    pb_conv_handshake(&more);
    for (int i = 0; i < 6; i++)
        pb_conv_tcp(&more, i % 2, TCP_ACK | TCP_PSH, "data", 4);

    /* Before finish: nothing judged, so no verdict comment yet. */
    char got[4096], want[4096];
    assert_int_equal(analysis_frame_comment(f->a, 1, got, sizeof got), 0);
    assert_string_equal(got, "");
    analysis_finish(f->a);

    unsigned commented = 0, offload_lines = 0;
    for (uint32_t frame = 1; frame <= f->frame + 1; frame++) {
        size_t n = analysis_frame_comment(f->a, frame, got, sizeof got);
        assert_int_equal(n, scanned_comment(f->a, frame, want, sizeof want));
        assert_string_equal(got, want);
        commented += n > 0;
        offload_lines += strstr(got, "checksum.offloaded: ") != NULL;
    }
    assert_int_equal(commented, f->frame);
    assert_int_equal(offload_lines, f->frame); /* every frame was left to offload */

    /* A small buffer: cut and terminated, the full length still returned. */
    size_t full = analysis_frame_comment(f->a, 1, got, sizeof got);
    char small[16];
    assert_int_equal(analysis_frame_comment(f->a, 1, small, sizeof small), full);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, got, sizeof small - 1);
    assert_int_equal(analysis_frame_comment(f->a, 1, NULL, 0), full);
    analysis_destroy(f->a);
}

/* No memory for a new flow: its frames are counted as not judged and the
 * summary says so; the flows that were tracked are judged as usual. */
static void test_failed_insert_is_counted(void **state)
{
    (void)state;
    void *(*volatile calloc_in_use)(size_t, size_t) = calloc; /* not elided */
    calloc_fails = true;
    void *probe = calloc_in_use(1, 1);
    calloc_fails = false;
    if (probe) { /* calloc is not ours here (valgrind replaces it) */
        free(probe);
        skip();
    }
    struct feeder *f = start(false);
    struct pb_conv ok, lost;
    pb_conv_init(&ok, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, emit, f);
    pb_conv_init(&lost, WC_LINK_EN10MB, "10.0.0.3", 40000, "10.0.0.2", 3434, emit, f);
    pb_conv_tcp(&ok, 0, TCP_SYN, NULL, 0);
    calloc_fails = true;
    pb_conv_tcp(&lost, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp(&lost, 0, TCP_SYN, NULL, 0);
    calloc_fails = false;
    pb_conv_tcp(&ok, 1, TCP_SYN | TCP_ACK, NULL, 0);
    analysis_finish(f->a);
    struct analysis_summary s;
    analysis_get_summary(f->a, &s);
    assert_int_equal(s.untracked_frames, 2);
    assert_int_equal(s.oom_frame, 2); /* where memory first ran out: check names it */
    assert_int_equal(s.tcp_flows, 1);
    assert_int_equal(f->flows_done, 1);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    report_summary(out, "x.pcap", &s);
    fclose(out);
    assert_non_null(strstr(text, "; 2 frame(s) not judged: out of memory for their flow"));
    free(text);
    analysis_destroy(f->a);
}

/* A closed connection lingers for late packets 2 s of capture time, but in
 * a busy capture no more than closed_linger_frames frames after its close
 * (and twice that after its first frame): a late ACK within them still
 * joins it; one after them finds it judged and starts a new flow. */
static void test_closed_linger_frames(void **state)
{
    (void)state;
    struct feeder *f = start_lingering(true, 16);
    struct pb_conv a, b;
    pb_conv_init(&a, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, emit, f);
    pb_conv_init(&b, WC_LINK_EN10MB, "10.0.0.3", 40000, "10.0.0.2", 3434, emit, f);
    pb_conv_clean_session(&a, "hello", "world!");
    uint32_t a_closed = f->frame;
    f->frame = a_closed + 15;                    /* 16 frames after the close: within */
    pb_conv_tcp(&a, 0, TCP_ACK, NULL, 0);       /* the last ACK again */
    uint32_t a_late = f->frame;
    assert_int_equal(f->flows_done, 0);
    pb_conv_clean_session(&b, "hello", "world!");
    uint32_t b_first = a_late + 1, b_closed = f->frame;
    assert_true(f->flows_done <= 1); /* a may be: more than 32 frames after its first */
    /* 17 frames after b's close and 33 after its first frame: b is judged
     * now, before the late ACK (a no later than that). */
    f->frame = b_first + 32 > b_closed + 16 ? b_first + 32 : b_closed + 16;
    pb_conv_tcp(&b, 0, TCP_ACK, NULL, 0);
    uint32_t b_late = f->frame;
    assert_int_equal(f->flows_done, 2);
    analysis_finish(f->a);

    assert_int_equal(analysis_report_count(f->a), 3);
    const struct flow_report *ra = analysis_report(f->a, 0), *rb = analysis_report(f->a, 1),
                             *rl = analysis_report(f->a, 2);
    assert_int_equal(ra->first_frame, 1);
    assert_int_equal(ra->last_frame, a_late);
    assert_int_equal(ra->teardown, TEARDOWN_FIN);
    assert_int_equal(rb->first_frame, b_first);
    assert_int_equal(rb->last_frame, b_closed);
    assert_int_equal(rb->teardown, TEARDOWN_FIN);
    /* The late ACK on its own: a flow caught mid-stream. */
    assert_int_equal(rl->first_frame, b_late);
    assert_int_equal(rl->last_frame, b_late);
    assert_false(rl->handshake_seen);
    analysis_destroy(f->a);

    /* 0: no bound in frames, only the 2 s. */
    f = start_lingering(true, 0);
    pb_conv_init(&a, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, emit, f);
    pb_conv_clean_session(&a, "hello", "world!");
    f->frame += 1000000;
    pb_conv_tcp(&a, 0, TCP_ACK, NULL, 0);
    analysis_finish(f->a);
    assert_int_equal(analysis_report_count(f->a), 1);
    assert_int_equal(analysis_report(f->a, 0)->last_frame, f->frame);
    analysis_destroy(f->a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_capture_duplicates),
        cmocka_unit_test(test_frame_comments),
        cmocka_unit_test(test_failed_insert_is_counted),
        cmocka_unit_test(test_closed_linger_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
