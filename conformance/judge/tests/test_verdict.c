/* verdict: the builders (and the one textless decision) and every renderer:
 * console, pcapng comment, brief, JSON line with its escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "verdict.h"

/* What a renderer writing to a FILE wrote, as a string (freed by the next call). */
static char *captured;

static FILE *capture_start(void)
{
    static size_t len;
    free(captured);
    captured = NULL;
    FILE *f = open_memstream(&captured, &len);
    assert_non_null(f);
    return f;
}

static const char *capture_end(FILE *f)
{
    assert_int_equal(fclose(f), 0);
    return captured;
}

static struct verdict failed_no_rst(void)
{
    struct verdict_builder b;
    verdict_builder_start(&b, 0);
    verdict_init(&b, RULE_TCP_NO_RST, VERDICT_FAIL, "%u RST(s), first from the %s", 1u, "server");
    verdict_expect(&b, "no RST");
    verdict_seen(&b, "RST from the server in frame %u", 7u);
    verdict_add_frame(&b.v, 7);
    verdict_add_frame(&b.v, 3);
    return b.v;
}

static void test_builders(void **state)
{
    (void)state;
    struct verdict v = failed_no_rst();
    assert_int_equal(v.rule, RULE_TCP_NO_RST);
    assert_string_equal(v.id, "tcp.no_rst");
    assert_int_equal(v.kind, VERDICT_FAIL);
    assert_string_equal(v.text, "1 RST(s), first from the server");
    assert_string_equal(v.expected, "no RST");
    assert_string_equal(v.seen, "RST from the server in frame 7");
    /* Frames ascending, duplicates and 0 ignored, at most VERDICT_MAX_FRAMES. */
    assert_int_equal(v.nframes, 2);
    assert_int_equal(v.frames[0], 3);
    assert_int_equal(v.frames[1], 7);
    verdict_add_frame(&v, 7);
    verdict_add_frame(&v, 0);
    assert_int_equal(v.nframes, 2);
    for (uint32_t f = 100; f < 120; f++)
        verdict_add_frame(&v, f);
    assert_int_equal(v.nframes, VERDICT_MAX_FRAMES);
    assert_int_equal(v.frames[VERDICT_MAX_FRAMES - 1], 105);

    /* verdict_init starts afresh: nothing of the failure is left. */
    struct verdict_builder b = { .v = v };
    verdict_builder_start(&b, 0);
    verdict_init(&b, RULE_TCP_HANDSHAKE_SYN, VERDICT_PASS, "client SYN without ACK");
    assert_string_equal(b.v.id, "tcp.handshake.syn");
    assert_string_equal(b.v.expected, "");
    assert_string_equal(b.v.seen, "");
    assert_int_equal(b.v.nframes, 0);

    /* Text longer than the field is cut, NUL-terminated. */
    char longer[400];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    verdict_init(&b, RULE_TCP_NO_RST, VERDICT_PASS, "%s", longer);
    assert_int_equal(strlen(b.v.text), sizeof b.v.text - 1);
}

/* The textless decision, taken once in the builder: the kinds it names get
 * no text, every other kind keeps it; kind, rule and frames never change. */
static void test_textless_kinds(void **state)
{
    (void)state;
    struct verdict_builder b;
    verdict_builder_start(&b, 1u << VERDICT_PASS | 1u << VERDICT_NA);
    verdict_init(&b, RULE_TCP_HANDSHAKE_SYN, VERDICT_PASS, "client SYN without ACK");
    verdict_add_frame(&b.v, 1);
    assert_string_equal(b.v.text, "");
    assert_int_equal(b.v.kind, VERDICT_PASS);
    assert_string_equal(b.v.id, "tcp.handshake.syn");
    assert_int_equal(b.v.nframes, 1);
    verdict_init(&b, RULE_TCP_NO_RST, VERDICT_FAIL, "1 RST(s)");
    verdict_expect(&b, "no RST");
    verdict_seen(&b, "a RST");
    assert_string_equal(b.v.text, "1 RST(s)");
    assert_string_equal(b.v.expected, "no RST");
    assert_string_equal(b.v.seen, "a RST");
    verdict_builder_start(&b, 1u << VERDICT_FAIL);
    verdict_init(&b, RULE_TCP_NO_RST, VERDICT_FAIL, "1 RST(s)");
    verdict_expect(&b, "no RST");
    assert_string_equal(b.v.text, "");
    assert_string_equal(b.v.expected, "");
}

