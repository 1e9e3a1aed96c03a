/* runner: runs one case on one address family, start to verdict.
 *
 * Everything happens in a forked child inside its own namespaces, in this
 * order, each step waiting on events with a bounded timeout (no sleeps):
 *
 *   1. private namespace(s), topology, nftables faults
 *   2. capture started on the case's port (before the server exists)
 *   3. server started; wait for its "Listening on ADDR:PORT" line
 *   4. client started (in the client namespace on veth); wait for its exit
 *   5. server given a moment to exit by itself, then SIGTERM
 *   6. capture stopped once the analysis has seen every connection's
 *      teardown, or after a short quiet period
 *   7. packets judged by the analysis, expectations compared,
 *      OUT/<case>.pcapng written with a comment on every judged packet,
 *      each expectation's outcome on the packets it is about, and the case
 *      line and why it failed in the section header
 *
 * The child sends a struct case_result back through a pipe and exits, which
 * takes its namespaces (and anything left running in them) away. */
#ifndef WIRECHECK_RUNNER_H
#define WIRECHECK_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cases.h"
#include "process.h"
#include "verdict.h"

/* When the server counts as ready (the client is started then). */
enum ready_mode {
    READY_ANY,   /* whichever comes first: the line, or the socket table */
    READY_PORT,  /* a socket listens (TCP) / is bound (UDP) on the case's port
                    in the case's namespace */
    READY_LINE,  /* the server printed a "Listening on ..." line */
};

#define RUNNER_READY_TIMEOUT_MS 3000 /* server start to ready, by default */

struct run_options {
    const char *out_dir;          /* directory for the .pcapng files */
    const char *bin_dir;          /* put first on PATH (reference programs) */
    const char *server_override;  /* --server: replaces every case's server */
    const char *client_override;  /* --client */
    enum ready_mode ready;        /* --ready */
    unsigned ready_timeout_ms;    /* --ready-timeout; 0: RUNNER_READY_TIMEOUT_MS */
};

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

/* Runs case `c` on family 4 or 6. Always fills *r; returns false only for
 * CASE_ERROR (the environment, not the programs, is at fault). */
bool runner_run_case(const struct case_spec *c, int family, const struct run_options *o,
                     struct case_result *r);

/* Several cases at once (`wirecheck run --jobs N`): each case process is a
 * job the caller polls beside the others.
 *
 *   struct runner_job j;
 *   if (runner_start_case(c, 4, &o, &r, &j)) {
 *       poll runner_job_fd(&j) for POLLIN until runner_job_deadline(&j);
 *       readable: if (runner_job_read(&j)) runner_job_finish(&j);
 *       deadline passed: runner_job_finish(&j);      // kills it: CASE_ERROR
 *   }                                                 // else r says why (CASE_ERROR)
 */
struct runner_job {
    struct process_call call;
    struct case_result *r;
    const struct case_spec *c;
    int family;
    int64_t start_ms, deadline_ms;
};
bool runner_start_case(const struct case_spec *c, int family, const struct run_options *o,
                       struct case_result *r, struct runner_job *j);
int runner_job_fd(const struct runner_job *j);
int64_t runner_job_deadline(const struct runner_job *j);   /* process_now_ms clock */
bool runner_job_read(struct runner_job *j);                /* true: over, finish it */
/* The job's result final in *j->r (elapsed_ms set); false for CASE_ERROR. */
bool runner_job_finish(struct runner_job *j);
/* Passes sig to the case process (it then ends the case: see below). */
void runner_job_signal(const struct runner_job *j, int sig);

/* Interruption. Call runner_note_signal from the SIGINT/SIGTERM handler of
 * the process that runs cases (async-signal-safe: it sets a flag); case
 * processes forked after the handler is in place inherit it, so a signal
 * that reaches one (the terminal's SIGINT, or runner_job_signal) ends its
 * case at once: the programs and their PID namespaces killed, the capture
 * of what ran written, the result CASE_ERROR "interrupted by SIG...". */
void runner_note_signal(int sig);
int runner_interrupted(void);   /* the signal noted, 0 if none */
const char *runner_signal_name(int sig);  /* "SIGTERM", "SIGINT", else strsignal */

/* Adds one line to r->details (dropped once they are full). */
void case_result_add_detail(struct case_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Adds one line to r->notes. */
void case_result_add_note(struct case_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *case_outcome_name(enum case_outcome o);

#endif
