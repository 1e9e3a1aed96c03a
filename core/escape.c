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

/* Bytes by table, without a test per byte: escape_prefix runs on every
 * datagram the UDP server logs, and under a fuzzer every comparison is a
 * call. A byte takes byte_width[b] characters: 1 printable ASCII as itself,
 * 2 the backslash doubled, 4 as \xNN a control byte, DEL, or a byte that
 * cannot start a UTF-8 sequence; 0 marks a lead byte (0xc2..0xf4), decoded
 * with what follows it. The escape is the first byte_width[b] of the 4
 * characters at byte_escape + 4 * b. */
static const uint8_t byte_width[256] = {
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x00 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x10 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, /* 0x50: the backslash */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, /* 0x70: DEL */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x80: continuation bytes */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x90 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xa0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xb0 */
    4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xc0: 0xc0, 0xc1: overlong leads; lead bytes from 0xc2 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xd0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xe0 */
    0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xf0: lead bytes to 0xf4; 0xf5..: past U+10FFFF */
};
static const char byte_escape[256 * 4 + 1] =
    "\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07" /* 0x00 */
    "\\x08\\x09\\x0a\\x0b\\x0c\\x0d\\x0e\\x0f" /* 0x08 */
    "\\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17" /* 0x10 */
    "\\x18\\x19\\x1a\\x1b\\x1c\\x1d\\x1e\\x1f" /* 0x18 */
    "    !   \"   #   $   %   &   '   " /* 0x20 */
    "(   )   *   +   ,   -   .   /   " /* 0x28 */
    "0   1   2   3   4   5   6   7   " /* 0x30 */
    "8   9   :   ;   <   =   >   ?   " /* 0x38 */
    "@   A   B   C   D   E   F   G   " /* 0x40 */
    "H   I   J   K   L   M   N   O   " /* 0x48 */
    "P   Q   R   S   T   U   V   W   " /* 0x50 */
    "X   Y   Z   [   \\\\  ]   ^   _   " /* 0x58 */
    "`   a   b   c   d   e   f   g   " /* 0x60 */
    "h   i   j   k   l   m   n   o   " /* 0x68 */
    "p   q   r   s   t   u   v   w   " /* 0x70 */
    "x   y   z   {   |   }   ~   \\x7f" /* 0x78 */
    "\\x80\\x81\\x82\\x83\\x84\\x85\\x86\\x87" /* 0x80 */
    "\\x88\\x89\\x8a\\x8b\\x8c\\x8d\\x8e\\x8f" /* 0x88 */
    "\\x90\\x91\\x92\\x93\\x94\\x95\\x96\\x97" /* 0x90 */
    "\\x98\\x99\\x9a\\x9b\\x9c\\x9d\\x9e\\x9f" /* 0x98 */
    "\\xa0\\xa1\\xa2\\xa3\\xa4\\xa5\\xa6\\xa7" /* 0xa0 */
    "\\xa8\\xa9\\xaa\\xab\\xac\\xad\\xae\\xaf" /* 0xa8 */
    "\\xb0\\xb1\\xb2\\xb3\\xb4\\xb5\\xb6\\xb7" /* 0xb0 */
    "\\xb8\\xb9\\xba\\xbb\\xbc\\xbd\\xbe\\xbf" /* 0xb8 */
    "\\xc0\\xc1\\xc2\\xc3\\xc4\\xc5\\xc6\\xc7" /* 0xc0 */
    "\\xc8\\xc9\\xca\\xcb\\xcc\\xcd\\xce\\xcf" /* 0xc8 */
    "\\xd0\\xd1\\xd2\\xd3\\xd4\\xd5\\xd6\\xd7" /* 0xd0 */
    "\\xd8\\xd9\\xda\\xdb\\xdc\\xdd\\xde\\xdf" /* 0xd8 */
    "\\xe0\\xe1\\xe2\\xe3\\xe4\\xe5\\xe6\\xe7" /* 0xe0 */
    "\\xe8\\xe9\\xea\\xeb\\xec\\xed\\xee\\xef" /* 0xe8 */
    "\\xf0\\xf1\\xf2\\xf3\\xf4\\xf5\\xf6\\xf7" /* 0xf0 */
    "\\xf8\\xf9\\xfa\\xfb\\xfc\\xfd\\xfe\\xff" /* 0xf8 */;

/* Writes the escape of a byte whose width is not 0 at out (4 characters,
 * of which the first byte_width[b] count: one 4-byte copy); returns that
 * width. */
static inline __attribute__((always_inline)) size_t put_byte(char *out, uint8_t b)
{
    memcpy(out, byte_escape + 4 * (size_t)b, 4);
    return byte_width[b];
}

size_t escape_prefix(const uint8_t *in, size_t n, char *out, size_t outcap, size_t *out_len)
{
    size_t i = 0, written = 0;
    /* Room for characters, the NUL aside; a piece that does not fit whole
     * ends the prefix, so no escape is half-written. */
    size_t room = outcap > 0 ? outcap - 1 : 0;
    while (i < n) {
        /* The next `safe` bytes fit even at 4 characters each: those not
         * starting a UTF-8 sequence go without a room check, 4 characters
         * written each time (those past the width are overwritten or left
         * past the end). */
        size_t safe = (room - written) / 4;
        size_t end = i + (safe < n - i ? safe : n - i);
        /* Eight at a time while none of the eight is a lead byte (the
         * product of their widths is 0 when one is): one test for eight. */
        while (end - i >= 8) {
            const uint8_t *p = in + i;
            unsigned all = (unsigned)byte_width[p[0]] * byte_width[p[1]] * byte_width[p[2]] *
                           byte_width[p[3]] * byte_width[p[4]] * byte_width[p[5]] *
                           byte_width[p[6]] * byte_width[p[7]];
            if (all == 0)
                break;
            for (int k = 0; k < 8; k++) /* unrolled: a constant count */
                written += put_byte(out + written, p[k]);
            i += 8;
        }
        while (i < end && byte_width[in[i]] != 0) {
            written += put_byte(out + written, in[i]);
            i++;
        }
        if (i == n)
            break;
        /* One piece with its room checked: from a lead byte (a UTF-8
         * sequence, or the byte alone escaped when it starts none), or any
         * byte once the room is nearly used up. */
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
