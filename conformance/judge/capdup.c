/* capdup: capture-duplicate detection over a ring of recent IP packets'
 * hashes. See capdup.h, and analysis.h for what counts as a duplicate. */
#include "capdup.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "array_reserve.h"
#include "hash_mix.h"

#define CAPDUP_PREFIX 128

void capdup_init(struct capdup *d)
{
    memset(d, 0, sizeof *d);
}

void capdup_free(struct capdup *d)
{
    free(d->notes);
    memset(d, 0, sizeof *d);
}

/* The fields a forwarding hop or a second capture point may change, masked
 * out of the IP header's first 16 bytes (two words): over IPv4 the TTL and
 * the header checksum, over IPv6 the hop limit. Byte masks, so the words
 * read in either byte order. */
static const uint8_t v4_mask[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0x00, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff};
static const uint8_t v6_mask[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Hashes the IP packet's captured bytes with those fields masked: the
 * first two words by hand, the rest as they are (no copy of the packet). */
bool capdup_key(const struct packet *p, struct capdup_entry *k)
{
    if (!p->ip_payload || p->ip_header_len < WC_IPV4_MIN_HEADER_LEN)
        return false;
    const uint8_t *ip = p->ip_payload - p->ip_header_len;
    size_t n = (size_t)p->ip_header_len + p->ip_payload_caplen; /* >= 20 */
    size_t h = n < CAPDUP_PREFIX ? n : CAPDUP_PREFIX;
    const uint8_t *mask = p->ip_version == 4 ? v4_mask : v6_mask;
    uint64_t w0, w1, m0, m1;
    memcpy(&w0, ip, 8);
    memcpy(&w1, ip + 8, 8);
    memcpy(&m0, mask, 8);
    memcpy(&m1, mask + 8, 8);
    uint64_t seed = hash_mix_word(0x5bd1e995u, (uint64_t)p->ip_version << 32 | (p->ip_header_len + p->ip_payload_len));
    seed = hash_mix_word(hash_mix_word(seed, w0 & m0), w1 & m1);
    k->prefix_hash = hash_mix_bytes(seed, ip + 16, h - 16);
    /* A verified L4 checksum in the prefix already stands for every byte
     * after it; only without one must the rest be hashed (most frames of a
     * capture taken off the wire skip the work). */
    bool payload_vouched = p->l4_checksum == CSUM_GOOD && p->ip_payload_caplen == p->ip_payload_len;
    k->full_hash = n > h && !payload_vouched ? hash_mix_bytes(k->prefix_hash, ip + h, n - h)
                                             : k->prefix_hash;
    k->captured = (uint32_t)n;
    k->length = p->ip_header_len + p->ip_payload_len;
    /* A direction: the conversation's hash, turned unless the source is
     * the lower end; the reverse direction's is then found without a
     * second hash (for ends that are equal both ways are the same). */
    struct tuple_hash t = p->tuple_hashed ? p->tuple
                                          : hash_mix_tuple(p->proto, &p->src, p->sport, &p->dst, p->dport);
    const uint64_t turned = 0x8E5F5D3C2B1A0F01ull;
    k->dir = t.hash ^ (t.order <= 0 ? 0 : turned);
    k->rdir = t.hash ^ (t.order >= 0 ? 0 : turned);
    k->frame = p->frame;
    k->ts = p->ts_usec;
    return true;
}

/* A stack sends the very same bytes twice within the window only when the
 * peer asks for it (a RST answering each of a burst of segments: id 0 over
 * IPv4, no id over IPv6; a fast retransmission after duplicate ACKs over
 * IPv6): the peer's packet then lies between the two. So a packet of the
 * reverse direction (not itself a duplicate) after a copy rules that copy out
 * as the original of a later duplicate. */
uint32_t capdup_check(struct capdup *d, const struct packet *p)
{
    struct capdup_entry k;
    return capdup_key(p, &k) ? capdup_check_key(d, &k) : 0;
}

/* The low 32 bits of the prefix hash against every entry's in one pass,
 * four at a time: nearly always no entry can be a copy, and the ring is not
 * walked. (Unused entries hold tag 0: a false "maybe" only costs the walk.) */
static bool any_tag(const uint32_t tags[ANALYSIS_DUP_FRAMES], uint32_t tag)
{
#ifdef __SSE2__
    _Static_assert(ANALYSIS_DUP_FRAMES % 4 == 0, "whole 128-bit loads");
    const __m128i want = _mm_set1_epi32((int)tag);
    __m128i hit = _mm_setzero_si128();
    for (size_t i = 0; i < ANALYSIS_DUP_FRAMES; i += 4)
        hit = _mm_or_si128(hit, _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(const void *)(tags + i)), want));
    return _mm_movemask_epi8(hit) != 0;
#else
    uint32_t maybe = 0;
    for (size_t i = 0; i < ANALYSIS_DUP_FRAMES; i++)
        maybe |= -(uint32_t)(tags[i] == tag);
    return maybe != 0;
#endif
}

uint32_t capdup_check_key(struct capdup *d, const struct capdup_entry *key)
{
    const struct capdup_entry k = *key;
    uint32_t tag = (uint32_t)k.prefix_hash;
    bool maybe = any_tag(d->tag, tag);
    for (size_t i = 0; maybe && i < d->used; i++) {
        if (d->ring[i].prefix_hash != k.prefix_hash)
            continue;
        const struct capdup_entry *e = &d->ring[i];
        int64_t dt = k.ts - e->ts;
        if (dt < 0)
            dt = -dt;
        if (e->length != k.length || dt > ANALYSIS_DUP_WINDOW_USEC)
            continue;
        /* Different snapshot cuts behind different link headers: the
         * common prefix decides; otherwise every byte. */
        if (!(e->captured == k.captured ? e->full_hash == k.full_hash
                                        : e->captured >= CAPDUP_PREFIX && k.captured >= CAPDUP_PREFIX))
            continue;
        /* Answered: a packet of the reverse direction (not itself a
         * duplicate: those are not kept) came after the copy. */
        bool answered = false;
        for (size_t j = (i + 1) % ANALYSIS_DUP_FRAMES; j != d->next && !answered;
             j = (j + 1) % ANALYSIS_DUP_FRAMES)
            answered = d->ring[j].dir == e->rdir;
        if (!answered)
            return e->frame;
    }
    d->ring[d->next] = k;
    d->tag[d->next] = tag;
    d->next = (d->next + 1) % ANALYSIS_DUP_FRAMES;
    if (d->used < ANALYSIS_DUP_FRAMES)
        d->used++;
    return 0;
}

bool capdup_note(struct capdup *d, uint32_t frame, uint32_t original)
{
    void *notes = array_reserve(d->notes, &d->notes_cap, d->nnotes + 1, sizeof *d->notes, 16);
    if (!notes)
        return false;
    d->notes = notes;
    d->notes[d->nnotes++] = (struct capdup_note){ frame, original };
    return true;
}
