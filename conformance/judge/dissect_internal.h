/* dissect_internal: what the dissector's three files (dissect_link.c,
 * dissect_ip.c, dissect_l4.c) share; not part of the API, see dissect.h.
 *
 *   // in a layer: read through the cursor, report problems with these
 *   if (!cursor_ok(c))
 *       return short_read(p, DISSECT_SHORT_TCP, at);
 *   if (hlen < WC_TCP_MIN_HEADER_LEN)
 *       return malformed(p, DISSECT_BAD_TCP_DATA_OFFSET, at + 12);
 *
 * Each layer takes the cursor positioned at its header and the absolute
 * offset `at` of that header in the frame (for error reports), and hands
 * the rest to the next layer down the chain link -> IP -> L4. */
#ifndef WIRECHECK_DISSECT_INTERNAL_H
#define WIRECHECK_DISSECT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cursor.h"
#include "dissect.h"
#include "proto.h"

/* A read that ran out of bytes: snapshot truncation if the capture cut the
 * frame, a malformed frame otherwise. */
static inline enum dissect_error short_read(struct packet *p, enum dissect_error e, size_t at)
{
    p->error = e;
    p->error_offset = at;
    if (p->caplen < p->wirelen)
        p->snap_truncated = true;
    return e;
}

static inline enum dissect_error malformed(struct packet *p, enum dissect_error e, size_t at)
{
    p->error = e;
    p->error_offset = at;
    return e;
}

/* dissect_ip.c: an IP header at c (offset `at` in the frame); want_version
 * 4 or 6 if the link layer said which (0: either), then the upper layer. */
enum dissect_error dissect_ip(struct packet *p, struct cursor *c, size_t at, int want_version);

/* dissect_l4.c: the upper layer p->proto names, in c (the captured part of
 * l4_len bytes) at offset `at`. */
enum dissect_error dissect_l4(struct packet *p, struct cursor *c, size_t at, uint32_t l4_len);

#endif
