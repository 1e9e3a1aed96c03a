/* analysis: the pipeline over a capture, one frame at a time:
 *   dissect -> dedup (capdup) -> reassemble (reasm) -> route to its flow
 *   (flow_table, flow) -> expire flows due (capture time) -> publish their
 *   reports (flow_report, checks).
 * Each step is its own module; this file only runs them in order and keeps
 * the counts. See analysis.h. */
#include "analysis.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "annotate.h"
#include "array_reserve.h"
#include "capdup.h"
#include "flow.h"
#include "flow_report.h"
#include "flow_table.h"
#include "hash_mix.h"
#include "reasm.h"

#define SCAN_INTERVAL_USEC 500000   /* how often to look for flows to judge */
#define REASM_SLOTS 64
#define REASM_TIMEOUT_USEC (30 * 1000000LL)

/* ---- shards (analysis_options.jobs) --------------------------------------------
 * The reader (the caller of analysis_feed) only copies frames into a chunk.
 * The work goes in steps: in each, every shard thread dissects its slice of
 * the chunk read last (and hashes it for capdup), then works the items the
 * reader routed to it, while the reader drops capture duplicates,
 * reassembles and routes the chunk dissected in the step before (in frame
 * order: what needs one thread), then reads on.
 * The reader numbers what it hands the shards: each routed packet and each
 * scan for due flows is an event (seq). A shard's report carries the key
 * (event, sub): sub counts the judgements of a packet, and is the flow's
 * creation number (the event of its first packet) for a scan or the finish,
 * where several shards judge at once and one thread goes by creation. All
 * of a step's events are done when its shards are: the reader merges the
 * step's reports by key, which is the order one thread judges in. */
enum item_kind { ITEM_PACKET, ITEM_SCAN, ITEM_FINISH };
struct item {
    enum item_kind kind;
    uint32_t frame;                  /* being fed */
    uint64_t seq;
    int64_t ts;
    /* ITEM_PACKET: the packet in its chunk, or (NULL) the shard's copy
     * own[own] of one that is not there (a tunnel's inner packet, a
     * reassembled datagram: its bytes are not kept, nor pointed to). */
    const struct packet *p;
    size_t own;
};
struct keyed_report {
    uint64_t event, sub;
    struct flow_report *r;
};
#define OUT_MAX 128                  /* reports a shard holds before it waits */
#define FINISH_EVENT (UINT64_MAX - 1)

/* A frame as read, its bytes at chunk.bytes + at. */
struct raw_frame {
    uint32_t frame, caplen, wirelen;
    int linktype;
    int64_t ts;
    size_t at;
};

/* Frames read in a row (at most CHUNK_FRAMES, or CHUNK_BYTES unless one
 * frame is more). Three take turns: the reader fills one while the shards
 * dissect another; then the reader judges that one in frame order, and the
 * shards work its packets in place (their bytes too stay put) while the
 * reader reads into the third. */
struct chunk {
    struct raw_frame *frames;
    size_t n;
    uint8_t *bytes;
    size_t nbytes, bytes_cap;
    struct packet *pkts;             /* dissected, one per frame */
    enum dissect_error *errs;
    struct capdup_entry *keys;       /* capdup_key's, where has_key */
    bool *has_key;
};
#define CHUNK_FRAMES 2048
#define CHUNK_BYTES ((size_t)2 << 20)

struct shard {
    struct analysis *a;              /* its own flows; collects, publishes nothing */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool go, items_go, done, quit;
    bool paused;                     /* out is full: the reader hands some out first */
    struct chunk *slice_of;          /* go: dissect frames [lo, hi) of it (NULL: none) */
    size_t lo, hi;
    struct item *fill, *work;        /* the reader fills one while the shard works the other */
    size_t nfill, nwork, fill_cap, work_cap;
    struct packet *own_fill, *own_work; /* packets of items that are in no chunk */
    size_t nown_fill, own_fill_cap, own_work_cap;
    struct keyed_report *out;        /* the step's reports, by key */
    size_t nout, out_cap;
    /* Reports handed out, for the shard to free when it next runs: malloc
     * then gets back memory the thread touched last. */
    struct flow_report **spent;
    size_t nspent, spent_cap;
};

static void free_spent(struct shard *sh)
{
    for (size_t i = 0; i < sh->nspent; i++)
        flow_report_free(sh->spent[i]);
    sh->nspent = 0;
}

