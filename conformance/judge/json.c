#include "json.h"

#include <stdint.h>
#include <string.h>

#include "escape.h"

void json_write_string(FILE *out, const char *s)
{
    const uint8_t *p = (const uint8_t *)(s ? s : "");
    size_t left = strlen((const char *)p);
    fputc('"', out);
    while (left > 0) {
        uint8_t c = *p;
        size_t n = 1;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c == '\t') {
            fputs("\\t", out);
        } else if (c == '\r') {
            fputs("\\r", out);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
        } else if ((n = utf8_sequence_len(p, left)) == 0) {
            fputs("\\ufffd", out);
            n = 1;
        } else {
            fwrite(p, 1, n, out);
        }
        p += n;
        left -= n;
    }
    fputc('"', out);
}
