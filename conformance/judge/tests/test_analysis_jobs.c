/* analysis with jobs > 1 (check --jobs): the frames are dissected on the
 * shard threads, deduplicated, reassembled and routed by the reader, judged
 * by the shards; the reports and the summary must be exactly those of one
 * thread, in the same order. The capture is built here: several thousand
 * frames (many chunks), interleaved TCP connections (clean, reset, reusing
 * a 4-tuple, left open), UDP exchanges answered by ICMP port unreachable,
 * fragmented datagrams, capture duplicates, and seconds of capture time
 * (scans judge lingering flows mid-capture); and thousands of flows judged
 * at the end (the shards wait for the reader to hand their reports out).
 * And --jobs 2, the reader and one shard, at --max-flows: as one thread. */
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

struct frame {
    int64_t ts;
    size_t len;
    uint8_t *bytes;
};

struct capture {
    struct frame *f;
    size_t n, cap;
    int64_t ts;
    unsigned every;           /* every `every`-th frame is captured twice (0: none) */
};

static void add(struct capture *c, const uint8_t *bytes, size_t len, int64_t ts)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->f = realloc(c->f, c->cap * sizeof *c->f);
        assert_non_null(c->f);
    }
    struct frame *f = &c->f[c->n++];
    f->ts = ts;
    f->len = len;
    f->bytes = malloc(len);
    assert_non_null(f->bytes);
    memcpy(f->bytes, bytes, len);
}

static void emit(void *ctx, const uint8_t *bytes, size_t len)
{
    struct capture *c = ctx;
    c->ts += 700;
    add(c, bytes, len, c->ts);
    if (c->every && c->n % c->every == 0)
        add(c, bytes, len, c->ts + 3); /* `tcpdump -i any`: the same packet again */
}

/* A UDP datagram of 64 bytes in two IPv4 fragments. */
static void fragmented_udp(struct capture *c, uint32_t host, uint16_t id)
{
    struct pb_addr src = pb_addr4(host), dst = pb_addr("10.9.0.1");
    uint8_t udp[8 + 64], frame[256];
    memset(udp, 'f', sizeof udp);
    pb_put16(udp, 41000);
    pb_put16(udp + 2, 7);
    pb_put16(udp + 4, sizeof udp);
    pb_put16(udp + 6, 0);
    pb_fill_l4_checksum(udp, sizeof udp, 6, &src, &dst, IPPROTO_UDP, PB_CSUM_GOOD);
    struct pb_link eth = { .linktype = 1 };
    struct pb_ip first = { .id = id, .mf = true }, second = { .id = id, .frag_offset = 40 };
    size_t n = pb_wrap(frame, sizeof frame, &eth, &src, &dst, IPPROTO_UDP, udp, 40, &first);
    emit(c, frame, n);
    n = pb_wrap(frame, sizeof frame, &eth, &src, &dst, IPPROTO_UDP, udp + 40, sizeof udp - 40,
                &second);
    emit(c, frame, n);
}

static void build(struct capture *c)
{
    memset(c, 0, sizeof *c);
    c->ts = 1700000000LL * 1000000;
    c->every = 13;
    enum { CONNS = 24 };
    struct pb_conv tcp[CONNS];
    char client[32];
    for (unsigned round = 0; round < 40; round++) {
        for (unsigned i = 0; i < CONNS; i++) {
            /* A port used again every 8 rounds: the 4-tuple is reused. */
            snprintf(client, sizeof client, "10.1.%u.%u", i / 200, i % 200 + 1);
            pb_conv_init(&tcp[i], WC_LINK_EN10MB, client, (uint16_t)(30000 + round % 8), "10.2.0.1",
                         80, emit, c);
            pb_conv_handshake(&tcp[i]);
        }
        for (unsigned i = 0; i < CONNS; i++)
            pb_conv_tcp(&tcp[i], 0, TCP_ACK | TCP_PSH, "GET /\r\n", 7);
        for (unsigned i = 0; i < CONNS; i++) {
            pb_conv_tcp(&tcp[i], 1, TCP_ACK | TCP_PSH, "200 OK\r\n", 8);
            if (i % 5 == 0) {
                pb_conv_tcp(&tcp[i], 1, TCP_RST, NULL, 0);
            } else if (i % 7 != 0 || round == 39) {
                pb_conv_tcp(&tcp[i], 0, TCP_FIN | TCP_ACK, NULL, 0);
                pb_conv_tcp(&tcp[i], 1, TCP_FIN | TCP_ACK, NULL, 0);
                pb_conv_tcp(&tcp[i], 0, TCP_ACK, NULL, 0);
            } /* else: left open, judged at a scan or the end */
        }
        struct pb_conv udp;
        pb_conv_init(&udp, WC_LINK_EN10MB, "10.3.0.1", (uint16_t)(50000 + round), "10.3.0.2", 53,
                     emit, c);
        pb_conv_udp(&udp, 0, "query", 5);
        if (round % 3 == 0)
            pb_conv_port_unreachable(&udp, "query", 5);
        else
            pb_conv_udp(&udp, 1, "answer", 6);
        fragmented_udp(c, 0x0A040001 + round, (uint16_t)(100 + round));
        c->ts += round % 10 == 9 ? 3000000 : 0; /* a pause: lingering flows are due */
    }
}

