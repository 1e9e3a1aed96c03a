/* hash_mix: the 64-bit mixing steps the flow table and the capture-duplicate
 * detector hash with (fast, not cryptographic: the keys come from a capture).
 * The flow table compares the keys behind a matching hash; capdup keeps no
 * bytes, and takes 64-bit hashes that match for the same packet.
 *
 *   uint64_t h = hash_mix_word(seed, proto);
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

/* An address's 16 bytes as two words, in memory order (no alignment). */
static inline void hash_mix_addr_words(const struct ip_addr *a, uint64_t *w0, uint64_t *w1)
{
    memcpy(w0, a->bytes, 8);
    memcpy(w1, a->bytes + 8, 8);
}

/* Multiplies, folding the 128-bit product: one mixing step. */
static inline uint64_t hash_mix_fold(uint64_t x, uint64_t y)
{
    __uint128_t r = (__uint128_t)x * y;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* An ordered pair of (address, port) with `tag` (a protocol number) mixed
 * in: the three word pairs side by side (independent multiplies, not one
 * chain: every packet hashes its conversation, hash_mix_tuple).
 * hash_mix_pair(t, x, xp, y, yp) and (t, y, yp, x, xp) differ: the first
 * address's words meet other constants. Unused address bytes must be zero. */
static inline uint64_t hash_mix_pair(uint32_t tag, const struct ip_addr *x, uint16_t xp,
                                     const struct ip_addr *y, uint16_t yp)
{
    uint64_t x0, x1, y0, y1;
    hash_mix_addr_words(x, &x0, &x1);
    hash_mix_addr_words(y, &y0, &y1);
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
    hash_mix_addr_words(x, &x0, &x1);
    hash_mix_addr_words(y, &y0, &y1);
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

/* The last n < 8 bytes ending at p + n as a word padded with zeros, from
 * one load of the 8 bytes ending there when `room` (bytes readable before
 * p + n) allows, the bytes not wanted shifted out. */
static inline uint64_t hash_mix_tail(const uint8_t *end, size_t n, size_t room)
{
    uint64_t w = 0;
    if (n && room >= 8) {
        memcpy(&w, end - 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        w >>= 8 * (8 - n);
#else
        w <<= 8 * (8 - n);
#endif
    } else if (n) {
        memcpy(&w, end - n, n);
    }
    return w;
}

/* 16 bytes to a multiply of two words (folded, hash_mix_fold), two lanes
 * over 32-byte blocks side by side: every frame of a capture goes through
 * here (capdup), most of them short. The seed enters both lanes, which
 * meet in a last multiply, so it always counts (folding lanes that differ
 * from it by constants only with x ^ y would cancel it). */
static inline uint64_t hash_mix_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    uint64_t a = h ^ 0x9E3779B97F4A7C15ull, b = h ^ 0xC2B2AE3D27D4EB4Full;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p + i, 8);
        memcpy(&w1, p + i + 8, 8);
        memcpy(&w2, p + i + 16, 8);
        memcpy(&w3, p + i + 24, 8);
        a = hash_mix_fold(w0 ^ a, w1 ^ 0x165667B19E3779F9ull);
        b = hash_mix_fold(w2 ^ b, w3 ^ 0xD6E8FEB86659FD93ull);
    }
    if (i + 16 <= n) {
        uint64_t w0, w1;
        memcpy(&w0, p + i, 8);
        memcpy(&w1, p + i + 8, 8);
        a = hash_mix_fold(w0 ^ a, w1 ^ 0x165667B19E3779F9ull);
        i += 16;
    }
    size_t left = n - i;          /* < 16 */
    uint64_t t0, t1 = 0;
    if (left > 8) {
        memcpy(&t0, p + i, 8);
        t1 = hash_mix_tail(p + n, left - 8, n);
    } else {
        t0 = hash_mix_tail(p + n, left, n);
    }
    b = hash_mix_fold(t0 ^ b, t1 ^ 0xA0761D6478BD642Full ^ (uint64_t)n << 32);
    return hash_mix_fold(a ^ 0xE7037ED1A0B428DBull, b ^ 0x8EBC6AF09C88C6E3ull);
}

#endif
