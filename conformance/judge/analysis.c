/* analysis: dissect each frame, route it to its flow, judge flows as they
 * close or go idle (capture time), hand the verdicts out. See analysis.h. */
#include "analysis.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadline_heap.h"
#include "flow.h"
#include "reasm.h"

#define SCAN_INTERVAL_USEC 500000   /* how often to look for flows to judge */
#define REASM_SLOTS 64
#define REASM_TIMEOUT_USEC (30 * 1000000LL)

struct flow_entry {
    struct flow_entry *bucket_next;
    struct flow_entry *prev, *next;   /* all open flows, in creation order */
    uint64_t created;                 /* position in that order */
    /* Queued no later than the flow's true deadline (flow_deadline): a
     * packet that brings the deadline earlier moves it, one that pushes it
     * later leaves it to scan to find out. */
    struct deadline_node due;
    enum flow_proto proto;
    struct endpoint lo, hi;           /* canonical key: lo < hi */
    uint32_t *offloaded;              /* frames with offloaded checksums (retain_reports) */
    size_t noffloaded, offloaded_cap;
    union {
        struct tcp_flow tcp;
        struct udp_flow udp;
    } u;
};

/* One recently fed IP packet, for capture-duplicate detection. */
struct dup_entry {
    uint64_t prefix_hash;     /* first DUP_PREFIX captured bytes (masked) */
    uint64_t full_hash;       /* every captured byte (masked) */
    uint32_t captured;        /* IP bytes captured */
    uint32_t length;          /* IP length the headers claim */
    uint64_t dir;             /* hash of (src, sport, dst, dport, proto) */
    bool answered;            /* the reverse direction sent since: a re-send now is real */
    uint32_t frame;
    int64_t ts;
};

/* A duplicate frame and its first copy (kept for frame comments). */
struct dup_note {
    uint32_t frame, original;
};

struct analysis {
    struct analysis_options opt;
    struct dup_entry dup_ring[ANALYSIS_DUP_FRAMES];
    size_t dup_next, dup_used;
    struct dup_note *dup_notes;      /* retain_reports only */
    size_t ndup_notes, dup_notes_cap;
    bool dup_notes_unsorted;         /* frames fed out of order: scan, don't bisect */
    struct flow_entry **buckets;
    size_t nbuckets;
    struct flow_entry *first, *last;
    uint64_t flows_created;
    struct deadline_heap deadlines;  /* every open flow's deadline */
    struct flow_entry **due;         /* scan's scratch: room for every open flow */
    size_t due_cap;
    struct reasm *reasm;
    int64_t next_scan;
    bool finished;
    unsigned next_index;
    struct flow_report **reports;
    size_t nreports, reports_cap;
    struct frame_list malformed;
    char first_malformed[96];
    struct frame_list reasm_failed;
    struct analysis_summary sum;
};

const char *teardown_kind_name(enum teardown_kind k)
{
    switch (k) {
    case TEARDOWN_NONE: return "open";
    case TEARDOWN_FIN: return "orderly (FIN both ways)";
    case TEARDOWN_HALF: return "half (FIN one way)";
    case TEARDOWN_RST: return "reset";
    case TEARDOWN_REFUSED: return "refused";
    case TEARDOWN_NO_ANSWER: return "SYN not answered";
    }
    return "?";
}

void analysis_options_default(struct analysis_options *o)
{
    memset(o, 0, sizeof *o);
    o->payload_cap = 64 * 1024;
    o->tcp_idle_usec = 300 * 1000000LL;
    o->udp_idle_usec = 60 * 1000000LL;
    o->closed_linger_usec = 2 * 1000000LL;
}

struct analysis *analysis_create(const struct analysis_options *o)
{
    struct analysis *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (o)
        a->opt = *o;
    else
        analysis_options_default(&a->opt);
    deadline_heap_init(&a->deadlines);
    a->nbuckets = 1024;
    a->buckets = calloc(a->nbuckets, sizeof *a->buckets);
    a->reasm = reasm_create(REASM_SLOTS, REASM_TIMEOUT_USEC);
    if (!a->buckets || !a->reasm) {
        analysis_destroy(a);
        return NULL;
    }
    a->next_scan = INT64_MIN;
    return a;
}

static void free_report(struct flow_report *r)
{
    if (!r)
        return;
    free(r->verdicts);
    free(r->offloaded_frames);
    free(r->payload[0]);
    free(r->payload[1]);
    free(r);
}

