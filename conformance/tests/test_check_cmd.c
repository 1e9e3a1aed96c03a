/* `wirecheck check` on capture files this test writes itself (libpcap's
 * dumper for pcap, by hand for pcapng): exit codes and what is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "commands.h"
#include "report.h"
#include "packet_builder.h"

static char dir[64];

/* Set: every frame is written twice, 3 us apart (`tcpdump -i any` on both
 * ends of a veth pair). */
static bool write_twice;

/* Not 0: every frame is captured with at most this many bytes (snaplen). */
static uint32_t cut_to;

struct dump {
    pcap_dumper_t *d;
    uint32_t frame;
};

static void dump_emit(void *ctx, const uint8_t *bytes, size_t len)
{
    struct dump *w = ctx;
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    w->frame++;
    h.ts.tv_sec = 1700000000;
    h.ts.tv_usec = (suseconds_t)(w->frame * 100);
    h.caplen = h.len = (bpf_u_int32)len;
    if (cut_to && h.caplen > cut_to)
        h.caplen = cut_to;
    pcap_dump((u_char *)w->d, &h, bytes);
    if (write_twice) {
        w->frame++;
        h.ts.tv_usec += 3;
        pcap_dump((u_char *)w->d, &h, bytes);
    }
}

typedef void (*script_fn)(struct pb_conv *c);

/* Writes a pcap of `linktype` with the conversation `script` plays. */
static const char *write_pcap(const char *name, int linktype, script_fn script)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    pcap_t *dead = pcap_open_dead(linktype, 65535);
    assert_non_null(dead);
    struct dump w = { pcap_dump_open(dead, path), 0 };
    assert_non_null(w.d);
    struct pb_conv c;
    pb_conv_init(&c, linktype, "127.0.0.1", 40000, "127.0.0.1", 3434, dump_emit, &w);
    if (script)
        script(&c);
    pcap_dump_close(w.d);
    pcap_close(dead);
    return path;
}

static void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

struct result {
    int rc;
    char out[65536];
    char err[4096];
};

