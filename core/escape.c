#include "escape.h"

#include <stdbool.h>

/* Length of the well-formed, printable UTF-8 sequence at in[0..n), or 0 when
 * the byte at in[0] must be escaped. */
static size_t printable_utf8_len(const uint8_t *in, size_t n)
{
    uint8_t b = in[0];
    if (b >= 0x20 && b < 0x7f)
        return b == '\\' ? 0 : 1;
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
        return 0; /* ASCII control, DEL, continuation byte, 0xc0/0xc1, > 0xf4 */
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
    bool c1_control = cp >= 0x80 && cp <= 0x9f;
    if (overlong || surrogate || c1_control || cp > 0x10ffff)
        return 0;
    return len;
}

size_t escape_bytes(const uint8_t *in, size_t n, char *out, size_t outcap)
{
    static const char hex[] = "0123456789abcdef";
    size_t need = 0, written = 0;
    bool cut = outcap == 0;
    for (size_t i = 0; i < n;) {
        char piece[4];
        size_t piece_len;
        const char *src;
        size_t keep = printable_utf8_len(in + i, n - i);
        if (keep > 0) {
            src = (const char *)in + i;
            piece_len = keep;
            i += keep;
        } else if (in[i] == '\\') {
            piece[0] = piece[1] = '\\';
            src = piece;
            piece_len = 2;
            i++;
        } else {
            piece[0] = '\\';
            piece[1] = 'x';
            piece[2] = hex[in[i] >> 4];
            piece[3] = hex[in[i] & 0xf];
            src = piece;
            piece_len = 4;
            i++;
        }
        need += piece_len;
        if (!cut && written + piece_len < outcap) {
            for (size_t k = 0; k < piece_len; k++)
                out[written++] = src[k];
        } else {
            cut = true; /* stop at a whole piece so no escape is half-written */
        }
    }
    if (outcap > 0)
        out[written] = '\0';
    return need;
}
