/* Test helpers: start the built programs, wait on events (a "Listening on"
 * line, an exit) with bounded deadlines, never sleeps. A thin layer over the
 * live runner's process supervision (conformance/live/process.h): the same
 * spawn, pidfd, reap and readiness parser, with each pipe kept apart in a
 * 64 KiB buffer that holds the program back when full (proc_consume_lines
 * makes room) rather than dropping its lines.
 *
 *   struct proc server;
 *   char *args[] = {"--port", "0", NULL};
 *   assert_true(proc_start(&server, "tcp-time-server", args));
 *   int port = proc_listening_port(&server, 3000);   // 0: no readiness line
 *   ...
 *   proc_stop(&server);                               // SIGTERM, bounded wait
 *   assert_int_equal(server.run.status, 0);
 *
 * A struct proc points into itself: do not copy one that has started. */
#ifndef WIRECHECK_TEST_PROC_H
#define WIRECHECK_TEST_PROC_H

/* What the tests that include this used from it before it was a layer. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_cpu.h"
#include "process.h"

#define PROC_OUT_MAX 65536

struct proc {
    struct process run;               /* pid, pipes, exit status */
    struct process_output out_buf, err_buf;
    char out[PROC_OUT_MAX], err[PROC_OUT_MAX];
};

static inline long long proc_now_ms(void)
{
    return (long long)process_now_ms();
}

struct proc_exec {
    const char *path;
    char **argv;
    const char *stdout_path; /* NULL: the pipe */
};

static inline int proc_exec_program(void *ctx)
{
    const struct proc_exec *e = ctx;
    if (e->stdout_path) {
        int fd = open(e->stdout_path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
            fprintf(stderr, "proc: %s: %s\n", e->stdout_path, strerror(errno));
            return 127;
        }
    }
    execv(e->path, e->argv);
    return 127;
}

/* Like proc_start, with stdout on the file stdout_path (e.g. /dev/full)
 * instead of a pipe; stderr is still kept in p->err. */
static inline bool proc_start_to(struct proc *p, const char *bin, char *const args[],
                                 const char *stdout_path);

/* bin: a program name under WIRECHECK_BIN_DIR; argv[0] is filled in. */
static inline bool proc_start(struct proc *p, const char *bin, char *const args[])
{
    return proc_start_to(p, bin, args, NULL);
}

static inline bool proc_start_to(struct proc *p, const char *bin, char *const args[],
                                 const char *stdout_path)
{
    memset(p, 0, sizeof *p);
    process_init(&p->run);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", WIRECHECK_BIN_DIR, bin);
    char *argv[64] = {path};
    for (int i = 0; args && args[i] && i < 62; i++)
        argv[i + 1] = args[i];
    p->out_buf = (struct process_output){ p->out, sizeof p->out, 0, true };
    p->err_buf = (struct process_output){ p->err, sizeof p->err, 0, true };
    struct proc_exec e = { path, argv, stdout_path };
    /* A test killed on its timeout must not leave servers behind. */
    struct process_options o = { .what = bin, .die_with_parent = true,
                                 .exec = proc_exec_program, .ctx = &e };
    char err[256];
    if (process_spawn(&p->run, &p->out_buf, &p->err_buf, &o, err, sizeof err))
        return true;
    if (p->run.pid > 0) {
        kill(p->run.pid, SIGKILL);
        process_reap(&p->run, true);
    }
    return false;
}

/* Reads what is available on the child's pipes for up to ms. false on EOF
 * of both pipes. Does not reap: the exit is proc_wait's. */
static inline bool proc_pump(struct proc *p, int ms)
{
    if (p->run.out_fd < 0 && p->run.err_fd < 0)
        return false;
    struct pollfd f[2];
    size_t n = process_poll_pipes(&p->run, f, 0);
    if (poll(f, n, ms) <= 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (f[i].revents)
            process_handle_fd(&p->run, f[i].fd);
    return true;
}

/* Hands each complete stdout line to fn and keeps only the unfinished
 * rest, for programs that print more than the buffer holds. */
static inline void proc_consume_lines(struct proc *p, void (*fn)(const char *line, void *ctx),
                                      void *ctx)
{
    size_t len = p->out_buf.len;
    char *start = p->out, *nl;
    while ((nl = memchr(start, '\n', len - (size_t)(start - p->out)))) {
        *nl = '\0';
        fn(start, ctx);
        start = nl + 1;
    }
    size_t rest = len - (size_t)(start - p->out);
    memmove(p->out, start, rest);
    p->out_buf.len = rest;
    p->out[rest] = '\0';
}

/* Waits until stdout contains needle; false after timeout_ms. */
static inline bool proc_wait_output(struct proc *p, const char *needle, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    while (!strstr(p->out, needle)) {
        long long left = end - proc_now_ms();
        if (left <= 0 || !proc_pump(p, (int)left))
            return strstr(p->out, needle) != NULL;
    }
    return true;
}

/* The port from the program's "Listening on ADDR:PORT" line, 0 if none came. */
static inline int proc_listening_port(struct proc *p, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    unsigned port = 0;
    while (!process_listening_port(p->out, &port)) {
        long long left = end - proc_now_ms();
        if (left <= 0 || !proc_pump(p, (int)left))
            return process_listening_port(p->out, &port) ? (int)port : 0;
    }
    return (int)port;
}

/* Waits for exit, reading output; kills with SIGKILL after timeout_ms.
 * Past a full buffer, what the program still prints is dropped then. */
static inline int proc_wait(struct proc *p, int timeout_ms)
{
    if (!process_wait(&p->run, process_now_ms() + timeout_ms)) {
        process_signal(&p->run, SIGKILL);
        process_reap(&p->run, true);
    }
    return p->run.status;
}

/* Runs a program to completion; returns its exit status. */
static inline int proc_run(struct proc *p, const char *bin, char *const args[], int timeout_ms)
{
    if (!proc_start(p, bin, args))
        return -1;
    return proc_wait(p, timeout_ms);
}

static inline void proc_stop(struct proc *p)
{
    if (process_running(&p->run)) {
        process_signal(&p->run, SIGTERM);
        proc_wait(p, 3000);
    }
}

#endif
