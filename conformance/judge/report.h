/* report: human-readable text for packets, flows and verdicts (what
 * `wirecheck check` prints and what the runner logs). The verdict lines
 * themselves come from verdict.h; this module lays the report out.
 *
 *   report_flow(stdout, r, REPORT_NORMAL);    // header, summary, verdicts
 *   report_flow_json(stdout, r, "x.pcap");    // or one JSON line per verdict
 *   report_summary(stdout, "x.pcap", &sum);   // "x.pcap: 9 frames, 1 TCP connection(s)..."
 */
#ifndef WIRECHECK_REPORT_H
#define WIRECHECK_REPORT_H

#include <stdio.h>

#include "analysis.h"
#include "dissect.h"

enum report_level {
    REPORT_QUIET,    /* failures only */
    REPORT_NORMAL,   /* flow summary + pass/fail/info verdicts */
    REPORT_VERBOSE,  /* ... plus n/a verdicts */
};

/* One tcpdump-style line for a dissected frame, e.g.
 * "3 0.000120 IP 127.0.0.1.51000 > 127.0.0.1.3434: Flags [.], seq 1, ack 1, win 512, length 0".
 * Sequence numbers are absolute. Always NUL-terminates. */
void report_packet_line(const struct packet *p, char *buf, size_t size);

/* "TCP 127.0.0.1.51000 > 127.0.0.1.3434" style header plus the flow's
 * handshake / data / teardown summary and its verdicts at `level`. */
void report_flow(FILE *out, const struct flow_report *r, enum report_level level);

/* The verdict kinds (bit 1u << kind) report_flow never prints at `level`:
 * their text need not be formatted (analysis_options.verdict_textless_kinds). */
unsigned report_unprinted_kinds(enum report_level level);

/* "TCP 127.0.0.1.51000 > 127.0.0.1.3434 (frames 1-9)", "UDP ...", or
 * "capture" for the capture pseudo-flow: how a flow is named in the report
 * header and in JSON lines. Always NUL-terminates (size >= 1). */
void report_flow_name(const struct flow_report *r, char *buf, size_t size);

/* Every verdict of the flow as a JSON line (verdict_print_json), all kinds,
 * `case_name` (the capture file, the case) in each. */
void report_flow_json(FILE *out, const struct flow_report *r, const char *case_name);

/* One verdict: "  FAIL tcp.no_rst: 1 RST(s), first from the server [frames 7]"
 * and, for failures, the expected / seen lines (verdict_print). */
void report_verdict(FILE *out, const struct verdict *v);

void report_summary(FILE *out, const char *name, const struct analysis_summary *s);

#endif
