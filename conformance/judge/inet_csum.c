#include "inet_csum.h"

#include <string.h>

uint32_t inet_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    /* RFC 1071: add 32-bit words into 64 bits in host order, fold once,
     * then swap to network order (the one's complement sum commutes with
     * byte swapping). 2^32 words of carry room: no overflow below 16 GiB. */
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc += (w & 0xffffffffu) + (w >> 32);
    }
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
