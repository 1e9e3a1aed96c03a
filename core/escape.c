#include "escape.h"

#include <stdbool.h>
#include <string.h>

/* Unicode characters that are invisible yet change how a line reads: the
 * format characters (general category Cf: bidi embeddings, overrides and
 * isolates, zero-width joiners and spaces, the byte order mark, invisible
 * operators, interlinear annotation, tags) and the separators U+2028/U+2029
 * (Zl, Zp). Sorted, inclusive ranges. */
static const struct { uint32_t first, last; } invisible_ranges[] = {
    {0x00ad, 0x00ad},   {0x0600, 0x0605},   {0x061c, 0x061c},   {0x06dd, 0x06dd},
    {0x070f, 0x070f},   {0x0890, 0x0891},   {0x08e2, 0x08e2},   {0x180e, 0x180e},
    {0x200b, 0x200f},   {0x2028, 0x202e},   {0x2060, 0x2064},   {0x2066, 0x206f},
    {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
    {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
    {0xe0020, 0xe007f},
};

static bool invisible(uint32_t cp)
{
    if (cp < 0xad)
        return false;
    for (size_t i = 0; i < sizeof invisible_ranges / sizeof invisible_ranges[0]; i++) {
        if (cp < invisible_ranges[i].first)
            return false;
        if (cp <= invisible_ranges[i].last)
            return true;
    }
    return false;
}

size_t utf8_sequence_len(const uint8_t *in, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t b = in[0];
    if (b < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
        cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        cp = b & 0x07;
    } else {
        return 0; /* continuation byte, 0xc0/0xc1, > 0xf4 */
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((in[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (in[i] & 0x3f);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    bool overlong = cp < min_for_len[len];
    bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
    if (overlong || surrogate || cp > 0x10ffff)
        return 0;
    return len;
}

/* The code point of a well-formed sequence of `len` bytes. */
static uint32_t code_point(const uint8_t *in, size_t len)
{
    static const uint8_t lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    uint32_t cp = in[0] & lead_mask[len];
    for (size_t i = 1; i < len; i++)
        cp = cp << 6 | (in[i] & 0x3f);
    return cp;
}

/* Length of the well-formed, printable UTF-8 sequence at in[0..n), or 0 when
 * the byte at in[0] must be escaped. */
static size_t printable_utf8_len(const uint8_t *in, size_t n)
{
    uint8_t b = in[0];
    if (b < 0x80)
        return b >= 0x20 && b < 0x7f && b != '\\' ? 1 : 0;
    size_t len = utf8_sequence_len(in, n);
    if (len == 0)
        return 0;
    uint32_t cp = code_point(in, len);
    bool c1_control = cp >= 0x80 && cp <= 0x9f;
    return c1_control || invisible(cp) ? 0 : len;
}

/* The escaped form of the piece at in[0..n): into piece[4] or pointing
 * into `in`; returns its length and sets *consumed. */
static size_t next_piece(const uint8_t *in, size_t n, char piece[4], const char **src,
                         size_t *consumed)
{
    static const char hex[] = "0123456789abcdef";
    size_t keep = printable_utf8_len(in, n);
    if (keep > 0) {
        *src = (const char *)in;
        *consumed = keep;
        return keep;
    }
    *src = piece;
    *consumed = 1;
    if (in[0] == '\\') {
        piece[0] = piece[1] = '\\';
        return 2;
    }
    piece[0] = '\\';
    piece[1] = 'x';
    piece[2] = hex[in[0] >> 4];
    piece[3] = hex[in[0] & 0xf];
    return 4;
}

/* Bytes below 0x80 by table, without a test per byte: escape_prefix runs on
 * every datagram the UDP server logs, and under a fuzzer every comparison
 * is a call. A byte takes ascii_width[b] characters: 1 printable ASCII as
 * itself, 2 the backslash doubled, 4 a control byte or DEL as \xNN; 0 marks
 * a byte from 0x80 on (UTF-8, decoded piece by piece). Its escape is
 * ascii_first[b], ascii_second[b], then two hex digits, of which the first
 * ascii_width[b] count. */
static const uint8_t ascii_width[256] = {
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x00 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x10 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, /* 0x50: the backslash */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, /* 0x70: DEL */
    /* 0x80..0xff: 0 */
};
static const char ascii_first[129] =
    "\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\" /* 0x00..0x1f: 32 backslashes */
    " !\"#$%&'()*+,-./0123456789:;<=>?"
    "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"
    "`abcdefghijklmnopqrstuvwxyz{|}~\\"; /* DEL: a backslash */
static const char ascii_second[129] =
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxx" "\\" "xxx" /* the backslash's second */
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/* Writes the escape of the ASCII byte b at out (4 characters, of which the
 * first ascii_width[b] count) and returns that width. */
static inline size_t put_ascii(char *out, uint8_t b)
{
    static const char hex[] = "0123456789abcdef";
    out[0] = ascii_first[b];
    out[1] = ascii_second[b];
    out[2] = hex[b >> 4];
    out[3] = hex[b & 0xf];
    return ascii_width[b];
}

size_t escape_prefix(const uint8_t *in, size_t n, char *out, size_t outcap, size_t *out_len)
{
    size_t i = 0, written = 0;
    /* Room for characters, the NUL aside; a piece that does not fit whole
     * ends the prefix, so no escape is half-written. */
    size_t room = outcap > 0 ? outcap - 1 : 0;
    while (i < n) {
        /* The next `safe` bytes fit even at 4 characters each: ASCII among
         * them goes without a room check, 4 characters written each time
         * (the ones past its width are overwritten or left past the end). */
        size_t safe = (room - written) / 4;
        size_t end = i + (safe < n - i ? safe : n - i);
        /* Eight at a time while all eight are ASCII (one test for eight). */
        while (end - i >= 8) {
            uint64_t eight;
            memcpy(&eight, in + i, 8);
            if (eight & 0x8080808080808080u)
                break;
            for (int k = 0; k < 8; k++) /* unrolled: a constant count */
                written += put_ascii(out + written, in[i + k]);
            i += 8;
        }
        while (i < end && ascii_width[in[i]] != 0) {
            written += put_ascii(out + written, in[i]);
            i++;
        }
        if (i == n)
            break;
        /* One piece with its room checked: a UTF-8 sequence (or a byte that
         * cannot be one), or any byte once the room is nearly used up. */
        char piece[4];
        const char *src;
        size_t consumed;
        size_t len = next_piece(in + i, n - i, piece, &src, &consumed);
        if (len > room - written)
            break;
        for (size_t k = 0; k < len; k++)
            out[written++] = src[k];
        i += consumed;
    }
    if (outcap > 0)
        out[written] = '\0';
    *out_len = written;
    return i;
}

size_t escape_bytes(const uint8_t *in, size_t n, char *out, size_t outcap)
{
    size_t need;
    size_t i = escape_prefix(in, n, out, outcap, &need);
    /* What the rest would need, so the caller can tell a cut. */
    while (i < n) {
        char piece[4];
        const char *src;
        size_t consumed;
        need += next_piece(in + i, n - i, piece, &src, &consumed);
        i += consumed;
    }
    return need;
}