static void free_entry(struct flow_entry *e)
{
    if (e->proto == FLOW_TCP)
        tcp_flow_free(&e->u.tcp);
    else
        udp_flow_free(&e->u.udp);
    free(e->offloaded);
    free(e);
}

void analysis_destroy(struct analysis *a)
{
    if (!a)
        return;
    for (struct flow_entry *e = a->first, *next; e; e = next) {
        next = e->next;
        free_entry(e);
    }
    for (size_t i = 0; i < a->nreports; i++)
        free_report(a->reports[i]);
    free(a->reports);
    free(a->dup_notes);
    free(a->buckets);
    deadline_heap_free(&a->deadlines);
    free(a->due);
    reasm_destroy(a->reasm);
    free(a);
}

/* ---- flow table ------------------------------------------------------------ */

static int endpoint_cmp(const struct endpoint *x, const struct endpoint *y)
{
    if (x->ip.family != y->ip.family)
        return x->ip.family < y->ip.family ? -1 : 1;
    int c = memcmp(x->ip.bytes, y->ip.bytes, sizeof x->ip.bytes);
    if (c)
        return c;
    return x->port == y->port ? 0 : x->port < y->port ? -1 : 1;
}

static uint64_t mix_word(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static uint64_t mix_endpoint(uint64_t h, const struct endpoint *e)
{
    uint64_t w0, w1;
    memcpy(&w0, e->ip.bytes, 8);
    memcpy(&w1, e->ip.bytes + 8, 8);
    h = mix_word(h, w0);
    h = mix_word(h, w1);
    return mix_word(h, (uint64_t)e->ip.family << 16 | e->port);
}

static size_t bucket_of(const struct analysis *a, enum flow_proto proto,
                        const struct endpoint *lo, const struct endpoint *hi)
{
    uint64_t h = mix_word(14695981039346656037ull, (uint64_t)proto);
    h = mix_endpoint(h, lo);
    h = mix_endpoint(h, hi);
    h ^= h >> 31;
    return (size_t)(h & (a->nbuckets - 1));
}

static void canonical(const struct endpoint *x, const struct endpoint *y, struct endpoint *lo,
                      struct endpoint *hi)
{
    /* Zero the padding so memcmp/hash over whole structs are stable. */
    memset(lo, 0, sizeof *lo);
    memset(hi, 0, sizeof *hi);
    bool swap = endpoint_cmp(x, y) > 0;
    lo->ip = swap ? y->ip : x->ip;
    lo->port = swap ? y->port : x->port;
    hi->ip = swap ? x->ip : y->ip;
    hi->port = swap ? x->port : y->port;
}

static struct flow_entry *lookup(struct analysis *a, enum flow_proto proto,
                                 const struct endpoint *x, const struct endpoint *y)
{
    struct endpoint lo, hi;
    canonical(x, y, &lo, &hi);
    for (struct flow_entry *e = a->buckets[bucket_of(a, proto, &lo, &hi)]; e; e = e->bucket_next)
        if (e->proto == proto && endpoint_equal(&e->lo, &lo) && endpoint_equal(&e->hi, &hi))
            return e;
    return NULL;
}

static void grow_table(struct analysis *a)
{
    size_t n = a->nbuckets * 2;
    struct flow_entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* keep the smaller table: slower, still correct */
    free(a->buckets);
    a->buckets = b;
    a->nbuckets = n;
    for (struct flow_entry *e = a->first; e; e = e->next) {
        size_t i = bucket_of(a, e->proto, &e->lo, &e->hi);
        e->bucket_next = b[i];
        b[i] = e;
    }
}

/* scan collects the flows due into a->due: keep room for all open flows,
 * so that it never has to allocate (or fail) halfway through. */
static bool reserve_due(struct analysis *a, size_t flows)
{
    if (flows <= a->due_cap)
        return true;
    size_t cap = a->due_cap ? a->due_cap * 2 : 64;
    struct flow_entry **d = realloc(a->due, cap * sizeof *d);
    if (!d)
        return false;
    a->due = d;
    a->due_cap = cap;
    return true;
}

/* A new flow, queued with no deadline yet: the caller records its first
 * packet and then note_activity gives it its deadline. */
static struct flow_entry *insert(struct analysis *a, enum flow_proto proto,
                                 const struct endpoint *x, const struct endpoint *y)
{
    if (a->sum.open_flows + 1 > a->nbuckets)
        grow_table(a);
    if (!reserve_due(a, a->sum.open_flows + 1))
        return NULL;
    struct flow_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (!deadline_heap_push(&a->deadlines, &e->due, INT64_MAX)) {
        free(e);
        return NULL;
    }
    e->created = a->flows_created++;
    e->proto = proto;
    canonical(x, y, &e->lo, &e->hi);
    size_t i = bucket_of(a, proto, &e->lo, &e->hi);
    e->bucket_next = a->buckets[i];
    a->buckets[i] = e;
    e->prev = a->last;
    if (a->last)
        a->last->next = e;
    else
        a->first = e;
    a->last = e;
    a->sum.open_flows++;
    if (a->sum.open_flows > a->sum.max_open_flows)
        a->sum.max_open_flows = a->sum.open_flows;
    return e;
}

static void unlink_entry(struct analysis *a, struct flow_entry *e)
{
    struct flow_entry **pp = &a->buckets[bucket_of(a, e->proto, &e->lo, &e->hi)];
    while (*pp && *pp != e)
        pp = &(*pp)->bucket_next;
    if (*pp)
        *pp = e->bucket_next;
    if (e->prev)
        e->prev->next = e->next;
    else
        a->first = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        a->last = e->prev;
    deadline_heap_remove(&a->deadlines, &e->due);
    a->sum.open_flows--;
}

/* ---- judging ------------------------------------------------------------------ */

static enum teardown_kind tcp_teardown(const struct tcp_flow *f)
{
    if (f->refused)
        return TEARDOWN_REFUSED;
    if (f->side[0].rsts.count + f->side[1].rsts.count)
        return TEARDOWN_RST;
    if (f->side[0].fin_seen && f->side[1].fin_seen)
        return TEARDOWN_FIN;
    if (f->side[0].fin_seen || f->side[1].fin_seen)
        return TEARDOWN_HALF;
    if (f->side[0].syn_seen && !f->side[1].packets)
        return TEARDOWN_NO_ANSWER;
    return TEARDOWN_NONE;
}

/* Takes the stream copy's bytes into the report (no second copy). */
static void take_payload(struct flow_report *r, int s, struct stream_copy *c, uint64_t stream_len)
{
    r->payload[s] = c->bytes;
    r->payload_len[s] = c->contiguous;
    r->payload_complete[s] = c->bytes ? c->contiguous == stream_len : stream_len == 0;
    c->bytes = NULL;
}

static void fill_tcp_report(struct flow_report *r, struct tcp_flow *f,
                            const struct analysis_options *opt)
{
    r->proto = FLOW_TCP;
    r->client = f->ep[0];
    r->server = f->ep[1];
    r->first_frame = f->first_frame;
    r->last_frame = f->last_frame;
    r->first_ts_usec = f->first_ts;
    r->last_ts_usec = f->last_ts;
    r->handshake_seen = f->side[0].syn_seen && f->side[1].syn_seen && f->handshake_ack_frame;
    r->teardown = tcp_teardown(f);
    r->first_fin_side = f->first_fin_side;
    r->simultaneous_close = f->simultaneous_close;
    for (int s = 0; s < 2; s++) {
        r->packets[s] = f->side[s].packets;
        r->bytes[s] = tcp_flow_bytes(f, s);
    }
    struct checks_options co = { .loss_injected = opt->loss_injected,
                                 .textless_kinds = opt->verdict_textless_kinds };
    r->nverdicts = checks_tcp_with(f, &co, r->verdicts, RULE_COUNT);
    for (int s = 0; s < 2; s++)
        take_payload(r, s, &f->side[s].copy, r->bytes[s]);
}

static void fill_udp_report(struct flow_report *r, struct udp_flow *f,
                            const struct analysis_options *opt)
{
    r->proto = FLOW_UDP;
    r->client = f->ep[0];
    r->server = f->ep[1];
    r->first_frame = f->first_frame;
    r->last_frame = f->last_frame;
    r->first_ts_usec = f->first_ts;
    r->last_ts_usec = f->last_ts;
    r->first_fin_side = -1;
    r->icmp_unreachable = f->port_unreachable.count;
    for (int s = 0; s < 2; s++) {
        r->packets[s] = f->side[s].datagrams;
        r->datagrams[s] = f->side[s].datagrams;
        r->bytes[s] = f->side[s].bytes;
    }
    struct checks_options co = { .textless_kinds = opt->verdict_textless_kinds };
    r->nverdicts = checks_udp_with(f, &co, r->verdicts, RULE_COUNT);
    for (int s = 0; s < 2; s++)
        take_payload(r, s, &f->side[s].copy, r->bytes[s]);
}

/* Hands a finished report out, then keeps or frees it. */
static void publish(struct analysis *a, struct flow_report *r)
{
    r->index = a->next_index++;
    for (size_t i = 0; i < r->nverdicts; i++)
        a->sum.verdicts[r->verdicts[i].kind]++;
    if (r->proto == FLOW_TCP)
        a->sum.tcp_flows++;
    else if (r->proto == FLOW_UDP)
        a->sum.udp_flows++;
    if (a->opt.on_flow_done)
        a->opt.on_flow_done(r, a->opt.ctx);
    if (a->opt.retain_reports) {
        if (a->nreports == a->reports_cap) {
            size_t cap = a->reports_cap ? a->reports_cap * 2 : 16;
            struct flow_report **n = realloc(a->reports, cap * sizeof *n);
            if (!n) {
                free_report(r);
                return;
            }
            a->reports = n;
            a->reports_cap = cap;
        }
        a->reports[a->nreports++] = r;
    } else {
        free_report(r);
    }
}

static struct flow_report *new_report(void)
{
    struct flow_report *r = calloc(1, sizeof *r);
    if (r)
        r->verdicts = calloc(RULE_COUNT, sizeof *r->verdicts);
    if (r && !r->verdicts) {
        free(r);
        r = NULL;
    }
    return r;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

static void judge(struct analysis *a, struct flow_entry *e)
{
    unlink_entry(a, e);
    struct flow_report *r = new_report();
    if (r) {
        if (e->proto == FLOW_TCP)
            fill_tcp_report(r, &e->u.tcp, &a->opt);
        else
            fill_udp_report(r, &e->u.udp, &a->opt);
        /* Hand the offloaded frames over, ascending (bisected later). */
        r->offloaded_frames = e->offloaded;
        r->noffloaded = e->noffloaded;
        e->offloaded = NULL;
        for (size_t i = 1; i < r->noffloaded; i++) {
            if (r->offloaded_frames[i - 1] > r->offloaded_frames[i]) {
                qsort(r->offloaded_frames, r->noffloaded, sizeof *r->offloaded_frames, cmp_u32);
                break;
            }
        }
        publish(a, r);
    }
    free_entry(e);
}

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

/* The capture time the flow is judged after (once a scan sees a later
 * one): when it has been idle too long, or a closed TCP flow has lingered
 * long enough for late packets. */
static int64_t flow_deadline(const struct analysis *a, const struct flow_entry *e)
{
    if (e->proto == FLOW_UDP)
        return add_saturated(e->u.udp.last_ts, a->opt.udp_idle_usec);
    const struct tcp_flow *f = &e->u.tcp;
    int64_t idle = add_saturated(f->last_ts, a->opt.tcp_idle_usec);
    if (!f->closed)
        return idle;
    int64_t linger = add_saturated(f->closed_ts, a->opt.closed_linger_usec);
    return linger < idle ? linger : idle;
}

/* Keeps the queued deadline no later than the true one after a packet of
 * the flow. Most packets move the true deadline later, and scan finds that
 * out when the queued one passes (once per idle timeout at most); closing,
 * or a capture clock stepping back, brings it earlier, and that must be
 * queued now. */
static void note_activity(struct analysis *a, struct flow_entry *e)
{
    int64_t deadline = flow_deadline(a, e);
    if (deadline < e->due.at)
        deadline_heap_move(&a->deadlines, &e->due, deadline);
}

static struct flow_entry *entry_of(struct deadline_node *n)
{
    return (struct flow_entry *)((char *)n - offsetof(struct flow_entry, due));
}

/* Takes the flows whose deadline is before `now` out of the deadline heap
 * into a->due and returns how many; a flow whose queued deadline passed
 * but whose true one has not is queued again at the true one. Costs in
 * proportion to the flows due, not to the flows open. */
static size_t collect_due(struct analysis *a, int64_t now)
{
    size_t n = 0;
    struct deadline_node *top;
    while ((top = deadline_heap_top(&a->deadlines)) && top->at < now) {
        struct flow_entry *e = entry_of(top);
        int64_t deadline = flow_deadline(a, e);
        if (deadline < now)
            a->due[n++] = entry_of(deadline_heap_pop(&a->deadlines));
        else
            deadline_heap_move(&a->deadlines, top, deadline);
    }
    return n;
}

static int cmp_created(const void *x, const void *y)
{
    const struct flow_entry *a = *(struct flow_entry *const *)x, *b = *(struct flow_entry *const *)y;
    return a->created < b->created ? -1 : a->created > b->created;
}

/* Judges the flows due, oldest first: the order a walk over all open flows
 * (creation order) would judge them in, so reports keep their order. */
static void scan(struct analysis *a, int64_t now)
{
    size_t n = collect_due(a, now);
    if (n > 1) /* a->due is still NULL before the first flow */
        qsort(a->due, n, sizeof *a->due, cmp_created);
    for (size_t i = 0; i < n; i++)
        judge(a, a->due[i]);
    reasm_expire(a->reasm, now, &a->reasm_failed);
}

/* ---- routing ---------------------------------------------------------------------- */

/* Remembers a frame with an offloaded checksum for its frame comment. */
static void note_offloaded(struct analysis *a, struct flow_entry *e, const struct packet *p)
{
    if (!a->opt.retain_reports || p->l4_checksum != CSUM_OFFLOADED)
        return;
    if (e->noffloaded == e->offloaded_cap) {
        size_t cap = e->offloaded_cap ? e->offloaded_cap * 2 : 8;
        uint32_t *n = realloc(e->offloaded, cap * sizeof *n);
        if (!n)
            return; /* the comment is lost, not the analysis */
        e->offloaded = n;
        e->offloaded_cap = cap;
    }
    e->offloaded[e->noffloaded++] = p->frame;
}

static void route_tcp(struct analysis *a, const struct packet *p)
{
    struct endpoint src = { p->src, p->sport }, dst = { p->dst, p->dport };
    struct flow_entry *e = lookup(a, FLOW_TCP, &src, &dst);
    bool fresh_syn = (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    if (e && fresh_syn) {
        /* A new connection reusing the 4-tuple: judge the old one first. */
        const struct tcp_flow *f = &e->u.tcp;
        int s = tcp_flow_sender(f, p);
        if (f->closed || (f->side[s].syn_seen && f->side[s].isn != p->seq)) {
            judge(a, e);
            e = NULL;
        }
    }
    if (!e) {
        e = insert(a, FLOW_TCP, &src, &dst);
        if (!e)
            return;
        tcp_flow_init(&e->u.tcp, p, a->opt.payload_cap);
    }
    tcp_flow_update(&e->u.tcp, p);
    note_activity(a, e);
    note_offloaded(a, e, p);
}

static void route_udp(struct analysis *a, const struct packet *p)
{
    struct endpoint src = { p->src, p->sport }, dst = { p->dst, p->dport };
    struct flow_entry *e = lookup(a, FLOW_UDP, &src, &dst);
    if (!e) {
        e = insert(a, FLOW_UDP, &src, &dst);
        if (!e)
            return;
        udp_flow_init(&e->u.udp, p, a->opt.payload_cap);
    }
    udp_flow_update(&e->u.udp, p);
    note_activity(a, e);
    note_offloaded(a, e, p);
}

/* An ICMP error goes to the flow of the datagram / segment it quotes. */
static void route_icmp(struct analysis *a, const struct packet *p)
{
    if (!p->quote.present)
        return;
    if (p->quote.proto == WC_IPPROTO_UDP) {
        struct flow_entry *e = lookup(a, FLOW_UDP, &p->quote.src, &p->quote.dst);
        if (e) {
            udp_flow_note_icmp(&e->u.udp, p);
            note_activity(a, e);
        }
    } else if (p->quote.proto == WC_IPPROTO_TCP) {
        struct flow_entry *e = lookup(a, FLOW_TCP, &p->quote.src, &p->quote.dst);
        if (e) {
            tcp_flow_note_icmp(&e->u.tcp, p);
            note_activity(a, e);
        }
    }
}

/* ---- capture duplicates ------------------------------------------------------ */

#define DUP_PREFIX 128

/* Four independent lanes over 32-byte blocks: a 1500-byte packet hashes in
 * about a quarter of the time one serial multiply chain takes (every frame
 * of a capture goes through here). */
static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    uint64_t lane[4] = {h, h ^ 0x9E3779B97F4A7C15ull, h ^ 0xC2B2AE3D27D4EB4Full,
                        h ^ 0x165667B19E3779F9ull};
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * k, 8);
            lane[k] = mix_word(lane[k], w);
        }
    }
    h = mix_word(mix_word(lane[0], lane[1]), mix_word(lane[2], lane[3]));
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = mix_word(h, w);
    }
    uint64_t tail = 0;
    memcpy(&tail, p + i, n - i);
    return mix_word(h, tail ^ (uint64_t)n << 56);
}

