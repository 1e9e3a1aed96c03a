/* Injected loss: the case directives that declare it (loss-injected, and the
 * drop faults that imply it), the nft rules of drop-first-data/-fin, and
 * the analysis option that turns tcp.data.no_retransmission from fail into
 * info ("retransmission after injected loss") only when loss was injected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "cases.h"
#include "faults.h"
#include "packet_builder.h"

static struct case_spec spec;
static char err[512];

static bool parse(const char *text)
{
    return case_parse_text(text, "t.case", &spec, err, sizeof err);
}

static void test_which_faults_imply_loss(void **state)
{
    (void)state;
    assert_true(parse("client x\n"));
    assert_false(spec.loss_injected);
    assert_true(parse("client x\nfault reset\n"));
    assert_false(spec.loss_injected);
    assert_true(parse("client x\nfault drop-percent 0\n"));
    assert_false(spec.loss_injected);
    assert_true(parse("client x\nfault nft \"tcp dport 3434 drop\"\n"));
    assert_false(spec.loss_injected); /* a raw rule says so itself: */
    assert_true(parse("client x\nfault nft \"tcp dport 3434 drop\"\nloss-injected\n"));
    assert_true(spec.loss_injected);
    assert_true(parse("client x\nfault drop-first-syn\n"));
    assert_true(spec.loss_injected);
    assert_true(parse("client x\nfault drop-percent 30\n"));
    assert_true(spec.loss_injected);
    assert_true(parse("client x\nfault drop-first-data server\n"));
    assert_true(spec.loss_injected);
    assert_int_equal(spec.faults[0].kind, FAULT_DROP_FIRST_DATA);
    assert_int_equal(spec.faults[0].from, FAULT_FROM_SERVER);
    assert_true(parse("client x\nfault drop-first-fin client\n"));
    assert_true(spec.loss_injected);
    assert_int_equal(spec.faults[0].kind, FAULT_DROP_FIRST_FIN);
    assert_int_equal(spec.faults[0].from, FAULT_FROM_CLIENT);
}

static void test_bad_loss_directives(void **state)
{
    (void)state;
    assert_false(parse("client x\nloss-injected yes\n"));
    assert_non_null(strstr(err, "t.case:2:"));
    assert_false(parse("client x\nfault drop-first-data\n"));
    assert_non_null(strstr(err, "unknown fault"));
    assert_false(parse("client x\nfault drop-first-fin both\n"));
    assert_non_null(strstr(err, "'client' or 'server'"));
    /* On veth the server's own segments never reach the server namespace's
     * input hook: the fault could not work, so the case is refused. */
    assert_false(parse("topology veth\nclient x\nfault drop-first-data server\n"));
    assert_non_null(strstr(err, "needs topology loopback"));
    assert_true(parse("topology veth\nclient x\nfault drop-first-data client\n"));
}

static void test_first_segment_rulesets(void **state)
{
    (void)state;
    char rules[4096];
    assert_true(parse("client x\nfault drop-first-data server\nfault drop-first-fin client\n"));
    case_fault_ruleset(&spec, 3434, rules, sizeof rules);
    /* One remembered-port set per fault; keyed by the client's port. */
    assert_non_null(strstr(rules, "set seen0 {"));
    assert_non_null(strstr(rules, "set seen1 {"));
    assert_non_null(strstr(rules, "tcp sport 3434 tcp flags & (syn | rst | psh) == psh "
                                  "tcp dport != @seen0 add @seen0 { tcp dport } drop"));
    assert_non_null(strstr(rules, "tcp dport 3434 tcp flags & (syn | rst | fin) == fin "
                                  "tcp sport != @seen1 add @seen1 { tcp sport } drop"));
    /* The existing faults' rules are unchanged. */
    assert_true(parse("client x\nfault drop-first-syn\n"));
    case_fault_ruleset(&spec, 3434, rules, sizeof rules);
    assert_null(strstr(rules, "seen0"));
    assert_non_null(strstr(rules, "tcp dport 3434 tcp flags & (syn | ack) == syn tcp sport != "
                                  "@syn_seen add @syn_seen { tcp sport } drop"));
}

/* ---- the verdict ------------------------------------------------------- */

struct feed {
    struct analysis *a;
    uint32_t frame;
};

static void feed_frame(void *ctx, const uint8_t *bytes, size_t len)
{
    struct feed *f = ctx;
    f->frame++;
    analysis_feed(f->a, f->frame, 1000000LL + f->frame * 100, WC_LINK_RAW, (uint32_t)len,
                  (uint32_t)len, bytes);
}

