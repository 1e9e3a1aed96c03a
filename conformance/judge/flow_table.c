/* flow_table: a chained hash table of the open flows plus their deadlines
 * in a heap. See flow_table.h. */
#include "flow_table.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "array_reserve.h"
#include "hash_mix.h"

#define INITIAL_SLOTS 64 /* grown as needed: a small capture scans few empty slots */

bool flow_table_init(struct flow_table *t, const struct flow_timeouts *timeouts)
{
    memset(t, 0, sizeof *t);
    t->timeouts = *timeouts;
    deadline_heap_init(&t->deadlines);
    deadline_heap_init(&t->lingering);
    t->nslots = INITIAL_SLOTS;
    t->tags = calloc(t->nslots, sizeof *t->tags);
    t->entries = malloc(t->nslots * sizeof *t->entries);
    return t->tags && t->entries;
}

/* ---- packing ------------------------------------------------------------------ */

/* Zero words left out (64 bits: most of a tracker is zero counts and empty
 * frame lists): a bitmap of the nonzero words, one bit per word, then those
 * words in order. Both directions cost a pass over the bitmap's set bits,
 * not a branch per word; 64-bit words take half the passes 32-bit ones
 * would (a closed time-server connection: 46 of them against 75) for a
 * packed form about 10% larger. */
#define PACK_WORDS_MAX (sizeof(union flow_state) / 8)
#define PACK_BITMAP_BYTES(words) (((words) + 63) / 64 * 8)

/* The even bits of x (bit 2i -> bit i), 16 of them. */
static inline unsigned even_bits16(unsigned x)
{
    x &= 0x5555u;
    x = (x | x >> 1) & 0x3333u;
    x = (x | x >> 2) & 0x0f0fu;
    return (x | x >> 4) & 0x00ffu;
}

#ifdef __SSE2__
/* Bit i: word i of the 8 at src is not zero. */
static inline unsigned nonzero8(const uint8_t *src)
{
    const __m128i zero = _mm_setzero_si128();
    const __m128i *at = (const __m128i *)(const void *)src;
    __m128i z0 = _mm_cmpeq_epi32(_mm_loadu_si128(at), zero);
    __m128i z1 = _mm_cmpeq_epi32(_mm_loadu_si128(at + 1), zero);
    __m128i z2 = _mm_cmpeq_epi32(_mm_loadu_si128(at + 2), zero);
    __m128i z3 = _mm_cmpeq_epi32(_mm_loadu_si128(at + 3), zero);
    /* -1 or 0 per 32-bit half, narrowed to a byte each, in order. */
    __m128i z = _mm_packs_epi16(_mm_packs_epi32(z0, z1), _mm_packs_epi32(z2, z3));
    unsigned nonzero_halves = ~(unsigned)_mm_movemask_epi8(z) & 0xffffu;
    return even_bits16(nonzero_halves | nonzero_halves >> 1);
}
#endif

/* Bit k of nz: word k of src is not zero. */
static void nonzero_words(const uint8_t *src, size_t words, uint64_t *nz)
{
    size_t k = 0;
    memset(nz, 0, PACK_BITMAP_BYTES(words));
#ifdef __SSE2__
    for (; k + 8 <= words; k += 8)
        nz[k / 64] |= (uint64_t)nonzero8(src + 8 * k) << (k % 64);
    if (k < words && words >= 8) {
        /* The last 8 words, overlapping the ones above (their bits come
         * out the same twice): no word-by-word tail. */
        size_t last = words - 8;
        uint64_t bits = nonzero8(src + 8 * last);
        nz[last / 64] |= bits << (last % 64);
        if (last % 64 > 56)
            nz[last / 64 + 1] |= bits >> (64 - last % 64);
        k = words;
    }
#endif
    for (; k < words; k++) {
        uint64_t w;
        memcpy(&w, src + 8 * k, 8);
        nz[k / 64] |= (uint64_t)(w != 0) << (k % 64);
    }
}