/* A kind only counted (checks' verdict_list tells the builder): the
 * verdict keeps its kind and names no frame; the next verdict of a kind
 * that is kept starts clean all the same. */
static void test_counted_kinds(void **state)
{
    (void)state;
    struct verdict_builder b;
    verdict_builder_start(&b, 1u << VERDICT_PASS);
    b.counted_kinds = 1u << VERDICT_PASS;
    verdict_init(&b, RULE_TCP_HANDSHAKE_SYN, VERDICT_PASS, "client SYN without ACK");
    verdict_add_frame(&b.v, 1);
    verdict_add_frame(&b.v, 2);
    assert_int_equal(b.v.kind, VERDICT_PASS);
    assert_int_equal(b.v.nframes, VERDICT_MAX_FRAMES); /* "full": nothing noted */
    verdict_init(&b, RULE_TCP_NO_RST, VERDICT_FAIL, "1 RST(s)");
    verdict_expect(&b, "no RST");
    verdict_add_frame(&b.v, 9);
    assert_int_equal(b.v.rule, RULE_TCP_NO_RST);
    assert_string_equal(b.v.id, "tcp.no_rst");
    assert_string_equal(b.v.text, "1 RST(s)");
    assert_string_equal(b.v.seen, "");
    assert_int_equal(b.v.nframes, 1);
    assert_int_equal(b.v.frames[0], 9);
    for (unsigned i = 1; i < VERDICT_MAX_FRAMES; i++)
        assert_int_equal(b.v.frames[i], 0);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(verdict_name(VERDICT_NA), "n/a");
    assert_string_equal(verdict_name(VERDICT_PASS), "pass");
    assert_string_equal(verdict_name(VERDICT_INFO), "info");
    assert_string_equal(verdict_name(VERDICT_FAIL), "fail");
    enum verdict_kind k;
    assert_true(verdict_parse("seen", &k));
    assert_int_equal(k, VERDICT_INFO);
    assert_true(verdict_parse("not-applicable", &k));
    assert_int_equal(k, VERDICT_NA);
    assert_false(verdict_parse("FAIL", &k));
}

static void test_console(void **state)
{
    (void)state;
    struct verdict v = failed_no_rst();
    FILE *f = capture_start();
    verdict_print(f, &v);
    assert_string_equal(capture_end(f),
                        "  FAIL tcp.no_rst: 1 RST(s), first from the server [frames 3,7]\n"
                        "       expected: no RST\n"
                        "       seen:     RST from the server in frame 7\n");
    struct verdict_builder b;
    verdict_builder_start(&b, 0);
    verdict_init(&b, RULE_TCP_REFUSED, VERDICT_NA, "not refused");
    f = capture_start();
    verdict_print(f, &b.v);
    assert_string_equal(capture_end(f), "  n/a  tcp.refused: not refused\n");
    verdict_init(&b, RULE_TCP_HANDSHAKE_SYN, VERDICT_PASS, "client SYN without ACK");
    verdict_add_frame(&b.v, 1);
    f = capture_start();
    verdict_print(f, &b.v);
    assert_string_equal(capture_end(f), "  pass tcp.handshake.syn: client SYN without ACK [frame 1]\n");
}

static void test_comment(void **state)
{
    (void)state;
    struct verdict v = failed_no_rst();
    char buf[256];
    const char *want = "tcp.no_rst: 1 RST(s), first from the server: fail (expected no RST; "
                       "seen RST from the server in frame 7)";
    assert_int_equal(verdict_format_comment(&v, buf, sizeof buf), (int)strlen(want));
    assert_string_equal(buf, want);
    /* Cut to the buffer, the length it needed still returned. */
    assert_int_equal(verdict_format_comment(&v, buf, 11), (int)strlen(want));
    assert_string_equal(buf, "tcp.no_rst");
    v.kind = VERDICT_INFO;
    verdict_format_comment(&v, buf, sizeof buf);
    assert_string_equal(buf, "tcp.no_rst: 1 RST(s), first from the server: info");
}