struct analysis {
    struct analysis_options opt;
    struct checks_options checks;    /* what the rules are told, from opt */
    struct flow_table flows;
    struct capdup dups;
    struct reasm *reasm;
    int64_t next_scan;
    bool finished;
    unsigned next_index;
    struct flow_report **reports;    /* retain_reports */
    size_t nreports, reports_cap;
    struct frame_comments *comments; /* built by the first analysis_frame_comment after finish */
    struct frame_list malformed;
    char first_malformed[96];
    struct frame_list reasm_failed;
    struct analysis_summary sum;
    uint32_t frame;                  /* being fed */
    /* The reader of a sharded analysis: */
    struct shard *shards;
    unsigned nshards;
    uint64_t seq;                    /* events handed out */
    bool in_flight;                  /* the shards work a step */
    struct chunk chunks[3];
    unsigned reading;                /* chunks[reading] is being read, the one read before it
                                        dissected, the one before that judged (its packets
                                        being worked) */
    const struct packet *chunk_packet; /* judge_chunk's, being judged */
    /* A shard: */
    struct shard *self;
    uint64_t event;                  /* being worked */
    bool by_creation;                /* a scan or the finish: sub is the flow's creation */
    uint64_t sub;
};

static bool shards_create(struct analysis *a, unsigned jobs);
static void shards_destroy(struct analysis *a);
static void scan_shards(struct analysis *a, int64_t now);
static void finish_shards(struct analysis *a);

void analysis_options_default(struct analysis_options *o)
{
    memset(o, 0, sizeof *o);
    o->payload_cap = 64 * 1024;
    o->tcp_idle_usec = 300 * 1000000LL;
    o->udp_idle_usec = 60 * 1000000LL;
    o->closed_linger_usec = 2 * 1000000LL;
    o->max_flows = ANALYSIS_DEFAULT_MAX_FLOWS;
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
    a->checks = (struct checks_options){ .loss_injected = a->opt.loss_injected,
                                         .textless_kinds = a->opt.verdict_textless_kinds,
                                         .strict = a->opt.strict,
                                         .waived = a->opt.waived_rules,
                                         .only = a->opt.only_rules };
    struct flow_timeouts t = { a->opt.tcp_idle_usec, a->opt.udp_idle_usec,
                               a->opt.closed_linger_usec };
    bool flows_ok = flow_table_init(&a->flows, &t);
    capdup_init(&a->dups);
    a->reasm = reasm_create(REASM_SLOTS, REASM_TIMEOUT_USEC);
    if (!flows_ok || !a->reasm) {
        analysis_destroy(a);
        return NULL;
    }
    a->next_scan = INT64_MIN;
    unsigned jobs = a->opt.jobs > 64 ? 64 : a->opt.jobs;
    if (jobs > 1 && !a->opt.retain_reports && !a->opt.annotate && !a->opt.on_packet &&
        a->opt.payload_cap == 0 && !shards_create(a, jobs)) {
        analysis_destroy(a);
        return NULL;
    }
    return a;
}

void analysis_destroy(struct analysis *a)
{
    if (!a)
        return;
    shards_destroy(a);
    flow_table_free(&a->flows);
    for (size_t i = 0; i < a->nreports; i++)
        flow_report_free(a->reports[i]);
    free(a->reports);
    frame_comments_free(a->comments);
    capdup_free(&a->dups);
    reasm_destroy(a->reasm);
    free(a);
}

/* ---- publish ----------------------------------------------------------------- */

static bool retain(struct analysis *a, struct flow_report *r)
{
    void *reports = array_reserve(a->reports, &a->reports_cap, a->nreports + 1,
                                  sizeof *a->reports, 16);
    if (!reports)
        return false;
    a->reports = reports;
    a->reports[a->nreports++] = r;
    return true;
}

/* Notes where memory first ran out (check says so and exits 2). */
static void out_of_memory(struct analysis *a)
{
    if (!a->sum.oom_frame)
        a->sum.oom_frame = a->frame ? a->frame : 1;
}

/* Counts a finished report, hands it out, then keeps or frees it. */
static void publish(struct analysis *a, struct flow_report *r)
{
    r->index = a->next_index++;
    r->nverdicts = checks_apply_policy(&a->checks, r->verdicts, r->nverdicts);
    for (size_t i = 0; i < r->nverdicts; i++)
        a->sum.verdicts[r->verdicts[i].kind]++;
    if (r->proto == FLOW_TCP)
        a->sum.tcp_flows++;
    else if (r->proto == FLOW_UDP)
        a->sum.udp_flows++;
    if (a->self) {
        struct shard *sh = a->self;
        void *out = array_reserve(sh->out, &sh->out_cap, sh->nout + 1, sizeof *sh->out, 256);
        if (!out) {
            out_of_memory(a);
            a->sum.lost_reports++;
            flow_report_free(r);
            return;
        }
        sh->out = out;
        /* Held until merged: only the verdicts there are (RULE_COUNT were room). */
        void *v = realloc(r->verdicts, (r->nverdicts ? r->nverdicts : 1) * sizeof *r->verdicts);
        if (v)
            r->verdicts = v;
        sh->out[sh->nout++] = (struct keyed_report){ a->event, a->sub, r };
        if (sh->nout >= OUT_MAX) { /* a scan or the finish may judge thousands */
            pthread_mutex_lock(&sh->mu);
            sh->paused = true;
            pthread_cond_broadcast(&sh->cv);
            while (sh->paused)
                pthread_cond_wait(&sh->cv, &sh->mu);
            pthread_mutex_unlock(&sh->mu);
            free_spent(sh);
        }
        return;
    }
    if (a->opt.on_flow_done)
        a->opt.on_flow_done(r, a->opt.ctx);
    if (!a->opt.retain_reports) {
        flow_report_free(r);
    } else if (!retain(a, r)) {
        out_of_memory(a);
        a->sum.lost_reports++;
        flow_report_free(r);
    }
}

