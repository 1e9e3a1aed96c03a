/* deadline_heap: a 4-ary min-heap, 1-based (the children of slot i are
 * 4i - 2 .. 4i + 1, its parent (i + 2) / 4), each node told its slot
 * whenever it moves. Four children to a level where two would do: half the
 * levels, so a sift writes half as many nodes (a flow's entry, mostly cold
 * by then), and the four children's slots share a cache line or two. See
 * deadline_heap.h. */
#include "deadline_heap.h"

#include <stdlib.h>

void deadline_heap_init(struct deadline_heap *h)
{
    h->slots = NULL;
    h->count = h->cap = 0;
}

void deadline_heap_free(struct deadline_heap *h)
{
    free(h->slots);
    deadline_heap_init(h);
}

static void place(struct deadline_heap *h, size_t i, struct deadline_slot s)
{
    h->slots[i] = s;
    s.node->slot = i;
}

static size_t parent_of(size_t i)
{
    return (i + 2) / 4;
}

/* Moves the entry at slot i towards the root while it is earlier than its
 * parent. */
static void sift_up(struct deadline_heap *h, size_t i)
{
    struct deadline_slot s = h->slots[i];
    while (i > 1 && s.at < h->slots[parent_of(i)].at) {
        place(h, i, h->slots[parent_of(i)]);
        i = parent_of(i);
    }
    place(h, i, s);
}

/* Moves the entry at slot i towards the leaves while a child is earlier. */
static void sift_down(struct deadline_heap *h, size_t i)
{
    struct deadline_slot s = h->slots[i];
    for (;;) {
        size_t first = 4 * i - 2;
        if (first > h->count)
            break;
        size_t last = first + 3 <= h->count ? first + 3 : h->count, child = first;
        for (size_t c = first + 1; c <= last; c++)
            if (h->slots[c].at < h->slots[child].at)
                child = c;
        if (!(h->slots[child].at < s.at))
            break;
        place(h, i, h->slots[child]);
        i = child;
    }
    place(h, i, s);
}

/* After slot i changed its deadline, or took another entry's place. */
static void restore_order(struct deadline_heap *h, size_t i)
{
    if (i > 1 && h->slots[i].at < h->slots[parent_of(i)].at)
        sift_up(h, i);
    else
        sift_down(h, i);
}

bool deadline_heap_reserve(struct deadline_heap *h, size_t count)
{
    if (count < h->cap) /* slot 0 is unused */
        return true;
    size_t cap = h->cap ? h->cap : 64;
    while (cap <= count)
        cap *= 2;
    struct deadline_slot *s = realloc(h->slots, cap * sizeof *s);
    if (!s)
        return false;
    h->slots = s;
    h->cap = cap;
    return true;
}

bool deadline_heap_push(struct deadline_heap *h, struct deadline_node *n, int64_t at)
{
    if (!deadline_heap_reserve(h, h->count + 1))
        return false;
    n->at = at;
    h->count++;
    h->slots[h->count] = (struct deadline_slot){ at, n };
    sift_up(h, h->count);
    return true;
}

void deadline_heap_move(struct deadline_heap *h, struct deadline_node *n, int64_t at)
{
    n->at = at;
    h->slots[n->slot].at = at;
    restore_order(h, n->slot);
}

void deadline_heap_remove(struct deadline_heap *h, struct deadline_node *n)
{
    size_t i = n->slot;
    if (i == 0)
        return;
    n->slot = 0;
    struct deadline_slot last = h->slots[h->count--];
    if (i > h->count)
        return; /* it was the last one */
    place(h, i, last);
    restore_order(h, i);
}

struct deadline_node *deadline_heap_top(const struct deadline_heap *h)
{
    return h->count ? h->slots[1].node : NULL;
}

struct deadline_node *deadline_heap_pop(struct deadline_heap *h)
{
    struct deadline_node *n = deadline_heap_top(h);
    if (n)
        deadline_heap_remove(h, n);
    return n;
}
