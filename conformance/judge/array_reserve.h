/* array_reserve: room in a growable array, doubling, for the judge's lists
 * (reports, frame comments, duplicate notes, offloaded frames, due flows).
 *
 *   void *p = array_reserve(l->items, &l->cap, l->n + 1, sizeof *l->items, 16);
 *   if (!p)
 *       return false;           // out of memory: l unchanged
 *   l->items = p;
 *   l->items[l->n++] = x;
 */
#ifndef WIRECHECK_ARRAY_RESERVE_H
#define WIRECHECK_ARRAY_RESERVE_H

#include <stdint.h>
#include <stdlib.h>

/* The array `items` (capacity *cap elements of elem_size bytes) with room
 * for `need` elements: items itself if it had, else a larger copy (the
 * capacity doubles, starting at first_cap) with *cap updated. NULL on out
 * of memory, items and *cap untouched. */
static inline void *array_reserve(void *items, size_t *cap, size_t need, size_t elem_size,
                                  size_t first_cap)
{
    if (need <= *cap)
        return items;
    size_t n = *cap ? *cap : first_cap;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (n > SIZE_MAX / elem_size)
        return NULL;
    void *p = realloc(items, n * elem_size);
    if (p)
        *cap = n;
    return p;
}

#endif