/* A clean session except that the server's reply is sent twice. */
static const struct verdict *retransmission_verdict(bool loss_injected, struct analysis **out)
{
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    o.loss_injected = loss_injected;
    struct feed f = {analysis_create(&o), 0};
    assert_non_null(f.a);
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_RAW, "127.0.0.1", 40000, "127.0.0.1", 3434, feed_frame, &f);
    pb_conv_handshake(&c);
    uint32_t seq = c.seq[1];
    pb_conv_tcp(&c, 1, 0x18, "time", 4);
    pb_conv_tcp_raw(&c, 1, 0x18, seq, c.seq[0], NULL, 0, "time", 4); /* again */
    pb_conv_tcp(&c, 0, 0x10, NULL, 0);
    pb_conv_tcp(&c, 1, 0x11, NULL, 0);
    pb_conv_tcp(&c, 0, 0x11, NULL, 0);
    pb_conv_tcp(&c, 1, 0x10, NULL, 0);
    analysis_finish(f.a);
    assert_int_equal(analysis_report_count(f.a), 1);
    *out = f.a;
    const struct verdict *v =
        flow_report_find(analysis_report(f.a, 0), "tcp.data.no_retransmission");
    assert_non_null(v);
    return v;
}

static void test_retransmission_is_info_after_injected_loss(void **state)
{
    (void)state;
    struct analysis *a;
    const struct verdict *v = retransmission_verdict(true, &a);
    assert_int_equal(v->kind, VERDICT_INFO);
    assert_non_null(strstr(v->text, "retransmission after injected loss"));
    assert_non_null(strstr(v->text, "1 retransmitted"));
    assert_int_equal(v->nframes, 1);
    assert_int_equal(v->frames[0], 5);
    /* Nothing else changes: the other rules still judge as usual. */
    const struct verdict *acked = flow_report_find(analysis_report(a, 0), "tcp.data.all_acked");
    assert_int_equal(acked->kind, VERDICT_PASS);
    analysis_destroy(a);
}

static void test_retransmission_fails_without_injected_loss(void **state)
{
    (void)state;
    struct analysis *a;
    const struct verdict *v = retransmission_verdict(false, &a);
    assert_int_equal(v->kind, VERDICT_FAIL);
    assert_non_null(strstr(v->text, "1 retransmitted"));
    assert_null(strstr(v->text, "injected"));
    analysis_destroy(a);
}

static void test_clean_session_passes_either_way(void **state)
{
    (void)state;
    for (int injected = 0; injected < 2; injected++) {
        struct analysis_options o;
        analysis_options_default(&o);
        o.retain_reports = true;
        o.loss_injected = injected;
        struct feed f = {analysis_create(&o), 0};
        struct pb_conv c;
        pb_conv_init(&c, WC_LINK_RAW, "::1", 40000, "::1", 3434, feed_frame, &f);
        pb_conv_clean_session(&c, "ping", "ping");
        analysis_finish(f.a);
        const struct verdict *v =
            flow_report_find(analysis_report(f.a, 0), "tcp.data.no_retransmission");
        assert_int_equal(v->kind, VERDICT_PASS);
        analysis_destroy(f.a);
    }
}

static void test_timestamps_saturate(void **state)
{
    (void)state;
    assert_int_equal(analysis_timestamp(1, 5), 1000005);
    assert_int_equal(analysis_timestamp(-1, 0), -1000000);
    assert_true(analysis_timestamp(INT64_MAX, 999999) == ANALYSIS_TS_LIMIT);
    assert_true(analysis_timestamp(9225167663294LL, 0) == ANALYSIS_TS_LIMIT);
    assert_true(analysis_timestamp(INT64_MIN, -1) == -ANALYSIS_TS_LIMIT);
    assert_true(analysis_timestamp(0, INT64_MAX) == ANALYSIS_TS_LIMIT);
    /* and the analysis takes any timestamp, in any order, without overflow */
    struct analysis *a = analysis_create(NULL);
    static const uint8_t junk[20] = {0x45};
    const int64_t ts[] = {INT64_MAX, INT64_MIN, 0, INT64_MAX - 1, -1};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        analysis_feed(a, (uint32_t)i + 1, ts[i], WC_LINK_RAW, sizeof junk, sizeof junk, junk);
    analysis_finish(a);
    analysis_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_faults_imply_loss),
        cmocka_unit_test(test_bad_loss_directives),
        cmocka_unit_test(test_first_segment_rulesets),
        cmocka_unit_test(test_retransmission_is_info_after_injected_loss),
        cmocka_unit_test(test_retransmission_fails_without_injected_loss),
        cmocka_unit_test(test_clean_session_passes_either_way),
        cmocka_unit_test(test_timestamps_saturate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
