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
 * The reader (the caller of analysis_feed) copies frames into chunks. Each
 * full chunk goes to the shard threads, every one dissecting its slice (and
 * hashing it for capdup, and noting for a plain packet the few things the
 * reader needs of it: chunk.plain). Two chunks later the reader drops capture
 * duplicates, reassembles and routes it, in frame order (what needs one
 * thread), into one batch of items per shard, which each shard then works
 * on its own flows. Nothing waits for a step to end: the reader reads on
 * while the shards work through their queues, and waits only for a chunk
 * still being dissected or worked when it needs it (CHUNKS in flight).
 * The reader numbers what it hands the shards: each routed packet and each
 * scan for due flows is an event (seq). A shard's report carries the key
 * (event, sub): sub counts the judgements of a packet, and is the flow's
 * creation number (the event of its first packet) for a scan or the finish,
 * where several shards judge at once and one thread goes by creation. The
 * reader hands reports out merged by key, which is the order one thread
 * judges in, each as soon as no shard can still come up with a smaller one. */
enum item_kind { ITEM_PACKET, ITEM_SCAN, ITEM_FINISH };
struct item {
    enum item_kind kind;
    uint32_t frame;                  /* being fed */
    uint64_t seq;
    int64_t ts;
    /* ITEM_PACKET: the packet in its chunk, or (NULL) the batch's copy
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
#define PUBLISH_BATCH 64             /* reports a shard keeps to itself before it locks */
#define FINISH_EVENT (UINT64_MAX - 1)
#define SHARD_REUSE_MAX 64           /* spent reports a shard keeps to fill again */

/* A frame as read, its bytes at chunk.bytes + at. */
struct raw_frame {
    uint32_t frame, caplen, wirelen;
    int linktype;
    int64_t ts;
    size_t at;
};

/* What the reader routed to one shard from one chunk. */
struct batch {
    struct item *items;
    size_t n, cap;
    struct packet *own;              /* packets of items that are in no chunk */
    size_t nown, own_cap;
};

/* Frames read in a row (at most CHUNK_FRAMES, or CHUNK_BYTES unless one
 * frame is more), their packets once dissected, and the batches routed from
 * them: the shards' items point into it, so it is read into again only
 * once every shard worked its batch. */
struct chunk {
    struct raw_frame *frames;
    size_t n;
    uint8_t *bytes;
    size_t nbytes, bytes_cap;
    struct packet *pkts;             /* dissected, one per frame */
    enum dissect_error *errs;
    struct capdup_entry *keys;       /* capdup_key's, where has_key */
    bool *has_key;
    /* What the reader needs of a plain packet (decoded, not a fragment, no
     * tunnel inside), found by the shard that dissected it, so that the
     * reader reads none of the packet: the shard to route it to, or -1
     * (no flow: route() would do nothing). 0 when not plain. */
    bool *plain;
    int16_t *route_to;
    struct batch *batch;             /* one per shard */
    unsigned dissected, worked;      /* shards done with their slice, their batch (pipe mu) */
};
#define CHUNK_FRAMES 1024
#define CHUNK_BYTES ((size_t)512 << 10)
#define CHUNKS 16                    /* in flight: read, dissected, judged, worked */
#define JUDGE_BEHIND 4               /* chunks read after the one the reader judges */
#define READ_AHEAD 4                 /* chunks freed before a waiting reader reads on */

enum task_kind { TASK_DISSECT, TASK_WORK };
struct task {
    enum task_kind kind;
    struct chunk *c;
    uint64_t end;                    /* TASK_WORK: every event below it is the chunk's or earlier */
};
#define QUEUE_CAP (2 * CHUNKS)

/* What the reader and the shards share, under mu. */
struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t work;             /* a shard: a task queued, or go on after a pause */
    pthread_cond_t progress;         /* the reader: a task done, or a shard paused */
    uint64_t progressed;             /* counts those */
    unsigned paused;                 /* shards waiting for the reader to hand reports out */
    bool quit;
};

