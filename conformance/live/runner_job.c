/* runner_job: the parent side of a case (runner.h): the case process
 * started with process_call, its result read back through the pipe or given
 * up at the case's timeout plus a margin. */
#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#define RESULT_MARGIN_MS 10000 /* case timeout to giving up on the case process */

bool runner_start_case(const struct case_spec *c, int family, const struct run_options *o,
                       struct case_result *r, struct runner_job *j)
{
    memset(j, 0, sizeof *j);
    j->call.fd = -1;
    j->r = r;
    j->c = c;
    j->family = family;
    j->start_ms = process_now_ms();
    j->deadline_ms = j->start_ms + c->timeout_ms + RESULT_MARGIN_MS;
    case_result_init(r, c, family);
    struct runner_case rc = { c, o, r, family }; /* read by the child, copied by the fork */
    switch (process_call_start(&j->call, runner_case_process, &rc, r, sizeof *r)) {
    case PROCESS_CALL_DONE:
        return true;
    case PROCESS_CALL_NO_PIPE:
        r->outcome = CASE_ERROR;
        case_result_add_detail(r, "pipe for the case process: %s", strerror(errno));
        break;
    case PROCESS_CALL_NO_FORK:
    case PROCESS_CALL_NO_RESULT:
        r->outcome = CASE_ERROR;
        case_result_add_detail(r, "fork the case process: %s", strerror(errno));
        break;
    }
    r->elapsed_ms = (unsigned)(process_now_ms() - j->start_ms);
    return false;
}

int runner_job_fd(const struct runner_job *j)
{
    return j->call.fd;
}

int64_t runner_job_deadline(const struct runner_job *j)
{
    return j->deadline_ms;
}

bool runner_job_read(struct runner_job *j)
{
    return process_call_read(&j->call);
}

bool runner_job_finish(struct runner_job *j)
{
    pid_t pid = j->call.pid;
    if (process_call_finish(&j->call) != PROCESS_CALL_DONE) {
        case_result_init(j->r, j->c, j->family);
        j->r->outcome = CASE_ERROR;
        case_result_add_detail(j->r, "the case process (pid %d) died or hung without reporting", (int)pid);
    }
    j->r->elapsed_ms = (unsigned)(process_now_ms() - j->start_ms);
    return j->r->outcome != CASE_ERROR;
}

void runner_job_signal(const struct runner_job *j, int sig)
{
    if (j->call.pid > 0)
        kill(j->call.pid, sig);
}
