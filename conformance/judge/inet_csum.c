#include "inet_csum.h"

#include <string.h>

/* a + w with the carry out added back in (one's complement addition). */
static inline uint64_t add_carry(uint64_t a, uint64_t w)
{
    a += w;
    return a + (a < w);
}

uint32_t inet_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    /* RFC 1071: add 64-bit words in host order with end-around carry
     * (independent chains), fold to 16 bits, then swap to network
     * order (the one's complement sum commutes with byte swapping). */
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p + i, 8);
        memcpy(&w1, p + i + 8, 8);
        memcpy(&w2, p + i + 16, 8);
        memcpy(&w3, p + i + 24, 8);
        a0 = add_carry(a0, w0);
        a1 = add_carry(a1, w1);
        a2 = add_carry(a2, w2);
        a3 = add_carry(a3, w3);
    }
    a0 = add_carry(a0, a2);
    a1 = add_carry(a1, a3);
    for (; i + 16 <= len; i += 16) {
        uint64_t w0, w1;
        memcpy(&w0, p + i, 8);
        memcpy(&w1, p + i + 8, 8);
        a0 = add_carry(a0, w0);
        a1 = add_carry(a1, w1);
    }
    if (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        a0 = add_carry(a0, w);
        i += 8;
    }
    a0 = add_carry(a0, a1);
    uint64_t acc = (a0 & 0xffffffffu) + (a0 >> 32);
    for (; i + 2 <= len; i += 2) {
        uint16_t h;
        memcpy(&h, p + i, 2);
        acc += h;
    }
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    uint16_t be = (uint16_t)acc;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    be = (uint16_t)(be >> 8 | be << 8);
#endif
    uint64_t total = (uint64_t)sum + be;
    if (i < len)
        total += (uint32_t)p[i] << 8;
    while (total >> 16)
        total = (total & 0xffff) + (total >> 16);
    return (uint32_t)total;
}

uint16_t inet_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}
