/* process: one child program, supervised without sleeps.
 *
 * Spawns a program with its stdout/stderr on non-blocking pipes (and, on
 * request, its own process group, stdin from /dev/null or a pipe, death
 * with its parent), keeps a bounded copy of what it prints, notices its exit
 * through a pidfd (or, on a kernel without pidfd_open, a short poll tick),
 * reaps it and stops it or its whole group. The caller decides what the
 * child runs: process_spawn calls its exec function in the child once the
 * descriptors are in place.
 *
 *   static int run_it(void *ctx) { execvp("nft", (char *[]){"nft", "-f", "-", NULL}); return 127; }
 *
 *   char text[512];
 *   struct process_output out = { text, sizeof text, 0 };
 *   struct process p;
 *   struct process_options o = { .what = "nft", .stdin_pipe = true, .merge_stderr = true,
 *                                .exec = run_it };
 *   if (!process_spawn(&p, &out, NULL, &o, err, sizeof err))
 *       return false;                        // err: "pipe for nft: ..."
 *   write(p.in_fd, rules, len); process_close_stdin(&p);
 *   process_wait(&p, INT64_MAX);             // reads text until it exits
 *   ... p.status, text ...
 *
 * Several processes and other descriptors in one poll loop: process_poll_fds
 * adds a process's descriptors, process_handle_fd deals with one that is
 * readable, process_tick_ms bounds the poll timeout when a process has no
 * pidfd. The "Listening on ADDR:PORT" readiness line is parsed here too
 * (process_listening_port), for the runner, the tests and the benches. */
#ifndef WIRECHECK_PROCESS_H
#define WIRECHECK_PROCESS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where a pipe's bytes go: data[0..len) and a NUL, caller's storage.
 * Past size - 1 bytes the rest is dropped so a chatty program never blocks,
 * unless hold_when_full: then it stays in the pipe (the program waits) until
 * the caller makes room (len smaller) and reads again; after the exit it is
 * dropped either way. Two pipes may share one output: their bytes as they came. */
struct process_output {
    char *data;
    size_t size;
    size_t len;
    bool hold_when_full;
};

/* Runs in the child with its descriptors in place: execs, or returns the
 * status the child exits with (having said why on stderr, if it wants). */
typedef int process_exec_fn(void *ctx);

struct process_options {
    const char *what;         /* names it in errors: "fork for WHAT: ..." */
    bool own_group;           /* setpgid(0, 0): process_signal_group reaches what it starts */
    bool die_with_parent;     /* PR_SET_PDEATHSIG SIGKILL */
    bool stdin_null;          /* stdin from /dev/null (else inherited) */
    bool stdin_pipe;          /* stdin from a pipe; the caller writes p->in_fd */
    bool merge_stderr;        /* stderr into stdout's pipe; err_fd stays -1 */
    /* The child is the init (pid 1) of a new PID namespace and runs exec in
     * a child of its own: whatever the command starts (a daemon, a shell's
     * background job, a setsid'ed grandchild) is in that namespace and dies
     * with the init. The init passes SIGTERM/SIGINT/SIGHUP on to every
     * process in the namespace, reaps them all and exits with the command's
     * status; until_empty: only once the namespace is empty (a server that
     * daemonizes is still "running"), else as soon as the command exits
     * (the kernel then kills what is left). Killing the init (SIGKILL, or
     * die_with_parent) kills everything in the namespace. */
    bool pid_namespace;
    bool until_empty;
    process_exec_fn *exec;
    void *ctx;
};

struct process {
    pid_t pid;              /* 0: not started */
    int pidfd;              /* readable when it exits; -1 without one or once reaped */
    int in_fd;              /* stdin_pipe: its write end, else -1 */
    int out_fd, err_fd;     /* -1 once at EOF */
    struct process_output *out, *err;
    bool exited;
    int status;             /* exit code, or 128 + signal; -1 if waitpid failed */
    int wait_errno;         /* why waitpid failed (exited then too), else 0 */
};

/* Poll tick for a process without a pidfd (kernel older than 5.3). */
#define PROCESS_TICK_MS 10

/* The monotonic clock, in ms, that deadlines here are on. */
int64_t process_now_ms(void);

/* A process that was never started: nothing to poll, not running. */
void process_init(struct process *p);

/* Starts o->exec in a child. out receives stdout (and stderr if merged),
 * err stderr (may be the same as out; NULL with merge_stderr). False with
 * err text ("pipe for WHAT", "fork for WHAT", "pidfd_open for WHAT (pid N)");
 * p->pid is set whenever a child was started, even then. */