/* Takes a flow out of the table, judges it, publishes its report. */
static void judge(struct analysis *a, struct flow_entry *e)
{
    flow_table_remove(&a->flows, e);
    struct flow_report *r = flow_entry_unpack(e) ? flow_report_build(e, &a->checks) : NULL;
    if (a->self && !a->by_creation)
        a->sub++;
    else if (a->self)
        a->sub = e->created;
    if (r) {
        publish(a, r);
    } else {
        out_of_memory(a);
        a->sum.lost_reports++;
    }
    flow_entry_free(e);
}

/* ---- expire ------------------------------------------------------------------ */

/* Judges the flows due, oldest first, and gives up on datagrams whose
 * fragments stopped coming. */
static void expire(struct analysis *a, int64_t now)
{
    size_t n = flow_table_take_due(&a->flows, now);
    for (size_t i = 0; i < n; i++)
        judge(a, a->flows.due[i]);
    reasm_expire(a->reasm, now, &a->reasm_failed);
}

/* ---- route ------------------------------------------------------------------- */

/* A packet updated e's flow: its deadline, and the frame comment of an
 * offloaded checksum (only kept for retained reports). */
static void touched(struct analysis *a, struct flow_entry *e, const struct packet *p)
{
    flow_table_touched(&a->flows, e);
    if ((a->opt.retain_reports || a->opt.annotate) && p->l4_checksum == CSUM_OFFLOADED)
        flow_entry_note_offloaded(e, p->frame); /* false: the comment is lost, not the analysis */
}

/* A new flow for p, or NULL, counted, when there is no memory for one. */
static struct flow_entry *open_flow(struct analysis *a, enum flow_proto proto,
                                    const struct packet *p)
{
    /* A flood of flows cannot take the machine: over the bound, the flow
     * idle longest is judged now, with what was seen of it. */
    while (a->opt.max_flows && a->flows.count >= a->opt.max_flows) {
        struct flow_entry *old = flow_table_oldest_idle(&a->flows);
        if (!old)
            break;
        a->sum.evicted_flows++;
        judge(a, old);
    }
    struct endpoint src = { p->src, p->sport }, dst = { p->dst, p->dport };
    struct flow_entry *e = flow_table_insert(&a->flows, proto, &src, &dst);
    if (!e) {
        out_of_memory(a);
        a->sum.untracked_frames++;
        return NULL;
    }
    if (proto == FLOW_TCP)
        tcp_flow_init(&e->u->tcp, p, a->opt.payload_cap);
    else
        udp_flow_init(&e->u->udp, p, a->opt.payload_cap);
    return e;
}

