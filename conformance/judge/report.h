/* report: human-readable text for packets, flows and verdicts (what
 * `wirecheck check` prints and what the runner logs). */
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

/* One verdict: "  FAIL tcp.no_rst: 1 RST(s), first from the server [frames 7]"
 * and, for failures, the expected / seen lines. */
void report_verdict(FILE *out, const struct verdict *v);

void report_summary(FILE *out, const char *name, const struct analysis_summary *s);

#endif