bool process_spawn(struct process *p, struct process_output *out, struct process_output *err,
                   const struct process_options *o, char *errtext, size_t errlen);

bool process_running(const struct process *p);

/* Appends p's descriptors (pipes, pidfd) to fds[n..] (room for 3); the new n.
 * A pipe whose held output is full is left out until there is room. */
size_t process_poll_fds(const struct process *p, struct pollfd *fds, size_t n);
/* The pipes only (room for 2), for a caller that reaps on its own terms. */
size_t process_poll_pipes(const struct process *p, struct pollfd *fds, size_t n);

/* fd was readable: reads the pipe, or reaps on the pidfd; ignores other fds. */
void process_handle_fd(struct process *p, int fd);

/* Reads what a pipe holds now (non-blocking) into its output. */
void process_read_output(struct process *p, int *fd);

/* Reaps p if it has exited (or waits for that, with block): status set, the
 * pipes read once more and closed (a leftover child of a shell could keep
 * them open forever). True if it has exited. */
bool process_reap(struct process *p, bool block);

/* The poll timeout bound p needs: PROCESS_TICK_MS when running without a
 * pidfd (then call process_reap after each poll), else -1 (none). */
int process_tick_ms(const struct process *p);

/* Reads output until p exits or the deadline (process_now_ms) passes.
 * True if it exited. */
bool process_wait(struct process *p, int64_t deadline_ms);

void process_close_stdin(struct process *p);

/* Sends sig to the process, or to its whole group (own_group), if running. */
void process_signal(const struct process *p, int sig);
void process_signal_group(const struct process *p, int sig);

/* A function run in a forked child (killed if we die) that hands back a
 * fixed-size result: process_call runs fn(ctx), sends `size` bytes at
 * `result` (as fn left them, in the child) through a pipe and reads them into
 * `result` here before deadline_ms. On NO_RESULT (the child died or missed
 * the deadline) the child is killed and *pid names it; on NO_PIPE/NO_FORK
 * errno says why. The child is always reaped.
 *
 *   switch (process_call(run_case, &state, &result, sizeof result, deadline, &pid)) ... */
enum process_call_result {
    PROCESS_CALL_DONE,
    PROCESS_CALL_NO_PIPE,
    PROCESS_CALL_NO_FORK,
    PROCESS_CALL_NO_RESULT,
};
enum process_call_result process_call(void (*fn)(void *ctx), void *ctx, void *result, size_t size,
                                      int64_t deadline_ms, pid_t *pid);

/* The same, one step at a time, for several calls in one poll loop:
 *
 *   struct process_call pc;
 *   if (process_call_start(&pc, fn, ctx, &result, sizeof result) != PROCESS_CALL_DONE) ...
 *   poll pc.fd (POLLIN) with the caller's deadline; when readable:
 *   if (process_call_read(&pc)) -> process_call_finish(&pc): DONE or NO_RESULT
 *   deadline passed: process_call_finish(&pc) (kills it: NO_RESULT)
 *
 * The child inherits the caller's signal handlers (a flag set by a handler
 * is the child's own copy then). */
struct process_call {
    pid_t pid;      /* the child; 0 once reaped */
    int fd;         /* the result pipe's read end (non-blocking); -1 once closed */
    char *result;
    size_t size, got;
};
enum process_call_result process_call_start(struct process_call *pc, void (*fn)(void *ctx),
                                            void *ctx, void *result, size_t size);
/* Reads what the pipe holds. True once the call is over (the whole result
 * is in, or the child closed the pipe without it). */
bool process_call_read(struct process_call *pc);
/* Ends the call: the child killed (SIGKILL) unless the whole result is in,
 * then reaped. DONE with the whole result, else NO_RESULT. */
enum process_call_result process_call_finish(struct process_call *pc);

/* The readiness line in a program's output: "Listening on" (any case) and
 * the rest of that line, which names the port: "Listening on 127.0.0.1:3434",
 * "Listening on [::1]:3434", socat's "listening on AF=2 0.0.0.0:3434",
 * OpenBSD nc's "Listening on localhost 3434". False while there is no such
 * line or it is unfinished (no newline yet: it carries the port); true once
 * it is whole, with *port its port or 0 when none parses. */
bool process_listening_port(const char *output, unsigned *port);

#endif