static void route_tcp(struct analysis *a, const struct packet *p)
{
    struct endpoint src = { p->src, p->sport }, dst = { p->dst, p->dport };
    struct flow_entry *e = flow_table_lookup(&a->flows, FLOW_TCP, &src, &dst);
    bool fresh_syn = (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    if (e && fresh_syn) {
        /* A new connection reusing the 4-tuple: judge the old one first. */
        const struct tcp_flow *f = &e->u->tcp;
        int s = tcp_flow_sender(f, p);
        if (f->closed || (f->side[s].syn_seen && f->side[s].isn != p->seq)) {
            judge(a, e);
            e = NULL;
        }
    }
    if (!e && !(e = open_flow(a, FLOW_TCP, p)))
        return;
    tcp_flow_update(&e->u->tcp, p);
    touched(a, e, p);
}

static void route_udp(struct analysis *a, const struct packet *p)
{
    struct endpoint src = { p->src, p->sport }, dst = { p->dst, p->dport };
    struct flow_entry *e = flow_table_lookup(&a->flows, FLOW_UDP, &src, &dst);
    if (!e && !(e = open_flow(a, FLOW_UDP, p)))
        return;
    udp_flow_update(&e->u->udp, p);
    touched(a, e, p);
}

/* An ICMP error goes to the flow of the datagram / segment it quotes. */
static void route_icmp(struct analysis *a, const struct packet *p)
{
    if (!p->quote.present)
        return;
    if (p->quote.proto == WC_IPPROTO_UDP) {
        struct flow_entry *e = flow_table_lookup(&a->flows, FLOW_UDP, &p->quote.src, &p->quote.dst);
        if (e) {
            udp_flow_note_icmp(&e->u->udp, p);
            flow_table_touched(&a->flows, e);
        }
    } else if (p->quote.proto == WC_IPPROTO_TCP) {
        struct flow_entry *e = flow_table_lookup(&a->flows, FLOW_TCP, &p->quote.src, &p->quote.dst);
        if (e) {
            tcp_flow_note_icmp(&e->u->tcp, p);
            flow_table_touched(&a->flows, e);
        }
    }
}

static void dispatch(struct analysis *a, const struct packet *p);

static void route(struct analysis *a, const struct packet *p)
{
    if (a->shards) {
        dispatch(a, p);
        return;
    }
    switch (p->l4) {
    case L4_TCP: route_tcp(a, p); break;
    case L4_UDP: route_udp(a, p); break;
    case L4_ICMP: case L4_ICMPV6: route_icmp(a, p); break;
    default: break;
    }
}

/* ---- shards ------------------------------------------------------------------ */

/* The same for (x, y) and (y, x). */
static unsigned shard_of(const struct analysis *a, const struct ip_addr *x, uint16_t xp,
                         const struct ip_addr *y, uint16_t yp)
{
    uint64_t h = hash_mix_addr_port(0x51ED270B, x, xp) + hash_mix_addr_port(0x51ED270B, y, yp);
    h = hash_mix_word(h, 0x2545F491u);
    return (unsigned)((h >> 32) % a->nshards);
}

static bool key_le(const struct keyed_report *k, uint64_t event, uint64_t sub)
{
    return k->event < event || (k->event == event && k->sub <= sub);
}

/* Hands out, merged by key, the shards' reports up to (event, sub)
 * (every one if all). */
static void emit(struct analysis *a, uint64_t event, uint64_t sub, bool all)
{
    size_t at[64] = {0};
    for (;;) {
        struct keyed_report *best = NULL;
        unsigned from = 0;
        for (unsigned i = 0; i < a->nshards; i++) {
            struct shard *sh = &a->shards[i];
            if (at[i] == sh->nout)
                continue;
            struct keyed_report *k = &sh->out[at[i]];
            if (!best || k->event < best->event || (k->event == best->event && k->sub < best->sub)) {
                best = k;
                from = i;
            }
        }
        if (!best || (!all && !key_le(best, event, sub)))
            break;
        at[from]++;
        struct flow_report *r = best->r;
        r->index = a->next_index++;
        if (a->opt.on_flow_done)
            a->opt.on_flow_done(r, a->opt.ctx);
        struct shard *sh = &a->shards[from];
        void *spent = array_reserve(sh->spent, &sh->spent_cap, sh->nspent + 1,
                                    sizeof *sh->spent, 256);
        if (spent) {
            sh->spent = spent;
            sh->spent[sh->nspent++] = r;
        } else {
            flow_report_free(r);
        }
    }
    for (unsigned i = 0; i < a->nshards; i++) {
        struct shard *sh = &a->shards[i];
        if (!at[i])
            continue; /* out may still be NULL */
        memmove(sh->out, sh->out + at[i], (sh->nout - at[i]) * sizeof *sh->out);
        sh->nout -= at[i];
    }
}

/* The shards finish the batch they work; its reports are handed out, merged
 * by key. A shard whose reports fill up waits: what no shard can still
 * precede (up to the smallest last key of the waiting ones) is handed out,
 * which empties at least that one. */
static void batch_sync(struct analysis *a)
{
    if (!a->in_flight)
        return;
    for (;;) {
        bool all_done = true;
        for (unsigned i = 0; i < a->nshards; i++) {
            struct shard *sh = &a->shards[i];
            pthread_mutex_lock(&sh->mu);
            while (!sh->done && !sh->paused)
                pthread_cond_wait(&sh->cv, &sh->mu);
            all_done &= sh->done;
            pthread_mutex_unlock(&sh->mu);
        }
        if (all_done)
            break;
        uint64_t event = UINT64_MAX, sub = UINT64_MAX;
        for (unsigned i = 0; i < a->nshards; i++) {
            struct shard *sh = &a->shards[i];
            if (sh->done)
                continue;
            const struct keyed_report *last = &sh->out[sh->nout - 1]; /* paused: full */
            if (key_le(last, event, sub)) {
                event = last->event;
                sub = last->sub;
            }
        }
        emit(a, event, sub, false);
        for (unsigned i = 0; i < a->nshards; i++) {
            struct shard *sh = &a->shards[i];
            if (sh->done || sh->nout >= OUT_MAX)
                continue;
            pthread_mutex_lock(&sh->mu);
            sh->paused = false;
            pthread_cond_broadcast(&sh->cv);
            pthread_mutex_unlock(&sh->mu);
        }
    }
    emit(a, 0, 0, true);
    for (unsigned i = 0; i < a->nshards; i++) { /* the shards rest until the next go */
        pthread_mutex_lock(&a->shards[i].mu);
        a->shards[i].done = false;
        pthread_mutex_unlock(&a->shards[i].mu);
    }
    a->in_flight = false;
}

/* Phase one of a step: each shard dissects its slice of c (NULL or empty:
 * nothing to dissect). */
static void shards_go(struct analysis *a, struct chunk *c)
{
    for (unsigned i = 0; i < a->nshards; i++) {
        struct shard *sh = &a->shards[i];
        pthread_mutex_lock(&sh->mu);
        sh->slice_of = c && c->n ? c : NULL;
        sh->lo = sh->slice_of ? c->n * i / a->nshards : 0;
        sh->hi = sh->slice_of ? c->n * (i + 1) / a->nshards : 0;
        sh->go = true;
        pthread_cond_broadcast(&sh->cv);
        pthread_mutex_unlock(&sh->mu);
    }
}

/* Phase two: each shard works what the reader routed to it since. */
static void shards_hand_items(struct analysis *a)
{
    for (unsigned i = 0; i < a->nshards; i++) {
        struct shard *sh = &a->shards[i];
        pthread_mutex_lock(&sh->mu);
        struct item *t = sh->work;
        size_t cap = sh->work_cap;
        sh->work = sh->fill;
        sh->work_cap = sh->fill_cap;
        sh->nwork = sh->nfill;
        sh->fill = t;
        sh->fill_cap = cap;
        sh->nfill = 0;
        struct packet *o = sh->own_work;
        cap = sh->own_work_cap;
        sh->own_work = sh->own_fill;
        sh->own_work_cap = sh->own_fill_cap;
        sh->own_fill = o;
        sh->own_fill_cap = cap;
        sh->nown_fill = 0;
        sh->items_go = true;
        pthread_cond_broadcast(&sh->cv);
        pthread_mutex_unlock(&sh->mu);
    }
    a->in_flight = true;
}

static void judge_chunk(struct analysis *a, struct chunk *c);
static void broadcast(struct analysis *a, enum item_kind kind, int64_t ts);

/* One step: the shards finish the last one (its reports handed out), then
 * dissect the chunk just read while the reader judges the one they
 * dissected before; `last` adds the finish to what they work. The chunk
 * whose packets they worked is read into next. */
static void step(struct analysis *a, bool last)
{
    batch_sync(a);
    struct chunk *read = &a->chunks[a->reading], *dissected = &a->chunks[(a->reading + 2) % 3];
    shards_go(a, read);
    judge_chunk(a, dissected);
    if (last)
        broadcast(a, ITEM_FINISH, 0);
    shards_hand_items(a);
    a->reading = (a->reading + 1) % 3;
    a->chunks[a->reading].n = a->chunks[a->reading].nbytes = 0;
}

/* Room for one more item in the shard's next batch; NULL, counted, on out of
 * memory. */
static struct item *next_item(struct analysis *a, unsigned shard)
{
    struct shard *sh = &a->shards[shard];
    void *fill = array_reserve(sh->fill, &sh->fill_cap, sh->nfill + 1, sizeof *sh->fill, 1024);
    if (!fill) {
        out_of_memory(a);
        return NULL;
    }
    sh->fill = fill;
    return &sh->fill[sh->nfill++];
}

static void dispatch(struct analysis *a, const struct packet *p)
{
    unsigned i;
    if (p->l4 == L4_TCP || p->l4 == L4_UDP)
        i = shard_of(a, &p->src, p->sport, &p->dst, p->dport);
    else if ((p->l4 == L4_ICMP || p->l4 == L4_ICMPV6) && p->quote.present &&
             (p->quote.proto == WC_IPPROTO_UDP || p->quote.proto == WC_IPPROTO_TCP))
        i = shard_of(a, &p->quote.src.ip, p->quote.src.port, &p->quote.dst.ip,
                     p->quote.dst.port);
    else
        return;
    struct item *it = next_item(a, i);
    if (!it) {
        a->sum.untracked_frames++;
        return;
    }
    it->kind = ITEM_PACKET;
    it->seq = a->seq++;
    it->ts = p->ts_usec;
    it->frame = a->frame;
    it->p = p;
    if (p == a->chunk_packet && !p->reassembled)
        return;
    struct shard *sh = &a->shards[i];
    void *own = array_reserve(sh->own_fill, &sh->own_fill_cap, sh->nown_fill + 1,
                              sizeof *sh->own_fill, 64);
    if (!own) {
        out_of_memory(a);
        a->sum.untracked_frames++;
        sh->nfill--;
        return;
    }
    sh->own_fill = own;
    it->p = NULL;
    it->own = sh->nown_fill++;
    sh->own_fill[it->own] = *p;
    sh->own_fill[it->own].ip_payload = sh->own_fill[it->own].payload = NULL; /* payload_cap 0 */
}

static void broadcast(struct analysis *a, enum item_kind kind, int64_t ts)
{
    uint64_t seq = a->seq++;
    for (unsigned i = 0; i < a->nshards; i++) {
        struct item *it = next_item(a, i);
        if (!it) { /* that shard's flows are not judged then (or never: lost) */
            a->sum.lost_reports++;
            continue;
        }
        it->kind = kind;
        it->seq = seq;
        it->ts = ts;
        it->frame = a->frame;
    }
}

static void scan_shards(struct analysis *a, int64_t now)
{
    broadcast(a, ITEM_SCAN, now);
}

static void finish_shards(struct analysis *a)
{
    step(a, false); /* the last frames read are dissected */
    step(a, true);  /* and judged; then the finish */
    batch_sync(a);
}

/* A shard's analysis works one item. */
static void work_item(struct shard *sh, const struct item *it)
{
    struct analysis *b = sh->a;
    b->frame = it->frame;
    b->sub = 0;
    switch (it->kind) {
    case ITEM_PACKET:
        b->event = it->seq;
        b->by_creation = false;
        b->flows.created = it->seq; /* a flow's creation: its first packet's event */
        route(b, it->p ? it->p : &sh->own_work[it->own]);
        break;
    case ITEM_SCAN: {
        b->event = it->seq;
        b->by_creation = true;
        size_t n = flow_table_take_due(&b->flows, it->ts);
        for (size_t i = 0; i < n; i++)
            judge(b, b->flows.due[i]);
        break;
    }
    case ITEM_FINISH:
        b->event = FINISH_EVENT;
        b->by_creation = true;
        while (b->flows.first)
            judge(b, b->flows.first);
        break;
    }
}

/* What a shard does ahead of the reader: dissect, and hash for capdup. */
static void dissect_slice(struct chunk *c, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        const struct raw_frame *f = &c->frames[i];
        c->errs[i] = dissect_frame(&c->pkts[i], f->frame, f->ts, f->linktype, c->bytes + f->at,
                                   f->caplen, f->wirelen);
        c->has_key[i] = c->errs[i] == DISSECT_OK && capdup_key(&c->pkts[i], &c->keys[i]);
    }
}

