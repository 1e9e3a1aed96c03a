/* deadline_heap: a (4-ary) min-heap of deadlines, for finding
 * the flows due for judgement without walking every open flow.
 *
 * The heap is intrusive: whatever has a deadline embeds a struct
 * deadline_node, which remembers where in the heap it sits so that its
 * deadline can be moved (either way) or removed in O(log n).
 *
 *   struct deadline_heap h;
 *   deadline_heap_init(&h);
 *   deadline_heap_push(&h, &flow->due, first_deadline);   // false: out of memory
 *   deadline_heap_move(&h, &flow->due, new_deadline);     // earlier or later
 *   while ((n = deadline_heap_top(&h)) && n->at < now)
 *       ... deadline_heap_pop(&h) or deadline_heap_move(&h, n, later) ...
 *   deadline_heap_remove(&h, &flow->due);
 *   deadline_heap_free(&h);
 *
 * Equal deadlines come out in no particular order. Nothing here allocates
 * except push (which may grow the array). */
#ifndef WIRECHECK_DEADLINE_HEAP_H
#define WIRECHECK_DEADLINE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct deadline_node {
    int64_t at;     /* the deadline (read it here: a copy sits in the heap) */
    size_t slot;    /* 1-based position in the heap; 0: not queued, so a
                       zeroed node starts out of the heap */
};

/* The deadline is copied next to the node pointer so that sifting compares
 * within the heap's own array instead of chasing every node. */
struct deadline_slot {
    int64_t at;
    struct deadline_node *node;
};

struct deadline_heap {
    struct deadline_slot *slots;  /* [1..count]; [0] unused (1-based) */
    size_t count, cap;
};

void deadline_heap_init(struct deadline_heap *h);
/* Frees the array only: nodes still queued are not written to (their owners
 * are usually being freed too). */
void deadline_heap_free(struct deadline_heap *h);

/* Queues a node that is not queued (zeroed, or taken out). false (and nothing queued) on out of
 * memory. */
bool deadline_heap_push(struct deadline_heap *h, struct deadline_node *n, int64_t at);

/* Makes room for `count` nodes queued at once, so that pushes up to that
 * many cannot fail. false on out of memory. */
bool deadline_heap_reserve(struct deadline_heap *h, size_t count);

/* Gives a queued node a new deadline, earlier or later. */
void deadline_heap_move(struct deadline_heap *h, struct deadline_node *n, int64_t at);

/* Takes a queued node out; a node that is not queued is left alone. */
void deadline_heap_remove(struct deadline_heap *h, struct deadline_node *n);

/* The node with the earliest deadline, NULL when empty. */
struct deadline_node *deadline_heap_top(const struct deadline_heap *h);

/* Takes the top node out and returns it (NULL when empty). */
struct deadline_node *deadline_heap_pop(struct deadline_heap *h);

static inline bool deadline_node_queued(const struct deadline_node *n)
{
    return n->slot != 0;
}

#endif
