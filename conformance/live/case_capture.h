/* case_capture: the pcapng file a case leaves behind: every captured packet,
 * the case line on the first, the analysis's comment (analysis_frame_comment)
 * on every judged packet and each case expectation's outcome on the packets
 * it is about, one pcapng comment per line, so Wireshark shows the verdicts
 * on the packets they are about. The section header carries the case line
 * too, and why the case failed: a case that failed before any packet still
 * says why (`capinfos`, Wireshark's capture file properties).
 *
 *   struct case_capture_line lines[] = { { 1, "expect client-exit 0: line 5, seen status 0: pass" } };
 *   struct case_capture_comments cc = {
 *       .summary = "wirecheck case time-ipv4 (time.case): pass",
 *       .lines = lines, .nlines = 1,
 *   };
 *   if (!case_capture_write("out/time-ipv4.pcapng", &cap, "lo", &cc, analysis, err, sizeof err))
 *       ... err: why it could not be opened, or "PATH: why it could not be finished" ...
 *
 * analysis may be NULL (no judgement): then only the given lines are written. */
#ifndef WIRECHECK_CASE_CAPTURE_H
#define WIRECHECK_CASE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "capture.h"

/* A comment line for one packet: frame is 1-based; 0, or a frame the
 * capture does not have, means the first packet. */
struct case_capture_line {
    uint32_t frame;
    const char *text;
};

struct case_capture_comments {
    const char *summary;                  /* the case line: first packet and section header */
    const char *const *section;           /* more section-header lines (why it failed) */
    size_t nsection;
    const struct case_capture_line *lines;
    size_t nlines;
};

bool case_capture_write(const char *path, const struct capture *cap, const char *ifname,
                        const struct case_capture_comments *cc, const struct analysis *a,
                        char *err, size_t errlen);

#endif