static void *shard_main(void *arg)
{
    struct shard *sh = arg;
    for (;;) {
        pthread_mutex_lock(&sh->mu);
        while (!sh->go && !sh->quit)
            pthread_cond_wait(&sh->cv, &sh->mu);
        if (!sh->go) {
            pthread_mutex_unlock(&sh->mu);
            return NULL;
        }
        sh->go = false;
        struct chunk *c = sh->slice_of;
        size_t lo = sh->lo, hi = sh->hi;
        pthread_mutex_unlock(&sh->mu);
        if (c)
            dissect_slice(c, lo, hi);
        pthread_mutex_lock(&sh->mu);
        while (!sh->items_go && !sh->quit)
            pthread_cond_wait(&sh->cv, &sh->mu);
        sh->items_go = false;
        pthread_mutex_unlock(&sh->mu);
        free_spent(sh);
        for (size_t i = 0; i < sh->nwork; i++)
            work_item(sh, &sh->work[i]);
        pthread_mutex_lock(&sh->mu);
        sh->done = true;
        pthread_cond_broadcast(&sh->cv);
        pthread_mutex_unlock(&sh->mu);
    }
}

static void chunk_free(struct chunk *c)
{
    free(c->frames);
    free(c->bytes);
    free(c->pkts);
    free(c->errs);
    free(c->keys);
    free(c->has_key);
}

