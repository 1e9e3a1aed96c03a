/* Printable rendering of untrusted bytes for logs and terminals.
 *
 * A peer's bytes must never drive the terminal: control bytes (C0, DEL and
 * the C1 range U+0080..U+009F), invalid or overlong UTF-8, surrogates and a
 * literal backslash are written as \xNN (backslash as \\); well-formed
 * printable UTF-8 passes through so a message in another script stays legible. */
#ifndef WIRECHECK_ESCAPE_H
#define WIRECHECK_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

/* Writes the escaped form of in[0..n) to out (always NUL-terminated when
 * outcap > 0, cut at a whole escape). Returns the length the full escaped
 * text needs, excluding the NUL, so a caller can detect a cut. */
size_t escape_bytes(const uint8_t *in, size_t n, char *out, size_t outcap);

/* Upper bound of escape_bytes' result for n input bytes. */
static inline size_t escape_bound(size_t n) { return n * 4; }

#endif