struct shard {
    struct analysis *a;              /* its own flows; collects, publishes nothing */
    struct pipe *pipe;
    unsigned index, count;
    pthread_t thread;
    bool started;
    /* Under pipe->mu: */
    struct task queue[QUEUE_CAP];
    size_t qhead, qlen;
    uint64_t worked_below;           /* every event below it is worked: its reports are in out */
    bool paused;                     /* out is full: the reader hands some out first */
    struct keyed_report *out;        /* by key */
    size_t nout, out_cap;
    /* Reports handed out, for the shard to free when it next runs: malloc
     * then gets back memory the thread touched last. */
    struct flow_report **spent;
    size_t nspent, spent_cap;
    /* The shard's own: spent reports to fill again. */
    struct flow_report *reuse[SHARD_REUSE_MAX];
    size_t nreuse;
    /* The shard's own: the batch its items come from; reports not yet in out. */
    const struct batch *working;
    struct keyed_report *pending;
    size_t npending, pending_cap;
};

/* Reports handed out come back to be filled again (flow_report_build's
 * reuse): a new one costs a malloc of RULE_COUNT verdicts, which the
 * shard's arena gives and takes back from the system page by page. */
static void free_spent(struct shard *sh)
{
    for (size_t i = 0; i < sh->nspent; i++) {
        if (sh->nreuse < SHARD_REUSE_MAX)
            sh->reuse[sh->nreuse++] = sh->spent[i];
        else
            flow_report_free(sh->spent[i]);
    }
    sh->nspent = 0;
}

struct analysis {
    struct analysis_options opt;
    struct checks_options checks;    /* what the rules are told, from opt */
    struct flow_table flows;
    struct capdup dups;
    struct reasm *reasm;
    int64_t next_scan;
    uint64_t next_linger_scan;       /* frame: closed flows whose frames of linger are over */
    bool finished;
    unsigned next_index;
    struct flow_report **reports;    /* retain_reports */
    struct flow_report *spare_report; /* handed out, no longer read: the next one to fill */
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
    struct pipe *pipe;
    struct chunk *chunks;            /* CHUNKS: chunk k is chunks[k % CHUNKS] */
    uint64_t nread, njudged;         /* chunks handed to the shards, judged */
    struct chunk *judging;           /* judge_chunk's: the batches items go to */
    const struct packet *chunk_packet; /* judge_chunk's, being judged */
    /* A shard: */
    struct shard *self;
    uint64_t event;                  /* being worked */
    bool by_creation;                /* a scan or the finish: sub is the flow's creation */
    uint64_t sub;
};

static bool shards_create(struct analysis *a, unsigned jobs);
static void shards_destroy(struct analysis *a);
static void shard_publish(struct analysis *a, struct flow_report *r);
static void scan_shards(struct analysis *a, int64_t now);
static void finish_shards(struct analysis *a);

void analysis_options_default(struct analysis_options *o)
{
    memset(o, 0, sizeof *o);
    o->payload_cap = 64 * 1024;
    o->tcp_idle_usec = 300 * 1000000LL;
    o->udp_idle_usec = 60 * 1000000LL;
    o->closed_linger_usec = 2 * 1000000LL;
    o->closed_linger_frames = ANALYSIS_DEFAULT_LINGER_FRAMES;
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
                                         .only = a->opt.only_rules,
                                         .unkept_kinds = a->opt.verdict_unkept_kinds };
    struct flow_timeouts t = { a->opt.tcp_idle_usec, a->opt.udp_idle_usec,
                               a->opt.closed_linger_usec, a->opt.closed_linger_frames };
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
        a->opt.payload_cap == 0 && !shards_create(a, jobs - 1)) { /* the reader is one */
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
    flow_report_free(a->spare_report);
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
    for (int k = 0; k < VERDICT_KINDS; k++)
        a->sum.verdicts[k] += r->verdict_counts[k];
    if (r->proto == FLOW_TCP)
        a->sum.tcp_flows++;
    else if (r->proto == FLOW_UDP)
        a->sum.udp_flows++;
    if (a->self) {
        shard_publish(a, r);
        return;
    }
    if (a->opt.on_flow_done)
        a->opt.on_flow_done(r, a->opt.ctx);
    if (!a->opt.retain_reports) {
        if (a->spare_report)
            flow_report_free(r);
        else
            a->spare_report = r; /* r lived only for the call */
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
    struct flow_report *r = NULL;
    if (flow_table_unpack(&a->flows, e)) {
        r = flow_report_build(e, &a->checks, a->spare_report);
        a->spare_report = NULL;
    }
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
    flow_table_release(&a->flows, e);
}

/* ---- expire ------------------------------------------------------------------ */

/* Judges the n flows take_due listed, in order, each fetched a few ahead. */
#define PREFETCH_AHEAD 4
static void judge_due(struct analysis *a, size_t n)
{
    for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++)
        flow_table_prefetch(a->flows.due[i]);
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n)
            flow_table_prefetch(a->flows.due[i + PREFETCH_AHEAD]);
        judge(a, a->flows.due[i]);
    }
}

