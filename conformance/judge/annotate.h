/* annotate: the packet comment of each frame, from an index over the judged
 * flows built once (a frame's verdicts are found by bisection instead of a
 * walk over every report for every frame).
 *
 *   struct frame_comments *fc = frame_comments_build(reports, nreports, &dups);
 *   char buf[4096];
 *   for (uint32_t f = 1; f <= frames; f++)
 *       if (frame_comments_get(fc, f, buf, sizeof buf) > 0)
 *           pcapng_write_packet(..., buf);   // "tcp.handshake.syn: client SYN without ACK: pass"
 *   frame_comments_free(fc);
 *
 * analysis_frame_comment (analysis.h) is the usual way in: it builds the
 * index on its first call after analysis_finish. The reports must outlive
 * the index (it points at their verdicts); the duplicates are copied. What the comment says is specified
 * there; each line is rendered by verdict.h. */
#ifndef WIRECHECK_ANNOTATE_H
#define WIRECHECK_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "capdup.h"

struct frame_comments;

/* NULL on out of memory. */
struct frame_comments *frame_comments_build(struct flow_report *const *reports, size_t nreports,
                                            const struct capdup *dups);
void frame_comments_free(struct frame_comments *fc);

/* As analysis_frame_comment: writes the NUL-terminated comment (truncated
 * to size) and returns the length it needed, 0 for none. */
size_t frame_comments_get(const struct frame_comments *fc, uint32_t frame, char *buf, size_t size);

/* The first frame after `after` that has a comment, 0 if none: walks the
 * annotated frames in order (`check --write` spills each judged flow's
 * comments this way). */
uint32_t frame_comments_next(const struct frame_comments *fc, uint32_t after);

#endif
