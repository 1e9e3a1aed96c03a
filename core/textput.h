/* Appending text to a buffer the caller sized, without printf: the servers
 * build a log line per datagram or per connection, where printf's format
 * parsing showed in profiles. Each returns the end of what it wrote (no
 * NUL).
 *
 *   char line[64], *p = line;
 *   p = put_str(p, "port ");
 *   p = put_u64(p, 3434);
 *   *p = '\0';                                  // "port 3434"
 */
#ifndef WIRECHECK_TEXTPUT_H
#define WIRECHECK_TEXTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline char *put_mem(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static inline char *put_str(char *p, const char *s)
{
    return put_mem(p, s, strlen(s));
}

/* Decimal, at most 20 characters. */
static inline char *put_u64(char *p, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    return p;
}

#endif
