/* expect: a case's expectations against what happened.
 *
 * After a run the runner holds the judged capture (an analysis with
 * retained reports) and what each program did; expect_judge compares the
 * case's `expect` lines with them, and counts every fail verdict the case
 * did not announce as a failure too:
 *
 *   struct expect_program client = { c_exited, c_status, c_output };
 *   struct expect_program server = { s_exited, s_status, s_output };
 *   expect_judge(spec, analysis, &client, &server, result);
 *   // result->expectations, result->unmet, and one detail line per miss:
 *   // line 7: expected tcp.teardown.first_fin info "server", seen ...
 *
 * With an expect_outcomes, every expectation's outcome comes back too, with
 * the packets it is about, for the capture's comments (expect_comment). */
#ifndef WIRECHECK_EXPECT_H
#define WIRECHECK_EXPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis.h"
#include "cases.h"
#include "runner.h"

/* What one program did, as the exit and output expectations see it. */
struct expect_program {
    bool exited;
    int status;           /* exit code, or 128 + signal */
    const char *output;   /* stdout and stderr as they came (NUL-terminated) */
    size_t output_len;    /* its length: the bytes may hold NULs */
    /* --server/--client ran another program: its exit and output
     * expectations (written for the reference program) are not judged, a
     * note says so; what it sent is judged on the wire like any other. */
    bool replaced;
};

/* Every expectation's outcome, in case file order. */
struct expect_outcomes {
    struct case_expectation e[CASE_MAX_EXPECTS];
    size_t n;
};

/* Checks every expectation of c and the unannounced fail verdicts; adds to
 * r->expectations and r->unmet, a detail line and an r->unmet_list entry
 * for each one not met. out (may be NULL) receives every expectation's
 * outcome, met, unmet or not judged. */
void expect_judge(const struct case_spec *c, const struct analysis *a,
                  const struct expect_program *client, const struct expect_program *server,
                  struct case_result *r, struct expect_outcomes *out);

/* The packet comment line of an outcome (RULES.md, "Packet comments"):
 *   "expect client-exit 0: line 5, seen status 0: pass"
 *   "expect client-exit 0: line 5: fail (expected status 0; seen status 1)"
 *   "expect client-exit 0: line 5, not judged for a replaced program: n/a"
 * WHAT never holds ": " (written ":\x20"), nor E "; seen ", so a reader
 * splits the line unambiguously. snprintf's contract. */
int expect_comment(const struct case_expectation *o, char *buf, size_t size);

/* in[0..n) made printable for a log, a comment or XML: escape_bytes
 * (control bytes, NUL, invalid UTF-8, invisible characters as \xNN), except
 * that a backslash stays a backslash, so text made printable once (program
 * output in a detail line) reads the same when it is made printable again.
 * out always NUL-terminated (size > 0); returns its length. */
size_t expect_printable(const char *in, size_t n, char *out, size_t size);

#endif