/* Hashes the IP packet's captured bytes with the fields a forwarding hop or
 * a second capture point may change zeroed: TTL / hop limit and the IPv4
 * header checksum. */
static uint64_t dir_hash(const struct ip_addr *src, uint16_t sport, const struct ip_addr *dst,
                         uint16_t dport, uint8_t proto)
{
    struct endpoint s, d;
    memset(&s, 0, sizeof s);
    memset(&d, 0, sizeof d);
    s.ip = *src;
    s.port = sport;
    d.ip = *dst;
    d.port = dport;
    return mix_endpoint(mix_endpoint(mix_word(proto, 0x2545F491u), &s), &d);
}

static void dup_key(const struct packet *p, struct dup_entry *k)
{
    const uint8_t *ip = p->ip_payload - p->ip_header_len;
    size_t n = (size_t)p->ip_header_len + p->ip_payload_caplen;
    uint8_t head[DUP_PREFIX];
    size_t h = n < DUP_PREFIX ? n : DUP_PREFIX;
    memcpy(head, ip, h);
    if (p->ip_version == 4) {
        head[8] = 0;                  /* TTL */
        head[10] = head[11] = 0;      /* header checksum */
    } else {
        head[7] = 0;                  /* hop limit */
    }
    uint64_t seed = mix_word(0x5bd1e995u, (uint64_t)p->ip_version << 32 | (p->ip_header_len + p->ip_payload_len));
    k->prefix_hash = hash_bytes(seed, head, h);
    /* A verified L4 checksum in the prefix already stands for every byte
     * after it; only without one must the rest be hashed (most frames of a
     * capture taken off the wire skip the work). */
    bool payload_vouched = p->l4_checksum == CSUM_GOOD && p->ip_payload_caplen == p->ip_payload_len;
    k->full_hash = n > h && !payload_vouched ? hash_bytes(k->prefix_hash, ip + h, n - h)
                                             : k->prefix_hash;
    k->captured = (uint32_t)n;
    k->length = p->ip_header_len + p->ip_payload_len;
    k->dir = dir_hash(&p->src, p->sport, &p->dst, p->dport, p->proto);
    k->answered = false;
    k->frame = p->frame;
    k->ts = p->ts_usec;
}

