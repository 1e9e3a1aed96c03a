#include "cursor.h"

/* What a zero-length read of an empty cursor points at (cursor_take_). */
const uint8_t cursor_nothing_[1];

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
