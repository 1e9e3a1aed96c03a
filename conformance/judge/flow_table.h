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
 * time or, in a busy capture, in frames. Finding the due flows costs in proportion to them, not to the open
 * ones (a deadline heap); the open flows stay in creation order for
 * flow_table_first/next. */
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

/* What a lookup and the walk over closed flows read comes first: a cold
 * flow costs them one or two cache lines. */
struct flow_entry {
    struct flow_entry *bucket_next;
    /* Queued no later than the flow's true deadline: a packet that brings
     * the deadline earlier moves it, one that pushes it later leaves it to
     * flow_table_take_due to find out. */
    struct deadline_node due;
    /* TCP, closed: queued in the table's linger heap at the frame its
     * lingering in frames ends (flow_timeouts.closed_linger_frames). */
    struct deadline_node linger_due;
    bool lingering;
    enum flow_proto proto;
    struct endpoint lo, hi;           /* canonical key: lo < hi */
    struct flow_entry *prev, *next;   /* all open flows, in creation order */
    uint64_t created;                 /* position in that order */
    uint32_t *offloaded;              /* frames with offloaded checksums (kept for comments) */
    size_t noffloaded, offloaded_cap;
    /* The tracker, NULL while packed. Only the FLOW_TABLE_HOT flows
     * touched last keep theirs as it is, if not closed; the others (a closed
     * TCP flow lingering for late packets, a SYN flood's half-open flows,
     * idle ones)
     * are kept packed (a bitmap of the nonzero 64-bit words, then those
     * words: the zero ones, most of it, left out), which a packet or the
     * judgement unpacks. A flow with payload copies
     * is never packed; its noted frames (flow.h: struct noted) stay out
     * of line, the packed words keep the pointer to them. */
    union flow_state *u;
    uint8_t *packed;
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
    struct flow_entry **buckets;
    size_t nbuckets;                  /* a power of two */
    struct flow_entry *first, *last;
    uint64_t created;
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
/* A new flow, open, with no deadline until flow_table_touched: the caller
 * initialises e->u first (tcp_flow_init or udp_flow_init: the tracker is
 * not zeroed). NULL on out of memory (nothing changed). */
struct flow_entry *flow_table_insert(struct flow_table *t, enum flow_proto proto,
                                     const struct endpoint *x, const struct endpoint *y);
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