/* The frame number of the first copy if p is a capture duplicate, else 0
 * (and p is remembered as a possible original).
 *
 * A stack sends the very same bytes twice within the window only when the
 * peer asks for it (a RST answering each of a burst of segments: id 0 over
 * IPv4, no id over IPv6; a fast retransmission after duplicate ACKs over
 * IPv6): the peer's packet then lies between the two. So a packet of the
 * reverse direction (not itself a duplicate) after a copy rules that copy out
 * as the original of a later duplicate. */
static uint32_t capture_duplicate(struct analysis *a, const struct packet *p)
{
    if (!p->ip_payload || p->ip_header_len < 20)
        return 0;
    struct dup_entry k;
    dup_key(p, &k);
    for (size_t i = 0; i < a->dup_used; i++) {
        const struct dup_entry *e = &a->dup_ring[i];
        int64_t dt = k.ts - e->ts;
        if (dt < 0)
            dt = -dt;
        if (e->answered || e->length != k.length || e->prefix_hash != k.prefix_hash ||
            dt > ANALYSIS_DUP_WINDOW_USEC)
            continue;
        /* Different snapshot cuts behind different link headers: the
         * common prefix decides; otherwise every byte. */
        if (e->captured == k.captured ? e->full_hash == k.full_hash
                                      : e->captured >= DUP_PREFIX && k.captured >= DUP_PREFIX)
            return e->frame;
    }
    uint64_t reverse = dir_hash(&p->dst, p->dport, &p->src, p->sport, p->proto);
    for (size_t i = 0; i < a->dup_used; i++)
        if (a->dup_ring[i].dir == reverse)
            a->dup_ring[i].answered = true;
    a->dup_ring[a->dup_next] = k;
    a->dup_next = (a->dup_next + 1) % ANALYSIS_DUP_FRAMES;
    if (a->dup_used < ANALYSIS_DUP_FRAMES)
        a->dup_used++;
    return 0;
}