/* __builtin_popcountll is a call to libgcc (__popcountdi2) unless the
 * target has POPCNT, which the default build does not ask for: the same
 * count inline then (a dozen instructions, no table). */
static inline unsigned count_bits(uint64_t x)
{
#ifdef __POPCNT__
    return (unsigned)__builtin_popcountll(x);
#else
    x -= x >> 1 & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + (x >> 2 & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* The packed size of a tracker of `words` words with bitmap nz. */
static size_t packed_size(const uint64_t *nz, size_t words)
{
    size_t nonzero = 0;
    for (size_t b = 0; b < PACK_BITMAP_BYTES(words) / 8; b++)
        nonzero += count_bits(nz[b]);
    return PACK_BITMAP_BYTES(words) + 8 * nonzero;
}

/* Writes the packed form of src (`words` words, bitmap nz) to dst. */
static void pack_words(const uint8_t *src, size_t words, const uint64_t *nz, uint8_t *dst)
{
    size_t o = PACK_BITMAP_BYTES(words);
    memcpy(dst, nz, o);
    for (size_t b = 0; b < PACK_BITMAP_BYTES(words) / 8; b++) {
        for (uint64_t bits = nz[b]; bits; bits &= bits - 1) {
            size_t k = 64 * b + (size_t)__builtin_ctzll(bits);
            memcpy(dst + o, src + 8 * k, 8);
            o += 8;
        }
    }
}

/* Zeros everywhere first (one memset of the whole), then the nonzero
 * words where the bitmap puts them; the sizes are checked once, before. */
static bool unpack_words(const uint8_t *src, size_t len, uint8_t *dst, size_t n)
{
    size_t words = n / 8, i = PACK_BITMAP_BYTES(words);
    uint64_t nz[PACK_BITMAP_BYTES(PACK_WORDS_MAX) / 8];
    if (len < i || words > PACK_WORDS_MAX)
        return false;
    memcpy(nz, src, i);
    if (words % 64 && nz[words / 64] >> (words % 64))
        return false;                 /* a word past the end */
    if (packed_size(nz, words) != len)
        return false;
    memset(dst, 0, n);
    for (size_t b = 0; b < PACK_BITMAP_BYTES(words) / 8; b++) {
        for (uint64_t bits = nz[b]; bits; bits &= bits - 1) {
            memcpy(dst + 8 * (64 * b + (size_t)__builtin_ctzll(bits)), src + i, 8);
            i += 8;
        }
    }
    return true;
}

static int64_t flow_deadline(const struct flow_timeouts *to, const struct flow_entry *e);

/* A tracker for a new flow, a spare one if there is one; not zeroed:
 * tcp_flow_init and udp_flow_init, which the caller runs next, set it
 * whole. */
static union flow_state *state_new(struct flow_table *t)
{
    if (!t->nspare)
        return malloc(sizeof(union flow_state));
    return t->spare[--t->nspare];
}

/* A tracker no longer in use (owning nothing: its copies were freed). */
static void state_release(struct flow_table *t, union flow_state *u)
{
    if (t->nspare < FLOW_TABLE_SPARE)
        t->spare[t->nspare++] = u;
    else
        free(u);
}

/* Packs a flow that owns no payload copy; left as it is when there is no
 * memory for it. Its noted frames (flow.h: struct noted) stay where they
 * are: the packed words keep the pointer to them. */
static void pack(struct flow_table *t, struct flow_entry *e)
{
    const struct stream_copy *c0, *c1;
    const void *state;
    size_t size;
    if (e->proto == FLOW_TCP) {
        c0 = &e->u->tcp.side[0].copy;
        c1 = &e->u->tcp.side[1].copy;
        state = &e->u->tcp;
        size = sizeof e->u->tcp;
    } else {
        c0 = &e->u->udp.side[0].copy;
        c1 = &e->u->udp.side[1].copy;
        state = &e->u->udp;
        size = sizeof e->u->udp;
    }
    if (e->packed || c0->bytes || c1->bytes || c0->have || c1->have)
        return;
    _Static_assert(sizeof(struct tcp_flow) % 8 == 0 && sizeof(struct udp_flow) % 8 == 0,
                   "packed in 64-bit words");
    uint64_t nz[PACK_BITMAP_BYTES(PACK_WORDS_MAX) / 8];
    nonzero_words(state, size / 8, nz);
    size_t n = packed_size(nz, size / 8);
    uint8_t *p = malloc(n);
    if (!p)
        return;
    pack_words(state, size / 8, nz, p);
    e->packed_deadline = flow_deadline(&t->timeouts, e);
    e->packed_closed = e->proto == FLOW_TCP && e->u->tcp.closed;
    e->packed = p;
    e->packed_len = (uint32_t)n;
    state_release(t, e->u);
    e->u = NULL;
}

/* The list a flow is in through one of its links (hot). */
static struct flow_link *link_of(struct flow_entry *e, size_t link)
{
    return (struct flow_link *)((char *)e + link);
}

static void list_append(struct flow_list *l, struct flow_entry *e, size_t link)
{
    link_of(e, link)->prev = l->last;
    link_of(e, link)->next = NULL;
    if (l->last)
        link_of(l->last, link)->next = e;
    else
        l->first = e;
    l->last = e;
}

static void list_unlink(struct flow_list *l, struct flow_entry *e, size_t link)
{
    struct flow_link *at = link_of(e, link);
    if (at->prev)
        link_of(at->prev, link)->next = at->next;
    else
        l->first = at->next;
    if (at->next)
        link_of(at->next, link)->prev = at->prev;
    else
        l->last = at->prev;
    at->prev = at->next = NULL;
}

static void hot_unlink(struct flow_table *t, struct flow_entry *e)
{
    if (!e->is_hot)
        return;
    list_unlink(&t->hot, e, offsetof(struct flow_entry, hot));
    e->is_hot = false;
    t->hot_count--;
}

/* e was just touched: last in the hot list; the least recently touched
 * beyond FLOW_TABLE_HOT leave it, packed. */
static void hot_touch(struct flow_table *t, struct flow_entry *e)
{
    if (e->is_hot && t->hot.last == e)
        return;
    hot_unlink(t, e);
    e->is_hot = true;
    list_append(&t->hot, e, offsetof(struct flow_entry, hot));
    t->hot_count++;
    while (t->hot_count > FLOW_TABLE_HOT) {
        struct flow_entry *cold = t->hot.first;
        hot_unlink(t, cold);
        pack(t, cold);
    }
}

bool flow_entry_tcp_closed(const struct flow_entry *e)
{
    return e->packed ? e->packed_closed : e->u->tcp.closed;
}

bool flow_table_unpack(struct flow_table *t, struct flow_entry *e)
{
    if (e->u) /* not packed: read without touching the entry's later lines */
        return true;
    union flow_state *u = t->nspare ? t->spare[--t->nspare] : malloc(sizeof *u);
    if (!u)
        return false;
    size_t size = e->proto == FLOW_TCP ? sizeof u->tcp : sizeof u->udp;
    if (!unpack_words(e->packed, e->packed_len, (uint8_t *)u, size)) {
        state_release(t, u); /* cannot happen: we wrote it */
        return false;
    }
    free(e->packed);
    e->packed = NULL;
    e->packed_len = 0;
    e->u = u;
    return true;
}

void flow_table_prefetch(const struct flow_entry *e)
{
    const char *p = (const char *)e->packed;
    __builtin_prefetch((const char *)e + 64);
    __builtin_prefetch((const char *)e + 128);
    for (uint32_t at = 0; p && at < e->packed_len; at += 64)
        __builtin_prefetch(p + at);
}

/* What a packed flow owns besides its bytes: its noted frames, freed
 * through a copy unpacked on the stack. */
static void free_packed(struct flow_entry *e)
{
    union flow_state u;
    size_t size = e->proto == FLOW_TCP ? sizeof u.tcp : sizeof u.udp;
    if (unpack_words(e->packed, e->packed_len, (uint8_t *)&u, size)) {
        if (e->proto == FLOW_TCP)
            tcp_flow_free(&u.tcp);
        else
            udp_flow_free(&u.udp);
    }
    free(e->packed);
}

void flow_table_release(struct flow_table *t, struct flow_entry *e)
{
    if (e->packed) {
        free_packed(e);
    } else if (e->u) {
        if (e->proto == FLOW_TCP)
            tcp_flow_free(&e->u->tcp);
        else
            udp_flow_free(&e->u->udp);
        state_release(t, e->u);
    }
    free(e->offloaded);
    free(e);
}

void flow_table_free(struct flow_table *t)
{
    for (size_t i = 0; t->tags && i < t->nslots; i++)
        if (t->tags[i])
            flow_table_release(t, t->entries[i]);
    while (t->nspare)
        free(t->spare[--t->nspare]);
    free(t->tags);
    free(t->entries);
    deadline_heap_free(&t->deadlines);
    deadline_heap_free(&t->lingering);
    free(t->due);
    memset(t, 0, sizeof *t);
}

/* ---- keys ------------------------------------------------------------------ */

/* Equal endpoints (the words hash_mix_end_cmp orders by). */
static bool endpoint_same(const struct endpoint *x, const struct endpoint *y)
{
    uint64_t x0, x1, y0, y1;
    hash_mix_addr_words(&x->ip, &x0, &x1);
    hash_mix_addr_words(&y->ip, &y0, &y1);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0 && x->ip.family == y->ip.family && x->port == y->port;
}

/* The IP protocol number of a flow's packets: the key's hash is their
 * conversation's (struct packet.tuple), which the analysis has at hand. */
static uint8_t ip_proto_of(enum flow_proto proto)
{
    return proto == FLOW_UDP ? WC_IPPROTO_UDP : WC_IPPROTO_TCP;
}

/* 32 bits of the key's hash, never 0 (an empty slot). */
static uint32_t tag_of(uint64_t hash)
{
    uint32_t tag = (uint32_t)hash;
    return tag ? tag : 1;
}

struct tuple_hash flow_table_hash(enum flow_proto proto, const struct endpoint *x,
                                  const struct endpoint *y)
{
    return hash_mix_tuple(ip_proto_of(proto), &x->ip, x->port, &y->ip, y->port);
}

struct flow_entry *flow_table_find(struct flow_table *t, enum flow_proto proto,
                                   const struct endpoint *x, const struct endpoint *y,
                                   struct tuple_hash h)
{
    if (h.order > 0) {
        const struct endpoint *swap = x;
        x = y;
        y = swap;
    }
    uint32_t tag = tag_of(h.hash);
    size_t mask = t->nslots - 1;
    for (size_t i = tag & mask; t->tags[i]; i = (i + 1) & mask) {
        if (t->tags[i] != tag)
            continue;
        struct flow_entry *e = t->entries[i];
        if (e->proto == proto && endpoint_same(&e->lo, x) && endpoint_same(&e->hi, y))
            return flow_table_unpack(t, e) ? e : NULL;
    }
    return NULL;
}

struct flow_entry *flow_table_lookup(struct flow_table *t, enum flow_proto proto,
                                     const struct endpoint *x, const struct endpoint *y)
{
    return flow_table_find(t, proto, x, y, flow_table_hash(proto, x, y));
}

/* ---- insert and remove ---------------------------------------------------------- */

/* Puts e (tag `tag`) in the first empty slot from its home on (there is
 * one: the table is never full). */
static void slot_put(uint32_t *tags, struct flow_entry **entries, size_t nslots, uint32_t tag,
                     struct flow_entry *e)
{
    size_t i = tag & (nslots - 1);
    while (tags[i])
        i = (i + 1) & (nslots - 1);
    tags[i] = tag;
    entries[i] = e;
}

/* Twice the slots, each flow placed again by its tag (no entry is read).
 * false on out of memory: the table stays as it is. */
static bool grow_slots(struct flow_table *t)
{
    size_t n = t->nslots * 2;
    if (n - 1 > UINT32_MAX)
        return false;             /* a tag's bits name the home slot */
    uint32_t *tags = calloc(n, sizeof *tags);
    struct flow_entry **entries = malloc(n * sizeof *entries);
    if (!tags || !entries) {
        free(tags);
        free(entries);
        return false;
    }
    for (size_t i = 0; i < t->nslots; i++)
        if (t->tags[i])
            slot_put(tags, entries, n, t->tags[i], t->entries[i]);
    free(t->tags);
    free(t->entries);
    t->tags = tags;
    t->entries = entries;
    t->nslots = n;
    return true;
}

/* Empties e's slot, then moves back the flows after it that a probe from
 * their home would no longer reach past the hole (backward shift: no
 * tombstones, so a probe ends at the first empty slot). */
static void slot_take(struct flow_table *t, const struct flow_entry *e)
{
    size_t mask = t->nslots - 1, i = e->tag & mask;
    for (; !t->tags[i] || t->entries[i] != e; i = (i + 1) & mask)
        if (!t->tags[i])
            return; /* not in the table */
    for (size_t j = (i + 1) & mask; t->tags[j]; j = (j + 1) & mask) {
        size_t home = t->tags[j] & mask;
        /* The flow at j stays unless its home is cyclically outside (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->tags[i] = t->tags[j];
            t->entries[i] = t->entries[j];
            i = j;
        }
    }
    t->tags[i] = 0;
}

/* take_due lists the flows due in t->due: keep room for all open flows, so
 * that it never has to allocate (or fail) halfway through. */
static bool reserve_due(struct flow_table *t, size_t flows)
{
    void *due = array_reserve(t->due, &t->due_cap, flows, sizeof *t->due, 64);
    if (due)
        t->due = due;
    return due != NULL;
}

struct flow_entry *flow_table_insert(struct flow_table *t, enum flow_proto proto,
                                     const struct endpoint *x, const struct endpoint *y)
{
    return flow_table_insert_hashed(t, proto, x, y, flow_table_hash(proto, x, y));
}

struct flow_entry *flow_table_insert_hashed(struct flow_table *t, enum flow_proto proto,
                                            const struct endpoint *x, const struct endpoint *y,
                                            struct tuple_hash h)
{
    /* Out of memory to grow, a fuller table still works while a slot stays empty. */
    if (4 * (t->count + 1) > 3 * t->nslots && !grow_slots(t) && t->count + 2 > t->nslots)
        return NULL;
    if (!reserve_due(t, t->count + 1) || !deadline_heap_reserve(&t->lingering, t->count + 1))
        return NULL;
    struct flow_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->u = state_new(t);
    if (!e->u || !deadline_heap_push(&t->deadlines, &e->due, INT64_MAX)) {
        if (e->u)
            state_release(t, e->u);
        free(e);
        return NULL;
    }
    e->created = t->created++;
    e->proto = proto;
    e->lo = h.order > 0 ? *y : *x;
    e->hi = h.order > 0 ? *x : *y;
    e->tag = tag_of(h.hash);
    slot_put(t->tags, t->entries, t->nslots, e->tag, e);
    t->count++;
    if (t->count > t->max_count)
        t->max_count = t->count;
    return e;
}

/* A TCP flow that just closed is queued by the frame its lingering in
 * frames ends: closed_linger_frames after the frame that closed it, and
 * twice that after its first frame (a short connection that closed before
 * an older one is not judged ahead of it: see analysis.h). Cannot fail:
 * insert reserved the room. */
static void linger_append(struct flow_table *t, struct flow_entry *e)
{
    uint64_t linger = t->timeouts.closed_linger_frames;
    if (!linger)
        return;
    uint64_t after_close = e->u->tcp.last_frame + linger, after_first = e->u->tcp.first_frame + 2 * linger;
    deadline_heap_push(&t->lingering, &e->linger_due,
                       (int64_t)(after_close > after_first ? after_close : after_first));
}

void flow_table_remove(struct flow_table *t, struct flow_entry *e)
{
    slot_take(t, e);
    deadline_heap_remove(&t->deadlines, &e->due);
    hot_unlink(t, e);
    deadline_heap_remove(&t->lingering, &e->linger_due); /* not queued: no-op */
    t->count--;
}

bool flow_entry_note_offloaded(struct flow_entry *e, uint32_t frame)
{
    void *frames = array_reserve(e->offloaded, &e->offloaded_cap, e->noffloaded + 1,
                                 sizeof *e->offloaded, 8);
    if (!frames)
        return false;
    e->offloaded = frames;
    e->offloaded[e->noffloaded++] = frame;
    return true;
}

/* ---- deadlines ------------------------------------------------------------------ */

/* ts + span, saturated: timestamps stay within +-ANALYSIS_TS_LIMIT, but the
 * timeouts are the caller's to choose. */
static int64_t add_saturated(int64_t ts, int64_t span)
{
    if (span > 0 && ts > INT64_MAX - span)
        return INT64_MAX;
    if (span < 0 && ts < INT64_MIN - span)
        return INT64_MIN;
    return ts + span;
}

/* The capture time the flow is judged after (once a later one is seen):
 * when it has been idle too long, or a closed TCP flow has lingered long
 * enough for late packets. */
static int64_t flow_deadline(const struct flow_timeouts *to, const struct flow_entry *e)
{
    if (e->packed)
        return e->packed_deadline;
    if (e->proto == FLOW_UDP)
        return add_saturated(e->u->udp.last_ts, to->udp_idle_usec);
    const struct tcp_flow *f = &e->u->tcp;
    int64_t idle = add_saturated(f->last_ts, to->tcp_idle_usec);
    if (!f->closed)
        return idle;
    int64_t linger = add_saturated(f->closed_ts, to->closed_linger_usec);
    return linger < idle ? linger : idle;
}

/* Most packets move the true deadline later, and take_due finds that out
 * when the queued one passes (once per idle timeout at most). */
void flow_table_touched(struct flow_table *t, struct flow_entry *e)
{
    int64_t deadline = flow_deadline(&t->timeouts, e);
    if (deadline < e->due.at)
        deadline_heap_move(&t->deadlines, &e->due, deadline);
    /* A closed TCP flow only waits for late packets: packed at once. */
    if (e->proto == FLOW_TCP && e->u->tcp.closed) {
        if (!deadline_node_queued(&e->linger_due))
            linger_append(t, e); /* a no-op with closed_linger_frames 0 */
        hot_unlink(t, e);
        pack(t, e);
    } else {
        hot_touch(t, e);
    }
}

static struct flow_entry *entry_of(struct deadline_node *n)
{
    return (struct flow_entry *)((char *)n - offsetof(struct flow_entry, due));
}

static struct flow_entry *entry_of_linger(struct deadline_node *n)
{
    return (struct flow_entry *)((char *)n - offsetof(struct flow_entry, linger_due));
}

static int cmp_created(const void *x, const void *y)
{
    const struct flow_entry *a = *(struct flow_entry *const *)x, *b = *(struct flow_entry *const *)y;
    return a->created < b->created ? -1 : a->created > b->created;
}

/* The flows due come nearly in creation order (short connections close a
 * few apart): an insertion sort, which hands over to qsort once it has
 * shifted more than a few places per flow on average. */
static void sort_by_creation(struct flow_entry **v, size_t n)
{
    size_t shifted = 0;
    for (size_t i = 1; i < n; i++) {
        struct flow_entry *e = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1]->created > e->created) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = e;
        shifted += i - j;
        if (shifted > 32 * n) {
            qsort(v, n, sizeof *v, cmp_created);
            return;
        }
    }
}

struct flow_entry *flow_table_oldest_idle(const struct flow_table *t)
{
    struct deadline_node *top = deadline_heap_top((struct deadline_heap *)&t->deadlines);
    return top ? entry_of(top) : NULL;
}

/* Closed flows whose frames of linger are over (linger_append). One taken
 * by time already (not queued there any more) is left to that. */
static size_t take_lingered(struct flow_table *t, uint32_t frame, size_t n)
{
    struct deadline_node *top;
    while ((top = deadline_heap_top(&t->lingering)) && top->at < (int64_t)frame) {
        struct flow_entry *e = entry_of_linger(deadline_heap_pop(&t->lingering));
        if (deadline_node_queued(&e->due)) {
            deadline_heap_remove(&t->deadlines, &e->due);
            t->due[n++] = e;
        }
    }
    return n;
}

/* A flow whose queued deadline passed but whose true one has not is queued
 * again at the true one. Sorted by creation: the order a walk over all open
 * flows would find them in, so reports keep their order. */
size_t flow_table_take_due(struct flow_table *t, int64_t now, uint32_t frame)
{
    size_t n = 0;
    struct deadline_node *top;
    while ((top = deadline_heap_top(&t->deadlines)) && top->at < now) {
        struct flow_entry *e = entry_of(top);
        int64_t deadline = flow_deadline(&t->timeouts, e);
        if (deadline < now)
            t->due[n++] = entry_of(deadline_heap_pop(&t->deadlines));
        else
            deadline_heap_move(&t->deadlines, top, deadline);
    }
    n = take_lingered(t, frame, n);
    if (n > 1) /* t->due is still NULL before the first flow */
        sort_by_creation(t->due, n);
    return n;
}

struct flow_entry *flow_table_each(const struct flow_table *t, size_t *slot)
{
    for (; *slot < t->nslots; ++*slot)
        if (t->tags[*slot])
            return t->entries[(*slot)++];
    return NULL;
}

/* v[0..n) by creation, each entry read once: (creation, entry) pairs
 * sorted a byte of the creation at a time from the lowest (a counting
 * pass per byte, none for a byte all share), which the slots' hash order
 * needs (qsort through a callback took 2.7k instructions a flow). false
 * on out of memory (v unchanged). */
static bool radix_by_creation(struct flow_entry **v, size_t n)
{
    struct keyed { uint64_t created; struct flow_entry *e; } *a = malloc(2 * n * sizeof *a);
    if (!a)
        return false;
    struct keyed *from = a, *to = a + n;
    uint64_t all_or = 0, all_and = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        from[i] = (struct keyed){ v[i]->created, v[i] };
        all_or |= v[i]->created;
        all_and &= v[i]->created;
    }
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if ((((all_or ^ all_and) >> shift) & 0xff) == 0)
            continue; /* every key has the same byte here */
        size_t at[257] = {0};
        for (size_t i = 0; i < n; i++)
            at[(from[i].created >> shift & 0xff) + 1]++;
        for (size_t b = 1; b < 257; b++)
            at[b] += at[b - 1];
        for (size_t i = 0; i < n; i++)
            to[at[from[i].created >> shift & 0xff]++] = from[i];
        struct keyed *swap = from;
        from = to;
        to = swap;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = from[i].e;
    free(a);
    return true;
}

size_t flow_table_take_all(struct flow_table *t)
{
    size_t n = 0, slot = 0;
    for (struct flow_entry *e; (e = flow_table_each(t, &slot));)
        t->due[n++] = e;
    if (n > 1 && !radix_by_creation(t->due, n))
        qsort(t->due, n, sizeof *t->due, cmp_created);
    return n;
}
