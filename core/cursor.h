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

struct cursor {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool failed;
};

void cursor_init(struct cursor *c, const void *p, size_t len);
static inline bool cursor_ok(const struct cursor *c) { return !c->failed; }
static inline size_t cursor_offset(const struct cursor *c) { return c->off; }
size_t cursor_remaining(const struct cursor *c);

bool cursor_u8(struct cursor *c, uint8_t *out);
bool cursor_be16(struct cursor *c, uint16_t *out);
bool cursor_be32(struct cursor *c, uint32_t *out);
bool cursor_le16(struct cursor *c, uint16_t *out);
bool cursor_le32(struct cursor *c, uint32_t *out);
bool cursor_copy(struct cursor *c, void *dst, size_t n);
bool cursor_skip(struct cursor *c, size_t n);
/* Splits the next n bytes off as their own cursor, advancing past them. */
bool cursor_sub(struct cursor *c, size_t n, struct cursor *sub);
/* The unread rest as a cursor; c is left at its end. */
void cursor_rest(struct cursor *c, struct cursor *rest);
/* Looks at byte `at` past the current position without consuming it. */
bool cursor_peek_u8(const struct cursor *c, size_t at, uint8_t *out);

#endif
