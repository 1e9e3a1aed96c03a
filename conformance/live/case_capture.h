/* case_capture: the pcapng file a case leaves behind: every captured packet, a
 * summary comment on the first, and on every judged packet the analysis's
 * comment (analysis_frame_comment), one pcapng comment per line, so
 * Wireshark shows the verdicts on the packets they are about.
 *
 *   if (!case_capture_write("out/time-ipv4.pcapng", &cap, "lo",
 *                      "wirecheck case time-ipv4 (time.case): pass", analysis, err, sizeof err))
 *       ... err: why it could not be opened, or "PATH: why it could not be finished" ...
 *
 * analysis may be NULL (no judgement): then only the summary is written. */
#ifndef WIRECHECK_CASE_CAPTURE_H
#define WIRECHECK_CASE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis.h"
#include "capture.h"

bool case_capture_write(const char *path, const struct capture *cap, const char *ifname,
                   const char *summary, const struct analysis *a, char *err, size_t errlen);

#endif
