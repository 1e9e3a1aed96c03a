/* capdup: capture duplicates, the same IP packet seen twice in one capture
 * (`tcpdump -i any`, both ends of a veth pair or a bridge). What counts as a
 * duplicate is specified in analysis.h (ANALYSIS_DUP_FRAMES,
 * ANALYSIS_DUP_WINDOW_USEC); this module decides it and remembers the
 * duplicates for their frame comments.
 *
 *   struct capdup d;
 *   capdup_init(&d);
 *   for each dissected frame p (no error):
 *       if ((p.duplicate_of = capdup_check(&d, &p)))
 *           capdup_note(&d, p.frame, p.duplicate_of);   // for annotate's comments
 *   // or: struct capdup_entry k; capdup_key(&p, &k) on a worker thread,
 *   //     then capdup_check_key(&d, &k) on the thread that owns d, in order
 *   capdup_free(&d);
 *
 * Memory: a fixed ring of the last ANALYSIS_DUP_FRAMES packets, plus one
 * note per duplicate that is noted. */
#ifndef WIRECHECK_CAPDUP_H
#define WIRECHECK_CAPDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "dissect.h"

/* One recently fed IP packet. */
struct capdup_entry {
    uint64_t prefix_hash;     /* first CAPDUP_PREFIX captured bytes (masked) */
    uint64_t full_hash;       /* every captured byte (masked) */
    uint32_t captured;        /* IP bytes captured */
    uint32_t length;          /* IP length the headers claim */
    uint64_t dir;             /* hash of (src, sport, dst, dport, proto) */
    uint64_t rdir;            /* ... of the reverse direction: once a newer entry has
                                 it, a re-send of this one is real (answered) */
    uint32_t frame;
    int64_t ts;
};

/* A duplicate frame and its first copy. */
struct capdup_note {
    uint32_t frame, original;
};

struct capdup {
    struct capdup_entry ring[ANALYSIS_DUP_FRAMES];
    uint32_t tag[ANALYSIS_DUP_FRAMES]; /* ring[i].prefix_hash's low bits, side by side */
    size_t next, used;
    struct capdup_note *notes; /* in the order noted (annotate indexes them) */
    size_t nnotes, notes_cap;
};

void capdup_init(struct capdup *d);
void capdup_free(struct capdup *d);

/* The frame number of the first copy if p (dissected without error) is a
 * capture duplicate, else 0, and p is remembered as a possible original. */
uint32_t capdup_check(struct capdup *d, const struct packet *p);

/* capdup_check in two steps, for a caller that hashes packets on other
 * threads ahead of the one that keeps the ring (check --jobs):
 * capdup_key is pure (false: p is never compared, capdup_check says 0);
 * capdup_check_key is capdup_check with that key. */
bool capdup_key(const struct packet *p, struct capdup_entry *k);
uint32_t capdup_check_key(struct capdup *d, const struct capdup_entry *k);

/* Remembers that `frame` duplicates `original` (d->notes). false on out of
 * memory (only the frame's comment is lost). */
bool capdup_note(struct capdup *d, uint32_t frame, uint32_t original);

#endif
