/* The pcapng writer: block layout checked by walking the file, and the file
 * read back by the two readers users have, libpcap and tshark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapng.h"

/* Three frames whose lengths need 0, 3 and 2 bytes of padding. */
static uint8_t frame_a[64], frame_b[61], frame_c[2];

static void fill_frames(void)
{
    for (size_t i = 0; i < sizeof frame_a; i++)
        frame_a[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof frame_b; i++)
        frame_b[i] = (uint8_t)(0xA0 + i);
    frame_c[0] = 0xFE;
    frame_c[1] = 0xED;
}

static void write_sample(const char *path)
{
    struct pcapng_writer w;
    char err[256];
    fill_frames();
    assert_true(pcapng_writer_open(&w, path, "wirecheck test", err, sizeof err));
    int ifid = pcapng_add_interface(&w, 1 /* Ethernet */, 262144, "lo");
    assert_int_equal(ifid, 0);
    const char *first[] = { "tcp.handshake.syn: SYN without ACK: pass", NULL };
    const char *second[] = { "comment one", "comment two" };
    assert_true(pcapng_write_packet(&w, 0, 1700000000123456LL, frame_a, sizeof frame_a,
                                    sizeof frame_a, first, 2));
    assert_true(pcapng_write_packet(&w, 0, 1700000000223456LL, frame_b, sizeof frame_b, 1500,
                                    second, 2));
    assert_true(pcapng_write_packet(&w, 0, 1700000001000000LL, frame_c, sizeof frame_c,
                                    sizeof frame_c, NULL, 0));
    assert_true(pcapng_writer_close(&w, err, sizeof err));
}

static char *temp_path(const char *suffix)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/wirecheck-test-pcapng-%d%s", (int)getpid(), suffix);
    return path;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 16];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

static uint32_t u32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Every block: length a multiple of 4, trailer equal to the header length,
 * blocks tiling the file exactly. */
static void test_blocks_are_padded_and_trailed(void **state)
{
    (void)state;
    const char *path = temp_path(".pcapng");
    write_sample(path);
    size_t len;
    const uint8_t *p = slurp(path, &len);
    size_t off = 0, blocks = 0;
    uint32_t types[8];
    while (off < len) {
        assert_true(off + 12 <= len);
        uint32_t type = u32_at(p + off), total = u32_at(p + off + 4);
        assert_int_equal(total % 4, 0);
        assert_true(off + total <= len);
        assert_int_equal(u32_at(p + off + total - 4), total);
        if (blocks < 8)
            types[blocks] = type;
        blocks++;
        off += total;
    }
    assert_int_equal(off, len);
    assert_int_equal(blocks, 5);
    assert_int_equal(types[0], 0x0A0D0D0A);
    assert_int_equal(u32_at(p + 8), 0x1A2B3C4D);
    assert_int_equal(types[1], 1);
    assert_int_equal(types[2], 6);
    unlink(path);
}

static void test_libpcap_reads_it_back(void **state)
{
    (void)state;
    const char *path = temp_path("-libpcap.pcapng");
    write_sample(path);
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    assert_non_null(p);
    assert_int_equal(pcap_datalink(p), DLT_EN10MB);
    assert_int_equal(pcap_snapshot(p), 262144);

    struct pcap_pkthdr *h;
    const u_char *data;
    assert_int_equal(pcap_next_ex(p, &h, &data), 1);
    assert_int_equal(h->caplen, sizeof frame_a);
    assert_int_equal(h->ts.tv_sec, 1700000000);
    assert_int_equal(h->ts.tv_usec, 123456);
    assert_memory_equal(data, frame_a, sizeof frame_a);

    assert_int_equal(pcap_next_ex(p, &h, &data), 1);
    assert_int_equal(h->caplen, sizeof frame_b);
    assert_int_equal(h->len, 1500);
    assert_memory_equal(data, frame_b, sizeof frame_b);

    assert_int_equal(pcap_next_ex(p, &h, &data), 1);
    assert_int_equal(h->caplen, 2);
    assert_memory_equal(data, frame_c, 2);
    assert_int_equal(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
    pcap_close(p);
    unlink(path);
}

static void test_tshark_shows_the_comments(void **state)
{
    (void)state;
    if (system("command -v tshark >/dev/null 2>&1") != 0)
        skip();
    const char *path = temp_path("-tshark.pcapng");
    write_sample(path);
    char command[512];
    snprintf(command, sizeof command,
             "tshark -r %s -Y frame.comment -T fields -e frame.comment 2>/dev/null", path);
    FILE *out = popen(command, "r");
    assert_non_null(out);
    char text[1024] = "";
    size_t n = fread(text, 1, sizeof text - 1, out);
    text[n] = '\0';
    assert_int_equal(pclose(out), 0);
    /* One line per commented packet; the uncommented third one is filtered
     * out. Several comments of one packet come comma-separated. */
    assert_non_null(strstr(text, "tcp.handshake.syn: SYN without ACK: pass\n"));
    assert_non_null(strstr(text, "comment one,comment two\n"));
    size_t lines = 0;
    for (const char *s = text; *s; s++)
        lines += *s == '\n';
    assert_int_equal(lines, 2);
    unlink(path);
}

static void test_open_failure_names_the_path(void **state)
{
    (void)state;
    struct pcapng_writer w;
    char err[256] = "";
    assert_false(pcapng_writer_open(&w, "/nonexistent-dir/x.pcapng", NULL, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/x.pcapng"));
}

static void test_write_to_memory_stream(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct pcapng_writer w;
    char err[128];
    assert_true(pcapng_writer_start(&w, f, NULL));
    assert_int_equal(pcapng_add_interface(&w, 101, 65535, NULL), 0);
    assert_int_equal(pcapng_add_interface(&w, 1, 65535, "eth0"), 1);
    assert_true(pcapng_writer_close(&w, err, sizeof err));
    fclose(f);
    /* SHB without options 28 bytes, bare IDB 20, IDB with "eth0" 32. */
    assert_int_equal(len, 28 + 20 + 32);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_are_padded_and_trailed),
        cmocka_unit_test(test_libpcap_reads_it_back),
        cmocka_unit_test(test_tshark_shows_the_comments),
        cmocka_unit_test(test_open_failure_names_the_path),
        cmocka_unit_test(test_write_to_memory_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