static void slurp(FILE *f, char *buf, size_t size)
{
    rewind(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs `wirecheck check ARGS...` (NULL-terminated) in-process. */
static struct result *run_check(const char *first, ...)
{
    static struct result r;
    char *argv[16] = { "check" };
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    r.rc = check_command(argc, argv, out, err);
    slurp(out, r.out, sizeof r.out);
    slurp(err, r.err, sizeof r.err);
    return &r;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

/* ---- scripts ------------------------------------------------------------- */

static void clean_close(struct pb_conv *c) { pb_conv_clean_session(c, "hello", "Tue Nov 25 16:30:00 2025\r\n"); }

static void abortive_close(struct pb_conv *c)
{
    pb_conv_handshake(c);
    pb_conv_tcp(c, 1, TCP_ACK | TCP_PSH, "time\r\n", 6);
    pb_conv_tcp(c, 0, TCP_ACK, NULL, 0);
    pb_conv_tcp(c, 1, TCP_RST | TCP_ACK, NULL, 0);
}

static void refused(struct pb_conv *c)
{
    pb_conv_tcp(c, 0, TCP_SYN, NULL, 0);
    pb_conv_tcp_raw(c, 1, TCP_RST | TCP_ACK, 0, c->seq[0], NULL, 0, NULL, 0);
}

static void udp_exchange(struct pb_conv *c)
{
    pb_conv_udp(c, 0, "ping", 4);
    pb_conv_udp(c, 1, "pong", 4);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_clean_close_passes(void **state)
{
    (void)state;
    static const int links[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_RAW, DLT_NULL };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        const char *path = write_pcap("clean.pcap", links[i], clean_close);
        struct result *r = run_check(path, NULL);
        if (r->rc != 0)
            fail_msg("linktype %d: rc %d\n%s%s", links[i], r->rc, r->out, r->err);
        assert_contains(r->out, "TCP 127.0.0.1.40000 > 127.0.0.1.3434 (frames 1-10)");
        assert_contains(r->out, "handshake: complete; data: client 5 bytes, server 26 bytes; "
                                "teardown: orderly (FIN both ways), client FIN first");
        assert_contains(r->out, "pass tcp.handshake.synack_acks_isn: SYN/ACK acks ISN+1 [frames 1,2]");
        assert_contains(r->out, "info tcp.teardown.first_fin: client sent the first FIN [frame 8]");
        assert_contains(r->out, "10 frames, 1 TCP connection(s), 0 UDP flow(s)");
        assert_contains(r->out, " 0 fail");
        assert_string_equal(r->err, "");
    }
}

static void test_quiet_and_verbose(void **state)
{
    (void)state;
    const char *path = write_pcap("clean.pcap", DLT_EN10MB, clean_close);
    struct result *r = run_check("--quiet", path, NULL);
    assert_int_equal(r->rc, 0);
    assert_null(strstr(r->out, "pass "));
    assert_contains(r->out, "0 fail");
    r = run_check("--verbose", path, NULL);
    assert_int_equal(r->rc, 0);
    assert_contains(r->out, "1 1700000000.000100 IP 127.0.0.1.40000 > 127.0.0.1.3434: Flags [S], seq 1000, "
                            "win 512, options [mss 1460,sackOK,TS val 1 ecr 0,wscale 7], length 0");
    assert_contains(r->out, "n/a  tcp.refused");
}

static void test_abortive_close_fails_no_rst(void **state)
{
    (void)state;
    const char *path = write_pcap("abortive.pcap", DLT_EN10MB, abortive_close);
    struct result *r = run_check(path, NULL);
    assert_int_equal(r->rc, 1);
    assert_contains(r->out, "FAIL tcp.no_rst: 1 RST(s), first from the server [frame 6]");
    assert_contains(r->out, "       expected: no RST\n       seen:     RST from the server in frame 6");
    assert_contains(r->out, "pass tcp.teardown.abortive");
    assert_contains(r->out, "teardown: reset");
    r = run_check("-q", path, NULL);
    assert_int_equal(r->rc, 1);
    assert_contains(r->out, "FAIL tcp.no_rst");
    assert_null(strstr(r->out, "pass "));
}

static void test_refused_is_not_a_failure(void **state)
{
    (void)state;
    const char *path = write_pcap("refused.pcap", DLT_EN10MB, refused);
    struct result *r = run_check(path, NULL);
    assert_int_equal(r->rc, 0);
    assert_contains(r->out, "info tcp.refused: SYN answered by RST/ACK: connection refused [frames 1,2]");
    assert_contains(r->out, "teardown: refused");
}

static void test_udp_flow_printed(void **state)
{
    (void)state;
    const char *path = write_pcap("udp.pcap", DLT_LINUX_SLL, udp_exchange);
    struct result *r = run_check(path, NULL);
    assert_int_equal(r->rc, 0);
    assert_contains(r->out, "UDP 127.0.0.1.40000 > 127.0.0.1.3434 (frames 1-2)");
    assert_contains(r->out, "datagrams: client 1 (4 bytes), server 1 (4 bytes)");
    assert_contains(r->out, "pass udp.checksum");
}

static void test_input_errors(void **state)
{
    (void)state;
    char path[128];

    struct result *r = run_check(NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "no capture file given");

    r = run_check("--bogus", NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "unknown option '--bogus'");

    snprintf(path, sizeof path, "%s/does-not-exist.pcap", dir);
    r = run_check(path, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, path);

    snprintf(path, sizeof path, "%s/empty.pcap", dir);
    write_bytes(path, "", 0);
    r = run_check(path, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "empty.pcap: cannot read capture");

    snprintf(path, sizeof path, "%s/garbage.pcap", dir);
    write_bytes(path, "this is not a capture file, just some text\n", 43);
    r = run_check(path, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "garbage.pcap: cannot read capture");

    /* A valid header and no packets. */
    const char *none = write_pcap("nopackets.pcap", DLT_EN10MB, NULL);
    r = run_check(none, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "nopackets.pcap: the capture holds no packets");

    const char *wifi = write_pcap("wifi.pcap", DLT_IEEE802_11, NULL);
    r = run_check(wifi, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "wifi.pcap: unsupported link type 105");

    /* Other files still get checked; the worst status wins. */
    const char *clean = write_pcap("clean2.pcap", DLT_EN10MB, clean_close);
    r = run_check(clean, path, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->out, "1 TCP connection(s)");
}

/* Options anywhere among the files, "--" ends them, unknown ones exit 2. */
static void test_options_anywhere(void **state)
{
    (void)state;
    char clean[128], abortive[128];
    snprintf(clean, sizeof clean, "%s", write_pcap("opt-clean.pcap", DLT_EN10MB, clean_close));
    snprintf(abortive, sizeof abortive, "%s", write_pcap("opt-abortive.pcap", DLT_EN10MB, abortive_close));

    /* --quiet after the first file applies to both. */
    struct result *r = run_check(clean, "--quiet", abortive, NULL);
    assert_int_equal(r->rc, 1);
    assert_null(strstr(r->out, "pass "));
    assert_null(strstr(r->out, "link type"));
    assert_contains(r->out, "FAIL tcp.no_rst");
    assert_contains(r->out, "opt-clean.pcap: 10 frames");
    assert_contains(r->out, "opt-abortive.pcap: 6 frames");
    assert_string_equal(r->err, "");

    r = run_check(clean, "-v", NULL);
    assert_int_equal(r->rc, 0);
    assert_contains(r->out, "n/a  tcp.refused");

    /* An unknown option anywhere: exit 2, named, nothing checked. */
    r = run_check(clean, "--frobnicate", NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "unknown option '--frobnicate'");
    assert_string_equal(r->out, "");

    /* Options only: no file. */
    r = run_check("--quiet", "--", NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "no capture file given");

    /* After "--", "--quiet" and "-v" are file names. */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(rename("opt-clean.pcap", "--quiet"), 0);
    r = run_check("--", "--quiet", NULL);
    int rc = r->rc;
    static char out[sizeof r->out];
    memcpy(out, r->out, sizeof out);
    r = run_check("-q", "--", "-v", NULL);
    int rc2 = r->rc;
    static char err2[sizeof r->err];
    memcpy(err2, r->err, sizeof err2);
    unlink("--quiet");
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_contains(out, "--quiet: link type EN10MB");
    assert_contains(out, "pass tcp.handshake.syn");
    assert_int_equal(rc2, 2);
    assert_contains(err2, "wirecheck check: -v: cannot read capture");
}

/* The same packets captured twice (tcpdump -i any): counted, not judged. */
static void test_capture_duplicates_summary(void **state)
{
    (void)state;
    write_twice = true;
    const char *path = write_pcap("twice.pcap", DLT_LINUX_SLL, clean_close);
    write_twice = false;
    struct result *r = run_check("--verbose", path, NULL);
    if (r->rc != 0)
        fail_msg("rc %d\n%s%s", r->rc, r->out, r->err);
    assert_contains(r->out, "pass tcp.data.no_retransmission");
    assert_contains(r->out, "20 frames, 1 TCP connection(s)");
    assert_contains(r->out, "; 10 capture duplicate(s) not judged");
    assert_contains(r->out, "Flags [S], seq 1000, win 512, options [mss 1460,sackOK,TS val 1 ecr 0,wscale 7], "
                            "length 0 [capture duplicate of frame 1: not judged]");
}

static void test_truncated_file(void **state)
{
    (void)state;
    const char *path = write_pcap("cut.pcap", DLT_EN10MB, clean_close);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* Cut in the middle of the 4th record's frame: walk the records
     * (16-byte header whose caplen is at offset 8) from the 24-byte file header. */
    size_t at = 24;
    for (int rec = 0; rec < 3; rec++) {
        uint32_t caplen;
        memcpy(&caplen, buf + at + 8, 4);
        at += 16 + caplen;
    }
    size_t cut = at + 16 + 10;
    assert_true(cut < n);
    char cut_path[128];
    snprintf(cut_path, sizeof cut_path, "%s/truncated.pcap", dir);
    write_bytes(cut_path, buf, cut);
    struct result *r = run_check(cut_path, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "truncated.pcap: unreadable after frame 3 (reading frame 4)");
    /* What could be read was still judged. */
    assert_contains(r->out, "3 frames, 1 TCP connection(s)");

    /* Cut inside a record header. */
    uint32_t first_caplen;
    memcpy(&first_caplen, buf + 24 + 8, 4);
    write_bytes(cut_path, buf, 24 + 16 + first_caplen + 5);
    r = run_check(cut_path, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "unreadable after frame 1");
}

/* pcapng, written by hand: SHB, IDB (Ethernet), one EPB per frame. */
struct ng {
    FILE *f;
    uint32_t interface; /* of the EPBs written next */
};

static void ng_block(FILE *f, uint32_t type, const void *body, size_t len)
{
    static const uint8_t pad[4];
    uint32_t total = (uint32_t)(12 + (len + 3) / 4 * 4);
    fwrite(&type, 4, 1, f);
    fwrite(&total, 4, 1, f);
    fwrite(body, 1, len, f);
    fwrite(pad, 1, (4 - len % 4) % 4, f);
    fwrite(&total, 4, 1, f);
}

static void ng_emit(void *ctx, const uint8_t *bytes, size_t len)
{
    struct ng *w = ctx;
    static uint8_t body[PB_MAX_FRAME + 32];
    uint32_t hdr[5] = { w->interface, 0, 1000, (uint32_t)len, (uint32_t)len };
    memcpy(body, hdr, sizeof hdr);
    memcpy(body + sizeof hdr, bytes, len);
    ng_block(w->f, 6, body, sizeof hdr + len);
}

static void test_pcapng_abortive(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/abortive.pcapng", dir);
    struct ng w = { fopen(path, "wb"), 0 };
    assert_non_null(w.f);
    uint8_t shb[16] = { 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ng_block(w.f, 0x0A0D0D0A, shb, sizeof shb);
    uint8_t idb[8] = { 1, 0, 0, 0, 0, 0, 1, 0 }; /* LINKTYPE_ETHERNET, snaplen 65536 */
    ng_block(w.f, 1, idb, sizeof idb);
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_EN10MB, "::1", 40000, "::1", 3434, ng_emit, &w);
    abortive_close(&c);
    fclose(w.f);
    struct result *r = run_check(path, NULL);
    assert_int_equal(r->rc, 1);
    assert_contains(r->out, "TCP ::1.40000 > ::1.3434 (frames 1-6)");
    assert_contains(r->out, "FAIL tcp.no_rst");
}

/* --json: one JSON object per verdict (n/a included), nothing else on
 * stdout, the exit status as without it. */
static void test_json_lines(void **state)
{
    (void)state;
    const char *path = write_pcap("abortive-json.pcap", DLT_EN10MB, abortive_close);
    struct result *r = run_check("--json", path, NULL);
    assert_int_equal(r->rc, 1);
    char fail[512];
    snprintf(fail, sizeof fail,
             "{\"case\":\"%s\",\"flow\":\"TCP 127.0.0.1.40000 > 127.0.0.1.3434 (frames 1-6)\","
             "\"rule\":\"tcp.no_rst\",\"verdict\":\"fail\",\"text\":\"1 RST(s), first from the server\","
             "\"expected\":\"no RST\",\"seen\":\"RST from the server in frame 6\",\"frames\":[6]}\n",
             path);
    assert_contains(r->out, fail);
    assert_contains(r->out, "\"rule\":\"tcp.teardown.half_close\",\"verdict\":\"n/a\"");
    /* Every line is an object; no report header, no summary. */
    size_t lines = 0;
    for (const char *l = r->out; *l; l = strchr(l, '\n') + 1) {
        assert_int_equal(l[0], '{');
        assert_non_null(strchr(l, '\n'));
        assert_int_equal(strchr(l, '\n')[-1], '}');
        lines++;
    }
    assert_int_equal(lines, RULE_COUNT - 6); /* the TCP rules: not the UDP/capture ones, nor tcp.icmp_error */
    assert_null(strstr(r->out, "link type"));
    assert_null(strstr(r->out, "frames, "));
    r = run_check("--json", "--verbose", path, NULL); /* no packet lines either */
    assert_int_equal(r->out[0], '{');
    assert_null(strstr(r->out, "    1 "));
    const char *clean = write_pcap("clean-json.pcap", DLT_EN10MB, clean_close);
    r = run_check(clean, "--json", NULL);
    assert_int_equal(r->rc, 0);
    assert_null(strstr(r->out, "\"verdict\":\"fail\""));
}

/* A clean session whose SYN and SYN/ACK carry no MSS option: a SHOULD
 * (RFC 9293 SHLD-5), so a warning, not a failure. */
static void no_mss_session(struct pb_conv *c)
{
    pb_conv_tcp_raw(c, 0, TCP_SYN, 1000, 0, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(c, 1, TCP_SYN | TCP_ACK, 5000, 1001, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(c, 0, TCP_ACK, 1001, 5001, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(c, 0, TCP_FIN | TCP_ACK, 1001, 5001, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(c, 1, TCP_FIN | TCP_ACK, 5001, 1002, NULL, 0, NULL, 0);
    pb_conv_tcp_raw(c, 0, TCP_ACK, 1002, 5002, NULL, 0, NULL, 0);
}

static void test_warn_strict_ignore_only(void **state)
{
    (void)state;
    const char *path = write_pcap("nomss.pcap", DLT_EN10MB, no_mss_session);
    struct result *r = run_check(path, NULL);
    assert_int_equal(r->rc, 0); /* a warning passes */
    assert_contains(r->out, "  warn tcp.handshake.mss: MSS option missing from the SYN");
    assert_contains(r->out, "expected: MSS option in SYN and SYN/ACK");
    assert_contains(r->out, ", 1 warn");

    r = run_check("--quiet", path, NULL); /* quiet shows warnings too */
    assert_int_equal(r->rc, 0);
    assert_contains(r->out, "warn tcp.handshake.mss");

    r = run_check("--strict", path, NULL);
    assert_int_equal(r->rc, 1);
    assert_contains(r->out, "FAIL tcp.handshake.mss: MSS option missing from the SYN");

    r = run_check("--strict", "--quiet", path, NULL);
    assert_int_equal(r->rc, 1);
    assert_contains(r->out, "FAIL tcp.handshake.mss: MSS option missing from the SYN");

    /* A waived rule shows as waived, with what it was. */
    const char *abortive = write_pcap("abortive-waived.pcap", DLT_EN10MB, abortive_close);
    r = run_check("--ignore", "tcp.no_rst", abortive, NULL);
    assert_int_equal(r->rc, 0);
    assert_contains(r->out, "waived tcp.no_rst: waived (was fail): 1 RST(s), first from the server");
    assert_contains(r->out, ", 1 waived");
    r = run_check("--ignore", "tcp.handshake.mss,tcp.no_rst", "--strict", abortive, path, NULL);
    assert_int_equal(r->rc, 0);

    /* --only: just those rules. */
    r = run_check("--only", "tcp.handshake.syn,tcp.teardown.abortive", abortive, NULL);
    assert_int_equal(r->rc, 0);
    assert_contains(r->out, "pass tcp.handshake.syn");
    assert_contains(r->out, "pass tcp.teardown.abortive");
    assert_null(strstr(r->out, "tcp.no_rst"));
    r = run_check("--only", "tcp.no_rst", abortive, NULL);
    assert_int_equal(r->rc, 1);

    /* Unknown rule ids and bad values are usage errors naming them. */
    r = run_check("--ignore", "tcp.no_such_rule", abortive, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "unknown rule 'tcp.no_such_rule'");
    r = run_check("--only", "tcp.no_rst,bogus", abortive, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "--only: unknown rule 'bogus'");
    r = run_check(abortive, "--ignore", NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "--ignore needs a value");
    r = run_check("--max-flows", "0", abortive, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "--max-flows: '0' is not a positive number");

    r = run_check("--help", NULL);
    assert_contains(r->out, "--strict");
    assert_contains(r->out, "--ignore RULE[,RULE]");
    assert_contains(r->out, "--only RULE[,RULE]");
    assert_contains(r->out, "--max-flows N");
}

/* Many connections, few allowed open at once: the oldest idle ones are
 * judged early and counted; each connection is still judged once. */
static void many_connections(struct pb_conv *c)
{
    for (int i = 0; i < 5; i++) {
        c->port[0] = (uint16_t)(41000 + i);
        pb_conv_handshake(c);
    }
}

static void test_max_flows(void **state)
{
    (void)state;
    const char *path = write_pcap("many.pcap", DLT_EN10MB, many_connections);
    struct result *r = run_check("--max-flows", "2", path, NULL);
    assert_contains(r->out, "5 TCP connection(s)");
    assert_contains(r->out, "3 flow(s) judged early, incomplete: too many open at once (--max-flows)");
    r = run_check(path, NULL);
    assert_contains(r->out, "5 TCP connection(s)");
    assert_null(strstr(r->out, "judged early"));
}

/* Every frame cut by the snapshot length before its headers: nothing was
 * judged, and that is not a pass. */
static void test_nothing_judged(void **state)
{
    (void)state;
    cut_to = 20; /* inside the IP header */
    const char *path = write_pcap("all-cut.pcap", DLT_EN10MB, clean_close);
    cut_to = 0;
    struct result *r = run_check(path, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "all-cut.pcap: nothing judged: no TCP or UDP flow in 10 frame(s) "
                            "(10 cut by the snapshot length before their headers");

    const char *wifi = write_pcap("wifi2.pcap", DLT_IEEE802_11, clean_close);
    r = run_check(wifi, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->err, "only Ethernet-like and IP link types are judged");
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/wirecheck-check-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void ng_interface(struct ng *w, uint16_t linktype)
{
    uint8_t idb[8] = { (uint8_t)linktype, (uint8_t)(linktype >> 8), 0, 0, 0, 0, 1, 0 };
    ng_block(w->f, 1, idb, sizeof idb);
}

/* libpcap 1.10 stops at an interface whose link type differs from the
 * first one's (`tcpdump -i any` beside `-i eth0` merged by mergecap); check
 * goes on from there with its own block reader: every flow judged, an
 * unsupported interface's frames counted and left out. Cut after the new
 * interface, the file is unreadable at that block (exit 2). */
static void test_pcapng_interfaces_of_several_link_types(void **state)
{
    (void)state;
    char path[128], cut[128];
    snprintf(path, sizeof path, "%s/multilink.pcapng", dir);
    snprintf(cut, sizeof cut, "%s/multilink-cut.pcapng", dir);
    struct ng w = { fopen(path, "wb"), 0 };
    assert_non_null(w.f);
    uint8_t shb[16] = { 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ng_block(w.f, 0x0A0D0D0A, shb, sizeof shb);
    ng_interface(&w, 1); /* Ethernet */
    struct pb_conv c;
    pb_conv_init(&c, WC_LINK_EN10MB, "10.0.0.1", 40000, "10.0.0.2", 3434, ng_emit, &w);
    pb_conv_handshake(&c); /* frames 1-3 */
    ng_interface(&w, 113); /* Linux cooked v1 */
    w.interface = 1;
    c.linktype = WC_LINK_LINUX_SLL; /* the same connection, seen on the other interface */
    pb_conv_tcp(&c, 1, TCP_PSH | TCP_ACK, "Tue Nov 25 16:30:00 2025\r\n", 26);
    pb_conv_tcp(&c, 0, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp(&c, 1, TCP_FIN | TCP_ACK, NULL, 0);
    pb_conv_tcp(&c, 0, TCP_ACK, NULL, 0); /* frames 4-7 */
    long cut_at = ftell(w.f);
    ng_interface(&w, 105); /* 802.11: not judged */
    w.interface = 2;
    static const uint8_t wifi[24];
    ng_emit(&w, wifi, sizeof wifi); /* frame 8 */
    w.interface = 1;
    struct pb_conv u;
    pb_conv_init(&u, WC_LINK_LINUX_SLL, "10.0.0.1", 40001, "10.0.0.2", 3434, ng_emit, &w);
    pb_conv_udp(&u, 0, "Hello UDP!", 10); /* frame 9 */
    fclose(w.f);

    struct result *r = run_check(path, NULL);
    assert_int_equal(r->rc, 0);
    assert_contains(r->out, "multilink.pcapng: link type EN10MB");
    assert_contains(r->out, "multilink.pcapng: section 0 interface 1: link type LINUX_SLL");
    assert_contains(r->out, "TCP 10.0.0.1.40000 > 10.0.0.2.3434 (frames 1-7)");
    assert_contains(r->out, "pass tcp.teardown.fin_acked");
    assert_contains(r->out, "UDP 10.0.0.1.40001 > 10.0.0.2.3434 (frames 9-9)");
    assert_contains(r->out, "8 frames, 1 TCP connection(s), 1 UDP flow(s)"); /* 802.11 not fed */
    assert_contains(r->err, "section 0 interface 2: unsupported link type 105: its frames are skipped");
    r = run_check("--quiet", "--jobs", "2", path, NULL);
    assert_int_equal(r->rc, 0);
    assert_null(strstr(r->out, "link type"));

    /* The same file cut inside the 802.11 interface's block. */
    FILE *in = fopen(path, "rb"), *out = fopen(cut, "wb");
    assert_non_null(in);
    assert_non_null(out);
    static uint8_t bytes[8192];
    size_t n = fread(bytes, 1, sizeof bytes, in);
    assert_true(n > (size_t)cut_at + 10);
    assert_int_equal(fwrite(bytes, 1, (size_t)cut_at + 10, out), (size_t)cut_at + 10);
    fclose(in);
    fclose(out);
    r = run_check(cut, NULL);
    assert_int_equal(r->rc, 2);
    assert_contains(r->out, "TCP 10.0.0.1.40000 > 10.0.0.2.3434 (frames 1-7)");
    assert_contains(r->err, "multilink-cut.pcapng");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_close_passes),
        cmocka_unit_test(test_quiet_and_verbose),
        cmocka_unit_test(test_abortive_close_fails_no_rst),
        cmocka_unit_test(test_refused_is_not_a_failure),
        cmocka_unit_test(test_udp_flow_printed),
        cmocka_unit_test(test_input_errors),
        cmocka_unit_test(test_options_anywhere),
        cmocka_unit_test(test_capture_duplicates_summary),
        cmocka_unit_test(test_truncated_file),
        cmocka_unit_test(test_pcapng_abortive),
        cmocka_unit_test(test_pcapng_interfaces_of_several_link_types),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_warn_strict_ignore_only),
        cmocka_unit_test(test_max_flows),
        cmocka_unit_test(test_nothing_judged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
