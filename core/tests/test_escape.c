/* Unit tests of core/escape: what passes, what is escaped, and the cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"

/* Escapes n bytes into a roomy buffer, checks the return equals the written
 * length, and compares with want. */
static void expect_escape(const void *in, size_t n, const char *want)
{
    char out[1024];
    memset(out, 0x7f, sizeof out);
    size_t need = escape_bytes(in, n, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(need, strlen(want));
    assert_true(need <= escape_bound(n));
}

/* No byte of the output may be a control byte, DEL or a C1 (as UTF-8). */
static void assert_harmless(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        assert_true(*p >= 0x20);
        assert_true(*p != 0x7f);
        if (p[0] == 0xc2 && p[1] != 0)
            assert_false(p[1] >= 0x80 && p[1] <= 0x9f);
    }
}

static void test_printable_ascii_passes(void **state)
{
    (void)state;
    char in[96], want[96];
    size_t n = 0;
    for (int b = 0x20; b < 0x7f; b++)
        if (b != '\\')
            in[n++] = (char)b;
    memcpy(want, in, n);
    want[n] = '\0';
    expect_escape(in, n, want);
    expect_escape("Current time is 2024-01-01", 26, "Current time is 2024-01-01");
}

static void test_empty(void **state)
{
    (void)state;
    char out[4] = "zzz";
    assert_int_equal(escape_bytes((const uint8_t *)"", 0, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(escape_bytes(NULL, 0, out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void test_backslash_doubled(void **state)
{
    (void)state;
    expect_escape("\\", 1, "\\\\");
    expect_escape("a\\b", 3, "a\\\\b");
    expect_escape("\\x41", 4, "\\\\x41"); /* cannot be mistaken for an escape */
}

static void test_every_c0_control(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 0x20; b++) {
        uint8_t in[3] = {'a', (uint8_t)b, 'z'};
        char want[16];
        snprintf(want, sizeof want, "a\\x%02xz", b);
        expect_escape(in, 3, want);
    }
}

static void test_del(void **state)
{
    (void)state;
    expect_escape("\x7f", 1, "\\x7f");
}

static void test_c1_escaped(void **state)
{
    (void)state;
    /* U+0080..U+009F as well-formed UTF-8 are still controls */
    for (unsigned cp = 0x80; cp <= 0x9f; cp++) {
        uint8_t in[2] = {0xc2, (uint8_t)cp};
        char want[16];
        snprintf(want, sizeof want, "\\xc2\\x%02x", cp);
        expect_escape(in, 2, want);
    }
    expect_escape("\xc2\x85", 2, "\\xc2\\x85"); /* NEL */
    /* raw C1 bytes (not UTF-8) are lone continuation bytes */
    expect_escape("\x85", 1, "\\x85");
    expect_escape("\x9b", 1, "\\x9b"); /* CSI */
    /* U+00A0 (first after C1) passes */
    expect_escape("\xc2\xa0", 2, "\xc2\xa0");
}

static void test_valid_utf8_passes(void **state)
{
    (void)state;
    expect_escape("\xc3\xa9", 2, "\xc3\xa9");                 /* é U+00E9 */
    expect_escape("\xdf\xbf", 2, "\xdf\xbf");                 /* U+07FF */
    expect_escape("\xe0\xa0\x80", 3, "\xe0\xa0\x80");         /* U+0800 */
    expect_escape("\xe2\x82\xac", 3, "\xe2\x82\xac");         /* € */
    expect_escape("\xed\x9f\xbf", 3, "\xed\x9f\xbf");         /* U+D7FF */
    expect_escape("\xee\x80\x80", 3, "\xee\x80\x80");         /* U+E000 */
    expect_escape("\xef\xbf\xbd", 3, "\xef\xbf\xbd");         /* U+FFFD */
    expect_escape("\xf0\x90\x80\x80", 4, "\xf0\x90\x80\x80"); /* U+10000 */
    expect_escape("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80"); /* 😀 */
    expect_escape("\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    const char *mixed = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac";
    expect_escape(mixed, strlen(mixed), mixed);
}

static void test_overlong(void **state)
{
    (void)state;
    expect_escape("\xc0\xaf", 2, "\\xc0\\xaf");
    expect_escape("\xc1\xbf", 2, "\\xc1\\xbf");
    expect_escape("\xe0\x80\xaf", 3, "\\xe0\\x80\\xaf");
    expect_escape("\xe0\x9f\xbf", 3, "\\xe0\\x9f\\xbf"); /* U+07FF in 3 bytes */
    expect_escape("\xf0\x80\x80\xaf", 4, "\\xf0\\x80\\x80\\xaf");
    expect_escape("\xf0\x8f\xbf\xbf", 4, "\\xf0\\x8f\\xbf\\xbf"); /* U+FFFF in 4 */
    /* overlong NUL */
    expect_escape("\xc0\x80", 2, "\\xc0\\x80");
}

static void test_surrogates(void **state)
{
    (void)state;
    expect_escape("\xed\xa0\x80", 3, "\\xed\\xa0\\x80"); /* U+D800 */
    expect_escape("\xed\xbf\xbf", 3, "\\xed\\xbf\\xbf"); /* U+DFFF */
    expect_escape("\xed\xb0\x80", 3, "\\xed\\xb0\\x80"); /* U+DC00 */
}

static void test_above_max(void **state)
{
    (void)state;
    expect_escape("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80"); /* U+110000 */
    expect_escape("\xf5\x80\x80\x80", 4, "\\xf5\\x80\\x80\\x80");
    expect_escape("\xf8\x88\x80\x80\x80", 5, "\\xf8\\x88\\x80\\x80\\x80");
    expect_escape("\xfe\xff", 2, "\\xfe\\xff");
}

static void test_bad_continuation(void **state)
{
    (void)state;
    /* lead byte followed by a non-continuation: the lead is escaped, the
     * next character stands on its own */
    expect_escape("\xc3" "A", 2, "\\xc3A");
    expect_escape("\xe2\x82" "A", 3, "\\xe2\\x82A");
    expect_escape("\xf0\x9f\x98" "A", 4, "\\xf0\\x9f\\x98A");
    expect_escape("\xe2\xc3\xa9", 3, "\\xe2\xc3\xa9");
    expect_escape("\x80\xbf", 2, "\\x80\\xbf");
}

static void test_truncated_at_end(void **state)
{
    (void)state;
    expect_escape("a\xc3", 2, "a\\xc3");
    expect_escape("a\xe2\x82", 3, "a\\xe2\\x82");
    expect_escape("a\xe2", 2, "a\\xe2");
    expect_escape("a\xf0\x9f\x98", 4, "a\\xf0\\x9f\\x98");
    expect_escape("a\xf0\x9f", 3, "a\\xf0\\x9f");
    expect_escape("a\xf0", 2, "a\\xf0");
    /* the length given, not a NUL, ends the input: a valid sequence cut by n */
    const uint8_t euro[3] = {0xe2, 0x82, 0xac};
    expect_escape(euro, 2, "\\xe2\\x82");
}

static void test_nul_inside(void **state)
{
    (void)state;
    expect_escape("a\0b", 3, "a\\x00b");
}

static void test_ansi_sequence_harmless(void **state)
{
    (void)state;
    const char *clear = "\x1b[2J\x1b]0;pwned\x07\x1b[31mred";
    char out[256];
    size_t need = escape_bytes((const uint8_t *)clear, strlen(clear), out, sizeof out);
    assert_string_equal(out, "\\x1b[2J\\x1b]0;pwned\\x07\\x1b[31mred");
    assert_int_equal(need, strlen(out));
    assert_null(strchr(out, 0x1b));
    assert_null(strchr(out, 0x07));
    assert_harmless(out);
    /* the 8-bit CSI as UTF-8 too */
    need = escape_bytes((const uint8_t *)"\xc2\x9b" "2J", 4, out, sizeof out);
    assert_string_equal(out, "\\xc2\\x9b2J");
    assert_harmless(out);
}

static void test_all_bytes_harmless(void **state)
{
    (void)state;
    uint8_t in[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    char out[256 * 4 + 1];
    size_t need = escape_bytes(in, sizeof in, out, sizeof out);
    assert_int_equal(need, strlen(out));
    assert_true(need <= escape_bound(sizeof in));
    assert_harmless(out);
}

static void test_return_is_full_length(void **state)
{
    (void)state;
    const char *in = "ab\x01\\\xc3\xa9z"; /* a b \x01 \\ é z = 1+1+4+2+2+1 */
    size_t full = 11;
    char big[64];
    assert_int_equal(escape_bytes((const uint8_t *)in, strlen(in), big, sizeof big), full);
    assert_int_equal(strlen(big), full);
    for (size_t cap = 0; cap <= full + 1; cap++) {
        char out[64];
        memset(out, 'Q', sizeof out);
        assert_int_equal(escape_bytes((const uint8_t *)in, strlen(in), out, cap), full);
    }
    /* worst case: every byte becomes \xNN */
    uint8_t ctl[10];
    memset(ctl, 0x01, sizeof ctl);
    assert_int_equal(escape_bytes(ctl, sizeof ctl, big, sizeof big), escape_bound(sizeof ctl));
}

/* The cut output must be a prefix of the full output made of whole pieces,
 * and always NUL-terminated inside outcap. */
static void check_cuts(const uint8_t *in, size_t n, const size_t *piece_ends, size_t pieces)
{
    char full[512];
    size_t need = escape_bytes(in, n, full, sizeof full);
    assert_int_equal(strlen(full), need);
    for (size_t cap = 1; cap <= need + 2; cap++) {
        char out[512];
        memset(out, 'Q', sizeof out);
        assert_int_equal(escape_bytes(in, n, out, cap), need);
        size_t w = strlen(out);
        assert_true(w < cap);        /* NUL inside the buffer */
        assert_int_equal(out[cap], 'Q'); /* nothing written past outcap */
        assert_memory_equal(out, full, w);
        /* w is the largest piece boundary that fits in cap - 1 */
        size_t best = 0;
        for (size_t k = 0; k < pieces; k++)
            if (piece_ends[k] <= cap - 1)
                best = piece_ends[k];
        assert_int_equal(w, best);
    }
}

static void test_cut_never_splits(void **state)
{
    (void)state;
    /* pieces: "a"(1) "\x01"(4) "\\\\"(2) "é"(2) "€"(3) "😀"(4) "\xff"(4) "z"(1) */
    const uint8_t in[] = {'a', 0x01, '\\', 0xc3, 0xa9, 0xe2, 0x82, 0xac,
                          0xf0, 0x9f, 0x98, 0x80, 0xff, 'z'};
    const size_t ends[] = {1, 5, 7, 9, 12, 16, 20, 21};
    check_cuts(in, sizeof in, ends, sizeof ends / sizeof ends[0]);

    /* once cut, a later smaller piece is not written after a gap */
    char out[8];
    memset(out, 'Q', sizeof out);
    escape_bytes((const uint8_t *)"\x01" "a", 2, out, 3);
    assert_string_equal(out, "");
}

static void test_outcap_zero_and_one(void **state)
{
    (void)state;
    char out[2] = {'Q', 'Q'};
    /* outcap 0: nothing written at all, not even a NUL */
    assert_int_equal(escape_bytes((const uint8_t *)"abc", 3, out, 0), 3);
    assert_int_equal(out[0], 'Q');
    assert_int_equal(escape_bytes((const uint8_t *)"abc", 3, NULL, 0), 3);
    /* outcap 1: only the NUL */
    assert_int_equal(escape_bytes((const uint8_t *)"abc", 3, out, 1), 3);
    assert_int_equal(out[0], '\0');
    assert_int_equal(out[1], 'Q');
    out[0] = 'Q';
    assert_int_equal(escape_bytes((const uint8_t *)"\x1b", 1, out, 1), 4);
    assert_int_equal(out[0], '\0');
    /* outcap 2 fits one ASCII char, not an escape */
    char two[3] = {'Q', 'Q', 'Q'};
    assert_int_equal(escape_bytes((const uint8_t *)"ab", 2, two, 2), 2);
    assert_string_equal(two, "a");
    memset(two, 'Q', sizeof two);
    assert_int_equal(escape_bytes((const uint8_t *)"\\", 1, two, 2), 2);
    assert_string_equal(two, "");
    assert_int_equal(two[2], 'Q');
}

/* Invisible characters that reorder or hide text are escaped byte by byte;
 * visible text in other scripts, and their neighbours, still pass. */
static void test_format_and_separator_characters_escaped(void **state)
{
    (void)state;
    expect_escape("a\xe2\x80\xae" "b", 5, "a\\xe2\\x80\\xaeb");     /* U+202E RIGHT-TO-LEFT OVERRIDE */
    expect_escape("\xe2\x80\xa8", 3, "\\xe2\\x80\\xa8");             /* U+2028 LINE SEPARATOR */
    expect_escape("\xe2\x80\xa9", 3, "\\xe2\\x80\\xa9");             /* U+2029 PARAGRAPH SEPARATOR */
    expect_escape("\xe2\x80\x8b", 3, "\\xe2\\x80\\x8b");             /* U+200B ZERO WIDTH SPACE */
    expect_escape("\xe2\x80\x8f", 3, "\\xe2\\x80\\x8f");             /* U+200F RIGHT-TO-LEFT MARK */
    expect_escape("\xe2\x81\xa6", 3, "\\xe2\\x81\\xa6");             /* U+2066 LEFT-TO-RIGHT ISOLATE */
    expect_escape("\xe2\x81\xa9", 3, "\\xe2\\x81\\xa9");             /* U+2069 POP DIRECTIONAL ISOLATE */
    expect_escape("\xef\xbb\xbf", 3, "\\xef\\xbb\\xbf");             /* U+FEFF BYTE ORDER MARK */
    expect_escape("\xd8\x9c", 2, "\\xd8\\x9c");                      /* U+061C ARABIC LETTER MARK */
    expect_escape("\xc2\xad", 2, "\\xc2\\xad");                      /* U+00AD SOFT HYPHEN */
    expect_escape("\xf3\xa0\x80\x81", 4, "\\xf3\\xa0\\x80\\x81");    /* U+E0001 LANGUAGE TAG */
    /* Neighbours of the ranges stay visible. */
    expect_escape("\xe2\x80\x90", 3, "\xe2\x80\x90");                /* U+2010 HYPHEN */
    expect_escape("\xe2\x80\xaf", 3, "\xe2\x80\xaf");                /* U+202F NARROW NO-BREAK SPACE */
    expect_escape("\xc2\xac", 2, "\xc2\xac");                        /* U+00AC NOT SIGN */
    expect_escape("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", 8, "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"); /* Hebrew */
    expect_escape("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");        /* U+1F600 */
}

/* escape_prefix shows whole pieces only, says how many input bytes they
 * are, and stops where the room ends. */
static void test_prefix_counts_what_is_shown(void **state)
{
    (void)state;
    char out[16];
    size_t len = 99;
    assert_int_equal(escape_prefix((const uint8_t *)"abc", 3, out, sizeof out, &len), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(len, 3);
    /* "a" + "\x1b" (4) + "b" + "\x1b" (4) = 10 characters; 8 bytes of room + NUL. */
    assert_int_equal(escape_prefix((const uint8_t *)"a\x1b" "b\x1b", 4, out, 9, &len), 3);
    assert_string_equal(out, "a\\x1bb");
    assert_int_equal(len, 6);
    /* A multi-byte character is shown whole or not at all. */
    assert_int_equal(escape_prefix((const uint8_t *)"ab\xe4\xb8\xad", 5, out, 4, &len), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(escape_prefix((const uint8_t *)"ab\xe4\xb8\xad", 5, out, 6, &len), 5);
    assert_int_equal(len, 5);
    assert_int_equal(escape_prefix((const uint8_t *)"abc", 3, out, 0, &len), 0);
    assert_int_equal(len, 0);
    /* escape_bytes still returns what the whole would need. */
    assert_int_equal(escape_bytes((const uint8_t *)"a\x1b" "b\x1b", 4, out, 9), 10);
}

/* escape_prefix against a reference built piece by piece from the public
 * API (a piece: a whole well-formed sequence kept as is, or one byte
 * escaped), over random mixes of ASCII, controls, backslashes and UTF-8
 * (valid, invisible, cut), at every output size. */
static size_t reference_prefix(const uint8_t *in, size_t n, size_t outcap, char *out,
                               size_t *out_len)
{
    size_t i = 0, written = 0, room = outcap > 0 ? outcap - 1 : 0;
    while (i < n) {
        char piece[64];
        size_t k = utf8_sequence_len(in + i, n - i);
        size_t w = 0;
        if (k > 1 && (w = escape_bytes(in + i, k, piece, sizeof piece)) == k) {
            /* kept whole */
        } else {
            k = 1;
            w = escape_bytes(in + i, 1, piece, sizeof piece);
        }
        if (w > room - written)
            break;
        memcpy(out + written, piece, w);
        written += w;
        i += k;
    }
    if (outcap > 0)
        out[written] = '\0';
    *out_len = written;
    return i;
}

static void test_prefix_matches_piecewise_reference(void **state)
{
    (void)state;
    static const char *const parts[] = {"a", "Z ", "\\", "\x1b", "\x7f", "\x00", "\xc3\xa9",
                                        "\xe2\x80\xae", "\xf0\x9f\x98\x80", "\xc2\x85", "\xe4\xb8",
                                        "\xff", "\xed\xa0\x80", "~"};
    static const size_t part_len[] = {1, 2, 1, 1, 1, 1, 2, 3, 4, 2, 2, 1, 3, 1};
    uint32_t rng = 1;
    for (int round = 0; round < 300; round++) {
        uint8_t in[64];
        size_t n = 0;
        for (;;) {
            rng = rng * 1103515245u + 12345u;
            size_t p = (rng >> 16) % (sizeof part_len / sizeof part_len[0]);
            if (n + part_len[p] > sizeof in || (rng >> 8) % 23 == 0)
                break;
            memcpy(in + n, parts[p], part_len[p]);
            n += part_len[p];
        }
        for (size_t cap = 0; cap <= 4 * n + 2; cap++) {
            char got[300], want[300];
            size_t got_len = 999, want_len = 999;
            size_t shown = escape_prefix(in, n, got, cap, &got_len);
            assert_int_equal(shown, reference_prefix(in, n, cap, want, &want_len));
            assert_int_equal(got_len, want_len);
            if (cap > 0)
                assert_string_equal(got, want);
        }
    }
}

/* Every byte value, alone and between ASCII, against its escape written out
 * here (the tables in escape.c are checked, not trusted): a byte from 0x80
 * on alone is never a whole UTF-8 sequence. */
static void test_every_single_byte(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 0x100; b++) {
        char want[8];
        if (b >= 0x20 && b < 0x7f && b != '\\')
            snprintf(want, sizeof want, "%c", (char)b);
        else if (b == '\\')
            snprintf(want, sizeof want, "\\\\");
        else
            snprintf(want, sizeof want, "\\x%02x", b);
        uint8_t in[3] = {'<', (uint8_t)b, '>'};
        char out[32], full[32];
        assert_int_equal(escape_bytes(in + 1, 1, out, sizeof out), strlen(want));
        assert_string_equal(out, want);
        snprintf(full, sizeof full, "<%s>", want);
        assert_int_equal(escape_bytes(in, 3, out, sizeof out), strlen(full));
        assert_string_equal(out, full);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable_ascii_passes),
        cmocka_unit_test(test_format_and_separator_characters_escaped),
        cmocka_unit_test(test_prefix_counts_what_is_shown),
        cmocka_unit_test(test_prefix_matches_piecewise_reference),
        cmocka_unit_test(test_every_single_byte),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_backslash_doubled),
        cmocka_unit_test(test_every_c0_control),
        cmocka_unit_test(test_del),
        cmocka_unit_test(test_c1_escaped),
        cmocka_unit_test(test_valid_utf8_passes),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_above_max),
        cmocka_unit_test(test_bad_continuation),
        cmocka_unit_test(test_truncated_at_end),
        cmocka_unit_test(test_nul_inside),
        cmocka_unit_test(test_ansi_sequence_harmless),
        cmocka_unit_test(test_all_bytes_harmless),
        cmocka_unit_test(test_return_is_full_length),
        cmocka_unit_test(test_cut_never_splits),
        cmocka_unit_test(test_outcap_zero_and_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
