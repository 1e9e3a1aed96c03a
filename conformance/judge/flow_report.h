/* flow_report: building the report of a judged flow (struct flow_report,
 * declared in analysis.h, where its readers find it).
 *
 *   flow_table_remove(&table, e);
 *   struct checks_options co = { .loss_injected = ... };
 *   struct flow_report *r = flow_report_build(e, &co, NULL);  // NULL: out of memory
 *   flow_table_release(&table, e); // r took the payload and offloaded frames
 *   ... hand r out ...
 *   flow_report_free(r);
 *
 *   // at the end of a capture, if frames were malformed or datagrams never
 *   // reassembled: the "capture" pseudo-flow
 *   r = flow_report_build_capture(&malformed, "bad TCP data offset at byte 46", &reasm_failed,
 *                                 &co);
 *
 * The verdicts come from checks_*.c, in rule order; this module only gathers
 * the facts around them. */
#ifndef WIRECHECK_FLOW_REPORT_H
#define WIRECHECK_FLOW_REPORT_H

#include "analysis.h"
#include "checks.h"
#include "flow.h"
#include "flow_table.h"

/* The report of a flow taken out of the table, co's policy applied to its
 * verdicts (checks.h) and they counted. The flow's payload copy and
 * its list of offloaded frames move into the report (sorted). `reuse`: a
 * report handed out before and no longer read, emptied and filled again
 * (its verdict array stays: no allocation), or NULL. NULL on out of memory
 * (the flow is left as it was). */
struct flow_report *flow_report_build(struct flow_entry *e, const struct checks_options *co,
                                      struct flow_report *reuse);

/* The capture pseudo-flow: malformed frames (the first one's reason given)
 * and datagrams never reassembled. NULL on out of memory. */
struct flow_report *flow_report_build_capture(const struct frame_list *malformed,
                                              const char *first_reason,
                                              const struct frame_list *reassembly_failed,
                                              const struct checks_options *co);

void flow_report_free(struct flow_report *r);

#endif
