/* flow_table: the open flows of an analysis, found by their addresses and
 * ports (either direction), each with the capture time it is due for
 * judgement.
 *
 *   struct flow_timeouts t = { .tcp_idle_usec = ..., .udp_idle_usec = ...,
 *                              .closed_linger_usec = ... };
 *   struct flow_table ft;
 *   if (!flow_table_init(&ft, &t)) ... out of memory ...
 *   struct flow_entry *e = flow_table_lookup(&ft, FLOW_TCP, &src, &dst);
 *   if (!e && (e = flow_table_insert(&ft, FLOW_TCP, &src, &dst)))
 *       tcp_flow_init(&e->u->tcp, p, payload_cap);    // NULL: out of memory
 *   tcp_flow_update(&e->u->tcp, p);
 *   flow_table_touched(&ft, e);                       // after every update
 *   size_t n = flow_table_take_due(&ft, now, frame);  // ft.due[0..n), oldest first
 *   for (size_t i = 0; i < n; i++) {
 *       flow_table_remove(&ft, ft.due[i]);
 *       judge(ft.due[i]);
 *       flow_table_release(&ft, ft.due[i]);
 *   }
 *   flow_table_free(&ft);                             // frees what is still open
 *
 * A flow is due when it has been idle longer than its protocol's timeout,
 * or a closed TCP flow has lingered long enough for late packets, in capture
 * time or, in a busy capture, in frames. Finding the due flows costs in
 * proportion to them, not to the open ones (a deadline heap). At the end,
 * flow_table_take_all lists what is still open, oldest first:
 *   size_t n = flow_table_take_all(&ft);             // ft.due[0..n)
 * and flow_table_each walks the open flows in no particular order. */
#ifndef WIRECHECK_FLOW_TABLE_H
#define WIRECHECK_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "deadline_heap.h"
#include "dissect.h"
#include "flow.h"

/* A flow's tracker; a closed TCP flow lingering for late packets keeps it
 * packed (flow_entry.packed) instead: a fraction of the size. */
union flow_state {
    struct tcp_flow tcp;
    struct udp_flow udp;
};

/* A place in one of the table's lists of flows (flow_list). */
struct flow_link {
    struct flow_entry *prev, *next;
};
struct flow_list {
    struct flow_entry *first, *last;
};

/* What a lookup reads (the key, the tracker's pointer) comes first, within
 * 60 bytes: at most two cache lines of a cold flow (entries are only
 * 16-byte aligned), where the heap links used to push them over three. */
struct flow_entry {
    /* The tracker, NULL while packed. Only the FLOW_TABLE_HOT flows
     * touched last keep theirs as it is, if not closed; the others (a closed
     * TCP flow lingering for late packets, a SYN flood's half-open flows,
     * idle ones) are kept packed (a bitmap of the nonzero 64-bit words, then
     * those words: the zero ones, most of it, left out), which a packet or
     * the judgement unpacks. A flow with payload copies is never packed;
     * its noted frames (flow.h: struct noted) stay out of line, the packed
     * words keep the pointer to them. */
    union flow_state *u;
    enum flow_proto proto;
    struct endpoint lo, hi;           /* canonical key: lo < hi */
    uint32_t tag;                     /* the key's tag in the table (its slot's home) */
    /* Queued no later than the flow's true deadline: a packet that brings
     * the deadline earlier moves it, one that pushes it later leaves it to
     * flow_table_take_due to find out. */
    struct deadline_node due;
    /* TCP, closed: queued in the table's linger heap at the frame its
     * lingering in frames ends (flow_timeouts.closed_linger_frames). */
    struct deadline_node linger_due;
    uint64_t created;                 /* opened after every flow with a smaller one */
    uint32_t *offloaded;              /* frames with offloaded checksums (kept for comments) */
    size_t noffloaded, offloaded_cap;
    uint8_t *packed;                  /* while packed (u NULL) */
    uint32_t packed_len;
    bool packed_closed;               /* TCP: u->tcp.closed while packed */
    bool is_hot;                      /* in the table's hot list */
    int64_t packed_deadline;          /* flow_deadline while packed */
    struct flow_link hot;             /* least recently touched first */
};

/* Flows kept unpacked (about 630 bytes each): more than the few thousand a
 * busy capture has in flight at once. */
#define FLOW_TABLE_HOT 8192
/* Trackers kept for reuse once their flow is packed or freed: each flow
 * takes one at least twice (opened, unpacked for its judgement), and
 * malloc does not cache blocks this size. */
#define FLOW_TABLE_SPARE 16

/* Capture-time timeouts, microseconds (analysis_options has the same). */
struct flow_timeouts {
    int64_t tcp_idle_usec;
    int64_t udp_idle_usec;
    int64_t closed_linger_usec;
    /* A closed TCP flow is also due this many frames after its close and
     * twice as many after its first frame (0: never), see analysis.h. */
    uint32_t closed_linger_frames;
};