/* Thousands of one-datagram flows, all judged at the end, then a burst of
 * reports from one shard: the shards hold more reports than they may and
 * wait for the reader to hand them out. */
static void build_many_flows(struct capture *c)
{
    memset(c, 0, sizeof *c);
    c->ts = 1700000000LL * 1000000;
    for (unsigned i = 0; i < 6000; i++) {
        struct pb_conv udp;
        char client[32];
        snprintf(client, sizeof client, "10.5.%u.%u", i / 250, i % 250 + 1);
        pb_conv_init(&udp, WC_LINK_EN10MB, client, (uint16_t)(20000 + i % 7), "10.6.0.1", 53,
                     emit, c);
        pb_conv_udp(&udp, 0, "q", 1);
        if (i % 20 == 0)
            pb_conv_port_unreachable(&udp, "q", 1);
    }
    /* Last, one 4-tuple reused by SYN after SYN: each judges the one before,
     * all on one shard, while the others have nothing left to do. */
    struct pb_conv reused;
    pb_conv_init(&reused, WC_LINK_EN10MB, "10.7.0.1", 40000, "10.7.0.2", 80, emit, c);
    for (uint32_t i = 0; i < 1500; i++)
        pb_conv_tcp_raw(&reused, 0, TCP_SYN, 1000 + i * 7919, 0, NULL, 0, NULL, 0);
}

static void free_capture(struct capture *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->f[i].bytes);
    free(c->f);
}

struct run {
    char *text;
    size_t len;
    FILE *out;
};

static void on_flow_done(const struct flow_report *r, void *ctx)
{
    struct run *run = ctx;
    fprintf(run->out, "#%u first %u last %u\n", r->index, r->first_frame, r->last_frame);
    report_flow(run->out, r, REPORT_VERBOSE);
}

/* The reports and the summary of the capture judged with `jobs` threads
 * and at most `max_flows` open (0: the default). */
static char *judge_bounded(const struct capture *c, unsigned jobs, size_t max_flows)
{
    struct run run = { NULL, 0, NULL };
    run.out = open_memstream(&run.text, &run.len);
    assert_non_null(run.out);
    struct analysis_options o;
    analysis_options_default(&o);
    o.payload_cap = 0; /* what check sets: the shards never see payloads */
    o.jobs = jobs;
    if (max_flows)
        o.max_flows = max_flows;
    o.on_flow_done = on_flow_done;
    o.ctx = &run;
    struct analysis *a = analysis_create(&o);
    assert_non_null(a);
    for (size_t i = 0; i < c->n; i++)
        analysis_feed(a, (uint32_t)i + 1, c->f[i].ts, WC_LINK_EN10MB, (uint32_t)c->f[i].len,
                      (uint32_t)c->f[i].len, c->f[i].bytes);
    analysis_finish(a);
    struct analysis_summary s;
    analysis_get_summary(a, &s);
    report_summary(run.out, "capture", &s);
    analysis_destroy(a);
    fclose(run.out);
    return run.text;
}

static char *judge(const struct capture *c, unsigned jobs)
{
    return judge_bounded(c, jobs, 0);
}

/* The capture judged with 2, 3 and 4 threads (`rounds` times each: the
 * threads interleave differently each time) gives what one thread gives. */
static void same_as_one_thread(const struct capture *c, const char *one, int rounds)
{
    for (unsigned jobs = 2; jobs <= 4 * (unsigned)rounds + 1; jobs++) {
        unsigned n = 2 + (jobs - 2) % 3;
        char *many = judge(c, n);
        if (strcmp(one, many) != 0) {
            size_t at = 0;
            while (one[at] && one[at] == many[at])
                at++;
            fail_msg("--jobs %u differs from one thread at byte %zu: '%.80s' vs '%.80s'", n, at,
                     one + at, many + at);
        }
        free(many);
    }
}

static void test_jobs_judge_as_one_thread(void **state)
{
    (void)state;
    struct capture c;
    build(&c);
    assert_true(c.n > 3 * 2048); /* more than a few chunks */
    char *one = judge(&c, 1);
    assert_non_null(strstr(one, "capture duplicate"));
    assert_non_null(strstr(one, "UDP"));
    same_as_one_thread(&c, one, 1);
    free(one);
    free_capture(&c);
}

static void test_jobs_many_flows_at_the_end(void **state)
{
    (void)state;
    struct capture c;
    build_many_flows(&c);
    char *one = judge(&c, 1);
    assert_non_null(strstr(one, "1500 TCP connection(s), 6000 UDP flow(s)"));
    same_as_one_thread(&c, one, 3);
    free(one);
    free_capture(&c);
}

/* --jobs 2 is the reader and one shard: it judges as one thread even once
 * --max-flows is reached (more shards split the bound, analysis.h). */
static void test_two_threads_judge_as_one_at_the_flow_bound(void **state)
{
    (void)state;
    struct capture c;
    build_many_flows(&c);
    char *one = judge_bounded(&c, 1, 1000);
    assert_non_null(strstr(one, "judged early"));
    for (int round = 0; round < 3; round++) {
        char *two = judge_bounded(&c, 2, 1000);
        assert_string_equal(one, two);
        free(two);
    }
    free(one);
    free_capture(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_judge_as_one_thread),
        cmocka_unit_test(test_jobs_many_flows_at_the_end),
        cmocka_unit_test(test_two_threads_judge_as_one_at_the_flow_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