static void test_brief(void **state)
{
    (void)state;
    struct verdict v = failed_no_rst();
    char buf[128];
    verdict_format_brief(&v, buf, sizeof buf);
    assert_string_equal(buf, "fail (1 RST(s), first from the server; frames 3,7)");
    v.nframes = 0;
    verdict_format_brief(&v, buf, sizeof buf);
    assert_string_equal(buf, "fail (1 RST(s), first from the server)");
    /* Too small: cut, still terminated, never past the buffer. */
    char small[12];
    memset(small, '#', sizeof small);
    v.nframes = 2;
    verdict_format_brief(&v, small, 10);
    assert_string_equal(small, "fail (1 R");
    assert_int_equal(small[10], '#');
}

static void test_json(void **state)
{
    (void)state;
    struct verdict v = failed_no_rst();
    FILE *f = capture_start();
    verdict_print_json(f, &v, "a.pcap", "TCP 10.0.0.1.40000 > 10.0.0.2.3434 (frames 1-9)");
    assert_string_equal(capture_end(f),
                        "{\"case\":\"a.pcap\",\"flow\":\"TCP 10.0.0.1.40000 > 10.0.0.2.3434 (frames 1-9)\","
                        "\"rule\":\"tcp.no_rst\",\"verdict\":\"fail\","
                        "\"text\":\"1 RST(s), first from the server\",\"expected\":\"no RST\","
                        "\"seen\":\"RST from the server in frame 7\",\"frames\":[3,7]}\n");

    /* Not a failure: expected and seen stay empty whatever the fields hold;
     * no frames: an empty array; NULL names: empty strings. */
    v.kind = VERDICT_NA;
    v.nframes = 0;
    f = capture_start();
    verdict_print_json(f, &v, NULL, NULL);
    assert_string_equal(capture_end(f),
                        "{\"case\":\"\",\"flow\":\"\",\"rule\":\"tcp.no_rst\",\"verdict\":\"n/a\","
                        "\"text\":\"1 RST(s), first from the server\",\"expected\":\"\",\"seen\":\"\","
                        "\"frames\":[]}\n");
}

static void test_json_escaping(void **state)
{
    (void)state;
    struct verdict_builder b;
    verdict_builder_start(&b, 0);
    /* Quotes, backslash, newline, tab, CR, other control bytes, DEL. */
    verdict_init(&b, RULE_TCP_NO_RST, VERDICT_PASS, "say \"hi\\\" \n\t\r\x01\x1f\x7f end");
    FILE *f = capture_start();
    verdict_print_json(f, &b.v, "c", "f");
    const char *out = capture_end(f);
    assert_non_null(strstr(out, "\"text\":\"say \\\"hi\\\\\\\" \\n\\t\\r\\u0001\\u001f\\u007f end\""));

    /* UTF-8 passes through; bytes that are not UTF-8 (a lone continuation
     * byte, a truncated sequence, an overlong '/', a surrogate) become U+FFFD. */
    f = capture_start();
    verdict_print_json(f, &b.v, "caf\xc3\xa9 \xe2\x82\xac", "\x80|\xc3|\xc0\xaf|\xed\xa0\x80|\xf0\x9f\x98\x80");
    out = capture_end(f);
    assert_non_null(strstr(out, "\"case\":\"caf\xc3\xa9 \xe2\x82\xac\""));
    assert_non_null(strstr(out, "\"flow\":\"\\ufffd|\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\xf0\x9f\x98\x80\""));
    /* One line, no raw control byte anywhere in it. */
    size_t n = strlen(out);
    assert_int_equal(out[n - 1], '\n');
    for (size_t i = 0; i + 1 < n; i++)
        assert_true((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builders),
        cmocka_unit_test(test_textless_kinds),
        cmocka_unit_test(test_counted_kinds),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_console),
        cmocka_unit_test(test_comment),
        cmocka_unit_test(test_brief),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_escaping),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(captured);
    return rc;
}