struct flow_table {
    struct flow_timeouts timeouts;
    /* Open addressing, linear probing, at most 3/4 full. Slot i holds a
     * flow (entries[i]) when tags[i] is not 0: 32 bits of its key's hash,
     * whose low bits are its home slot. A probe reads the tags (16 to a
     * cache line), and a flow entry only where its tag is the one looked
     * for: a new flow's first packet reads none, and growing reads none. */
    uint32_t *tags;
    struct flow_entry **entries;
    size_t nslots;                    /* a power of two, at most 2^32 */
    uint64_t created;                 /* the next flow's */
    size_t count, max_count;          /* open now; high-water mark */
    struct flow_list hot;             /* unpacked, by last touch */
    size_t hot_count;
    struct deadline_heap deadlines;   /* every open flow's deadline */
    struct deadline_heap lingering;   /* closed TCP flows, by the frame their linger ends */
    struct flow_entry **due;          /* flow_table_take_due's answer: room for every open flow */
    union flow_state *spare[FLOW_TABLE_SPARE];
    size_t nspare;
    size_t due_cap;
};

/* false on out of memory (then flow_table_free is still safe). */
bool flow_table_init(struct flow_table *t, const struct flow_timeouts *timeouts);
/* Frees every flow still open and the table. */
void flow_table_free(struct flow_table *t);

/* The open flow between x and y (in either direction), or NULL (also when
 * a packed flow cannot be unpacked: out of memory). Its e->u is there. */
struct flow_entry *flow_table_lookup(struct flow_table *t, enum flow_proto proto,
                                     const struct endpoint *x, const struct endpoint *y);
/* flow_table_lookup with the key's hash at hand: flow_table_hash(proto, x,
 * y), which for a TCP or UDP packet is its struct packet.tuple. */
struct tuple_hash flow_table_hash(enum flow_proto proto, const struct endpoint *x,
                                  const struct endpoint *y);
struct flow_entry *flow_table_find(struct flow_table *t, enum flow_proto proto,
                                   const struct endpoint *x, const struct endpoint *y,
                                   struct tuple_hash h);
/* A new flow, open, with no deadline until flow_table_touched: the caller
 * initialises e->u first (tcp_flow_init or udp_flow_init: the tracker is
 * not zeroed). NULL on out of memory (nothing changed). */
struct flow_entry *flow_table_insert(struct flow_table *t, enum flow_proto proto,
                                     const struct endpoint *x, const struct endpoint *y);
struct flow_entry *flow_table_insert_hashed(struct flow_table *t, enum flow_proto proto,
                                            const struct endpoint *x, const struct endpoint *y,
                                            struct tuple_hash h);
/* After a packet updated e's flow: keeps its deadline no later than the
 * true one (closing, or a capture clock stepping back, brings it earlier). */
void flow_table_touched(struct flow_table *t, struct flow_entry *e);
/* Takes e out of the table (it stays allocated: flow_table_release). */
void flow_table_remove(struct flow_table *t, struct flow_entry *e);

/* Lists the flows due before capture time `now` (INT64_MIN: none by time)
 * or, closed, by frame number `frame` (flow_timeouts.closed_linger_frames)
 * in t->due, oldest (first created) first, and returns how many; they leave
 * the deadline queue, and the caller removes each from the table
 * (flow_table_remove) as it judges it. Never allocates: insert keeps room
 * for every open flow. */
size_t flow_table_take_due(struct flow_table *t, int64_t now, uint32_t frame);

/* Lists every open flow in t->due, oldest (first created) first, and
 * returns how many (what is left to judge at the end; the caller removes
 * each, flow_table_remove, as take_due's). */
size_t flow_table_take_all(struct flow_table *t);

/* The open flow in the first slot from *slot on, and *slot past it; NULL
 * when there is none. From *slot = 0: every open flow once, in no
 * particular order (nothing may be inserted or removed meanwhile). */
struct flow_entry *flow_table_each(const struct flow_table *t, size_t *slot);

/* The open flow queued with the earliest deadline (the one idle longest,
 * or closed and lingering), NULL if none: what a bound on open flows gives
 * up first. */
struct flow_entry *flow_table_oldest_idle(const struct flow_table *t);

/* Makes e->u available again if e is packed (flow_table_oldest_idle,
 * take_due and first/next may hand out packed flows). false on out of
 * memory. */
bool flow_table_unpack(struct flow_table *t, struct flow_entry *e);

/* Whether a TCP flow is closed, packed or not. */
bool flow_entry_tcp_closed(const struct flow_entry *e);

/* Asks the cache for what judging e will read (packed tracker, entry),
 * a few flows ahead of judging it: the flows due are mostly cold. */
void flow_table_prefetch(const struct flow_entry *e);

/* Frees a flow taken out of the table (its tracker may be kept for reuse). */
void flow_table_release(struct flow_table *t, struct flow_entry *e);

/* Records a frame whose TCP/UDP checksum was left to offload. false on out
 * of memory (only its frame comment is lost). */
bool flow_entry_note_offloaded(struct flow_entry *e, uint32_t frame);

#endif