static bool chunk_init(struct chunk *c)
{
    c->frames = malloc(CHUNK_FRAMES * sizeof *c->frames);
    c->pkts = malloc(CHUNK_FRAMES * sizeof *c->pkts);
    c->errs = malloc(CHUNK_FRAMES * sizeof *c->errs);
    c->keys = malloc(CHUNK_FRAMES * sizeof *c->keys);
    c->has_key = malloc(CHUNK_FRAMES * sizeof *c->has_key);
    c->bytes = malloc(CHUNK_BYTES); /* never NULL after: array_reserve keeps it */
    c->bytes_cap = c->bytes ? CHUNK_BYTES : 0;
    return c->frames && c->pkts && c->errs && c->keys && c->has_key && c->bytes;
}

static void shards_destroy(struct analysis *a)
{
    if (!a->shards)
        return;
    if (a->in_flight)
        batch_sync(a);
    for (unsigned i = 0; i < a->nshards; i++) {
        struct shard *sh = &a->shards[i];
        if (sh->started) {
            pthread_mutex_lock(&sh->mu);
            sh->quit = true;
            pthread_cond_broadcast(&sh->cv);
            pthread_mutex_unlock(&sh->mu);
            pthread_join(sh->thread, NULL);
            pthread_mutex_destroy(&sh->mu);
            pthread_cond_destroy(&sh->cv);
        }
        free_spent(sh);
        free(sh->spent);
        analysis_destroy(sh->a);
        free(sh->fill);
        free(sh->work);
        free(sh->own_fill);
        free(sh->own_work);
        free(sh->out);
    }
    free(a->shards);
    a->shards = NULL;
    a->nshards = 0;
    for (int i = 0; i < 3; i++)
        chunk_free(&a->chunks[i]);
}

