/* A bounds-checked reader over untrusted bytes.
 *
 * Every read checks the remaining length first. A read that would run past
 * the end fails, marks the cursor failed and yields zeros; every later read
 * on a failed cursor fails too ("fails closed"), so a dissector can read a
 * whole header and test cursor_ok() once at the end without ever touching
 * memory outside [p, p + len). */
#ifndef WIRECHECK_CURSOR_H
#define WIRECHECK_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct cursor {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool failed;
};

static inline void cursor_init(struct cursor *c, const void *p, size_t len)
{
    c->p = p;
    c->len = p ? len : 0;
    c->off = 0;
    c->failed = false;
}
static inline bool cursor_ok(const struct cursor *c) { return !c->failed; }
static inline size_t cursor_offset(const struct cursor *c) { return c->off; }
static inline size_t cursor_remaining(const struct cursor *c)
{
    return c->failed ? 0 : c->len - c->off;
}

/* The one place that decides whether n more bytes exist. Inline (as are the
 * fixed-size readers below) because a dissector reads a dozen header fields
 * per packet: as calls they cost more than the reads themselves, inlined the
 * compiler merges their checks. */
/* What a zero-length read of an empty cursor points at: any non-NULL byte
 * will do, so each file has its own. */
static const uint8_t cursor_nothing_[1];
static inline const uint8_t *cursor_take_(struct cursor *c, size_t n)
{
    if (c->failed || n > c->len - c->off) {
        c->failed = true;
        return NULL;
    }
    if (!c->p)
        return cursor_nothing_; /* n == 0 on an empty cursor: success, no pointer arithmetic on NULL */
    const uint8_t *at = c->p + c->off;
    c->off += n;
    return at;
}

static inline bool cursor_u8(struct cursor *c, uint8_t *out)
{
    const uint8_t *b = cursor_take_(c, 1);
    *out = b ? b[0] : 0;
    return b != NULL;
}

static inline bool cursor_be16(struct cursor *c, uint16_t *out)
{
    const uint8_t *b = cursor_take_(c, 2);
    *out = b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
    return b != NULL;
}

static inline bool cursor_be32(struct cursor *c, uint32_t *out)
{
    const uint8_t *b = cursor_take_(c, 4);
    *out = b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
    return b != NULL;
}

static inline bool cursor_le16(struct cursor *c, uint16_t *out)
{
    const uint8_t *b = cursor_take_(c, 2);
    *out = b ? (uint16_t)(b[1] << 8 | b[0]) : 0;
    return b != NULL;
}

static inline bool cursor_le32(struct cursor *c, uint32_t *out)
{
    const uint8_t *b = cursor_take_(c, 4);
    *out = b ? (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0] : 0;
    return b != NULL;
}

static inline bool cursor_copy(struct cursor *c, void *dst, size_t n)
{
    const uint8_t *b = cursor_take_(c, n);
    if (b)
        memcpy(dst, b, n);
    else
        memset(dst, 0, n);
    return b != NULL;
}

/* Splits the next n bytes off as their own cursor, advancing past them. */
static inline bool cursor_sub(struct cursor *c, size_t n, struct cursor *sub)
{
    const uint8_t *b = cursor_take_(c, n);
    cursor_init(sub, b, b ? n : 0);
    sub->failed = b == NULL;
    return b != NULL;
}

/* The unread rest as a cursor; c is left at its end. */
static inline void cursor_rest(struct cursor *c, struct cursor *rest)
{
    size_t n = cursor_remaining(c);
    cursor_init(rest, c->failed ? NULL : c->p + c->off, n);
    rest->failed = c->failed;
    if (!c->failed)
        c->off = c->len;
}

/* Looks at byte `at` past the current position without consuming it. */
static inline bool cursor_peek_u8(const struct cursor *c, size_t at, uint8_t *out)
{
    if (c->failed || at >= c->len - c->off) {
        *out = 0;
        return false;
    }
    *out = c->p[c->off + at];
    return true;
}

static inline bool cursor_skip(struct cursor *c, size_t n)
{
    return cursor_take_(c, n) != NULL;
}

#endif
