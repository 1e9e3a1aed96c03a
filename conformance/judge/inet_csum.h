/* The Internet checksum (RFC 1071): one implementation for the dissector,
 * the test packet builder and the capture generators.
 *
 *   uint32_t s = inet_sum(0, pseudo_header, n);   // running sum, not folded
 *   s = inet_sum(s, segment, len);
 *   bool good = inet_fold(s) == 0xffff;           // a valid segment sums to all ones
 *   uint16_t field = (uint16_t)~inet_fold(s);     // the checksum to write
 *
 * Sums are in network byte order: an odd-length buffer is padded with a zero
 * byte at its end, so only the last buffer of a running sum may be odd. */
#ifndef WIRECHECK_INET_CSUM_H
#define WIRECHECK_INET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* The one's complement sum of `len` bytes added to `sum`, not folded. */
uint32_t inet_sum(uint32_t sum, const uint8_t *p, size_t len);

/* `sum` folded to 16 bits (not complemented). */
uint16_t inet_fold(uint32_t sum);

#endif
