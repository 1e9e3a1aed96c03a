/* comment_spill: the frame comments of a capture whose reports are not
 * kept, for `wirecheck check --write`.
 *
 * While the analysis streams the capture, each judged flow's comments are
 * appended to an unlinked temporary file (tmpfile(), in $TMPDIR) as one
 * run: (frame, comment) records, frames ascending. Memory keeps only where
 * each run starts (16 bytes per judged flow). A second pass over the capture
 * asks for the frames in order; the runs are merged back (a heap of the runs
 * whose first frame has been reached and which still have records: the flows
 * open at that point of the capture), so a frame's lines come in the order
 * analysis_frame_comment gives them: flows in judgement order, each flow's
 * verdicts in rule order.
 *
 *   struct comment_spill *s = comment_spill_create(err, sizeof err);
 *   // in on_flow_done:  comment_spill_add(s, r);
 *   comment_spill_finish(s);
 *   for (uint32_t f = 1; f <= frames; f++) {
 *       const char *text = comment_spill_get(s, f);   // NULL: no comment
 *       ...
 *   }
 *   if (comment_spill_failed(s)) ... comment_spill_error(s) ...;
 *   comment_spill_free(s);
 */
#ifndef WIRECHECK_COMMENT_SPILL_H
#define WIRECHECK_COMMENT_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"

struct comment_spill;

/* NULL with the reason in err. */
struct comment_spill *comment_spill_create(char *err, size_t errlen);
void comment_spill_free(struct comment_spill *s);

/* Appends the comments of one judged flow (its verdicts on the frames they
 * name; checksum.offloaded on every offloaded frame, when the analysis ran
 * with `annotate`). False on a write error or out of memory (sticky). */
bool comment_spill_add(struct comment_spill *s, const struct flow_report *r);

/* Ends the writing; frames are then read with comment_spill_get. */
bool comment_spill_finish(struct comment_spill *s);

/* The comment of `frame` (lines joined by '\n'), NULL if none. Frames must
 * be asked in ascending order. The text lives until the next call. */
const char *comment_spill_get(struct comment_spill *s, uint32_t frame);

bool comment_spill_failed(const struct comment_spill *s);
const char *comment_spill_error(const struct comment_spill *s);

#endif