static void note_duplicate(struct analysis *a, uint32_t frame, uint32_t original)
{
    a->sum.duplicates++;
    if (!a->opt.retain_reports)
        return;
    if (a->ndup_notes == a->dup_notes_cap) {
        size_t cap = a->dup_notes_cap ? a->dup_notes_cap * 2 : 16;
        struct dup_note *n = realloc(a->dup_notes, cap * sizeof *n);
        if (!n)
            return; /* the comment is lost, not the analysis */
        a->dup_notes = n;
        a->dup_notes_cap = cap;
    }
    if (a->ndup_notes && a->dup_notes[a->ndup_notes - 1].frame >= frame)
        a->dup_notes_unsorted = true;
    a->dup_notes[a->ndup_notes++] = (struct dup_note){ frame, original };
}

static uint32_t duplicate_original(const struct analysis *a, uint32_t frame)
{
    if (a->dup_notes_unsorted) {
        for (size_t i = 0; i < a->ndup_notes; i++)
            if (a->dup_notes[i].frame == frame)
                return a->dup_notes[i].original;
        return 0;
    }
    size_t lo = 0, hi = a->ndup_notes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->dup_notes[mid].frame < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->ndup_notes && a->dup_notes[lo].frame == frame ? a->dup_notes[lo].original : 0;
}

