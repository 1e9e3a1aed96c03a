#include "cursor.h"

#include <string.h>

void cursor_init(struct cursor *c, const void *p, size_t len)
{
    c->p = p;
    c->len = p ? len : 0;
    c->off = 0;
    c->failed = false;
}

size_t cursor_remaining(const struct cursor *c)
{
    return c->failed ? 0 : c->len - c->off;
}

/* The one place that decides whether n more bytes exist. */
static const uint8_t *take(struct cursor *c, size_t n)
{
    static const uint8_t nothing[1];
    if (c->failed || n > c->len - c->off) {
        c->failed = true;
        return NULL;
    }
    if (!c->p)
        return nothing; /* n == 0 on an empty cursor: success, no pointer arithmetic on NULL */
    const uint8_t *at = c->p + c->off;
    c->off += n;
    return at;
}

bool cursor_u8(struct cursor *c, uint8_t *out)
{
    const uint8_t *b = take(c, 1);
    *out = b ? b[0] : 0;
    return b != NULL;
}

bool cursor_be16(struct cursor *c, uint16_t *out)
{
    const uint8_t *b = take(c, 2);
    *out = b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
    return b != NULL;
}

bool cursor_be32(struct cursor *c, uint32_t *out)
{
    const uint8_t *b = take(c, 4);
    *out = b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
    return b != NULL;
}

bool cursor_le16(struct cursor *c, uint16_t *out)
{
    const uint8_t *b = take(c, 2);
    *out = b ? (uint16_t)(b[1] << 8 | b[0]) : 0;
    return b != NULL;
}

bool cursor_le32(struct cursor *c, uint32_t *out)
{
    const uint8_t *b = take(c, 4);
    *out = b ? (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0] : 0;
    return b != NULL;
}

bool cursor_copy(struct cursor *c, void *dst, size_t n)
{
    const uint8_t *b = take(c, n);
    if (b)
        memcpy(dst, b, n);
    else
        memset(dst, 0, n);
    return b != NULL;
}

bool cursor_skip(struct cursor *c, size_t n)
{
    return take(c, n) != NULL;
}

bool cursor_sub(struct cursor *c, size_t n, struct cursor *sub)
{
    const uint8_t *b = take(c, n);
    cursor_init(sub, b, b ? n : 0);
    sub->failed = b == NULL;
    return b != NULL;
}

void cursor_rest(struct cursor *c, struct cursor *rest)
{
    size_t n = cursor_remaining(c);
    cursor_init(rest, c->failed ? NULL : c->p + c->off, n);
    rest->failed = c->failed;
    if (!c->failed)
        c->off = c->len;
}

bool cursor_peek_u8(const struct cursor *c, size_t at, uint8_t *out)
{
    if (c->failed || at >= c->len - c->off) {
        *out = 0;
        return false;
    }
    *out = c->p[c->off + at];
    return true;
}
