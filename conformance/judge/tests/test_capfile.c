/* capfile: the read loop from a capture file into an analysis, over pcap
 * and pcapng files written to a temporary directory: every frame fed in
 * order with its timestamp, max_frames, a file cut in the middle of a
 * record, and a file that is no capture at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "analysis.h"
#include "capfile.h"
#include "packet_builder.h"
#include "pcapng.h"

static char dir[64];

/* The frames of one clean TCP session (Ethernet), kept to write and compare. */
struct frames {
    uint8_t bytes[16][256];
    size_t len[16];
    size_t n;
};

static void keep(void *ctx, const uint8_t *bytes, size_t len)
{
    struct frames *f = ctx;
    assert_true(f->n < 16 && len <= sizeof f->bytes[0]);
    memcpy(f->bytes[f->n], bytes, len);
    f->len[f->n++] = len;
}

static const struct frames *session(void)
{
    static struct frames f;
    if (f.n == 0) {
        struct pb_conv c;
        pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, keep, &f);
        pb_conv_clean_session(&c, "hello", "world");
    }
    return &f;
}

#define FRAME_TS(i) (1700000000LL * 1000000 + 250000 * (int64_t)(i))

static void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static void write_pcap(const char *path)
{
    const struct frames *f = session();
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    assert_non_null(dead);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    assert_non_null(d);
    for (size_t i = 0; i < f->n; i++) {
        struct pcap_pkthdr h = { .caplen = (bpf_u_int32)f->len[i], .len = (bpf_u_int32)f->len[i] };
        h.ts.tv_sec = (time_t)(FRAME_TS(i) / 1000000);
        h.ts.tv_usec = (suseconds_t)(FRAME_TS(i) % 1000000);
        pcap_dump((u_char *)d, &h, f->bytes[i]);
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

static void write_pcapng(const char *path)
{
    const struct frames *f = session();
    struct pcapng_writer w;
    char err[256];
    assert_true(pcapng_writer_open(&w, path, "test_capfile", err, sizeof err));
    int iface = pcapng_add_interface(&w, WC_LINK_EN10MB, 65535, "eth0");
    assert_true(iface >= 0);
    for (size_t i = 0; i < f->n; i++)
        assert_true(pcapng_write_packet(&w, (uint32_t)iface, FRAME_TS(i), f->bytes[i],
                                        (uint32_t)f->len[i], (uint32_t)f->len[i], NULL, 0));
    assert_true(pcapng_writer_close(&w, err, sizeof err));
}

/* Records what analysis_feed was given, via on_packet. */
struct seen {
    uint32_t frames[32];
    int64_t ts[32];
    uint32_t caplen[32];
    size_t n;
};

static void on_packet(const struct packet *p, void *ctx)
{
    struct seen *s = ctx;
    if (s->n < 32) {
        s->frames[s->n] = p->frame;
        s->ts[s->n] = p->ts_usec;
        s->caplen[s->n] = p->caplen;
    }
    s->n++;
}

/* A capture file open for capfile_feed, and an analysis recording what it
 * is fed. */
struct reading {
    pcap_t *pc;
    struct analysis *a;
    struct seen s;
    uint32_t frames;
};

static void start_reading(struct reading *r, const char *path)
{
    char eb[PCAP_ERRBUF_SIZE];
    memset(r, 0, sizeof *r);
    r->pc = pcap_open_offline(path, eb);
    assert_non_null(r->pc);
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    o.on_packet = on_packet;
    o.ctx = &r->s;
    r->a = analysis_create(&o);
    assert_non_null(r->a);
}

static void stop_reading(struct reading *r)
{
    analysis_destroy(r->a);
    pcap_close(r->pc);
}

static void read_back(const char *path)
{
    const struct frames *f = session();
    struct reading r;
    start_reading(&r, path);
    assert_int_equal(capfile_feed(r.pc, r.a, 0, &r.frames), PCAP_ERROR_BREAK);
    assert_int_equal(r.frames, f->n);
    assert_int_equal(r.s.n, f->n);
    for (size_t i = 0; i < f->n; i++) {
        assert_int_equal(r.s.frames[i], i + 1);
        assert_int_equal(r.s.ts[i], FRAME_TS(i));
        assert_int_equal(r.s.caplen[i], f->len[i]);
    }
    analysis_finish(r.a);
    assert_int_equal(analysis_report_count(r.a), 1);
    assert_true(analysis_report(r.a, 0)->handshake_seen);
    stop_reading(&r);
}

static void test_pcap_and_pcapng(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "session.pcap");
    write_pcap(path);
    read_back(path);
    path_of(path, sizeof path, "session.pcapng");
    write_pcapng(path);
    read_back(path);
}

static void test_max_frames(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "max.pcap");
    write_pcap(path);
    struct reading r;
    start_reading(&r, path);
    assert_int_equal(capfile_feed(r.pc, r.a, 3, &r.frames), 1);
    assert_int_equal(r.frames, 3);
    assert_int_equal(r.s.n, 3);
    /* The rest follows on the next call, numbered from 1 again by design:
     * the caller decides whether to continue a count. */
    assert_int_equal(capfile_feed(r.pc, r.a, 0, &r.frames), PCAP_ERROR_BREAK);
    assert_int_equal(r.frames, session()->n - 3);
    stop_reading(&r);
}

/* A pcap file cut inside its last record: the complete records are fed,
 * then the read fails (not a silent end). */
static void test_truncated_record(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "cut.pcap");
    write_pcap(path);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t whole[1 << 16];
    size_t n = fread(whole, 1, sizeof whole, fp);
    fclose(fp);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(whole, 1, n - 10, fp), n - 10);
    fclose(fp);

    struct reading r;
    start_reading(&r, path);
    assert_int_equal(capfile_feed(r.pc, r.a, 0, &r.frames), PCAP_ERROR);
    assert_int_equal(r.frames, session()->n - 1);
    assert_int_equal(r.s.n, session()->n - 1);
    stop_reading(&r);
}

/* Not a capture: libpcap refuses to open it, so nothing is ever fed. */
static void test_not_a_capture(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "notes.txt");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("this is not a capture file, just text that is long enough to have a header\n", fp);
    fclose(fp);
    char eb[PCAP_ERRBUF_SIZE] = "";
    assert_null(pcap_open_offline(path, eb));
    assert_true(eb[0] != '\0');
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/wirecheck-capfile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const names[] = { "session.pcap", "session.pcapng", "max.pcap", "cut.pcap",
                                         "notes.txt" };
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_of(path, sizeof path, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcap_and_pcapng),
        cmocka_unit_test(test_max_frames),
        cmocka_unit_test(test_truncated_record),
        cmocka_unit_test(test_not_a_capture),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