static void note_malformed(struct analysis *a, const struct packet *p)
{
    if (p->snap_truncated) {
        a->sum.truncated++;
        return;
    }
    a->sum.malformed++;
    if (a->malformed.count == 0)
        snprintf(a->first_malformed, sizeof a->first_malformed, "%s at byte %zu",
                 dissect_error_name(p->error), p->error_offset);
    frame_list_add(&a->malformed, p->frame);
}

int64_t analysis_timestamp(int64_t sec, int64_t usec)
{
    const int64_t max_sec = ANALYSIS_TS_LIMIT / 1000000;
    if (usec > ANALYSIS_TS_LIMIT)
        usec = ANALYSIS_TS_LIMIT;
    else if (usec < -ANALYSIS_TS_LIMIT)
        usec = -ANALYSIS_TS_LIMIT;
    if (sec >= max_sec)
        return ANALYSIS_TS_LIMIT;
    if (sec <= -max_sec)
        return -ANALYSIS_TS_LIMIT;
    int64_t ts = sec * 1000000 + usec; /* |sec * 1e6| < 2^61, |usec| <= 2^61: no overflow */
    return ts > ANALYSIS_TS_LIMIT ? ANALYSIS_TS_LIMIT : ts < -ANALYSIS_TS_LIMIT ? -ANALYSIS_TS_LIMIT : ts;
}

