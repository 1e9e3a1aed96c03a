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

#include "case_result.h"
#include "cases.h"
#include "process.h"

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

/* Runs case `c` on family 4 or 6 as a job: its case process is polled by
 * the caller, beside others for `wirecheck run --jobs N`. The result always
 * fills *r; runner_job_finish returns false only for CASE_ERROR (the
 * environment, not the programs, is at fault).
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

/* The case process itself (runner.c): the steps above, in the child that
 * runner_start_case forks; fills *r, which process_call sends back. */
struct runner_case {
    const struct case_spec *c;
    const struct run_options *o;
    struct case_result *r;
    int family;
};
void runner_case_process(void *runner_case);

/* Interruption. Call runner_note_signal from the SIGINT/SIGTERM handler of
 * the process that runs cases (async-signal-safe: it sets a flag); case
 * processes forked after the handler is in place inherit it, so a signal
 * that reaches one (the terminal's SIGINT, or runner_job_signal) ends its
 * case at once: the programs and their PID namespaces killed, the capture
 * of what ran written, the result CASE_ERROR "interrupted by SIG...". */
void runner_note_signal(int sig);
int runner_interrupted(void);   /* the signal noted, 0 if none */
const char *runner_signal_name(int sig);  /* "SIGTERM", "SIGINT", else strsignal */

#endif
