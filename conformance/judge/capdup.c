/* capdup: capture-duplicate detection over a ring of recent IP packets'
 * hashes. See capdup.h, and analysis.h for what counts as a duplicate. */
#include "capdup.h"

#include <stdlib.h>
#include <string.h>

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

static uint64_t dir_hash(const struct ip_addr *src, uint16_t sport, const struct ip_addr *dst,
                         uint16_t dport, uint8_t proto)
{
    return hash_mix_addr_port(hash_mix_addr_port(hash_mix_word(proto, 0x2545F491u), src, sport), dst, dport);
}

/* Hashes the IP packet's captured bytes with the fields a forwarding hop or
 * a second capture point may change zeroed: TTL / hop limit and the IPv4
 * header checksum. */
bool capdup_key(const struct packet *p, struct capdup_entry *k)
{
    if (!p->ip_payload || p->ip_header_len < WC_IPV4_MIN_HEADER_LEN)
        return false;
    const uint8_t *ip = p->ip_payload - p->ip_header_len;
    size_t n = (size_t)p->ip_header_len + p->ip_payload_caplen;
    uint8_t head[CAPDUP_PREFIX];
    size_t h = n < CAPDUP_PREFIX ? n : CAPDUP_PREFIX;
    memcpy(head, ip, h);
    if (p->ip_version == 4) {
        head[8] = 0;                  /* TTL */
        head[10] = head[11] = 0;      /* header checksum */
    } else {
        head[7] = 0;                  /* hop limit */
    }
    uint64_t seed = hash_mix_word(0x5bd1e995u, (uint64_t)p->ip_version << 32 | (p->ip_header_len + p->ip_payload_len));
    k->prefix_hash = hash_mix_bytes(seed, head, h);
    /* A verified L4 checksum in the prefix already stands for every byte
     * after it; only without one must the rest be hashed (most frames of a
     * capture taken off the wire skip the work). */
    bool payload_vouched = p->l4_checksum == CSUM_GOOD && p->ip_payload_caplen == p->ip_payload_len;
    k->full_hash = n > h && !payload_vouched ? hash_mix_bytes(k->prefix_hash, ip + h, n - h)
                                             : k->prefix_hash;
    k->captured = (uint32_t)n;
    k->length = p->ip_header_len + p->ip_payload_len;
    k->dir = dir_hash(&p->src, p->sport, &p->dst, p->dport, p->proto);
    k->rdir = dir_hash(&p->dst, p->dport, &p->src, p->sport, p->proto);
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

uint32_t capdup_check_key(struct capdup *d, const struct capdup_entry *key)
{
    const struct capdup_entry k = *key;
    /* The low 32 bits of the prefix hash against every entry's in one pass
     * (a loop without an exit, on 32-bit lanes, vectorizes): nearly always
     * no entry can be a copy, and the ring is not walked. */
    uint32_t tag = (uint32_t)k.prefix_hash, maybe = 0;
    for (size_t i = 0; i < ANALYSIS_DUP_FRAMES; i++)
        maybe |= -(uint32_t)(d->tag[i] == tag);
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
