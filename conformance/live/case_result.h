/* case_result: what one case (one family) came to, filled in by the case
 * process and sent back whole through a pipe (so: fixed-size, no pointers),
 * then printed by `wirecheck run` as a console line, JSON and JUnit.
 *
 *   struct case_result r;
 *   case_result_init(&r, spec, 4);            // "time-ipv4", pass, no status yet
 *   case_result_add_detail(&r, "poll: %s", strerror(errno));
 *   printf("%s\n", case_outcome_name(r.outcome));
 */
#ifndef WIRECHECK_CASE_RESULT_H
#define WIRECHECK_CASE_RESULT_H

#include <stdint.h>

#include "cases.h"
#include "verdict.h"

enum case_outcome {
    CASE_PASS,
    CASE_FAIL,      /* an expectation was not met */
    CASE_ERROR,     /* the case could not run here (namespace, capture...) */
    CASE_SKIP,      /* not run: it needs a program that --server/--client replaced */
};

/* One expectation's outcome: pass or fail, or n/a (not judged: about a
 * replaced program). `what` is the expectation as the case wrote it
 * ("client-exit 0", "tcp.teardown.first_fin info \"server\""), line 0 a fail
 * verdict of a rule the case did not expect (what = the rule id); expected
 * and seen are printable (escape.h: program output escaped), frames the
 * packets it is about, ascending (none: a program's exit or output, or no
 * packet to name). */
#define CASE_EXPECT_FRAMES 8
struct case_expectation {
    unsigned line;
    enum verdict_kind verdict;
    char what[160];
    char expected[200];
    char seen[400];
    uint32_t frames[CASE_EXPECT_FRAMES];
    unsigned nframes;
};
#define CASE_UNMET_LISTED 16   /* unmet expectations kept in a case_result */

struct case_result {
    char name[CASE_NAME_MAX + 8];  /* "time-ipv4" */
    enum case_outcome outcome;
    unsigned elapsed_ms;
    char capture_path[600];        /* "" if none was written */
    int client_status, server_status; /* exit status, 128+signal, -1 never ran */
    unsigned packets;
    unsigned expectations, unmet;
    char details[4096];            /* failure/error: one line per problem */
    char notes[1024];              /* shown whatever the outcome: what was not judged */
    /* The first CASE_UNMET_LISTED unmet expectations (of `unmet`), in case
     * file order, then the unexpected fail verdicts (line 0). */
    struct case_expectation unmet_list[CASE_UNMET_LISTED];
    unsigned nlisted;
};

/* Empty, named "<case>-ipv<family>", outcome pass, statuses -1 (never ran). */
void case_result_init(struct case_result *r, const struct case_spec *c, int family);

/* Adds one line to r->details (dropped once they are full). */
void case_result_add_detail(struct case_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Adds one line to r->notes. */
void case_result_add_note(struct case_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *case_outcome_name(enum case_outcome o);

#endif
