/* hash_mix: the 64-bit mixing steps the flow table and the capture-duplicate
 * detector hash with (fast, not cryptographic: the keys come from a capture,
 * and a collision costs a comparison, never a wrong answer).
 *
 *   uint64_t h = hash_mix_word(seed, proto);
 *   h = hash_mix_endpoint(h, &src);   // endpoint padding must be zeroed
 *   h = hash_mix_bytes(h, bytes, len);
 *   uint64_t key = hash_mix_pair(proto, &src, sport, &dst, dport);  // ordered
 *   struct tuple_hash t = hash_mix_tuple(proto, &src, sport, &dst, dport); // both ways
 */
#ifndef WIRECHECK_HASH_MIX_H
#define WIRECHECK_HASH_MIX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dissect.h"

static inline uint64_t hash_mix_word(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

/* An address and a port (the address's unused bytes must be zero, as the
 * dissector leaves them), without building a struct endpoint. */
static inline uint64_t hash_mix_addr_port(uint64_t h, const struct ip_addr *ip, uint16_t port)
{
    uint64_t w0, w1;
    memcpy(&w0, ip->bytes, 8);
    memcpy(&w1, ip->bytes + 8, 8);
    h = hash_mix_word(h, w0);
    h = hash_mix_word(h, w1);
    return hash_mix_word(h, (uint64_t)ip->family << 16 | port);
}

/* Multiplies, folding the 128-bit product: one mixing step. */
static inline uint64_t hash_mix_fold(uint64_t x, uint64_t y)
{
    __uint128_t r = (__uint128_t)x * y;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* An ordered pair of (address, port) with `tag` (a protocol number) mixed
 * in: the three word pairs side by side (independent multiplies, not one
 * chain: every packet hashes its flow's key, and capdup both directions).
 * hash_mix_pair(t, x, xp, y, yp) and (t, y, yp, x, xp) differ: the first
 * address's words meet other constants. Unused address bytes must be zero. */
static inline uint64_t hash_mix_pair(uint32_t tag, const struct ip_addr *x, uint16_t xp,
                                     const struct ip_addr *y, uint16_t yp)
{
    uint64_t x0, x1, y0, y1;
    memcpy(&x0, x->bytes, 8);
    memcpy(&x1, x->bytes + 8, 8);
    memcpy(&y0, y->bytes, 8);
    memcpy(&y1, y->bytes + 8, 8);
    uint64_t x2 = (uint64_t)tag << 32 | (uint64_t)x->family << 16 | xp;
    uint64_t y2 = (uint64_t)y->family << 16 | yp;
    uint64_t h = hash_mix_fold(x0 ^ 0x9E3779B97F4A7C15ull, y0 ^ 0xC2B2AE3D27D4EB4Full) ^
                 hash_mix_fold(x1 ^ 0x165667B19E3779F9ull, y1 ^ 0xD6E8FEB86659FD93ull) ^
                 hash_mix_fold(x2 ^ 0xA0761D6478BD642Full, y2 ^ 0xE7037ED1A0B428DBull);
    return hash_mix_fold(h, 0x9E3779B97F4A7C15ull);
}

/* A total order on (address, port) ends, from whole words (unused address
 * bytes must be zero). */
static inline int hash_mix_end_cmp(const struct ip_addr *x, uint16_t xp, const struct ip_addr *y,
                                   uint16_t yp)
{
    uint64_t x0, x1, y0, y1;
    memcpy(&x0, x->bytes, 8);
    memcpy(&x1, x->bytes + 8, 8);
    memcpy(&y0, y->bytes, 8);
    memcpy(&y1, y->bytes + 8, 8);
    uint64_t x2 = (uint64_t)x->family << 16 | xp, y2 = (uint64_t)y->family << 16 | yp;
    if (x0 != y0)
        return x0 < y0 ? -1 : 1;
    if (x1 != y1)
        return x1 < y1 ? -1 : 1;
    return x2 == y2 ? 0 : x2 < y2 ? -1 : 1;
}

/* A conversation (an IP protocol number, two ends): hash_mix_pair with the
 * lower end first, so both directions hash the same; .order tells which
 * way this one is (the sign of hash_mix_end_cmp(src, dst)). */
static inline struct tuple_hash hash_mix_tuple(uint8_t ipproto, const struct ip_addr *src,
                                               uint16_t sport, const struct ip_addr *dst,
                                               uint16_t dport)
{
    struct tuple_hash t;
    t.order = hash_mix_end_cmp(src, sport, dst, dport);
    t.hash = t.order > 0 ? hash_mix_pair(ipproto, dst, dport, src, sport)
                         : hash_mix_pair(ipproto, src, sport, dst, dport);
    return t;
}

/* p's conversation, hashed once (struct packet.tuple). */
static inline void hash_mix_packet_tuple(struct packet *p)
{
    p->tuple = hash_mix_tuple(p->proto, &p->src, p->sport, &p->dst, p->dport);
    p->tuple_hashed = true;
}

static inline uint64_t hash_mix_endpoint(uint64_t h, const struct endpoint *e)
{
    return hash_mix_addr_port(h, &e->ip, e->port);
}

/* Four independent lanes over 32-byte blocks: a 1500-byte packet hashes in
 * about a quarter of the time one serial multiply chain takes (every frame
 * of a capture goes through here). Shorter input goes straight to the
 * serial steps: with no block, the lanes would differ from h by constants
 * only, and folding them (x ^ y) would cancel h out. */
static inline uint64_t hash_mix_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n >= 32) {
        uint64_t lane[4] = {h, h ^ 0x9E3779B97F4A7C15ull, h ^ 0xC2B2AE3D27D4EB4Full,
                            h ^ 0x165667B19E3779F9ull};
        for (; i + 32 <= n; i += 32) {
            for (int k = 0; k < 4; k++) {
                uint64_t w;
                memcpy(&w, p + i + 8 * k, 8);
                lane[k] = hash_mix_word(lane[k], w);
            }
        }
        h = hash_mix_word(hash_mix_word(lane[0], lane[1]), hash_mix_word(lane[2], lane[3]));
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = hash_mix_word(h, w);
    }
    /* The last n - i < 8 bytes: one load of the last 8 (when there are
     * 8) with the bytes already hashed shifted out, not a byte loop. */
    uint64_t tail = 0;
    size_t left = n - i;
    if (left && n >= 8) {
        memcpy(&tail, p + n - 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        tail >>= 8 * (8 - left);
#else
        tail <<= 8 * (8 - left);
#endif
    } else {
        memcpy(&tail, p + i, left);
    }
    return hash_mix_word(h, tail ^ (uint64_t)n << 56);
}

#endif
