/* Printable rendering of untrusted bytes for logs and terminals.
 *
 * A peer's bytes must never drive the terminal nor rearrange what it shows:
 * control bytes (C0, DEL and the C1 range U+0080..U+009F), invalid or
 * overlong UTF-8, surrogates, Unicode format characters (bidi controls such
 * as U+202E, zero-width characters, U+FEFF...) and the line and paragraph
 * separators U+2028/U+2029, and a literal backslash are written as \xNN per
 * byte (backslash as \\); other well-formed UTF-8 passes through so a
 * message in another script stays legible.
 *
 *   char out[64];
 *   escape_bytes((const uint8_t *)"a\x1b[2J\xe2\x80\xaeb", 9, out, sizeof out);
 *   // out: "a\x1b[2J\xe2\x80\xaeb"  (ESC and U+202E escaped) */
#ifndef WIRECHECK_ESCAPE_H
#define WIRECHECK_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

/* Writes the escaped form of in[0..n) to out (always NUL-terminated when
 * outcap > 0, cut at a whole escape). Returns the length the full escaped
 * text needs, excluding the NUL, so a caller can detect a cut. */
size_t escape_bytes(const uint8_t *in, size_t n, char *out, size_t outcap);

/* Like escape_bytes, but stops before the first input piece whose escape
 * would not fit (out NUL-terminated, *out_len its length): returns how many
 * input bytes are shown, so a caller can say "N of M bytes shown". Costs
 * what it shows, not what it was given. Bytes of out past the NUL may be
 * written too. */
size_t escape_prefix(const uint8_t *in, size_t n, char *out, size_t outcap, size_t *out_len);

/* The length (1..4) of the well-formed UTF-8 sequence at in[0..n), 0 if the
 * bytes there are not one: a continuation byte, an overlong form, a
 * surrogate, a value past U+10FFFF, or a sequence cut by n. ASCII, control
 * bytes included, is 1. The one UTF-8 decoder of the project. */
size_t utf8_sequence_len(const uint8_t *in, size_t n);

/* Upper bound of escape_bytes' result for n input bytes. */
static inline size_t escape_bound(size_t n) { return n * 4; }

#endif
