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
 */
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
    const char *output;   /* stdout and stderr as they came */
    /* --server/--client ran another program: its exit and output
     * expectations (written for the reference program) are not judged, a
     * note says so; what it sent is judged on the wire like any other. */
    bool replaced;
};

/* Checks every expectation of c and the unannounced fail verdicts; adds to
 * r->expectations and r->unmet and a detail line for each one not met. */
void expect_judge(const struct case_spec *c, const struct analysis *a,
                  const struct expect_program *client, const struct expect_program *server,
                  struct case_result *r);

#endif