/* Judges every flow still open, oldest first: the end of the capture. */
static void judge_all(struct analysis *a)
{
    judge_due(a, flow_table_take_all(&a->flows));
}

/* Judges the flows due, oldest first, and gives up on datagrams whose
 * fragments stopped coming. */
static void expire(struct analysis *a, int64_t now)
{
    judge_due(a, flow_table_take_due(&a->flows, now, a->frame));
    reasm_expire(a->reasm, now, &a->reasm_failed);
}

/* Between the scans in capture time, every closed_linger_frames / 4 frames:
 * the closed flows that lingered their frames (analysis.h). Only those: the
 * others keep to the capture-time schedule. */
static bool linger_scan_due(struct analysis *a, uint32_t frame)
{
    uint32_t every = a->opt.closed_linger_frames / 4;
    if (!a->opt.closed_linger_frames || frame < a->next_linger_scan)
        return false;
    a->next_linger_scan = (uint64_t)frame + (every ? every : 1);
    return true;
}

static void expire_lingered(struct analysis *a)
{
    judge_due(a, flow_table_take_due(&a->flows, INT64_MIN, a->frame));
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

/* The flow table's hash of p's flow: the one capdup took (struct
 * packet.tuple), if it did. */
static struct tuple_hash packet_key(enum flow_proto proto, const struct packet *p)
{
    if (p->tuple_hashed)
        return p->tuple;
    struct endpoint src = { p->src, p->sport }, dst = { p->dst, p->dport };
    return flow_table_hash(proto, &src, &dst);
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
    struct flow_entry *e = flow_table_insert_hashed(&a->flows, proto, &src, &dst, packet_key(proto, p));
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
    struct flow_entry *e = flow_table_find(&a->flows, FLOW_TCP, &src, &dst, packet_key(FLOW_TCP, p));
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
    struct flow_entry *e = flow_table_find(&a->flows, FLOW_UDP, &src, &dst, packet_key(FLOW_UDP, p));
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

/* The same for (x, y) and (y, x): sums of the two ends' words (an order
 * both directions agree on without comparing them), two multiplies. Only
 * the load's balance rests on it: flows whose sums meet share a shard. */
static unsigned shard_of(unsigned nshards, const struct ip_addr *x, uint16_t xp,
                         const struct ip_addr *y, uint16_t yp)
{
    if (nshards == 1)
        return 0;   /* --jobs 2, the default on 2 cores: nothing to spread */
    uint64_t x0, x1, y0, y1;
    hash_mix_addr_words(x, &x0, &x1);
    hash_mix_addr_words(y, &y0, &y1);
    uint64_t ports = (uint64_t)xp + yp + ((uint64_t)x->family << 32);
    uint64_t h = hash_mix_fold((x0 + y0) ^ 0x9E3779B97F4A7C15ull, (x1 + y1) ^ 0xC2B2AE3D27D4EB4Full) ^
                 hash_mix_fold(ports ^ 0x165667B19E3779F9ull, (ports ^ (x0 + y0)) | 1);
    return (unsigned)((h >> 32) * nshards >> 32); /* no division: per packet */
}

/* The shard whose flows p belongs to (the quoted one's for an ICMP error),
 * -1 if none of them: route() gives it to no flow. */
static int route_shard(unsigned nshards, const struct packet *p)
{
    if (p->l4 == L4_TCP || p->l4 == L4_UDP)
        return (int)shard_of(nshards, &p->src, p->sport, &p->dst, p->dport);
    if ((p->l4 == L4_ICMP || p->l4 == L4_ICMPV6) && p->quote.present &&
        (p->quote.proto == WC_IPPROTO_UDP || p->quote.proto == WC_IPPROTO_TCP))
        return (int)shard_of(nshards, &p->quote.src.ip, p->quote.src.port, &p->quote.dst.ip,
                             p->quote.dst.port);
    return -1;
}

static bool key_less(const struct keyed_report *k, const struct keyed_report *than)
{
    return k->event < than->event || (k->event == than->event && k->sub < than->sub);
}

/* Moves the shard's pending reports to out (pipe mutex held); out full,
 * the shard waits for the reader to hand some out (a scan or the finish
 * may judge thousands) if `may_wait`. */
static void shard_flush(struct shard *sh, bool may_wait)
{
    struct pipe *pp = sh->pipe;
    void *out = array_reserve(sh->out, &sh->out_cap, sh->nout + sh->npending, sizeof *sh->out, 256);
    if (!out) {
        out_of_memory(sh->a);
        for (size_t i = 0; i < sh->npending; i++) {
            sh->a->sum.lost_reports++;
            flow_report_free(sh->pending[i].r);
        }
        sh->npending = 0;
        return;
    }
    sh->out = out;
    memcpy(sh->out + sh->nout, sh->pending, sh->npending * sizeof *sh->out);
    sh->nout += sh->npending;
    sh->npending = 0;
    if (may_wait && sh->nout >= OUT_MAX) {
        sh->paused = true;
        pp->paused++;
        pp->progressed++;
        pthread_cond_signal(&pp->progress);
        while (sh->paused && !pp->quit)
            pthread_cond_wait(&pp->work, &pp->mu);
        free_spent(sh);
    }
}

/* A shard's report waits to be merged: kept by the shard, then in out. */
static void shard_publish(struct analysis *a, struct flow_report *r)
{
    struct shard *sh = a->self;
    if (!a->spare_report && sh->nreuse)
        a->spare_report = sh->reuse[--sh->nreuse]; /* for the next judgement */
    void *pending = array_reserve(sh->pending, &sh->pending_cap, sh->npending + 1,
                                  sizeof *sh->pending, PUBLISH_BATCH);
    if (!pending) {
        out_of_memory(a);
        a->sum.lost_reports++;
        flow_report_free(r);
        return;
    }
    sh->pending = pending;
    sh->pending[sh->npending++] = (struct keyed_report){ a->event, a->sub, r };
    if (sh->npending >= PUBLISH_BATCH) {
        pthread_mutex_lock(&sh->pipe->mu);
        shard_flush(sh, true);
        pthread_mutex_unlock(&sh->pipe->mu);
    }
}

#define EMIT_MAX 256

/* Hands out, merged by key, the reports no shard can still precede: a
 * shard with none waiting may come up with a smaller one until it has
 * worked that event. Returns how many (at most EMIT_MAX at a time). */
static size_t emit(struct analysis *a)
{
    struct pipe *pp = a->pipe;
    struct keyed_report taken[EMIT_MAX];
    unsigned from[EMIT_MAX];
    size_t n = 0, at[64] = {0};
    pthread_mutex_lock(&pp->mu);
    while (n < EMIT_MAX) {
        const struct keyed_report *best = NULL;
        unsigned b = 0;
        for (unsigned i = 0; i < a->nshards; i++) {
            const struct shard *sh = &a->shards[i];
            if (at[i] < sh->nout && (!best || key_less(&sh->out[at[i]], best))) {
                best = &sh->out[at[i]];
                b = i;
            }
        }
        bool safe = best != NULL;
        for (unsigned i = 0; safe && i < a->nshards; i++)
            safe = at[i] < a->shards[i].nout || a->shards[i].worked_below > best->event;
        if (!safe)
            break;
        taken[n] = *best;
        from[n++] = b;
        at[b]++;
    }
    bool wake = false;
    for (unsigned i = 0; i < a->nshards; i++) {
        struct shard *sh = &a->shards[i];
        if (!at[i])
            continue;
        memmove(sh->out, sh->out + at[i], (sh->nout - at[i]) * sizeof *sh->out);
        sh->nout -= at[i];
        if (sh->paused && sh->nout < OUT_MAX) {
            sh->paused = false;
            a->pipe->paused--;
            wake = true;
        }
    }
    if (wake)
        pthread_cond_broadcast(&pp->work);
    pthread_mutex_unlock(&pp->mu);
    for (size_t i = 0; i < n; i++) {
        taken[i].r->index = a->next_index++;
        if (a->opt.on_flow_done)
            a->opt.on_flow_done(taken[i].r, a->opt.ctx);
    }
    if (!n)
        return 0;
    pthread_mutex_lock(&pp->mu);
    for (size_t i = 0; i < n; i++) {
        struct shard *sh = &a->shards[from[i]];
        void *spent = array_reserve(sh->spent, &sh->spent_cap, sh->nspent + 1,
                                    sizeof *sh->spent, 256);
        if (spent) {
            sh->spent = spent;
            sh->spent[sh->nspent++] = taken[i].r;
        } else {
            flow_report_free(taken[i].r);
        }
    }
    pthread_mutex_unlock(&pp->mu);
    return n;
}

static bool chunk_dissected(const struct analysis *a, const struct chunk *c)
{
    return c->dissected == a->nshards;
}

static bool chunk_worked(const struct analysis *a, const struct chunk *c)
{
    return c->worked == a->nshards;
}

/* Waits until done(c) (read under the pipe's mutex), handing reports out
 * meanwhile: a shard may be waiting for that. */
static void wait_for(struct analysis *a, bool (*done)(const struct analysis *, const struct chunk *),
                     const struct chunk *c)
{
    struct pipe *pp = a->pipe;
    for (;;) {
        pthread_mutex_lock(&pp->mu);
        bool ok = done(a, c);
        uint64_t seen = pp->progressed;
        pthread_mutex_unlock(&pp->mu);
        if (ok)
            return;
        if (emit(a))
            continue;
        pthread_mutex_lock(&pp->mu);
        pthread_cond_broadcast(&pp->work); /* whatever is queued gets done */
        while (pp->progressed == seen)
            pthread_cond_wait(&pp->progress, &pp->mu);
        pthread_mutex_unlock(&pp->mu);
    }
}

/* Queues a task for every shard (pipe mutex held). A shard that ran out of
 * work is woken only once WAKE_TASKS wait for it (or the reader is about to
 * wait): fewer sleeps and wake-ups, the reader being ahead anyway. */
#define WAKE_TASKS 4
static void queue_task(struct analysis *a, enum task_kind kind, struct chunk *c, uint64_t end)
{
    for (unsigned i = 0; i < a->nshards; i++) {
        struct shard *sh = &a->shards[i];
        sh->queue[(sh->qhead + sh->qlen++) % QUEUE_CAP] = (struct task){ kind, c, end };
    }
    if (a->shards[0].qlen >= WAKE_TASKS)
        pthread_cond_broadcast(&a->pipe->work);
}

static void judge_chunk(struct analysis *a, struct chunk *c);
static void broadcast(struct analysis *a, enum item_kind kind, int64_t ts);

/* The chunk just read goes to the shards to dissect; the reader judges the
 * one read JUDGE_BEHIND before it (every one left, with the finish after
 * them, if `last`), hands out what reports it can, and readies the next
 * chunk to read into. */
static void step(struct analysis *a, bool last)
{
    struct pipe *pp = a->pipe;
    struct chunk *c = &a->chunks[a->nread++ % CHUNKS];
    pthread_mutex_lock(&pp->mu);
    c->dissected = c->n ? 0 : a->nshards;
    if (c->n)
        queue_task(a, TASK_DISSECT, c, 0);
    pthread_mutex_unlock(&pp->mu);
    while (a->njudged + JUDGE_BEHIND < a->nread || (last && a->njudged < a->nread)) {
        struct chunk *d = &a->chunks[a->njudged++ % CHUNKS];
        bool final = last && a->njudged == a->nread;
        wait_for(a, chunk_dissected, d);
        judge_chunk(a, d);
        if (final)
            broadcast(a, ITEM_FINISH, 0);
        pthread_mutex_lock(&pp->mu);
        d->worked = 0;
        queue_task(a, TASK_WORK, d, final ? UINT64_MAX : a->seq);
        pthread_mutex_unlock(&pp->mu);
    }
    emit(a);
    /* Chunks are worked in order: when the reader has to wait, it waits
     * for READ_AHEAD of them, not to be woken for each. */
    struct chunk *next = &a->chunks[a->nread % CHUNKS];
    if (!chunk_worked(a, next))
        wait_for(a, chunk_worked, &a->chunks[(a->nread + READ_AHEAD - 1) % CHUNKS]);
    wait_for(a, chunk_worked, next);
    next->n = next->nbytes = 0;
    for (unsigned i = 0; i < a->nshards; i++)
        next->batch[i].n = next->batch[i].nown = 0;
}

/* Room for one more item in the shard's batch from the chunk being judged;
 * NULL, counted, on out of memory. */
static struct item *next_item(struct analysis *a, unsigned shard)
{
    struct batch *b = &a->judging->batch[shard];
    void *items = array_reserve(b->items, &b->cap, b->n + 1, sizeof *b->items, 256);
    if (!items) {
        out_of_memory(a);
        return NULL;
    }
    b->items = items;
    return &b->items[b->n++];
}

/* Hands p (the chunk's packet being judged, or one of a->frame that is in
 * no chunk) to shard i as an item; false if counted as untracked. */
static struct item *dispatch_to(struct analysis *a, unsigned i, const struct packet *p, int64_t ts)
{
    struct item *it = next_item(a, i);
    if (!it) {
        a->sum.untracked_frames++;
        return NULL;
    }
    it->kind = ITEM_PACKET;
    it->seq = a->seq++;
    it->ts = ts;
    it->frame = a->frame;
    it->p = p;
    return it;
}

static void dispatch(struct analysis *a, const struct packet *p)
{
    int to = route_shard(a->nshards, p);
    if (to < 0)
        return;
    unsigned i = (unsigned)to;
    struct item *it = dispatch_to(a, i, p, p->ts_usec);
    if (!it || (p == a->chunk_packet && !p->reassembled))
        return;
    struct batch *b = &a->judging->batch[i];
    void *own = array_reserve(b->own, &b->own_cap, b->nown + 1, sizeof *b->own, 64);
    if (!own) {
        out_of_memory(a);
        a->sum.untracked_frames++;
        b->n--;
        return;
    }
    b->own = own;
    it->p = NULL;
    it->own = b->nown++;
    b->own[it->own] = *p;
    b->own[it->own].ip_payload = b->own[it->own].payload = NULL; /* payload_cap 0 */
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

/* The last frames read are dissected and judged, the finish after them;
 * once every shard worked all, every report is handed out. */
static void finish_shards(struct analysis *a)
{
    step(a, true);
    for (size_t i = 0; i < CHUNKS; i++)
        wait_for(a, chunk_worked, &a->chunks[i]);
    while (emit(a))
        ;
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
        route(b, it->p ? it->p : &sh->working->own[it->own]);
        break;
    case ITEM_SCAN: {
        b->event = it->seq;
        b->by_creation = true;
        size_t n = flow_table_take_due(&b->flows, it->ts, it->frame);
        for (size_t i = 0; i < n; i++)
            judge(b, b->flows.due[i]);
        break;
    }
    case ITEM_FINISH:
        b->event = FINISH_EVENT;
        b->by_creation = true;
        judge_all(b);
        break;
    }
}

/* What a shard does ahead of the reader: dissect its slice of the chunk
 * (frames [lo, hi)), hash it for capdup, and find what the reader needs of
 * a plain packet (chunk.plain). */
static void dissect_slice(struct chunk *c, size_t lo, size_t hi, unsigned nshards)
{
    for (size_t i = lo; i < hi; i++) {
        const struct raw_frame *f = &c->frames[i];
        struct packet *p = &c->pkts[i];
        c->errs[i] = dissect_frame(p, f->frame, f->ts, f->linktype, c->bytes + f->at, f->caplen,
                                   f->wirelen);
        if (c->errs[i] == DISSECT_OK)
            hash_mix_packet_tuple(p);
        c->has_key[i] = c->errs[i] == DISSECT_OK && capdup_key(p, &c->keys[i]);
        struct tunnel_inner inner;
        c->plain[i] = c->errs[i] == DISSECT_OK && !p->is_fragment && !dissect_tunnel_inner(p, &inner);
        c->route_to[i] = (int16_t)(c->plain[i] ? route_shard(nshards, p) : -1);
    }
}

static void *shard_main(void *arg)
{
    struct shard *sh = arg;
    struct pipe *pp = sh->pipe;
    pthread_mutex_lock(&pp->mu);
    for (;;) {
        while (!sh->qlen && !pp->quit)
            pthread_cond_wait(&pp->work, &pp->mu);
        if (pp->quit)
            break;
        struct task t = sh->queue[sh->qhead];
        sh->qhead = (sh->qhead + 1) % QUEUE_CAP;
        sh->qlen--;
        free_spent(sh);
        pthread_mutex_unlock(&pp->mu);
        if (t.kind == TASK_DISSECT) {
            dissect_slice(t.c, t.c->n * sh->index / sh->count,
                          t.c->n * (sh->index + 1) / sh->count, sh->count);
        } else {
            const struct batch *b = &t.c->batch[sh->index];
            sh->working = b;
            for (size_t i = 0; i < b->n; i++)
                work_item(sh, &b->items[i]);
        }
        pthread_mutex_lock(&pp->mu);
        unsigned done;
        if (t.kind == TASK_DISSECT) {
            done = ++t.c->dissected;
        } else {
            shard_flush(sh, false); /* worked_below now covers them */
            done = ++t.c->worked;
            if (t.end > sh->worked_below)
                sh->worked_below = t.end;
        }
        /* The reader waits for a whole chunk, or to hand out a paused
         * shard's reports, which this shard's progress may allow. */
        if (done == sh->count || pp->paused) {
            pp->progressed++;
            pthread_cond_signal(&pp->progress);
        }
    }
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

static void chunk_free(struct chunk *c, unsigned nshards)
{
    free(c->frames);
    free(c->bytes);
    free(c->pkts);
    free(c->errs);
    free(c->keys);
    free(c->has_key);
    free(c->plain);
    free(c->route_to);
    for (unsigned i = 0; c->batch && i < nshards; i++) {
        free(c->batch[i].items);
        free(c->batch[i].own);
    }
    free(c->batch);
}

static bool chunk_init(struct chunk *c, unsigned nshards)
{
    c->frames = malloc(CHUNK_FRAMES * sizeof *c->frames);
    c->pkts = malloc(CHUNK_FRAMES * sizeof *c->pkts);
    c->errs = malloc(CHUNK_FRAMES * sizeof *c->errs);
    c->keys = malloc(CHUNK_FRAMES * sizeof *c->keys);
    c->has_key = malloc(CHUNK_FRAMES * sizeof *c->has_key);
    c->plain = malloc(CHUNK_FRAMES * sizeof *c->plain);
    c->route_to = malloc(CHUNK_FRAMES * sizeof *c->route_to);
    c->bytes = malloc(CHUNK_BYTES); /* never NULL after: array_reserve keeps it */
    c->bytes_cap = c->bytes ? CHUNK_BYTES : 0;
    c->batch = calloc(nshards, sizeof *c->batch);
    c->worked = nshards; /* free to read into */
    return c->frames && c->pkts && c->errs && c->keys && c->has_key && c->plain && c->route_to &&
           c->bytes && c->batch;
}

static void shards_destroy(struct analysis *a)
{
    if (!a->shards)
        return;
    struct pipe *pp = a->pipe;
    if (pp) {
        pthread_mutex_lock(&pp->mu);
        pp->quit = true;
        pthread_cond_broadcast(&pp->work);
        pthread_mutex_unlock(&pp->mu);
    }
    for (unsigned i = 0; i < a->nshards; i++) {
        struct shard *sh = &a->shards[i];
        if (sh->started)
            pthread_join(sh->thread, NULL);
        free_spent(sh);
        while (sh->nreuse)
            flow_report_free(sh->reuse[--sh->nreuse]);
        free(sh->spent);
        free(sh->pending);
        for (size_t k = 0; k < sh->nout; k++) /* not handed out: no analysis_finish */
            flow_report_free(sh->out[k].r);
        free(sh->out);
        analysis_destroy(sh->a);
    }
    for (size_t i = 0; a->chunks && i < CHUNKS; i++)
        chunk_free(&a->chunks[i], a->nshards);
    free(a->chunks);
    if (pp) {
        pthread_cond_destroy(&pp->progress);
        pthread_cond_destroy(&pp->work);
        pthread_mutex_destroy(&pp->mu);
        free(pp);
    }
    free(a->shards);
    a->shards = NULL;
    a->nshards = 0;
}

/* false on out of memory or no thread. */
static bool shards_create(struct analysis *a, unsigned jobs)
{
    a->shards = calloc(jobs, sizeof *a->shards);
    if (!a->shards)
        return false;
    a->nshards = jobs;
    a->chunks = calloc(CHUNKS, sizeof *a->chunks);
    if (!a->chunks)
        return false;
    for (size_t i = 0; i < CHUNKS; i++)
        if (!chunk_init(&a->chunks[i], jobs))
            return false;
    struct pipe *pp = calloc(1, sizeof *pp);
    if (!pp)
        return false;
    if (pthread_mutex_init(&pp->mu, NULL) != 0) {
        free(pp);
        return false;
    }
    if (pthread_cond_init(&pp->work, NULL) != 0) {
        pthread_mutex_destroy(&pp->mu);
        free(pp);
        return false;
    }
    if (pthread_cond_init(&pp->progress, NULL) != 0) {
        pthread_cond_destroy(&pp->work);
        pthread_mutex_destroy(&pp->mu);
        free(pp);
        return false;
    }
    a->pipe = pp;
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
        sh->pipe = pp;
        sh->index = i;
        sh->count = jobs;
        if (pthread_create(&sh->thread, NULL, shard_main, sh) != 0)
            return false;
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

/* p is a capture duplicate of frame `original`: counted, not judged. */
static void note_duplicate(struct analysis *a, struct packet *p, uint32_t original, int depth)
{
    p->duplicate_of = original;
    if (!depth)
        a->sum.duplicates++;
    if ((a->opt.retain_reports || a->opt.annotate) && !depth)
        capdup_note(&a->dups, p->frame, original); /* false: the comment is lost */
    tell_packet(a, p);
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
    uint32_t original = 0;
    if (err == DISSECT_OK && !dup_key && !p->tuple_hashed)
        hash_mix_packet_tuple(p); /* for capdup and the flow table */
    if (err == DISSECT_OK)
        original = dup_key ? capdup_check_key(&a->dups, dup_key) : capdup_check(&a->dups, p);
    if (original) {
        note_duplicate(a, p, original, depth);
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
        p->tuple_hashed = false; /* the ports are the reassembled datagram's */
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

/* Every SCAN_INTERVAL_USEC of capture time, the flows due are judged;
 * between, every closed_linger_frames / 4 frames (a->frame), the closed
 * ones that lingered their frames. */
static void scan_due(struct analysis *a, int64_t ts)
{
    if (ts >= a->next_scan) {
        if (a->shards) {
            scan_shards(a, ts);
            reasm_expire(a->reasm, ts, &a->reasm_failed);
        } else {
            expire(a, ts);
        }
        a->next_scan = ts + SCAN_INTERVAL_USEC;
    } else if (linger_scan_due(a, a->frame)) {
        if (a->shards)
            scan_shards(a, INT64_MIN);
        else
            expire_lingered(a);
    }
}

/* The reader's part of a chunk: what analysis_feed does with one thread, on
 * frames the shards dissected. */
static void judge_chunk(struct analysis *a, struct chunk *c)
{
    a->judging = c;
    for (size_t i = 0; i < c->n; i++) {
        a->sum.frames++;
        a->frame = c->frames[i].frame;
        scan_due(a, c->frames[i].ts);
        a->chunk_packet = &c->pkts[i];
        if (c->plain[i] && !a->opt.on_packet) {
            /* judge_packet's path for it, from the chunk's small arrays
             * only: the packet itself stays in the cache of the shard
             * that dissected it, for the one that routes it. */
            uint32_t original = c->has_key[i] ? capdup_check_key(&a->dups, &c->keys[i]) : 0;
            if (original)
                note_duplicate(a, &c->pkts[i], original, 0);
            else if (c->route_to[i] >= 0)
                dispatch_to(a, (unsigned)c->route_to[i], &c->pkts[i], c->frames[i].ts);
            continue;
        }
        judge_packet(a, &c->pkts[i], c->errs[i], 0, c->has_key[i] ? &c->keys[i] : NULL);
    }
    a->chunk_packet = NULL;
}

/* Copies a frame into the chunk being read (a full one first goes to the
 * shards); false on out of memory. */
static bool read_frame(struct analysis *a, uint32_t frame, int64_t ts, int linktype,
                       uint32_t caplen, uint32_t wirelen, const uint8_t *bytes)
{
    struct chunk *c = &a->chunks[a->nread % CHUNKS];
    if (c->n == CHUNK_FRAMES || (c->nbytes && c->nbytes + caplen > CHUNK_BYTES)) {
        step(a, false);
        c = &a->chunks[a->nread % CHUNKS];
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
    judge_all(a);
    reasm_expire(a->reasm, INT64_MAX, &a->reasm_failed);
    if (a->malformed.count || a->reasm_failed.count) {
        struct flow_report *r = flow_report_build_capture(&a->malformed, a->first_malformed,
                                                          &a->reasm_failed, &a->checks);
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
    size_t slot = 0;
    for (const struct flow_entry *e; (e = flow_table_each(&a->flows, &slot));) {
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
