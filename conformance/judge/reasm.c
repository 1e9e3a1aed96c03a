/* reasm: fragments are placed by offset into a per-datagram buffer; an
 * 8-byte-block bitmap (fragment offsets are multiples of 8) records what
 * arrived. */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

#define BLOCKS ((REASM_MAX_DATAGRAM + 7) / 8)

struct pending {
    bool used;
    uint8_t family, proto;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint32_t total;          /* 0 until the last fragment (MF clear) arrives */
    uint32_t last_frame;
    int64_t last_ts;
    uint8_t *buf;            /* REASM_MAX_DATAGRAM bytes, then `have` */
    uint8_t *have;           /* HAVE_BYTES, in buf's block: made with it, for a slot in use */
};
#define HAVE_BYTES ((BLOCKS + 7) / 8)

struct reasm {
    size_t max_pending;
    int64_t timeout_usec;
    struct pending *slots;
    uint8_t *done;           /* the datagram handed out by the last REASM_DONE */
    uint64_t nomem;          /* fragments given up: no memory for their datagram */
};

struct reasm *reasm_create(size_t max_pending, int64_t timeout_usec)
{
    struct reasm *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->max_pending = max_pending ? max_pending : 1;
    r->timeout_usec = timeout_usec;
    r->slots = calloc(r->max_pending, sizeof *r->slots);
    if (!r->slots) {
        free(r);
        return NULL;
    }
    return r;
}

static void release(struct pending *e)
{
    free(e->buf);
    memset(e, 0, sizeof *e);
}

void reasm_destroy(struct reasm *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->max_pending; i++)
        release(&r->slots[i]);
    free(r->slots);
    free(r->done);
    free(r);
}

size_t reasm_pending(const struct reasm *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->max_pending; i++)
        n += r->slots[i].used;
    return n;
}

uint64_t reasm_nomem(const struct reasm *r)
{
    return r->nomem;
}

static bool same_datagram(const struct pending *e, const struct packet *p)
{
    size_t alen = p->src.family == 4 ? 4 : 16;
    return e->used && e->family == p->src.family && e->proto == p->proto && e->id == p->frag_id &&
           memcmp(e->src, p->src.bytes, alen) == 0 && memcmp(e->dst, p->dst.bytes, alen) == 0;
}

/* The slot for p's datagram: existing, free, or the oldest one given up. */
static struct pending *slot_for(struct reasm *r, const struct packet *p, struct frame_list *failed)
{
    struct pending *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < r->max_pending; i++) {
        struct pending *e = &r->slots[i];
        if (same_datagram(e, p))
            return e;
        if (!e->used && !free_slot)
            free_slot = e;
        if (e->used && (!oldest || e->last_ts < oldest->last_ts))
            oldest = e;
    }
    if (!free_slot) {
        frame_list_add(failed, oldest->last_frame);
        release(oldest);
        free_slot = oldest;
    }
    free_slot->buf = malloc(REASM_MAX_DATAGRAM + HAVE_BYTES);
    if (!free_slot->buf) {
        r->nomem++;
        return NULL;
    }
    free_slot->have = free_slot->buf + REASM_MAX_DATAGRAM;
    memset(free_slot->have, 0, HAVE_BYTES);
    free_slot->used = true;
    free_slot->family = p->src.family;
    free_slot->proto = p->proto;
    memcpy(free_slot->src, p->src.bytes, sizeof free_slot->src);
    memcpy(free_slot->dst, p->dst.bytes, sizeof free_slot->dst);
    free_slot->id = p->frag_id;
    return free_slot;
}

static bool bit(const uint8_t *map, size_t i) { return map[i / 8] >> (i % 8) & 1; }

static bool complete(const struct pending *e)
{
    if (!e->total)
        return false;
    for (size_t b = 0; b < (e->total + 7) / 8; b++)
        if (!bit(e->have, b))
            return false;
    return true;
}

enum reasm_result reasm_add(struct reasm *r, const struct packet *p, const uint8_t **out,
                            uint32_t *out_len, struct frame_list *failed)
{
    free(r->done);
    r->done = NULL;
    *out = NULL;
    *out_len = 0;
    struct pending *e = slot_for(r, p, failed);
    if (!e) {
        frame_list_add(failed, p->frame);
        return REASM_FAILED;
    }
    e->last_frame = p->frame;
    e->last_ts = p->ts_usec;
    uint32_t off = p->frag_offset, len = p->ip_payload_caplen;
    bool bad = len != p->ip_payload_len          /* fragment itself cut by snaplen */
            || off + len > REASM_MAX_DATAGRAM
            || (p->more_fragments && len % 8 != 0)
            || (!p->more_fragments && e->total && e->total != off + len);
    for (uint32_t b = off / 8; !bad && b < (off + len + 7) / 8; b++) {
        if (!bit(e->have, b))
            continue;
        /* Overlap: tolerated only as an exact duplicate of what we hold. */
        uint32_t from = b * 8 > off ? b * 8 : off;
        uint32_t to = (b + 1) * 8 < off + len ? (b + 1) * 8 : off + len;
        if (memcmp(e->buf + from, p->ip_payload + (from - off), to - from) != 0)
            bad = true;
    }
    if (bad) {
        frame_list_add(failed, p->frame);
        release(e);
        return REASM_FAILED;
    }
    if (len) /* an empty fragment may have no payload pointer at all */
        memcpy(e->buf + off, p->ip_payload, len);
    for (uint32_t b = off / 8; b < (off + len + 7) / 8; b++)
        e->have[b / 8] |= (uint8_t)(1u << (b % 8));
    if (!p->more_fragments)
        e->total = off + len;
    if (!complete(e))
        return REASM_PENDING;
    r->done = e->buf;
    *out = e->buf;
    *out_len = e->total;
    e->buf = NULL;
    release(e);
    return REASM_DONE;
}

size_t reasm_expire(struct reasm *r, int64_t now_usec, struct frame_list *failed)
{
    size_t n = 0;
    for (size_t i = 0; i < r->max_pending; i++) {
        struct pending *e = &r->slots[i];
        if (e->used && (now_usec == INT64_MAX || e->last_ts + r->timeout_usec < now_usec)) {
            frame_list_add(failed, e->last_frame);
            release(e);
            n++;
        }
    }
    return n;
}