enum dissect_error analysis_feed(struct analysis *a, uint32_t frame, int64_t ts_usec,
                                 int linktype, uint32_t caplen, uint32_t wirelen,
                                 const uint8_t *bytes)
{
    struct packet p;
    /* Differences of timestamps (timeouts) and ts + interval stay in range. */
    if (ts_usec > ANALYSIS_TS_LIMIT)
        ts_usec = ANALYSIS_TS_LIMIT;
    else if (ts_usec < -ANALYSIS_TS_LIMIT)
        ts_usec = -ANALYSIS_TS_LIMIT;
    a->sum.frames++;
    enum dissect_error err = dissect_frame(&p, frame, ts_usec, linktype, bytes, caplen, wirelen);
    if (ts_usec >= a->next_scan) {
        scan(a, ts_usec);
        a->next_scan = ts_usec + SCAN_INTERVAL_USEC;
    }
    if (err == DISSECT_OK) {
        p.duplicate_of = capture_duplicate(a, &p);
        if (p.duplicate_of) {
            note_duplicate(a, frame, p.duplicate_of);
            if (a->opt.on_packet)
                a->opt.on_packet(&p, a->opt.ctx);
            return DISSECT_OK;
        }
    }
    if (err == DISSECT_OK && p.is_fragment) {
        const uint8_t *whole;
        uint32_t len;
        if (reasm_add(a->reasm, &p, &whole, &len, &a->reasm_failed) != REASM_DONE) {
            if (a->opt.on_packet)
                a->opt.on_packet(&p, a->opt.ctx);
            return DISSECT_OK;
        }
        err = dissect_transport(&p, whole, len);
    }
    if (a->opt.on_packet)
        a->opt.on_packet(&p, a->opt.ctx);
    if (err == DISSECT_NOT_IP) {
        a->sum.not_ip++;
        return err;
    }
    if (err != DISSECT_OK) {
        note_malformed(a, &p);
        return err;
    }
    switch (p.l4) {
    case L4_TCP: route_tcp(a, &p); break;
    case L4_UDP: route_udp(a, &p); break;
    case L4_ICMP: case L4_ICMPV6: route_icmp(a, &p); break;
    default: break;
    }
    return DISSECT_OK;
}