/* false on out of memory or no thread. */
static bool shards_create(struct analysis *a, unsigned jobs)
{
    a->shards = calloc(jobs, sizeof *a->shards);
    if (!a->shards)
        return false;
    for (int i = 0; i < 3; i++)
        if (!chunk_init(&a->chunks[i]))
            return false;
    a->nshards = jobs;
    struct analysis_options so = a->opt;
    so.jobs = 0;
    so.on_flow_done = NULL;
    so.ctx = NULL;
    if (so.max_flows)
        so.max_flows = (so.max_flows + jobs - 1) / jobs;
    for (unsigned i = 0; i < jobs; i++) {
        struct shard *sh = &a->shards[i];
        sh->a = analysis_create(&so);
        if (!sh->a)
            return false;
        sh->a->self = sh;
        if (pthread_mutex_init(&sh->mu, NULL) != 0)
            return false;
        if (pthread_cond_init(&sh->cv, NULL) != 0) {
            pthread_mutex_destroy(&sh->mu);
            return false;
        }
        if (pthread_create(&sh->thread, NULL, shard_main, sh) != 0) {
            pthread_cond_destroy(&sh->cv);
            pthread_mutex_destroy(&sh->mu);
            return false;
        }
        sh->started = true;
    }
    return true;
}

/* ---- feed -------------------------------------------------------------------- */

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

static void tell_packet(const struct analysis *a, const struct packet *p)
{
    if (a->opt.on_packet)
        a->opt.on_packet(p, a->opt.ctx);
}

/* Capture duplicates, fragments, then the packet's flow: what every decoded
 * packet goes through, a tunnel's inner one too (depth > 0). An inner
 * packet that does not decode is not judged (the port may not be a tunnel
 * at all) and not counted as malformed. `dup_key`: p's capdup_key, if a
 * shard hashed it already (NULL: hashed here). */
static enum dissect_error judge_packet(struct analysis *a, struct packet *p, enum dissect_error err,
                                       int depth, const struct capdup_entry *dup_key);

/* A tunnel's inner packet (VXLAN, GENEVE, GRE, IP in IP, IPv6 in IP) is
 * judged as a packet of its own, same frame number; tunnels in tunnels up
 * to MAX_TUNNEL_DEPTH. */
#define MAX_TUNNEL_DEPTH 4
static void judge_inner(struct analysis *a, const struct packet *outer, int depth)
{
    struct tunnel_inner t;
    if (depth >= MAX_TUNNEL_DEPTH || !dissect_tunnel_inner(outer, &t))
        return;
    struct packet p;
    enum dissect_error err = dissect_frame(&p, outer->frame, outer->ts_usec, t.linktype, t.bytes,
                                           t.caplen, t.wirelen);
    judge_packet(a, &p, err, depth + 1, NULL);
}

static enum dissect_error judge_packet(struct analysis *a, struct packet *p, enum dissect_error err,
                                       int depth, const struct capdup_entry *dup_key)
{
    if (err == DISSECT_OK && (p->duplicate_of = dup_key ? capdup_check_key(&a->dups, dup_key)
                                                        : capdup_check(&a->dups, p))) {
        if (!depth)
            a->sum.duplicates++;
        if ((a->opt.retain_reports || a->opt.annotate) && !depth)
            capdup_note(&a->dups, p->frame, p->duplicate_of); /* false: the comment is lost */
        tell_packet(a, p);
        return DISSECT_OK;
    }
    if (err == DISSECT_OK && p->is_fragment) {
        const uint8_t *whole;
        uint32_t len;
        uint64_t nomem = reasm_nomem(a->reasm);
        if (reasm_add(a->reasm, p, &whole, &len, &a->reasm_failed) != REASM_DONE) {
            if (reasm_nomem(a->reasm) != nomem) { /* not judged: never a pass */
                out_of_memory(a);
                a->sum.untracked_frames++;
            }
            tell_packet(a, p);
            return DISSECT_OK;
        }
        err = dissect_transport(p, whole, len);
    }
    if (depth && err != DISSECT_OK)
        return err;
    tell_packet(a, p);
    if (err == DISSECT_NOT_IP) {
        a->sum.not_ip++;
        return err;
    }
    if (err != DISSECT_OK) {
        note_malformed(a, p);
        return err;
    }
    route(a, p);
    judge_inner(a, p, depth);
    return DISSECT_OK;
}

/* Every SCAN_INTERVAL_USEC of capture time, the flows due are judged. */
static void scan_due(struct analysis *a, int64_t ts)
{
    if (ts < a->next_scan)
        return;
    if (a->shards) {
        scan_shards(a, ts);
        reasm_expire(a->reasm, ts, &a->reasm_failed);
    } else {
        expire(a, ts);
    }
    a->next_scan = ts + SCAN_INTERVAL_USEC;
}

/* The reader's part of a step: what analysis_feed does with one thread, on
 * frames the shards dissected. */
