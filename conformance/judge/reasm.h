/* reasm: IPv4/IPv6 fragment reassembly with bounded memory.
 *
 * At most `max_pending` datagrams are in reassembly at a time (the oldest is
 * given up when a new one would exceed that) and each is at most
 * REASM_MAX_DATAGRAM bytes, so memory is bounded whatever the capture holds.
 * A datagram is given up (and reported) when its fragments overlap with
 * different bytes, exceed the maximum size, or do not all arrive within the
 * timeout (capture time). */
#ifndef WIRECHECK_REASM_H
#define WIRECHECK_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "dissect.h"
#include "flow.h"

#define REASM_MAX_DATAGRAM 65535u

enum reasm_result { REASM_PENDING, REASM_DONE, REASM_FAILED };

struct reasm;

struct reasm *reasm_create(size_t max_pending, int64_t timeout_usec);
void reasm_destroy(struct reasm *r);

/* Adds fragment p (p->is_fragment). On REASM_DONE, *out and *out_len hold the
 * whole upper-layer payload, valid until the next call. On REASM_FAILED the
 * datagram is dropped and p->frame added to `failed`. Datagrams given up
 * for age or space are added to `failed` too (by their last frame). */
enum reasm_result reasm_add(struct reasm *r, const struct packet *p, const uint8_t **out,
                            uint32_t *out_len, struct frame_list *failed);

/* Gives up datagrams last touched before now - timeout (pass INT64_MAX at
 * the end of a capture); each is added to `failed`. Returns how many. */
size_t reasm_expire(struct reasm *r, int64_t now_usec, struct frame_list *failed);

size_t reasm_pending(const struct reasm *r);
/* Fragments given up for want of memory (each also REASM_FAILED). */
uint64_t reasm_nomem(const struct reasm *r);

#endif