void analysis_finish(struct analysis *a)
{
    if (a->finished)
        return;
    a->finished = true;
    while (a->first)
        judge(a, a->first);
    reasm_expire(a->reasm, INT64_MAX, &a->reasm_failed);
    if (a->malformed.count || a->reasm_failed.count) {
        struct flow_report *r = new_report();
        if (!r)
            return;
        r->proto = FLOW_CAPTURE;
        r->first_fin_side = -1;
        r->first_frame = a->malformed.count ? a->malformed.frames[0] : a->reasm_failed.frames[0];
        r->nverdicts = checks_capture(&a->malformed, a->first_malformed, &a->reasm_failed,
                                      r->verdicts, RULE_COUNT);
        publish(a, r);
    }
}

/* ---- queries -------------------------------------------------------------------- */

size_t analysis_report_count(const struct analysis *a)
{
    return a->nreports;
}

const struct flow_report *analysis_report(const struct analysis *a, size_t i)
{
    return i < a->nreports ? a->reports[i] : NULL;
}

const struct verdict *flow_report_find(const struct flow_report *r, const char *rule_id)
{
    for (size_t i = 0; i < r->nverdicts; i++)
        if (strcmp(r->verdicts[i].id, rule_id) == 0)
            return &r->verdicts[i];
    return NULL;
}

bool flow_report_payload(const struct flow_report *r, enum flow_side side,
                         const uint8_t **bytes, size_t *len)
{
    if ((unsigned)side > 1) {
        *bytes = NULL;
        *len = 0;
        return false;
    }
    *bytes = r->payload[side];
    *len = r->payload_len[side];
    return r->payload_complete[side];
}

size_t analysis_frame_comment(const struct analysis *a, uint32_t frame, char *buf, size_t size)
{
    size_t need = 0;
    if (size)
        buf[0] = '\0';
    uint32_t original = duplicate_original(a, frame);
    if (original) {
        int n = snprintf(buf, size, "capture duplicate of frame %u: not judged", original);
        return n < 0 ? 0 : (size_t)n;
    }
    for (size_t i = 0; i < a->nreports; i++) {
        const struct flow_report *r = a->reports[i];
        for (size_t k = 0; k < r->nverdicts; k++) {
            const struct verdict *v = &r->verdicts[k];
            bool names_frame = false;
            for (unsigned j = 0; j < v->nframes; j++)
                names_frame |= v->frames[j] == frame;
            if (!names_frame && v->rule == RULE_CHECKSUM_OFFLOADED && v->kind == VERDICT_INFO &&
                r->noffloaded)
                names_frame = bsearch(&frame, r->offloaded_frames, r->noffloaded,
                                      sizeof *r->offloaded_frames, cmp_u32) != NULL;
            if (!names_frame)
                continue;
            char line[512];
            int n;
            if (v->kind == VERDICT_FAIL)
                n = snprintf(line, sizeof line, "%s%s: %s: fail (expected %s; seen %s)",
                             need ? "\n" : "", v->id, v->text, v->expected, v->seen);
            else
                n = snprintf(line, sizeof line, "%s%s: %s: %s", need ? "\n" : "", v->id,
                             v->text, verdict_name(v->kind));
            if (n < 0)
                continue;
            size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
            if (size && need < size - 1) {
                size_t room = size - 1 - need;
                size_t copy = len < room ? len : room;
                memcpy(buf + need, line, copy);
                buf[need + copy] = '\0';
            }
            need += len;
        }
    }
    return need;
}

void analysis_get_summary(const struct analysis *a, struct analysis_summary *out)
{
    *out = a->sum;
    out->open_tcp = out->open_tcp_unclosed = 0;
    for (const struct flow_entry *e = a->first; e; e = e->next) {
        if (e->proto != FLOW_TCP)
            continue;
        out->open_tcp++;
        out->open_tcp_unclosed += !e->u.tcp.closed;
    }
}