static void judge_chunk(struct analysis *a, struct chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        a->sum.frames++;
        a->frame = c->frames[i].frame;
        scan_due(a, c->frames[i].ts);
        a->chunk_packet = &c->pkts[i];
        judge_packet(a, &c->pkts[i], c->errs[i], 0, c->has_key[i] ? &c->keys[i] : NULL);
    }
    a->chunk_packet = NULL;
}

/* Copies a frame into the chunk being read (a full one first goes to the
 * shards); false on out of memory. */
static bool read_frame(struct analysis *a, uint32_t frame, int64_t ts, int linktype,
                       uint32_t caplen, uint32_t wirelen, const uint8_t *bytes)
{
    struct chunk *c = &a->chunks[a->reading];
    if (c->n == CHUNK_FRAMES || (c->nbytes && c->nbytes + caplen > CHUNK_BYTES)) {
        step(a, false);
        c = &a->chunks[a->reading];
    }
    uint8_t *bytes_room = array_reserve(c->bytes, &c->bytes_cap, c->nbytes + caplen, 1,
                                        CHUNK_BYTES);
    if (!bytes_room)
        return false;
    c->bytes = bytes_room;
    if (caplen)
        memcpy(c->bytes + c->nbytes, bytes, caplen);
    c->frames[c->n++] = (struct raw_frame){ frame, caplen, wirelen, linktype, ts, c->nbytes };
    c->nbytes += caplen;
    return true;
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
    if (a->shards) {
        if (!read_frame(a, frame, ts_usec, linktype, caplen, wirelen, bytes)) {
            a->sum.frames++; /* not judged: never a pass */
            a->sum.untracked_frames++;
            if (!a->sum.oom_frame)
                a->sum.oom_frame = frame ? frame : 1;
        }
        return DISSECT_OK;
    }
    a->sum.frames++;
    a->frame = frame;
    enum dissect_error err = dissect_frame(&p, frame, ts_usec, linktype, bytes, caplen, wirelen);
    scan_due(a, ts_usec);
    return judge_packet(a, &p, err, 0, NULL);
}

void analysis_finish(struct analysis *a)
{
    if (a->finished)
        return;
    a->finished = true;
    if (a->shards)
        finish_shards(a);
    while (a->flows.first)
        judge(a, a->flows.first);
    reasm_expire(a->reasm, INT64_MAX, &a->reasm_failed);
    if (a->malformed.count || a->reasm_failed.count) {
        struct flow_report *r = flow_report_build_capture(&a->malformed, a->first_malformed,
                                                          &a->reasm_failed);
        if (r) {
            publish(a, r);
        } else {
            out_of_memory(a);
            a->sum.lost_reports++;
        }
    }
}

/* ---- queries ------------------------------------------------------------------- */

size_t analysis_report_count(const struct analysis *a)
{
    return a->nreports;
}

const struct flow_report *analysis_report(const struct analysis *a, size_t i)
{
    return i < a->nreports ? a->reports[i] : NULL;
}

size_t analysis_frame_comment(const struct analysis *a, uint32_t frame, char *buf, size_t size)
{
    if (a->finished && a->comments)
        return frame_comments_get(a->comments, frame, buf, size);
    struct frame_comments *fc = frame_comments_build(a->reports, a->nreports, &a->dups);
    if (!fc) {
        if (size)
            buf[0] = '\0';
        return 0;
    }
    size_t need = frame_comments_get(fc, frame, buf, size);
    if (a->finished)
        ((struct analysis *)a)->comments = fc; /* a cache: the reports no longer change */
    else
        frame_comments_free(fc);
    return need;
}

void analysis_get_summary(const struct analysis *a, struct analysis_summary *out)
{
    *out = a->sum;
    out->open_flows = a->flows.count;
    out->max_open_flows = a->flows.max_count;
    out->open_tcp = out->open_tcp_unclosed = 0;
    for (const struct flow_entry *e = a->flows.first; e; e = e->next) {
        if (e->proto != FLOW_TCP)
            continue;
        out->open_tcp++;
        out->open_tcp_unclosed += !flow_entry_tcp_closed(e);
    }
    for (unsigned i = 0; i < a->nshards; i++) { /* after analysis_finish: the shards rest */
        struct analysis_summary s;
        analysis_get_summary(a->shards[i].a, &s);
        for (int k = 0; k < VERDICT_KINDS; k++)
            out->verdicts[k] += s.verdicts[k];
        out->tcp_flows += s.tcp_flows;
        out->udp_flows += s.udp_flows;
        out->open_flows += s.open_flows;
        out->max_open_flows += s.max_open_flows;
        out->open_tcp += s.open_tcp;
        out->open_tcp_unclosed += s.open_tcp_unclosed;
        out->untracked_frames += s.untracked_frames;
        out->lost_reports += s.lost_reports;
        out->evicted_flows += s.evicted_flows;
        if (s.oom_frame && (!out->oom_frame || s.oom_frame < out->oom_frame))
            out->oom_frame = s.oom_frame;
    }
}
