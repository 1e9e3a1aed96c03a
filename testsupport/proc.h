/* Test helpers: start the built programs, wait on events (a "Listening on"
 * line, an exit) with bounded deadlines, never sleeps. Header-only so each
 * integration test includes what it uses. */
#ifndef WIRECHECK_TEST_PROC_H
#define WIRECHECK_TEST_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_cpu.h"

#define PROC_OUT_MAX 65536

struct proc {
    pid_t pid;
    int out_fd, err_fd;
    char out[PROC_OUT_MAX], err[PROC_OUT_MAX];
    size_t out_len, err_len;
    int status; /* exit code, or 128 + signal */
    bool exited;
};

static inline long long proc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* bin: a program name under WIRECHECK_BIN_DIR; argv[0] is filled in. */
static inline bool proc_start(struct proc *p, const char *bin, char *const args[])
{
    memset(p, 0, sizeof *p);
    int o[2], e[2];
    if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
        return false;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", WIRECHECK_BIN_DIR, bin);
    char *argv[64] = {path};
    for (int i = 0; args && args[i] && i < 62; i++)
        argv[i + 1] = args[i];
    p->pid = fork();
    if (p->pid < 0)
        return false;
    if (p->pid == 0) {
        /* A test killed on its timeout must not leave servers behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(o[1], 1);
        dup2(e[1], 2);
        execv(path, argv);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    p->out_fd = o[0];
    p->err_fd = e[0];
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
    return true;
}

/* Reads what is available on the child's pipes for up to ms. false on EOF
 * of both pipes. */
static inline bool proc_pump(struct proc *p, int ms)
{
    struct pollfd f[2] = {{.fd = p->out_fd, .events = POLLIN}, {.fd = p->err_fd, .events = POLLIN}};
    if (p->out_fd < 0 && p->err_fd < 0)
        return false;
    int n = poll(f, 2, ms);
    if (n <= 0)
        return true;
    for (int i = 0; i < 2; i++) {
        if (!f[i].revents)
            continue;
        char *buf = i ? p->err : p->out;
        size_t *len = i ? &p->err_len : &p->out_len;
        int *fd = i ? &p->err_fd : &p->out_fd;
        if (*len == PROC_OUT_MAX - 1)
            continue; /* full: leave it in the pipe (the child waits) until consumed */
        ssize_t r = read(*fd, buf + *len, PROC_OUT_MAX - 1 - *len);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r <= 0) {
            close(*fd);
            *fd = -1;
        } else {
            *len += (size_t)r;
            buf[*len] = '\0';
        }
    }
    return true;
}

/* Hands each complete stdout line to fn and keeps only the unfinished
 * rest, for programs that print more than the buffer holds. */
static inline void proc_consume_lines(struct proc *p, void (*fn)(const char *line, void *ctx),
                                      void *ctx)
{
    char *start = p->out, *nl;
    while ((nl = memchr(start, '\n', p->out_len - (size_t)(start - p->out)))) {
        *nl = '\0';
        fn(start, ctx);
        start = nl + 1;
    }
    size_t rest = p->out_len - (size_t)(start - p->out);
    memmove(p->out, start, rest);
    p->out_len = rest;
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
    if (!proc_wait_output(p, "\n", timeout_ms))
        return 0;
    const char *l = strstr(p->out, "Listening on ");
    const char *colon = l ? strrchr(l, ':') : NULL;
    const char *nl = l ? strchr(l, '\n') : NULL;
    if (!colon || !nl || colon > nl)
        return 0;
    return atoi(colon + 1);
}

/* Waits for exit, reading output; kills with SIGKILL after timeout_ms. */
static inline int proc_wait(struct proc *p, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid)
            break;
        long long left = end - proc_now_ms();
        if (left <= 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            break;
        }
        if (!proc_pump(p, left > 20 ? 20 : (int)left)) {
            /* pipes closed: the exit is imminent; block on it, bounded by the kill above */
            struct pollfd none;
            poll(&none, 0, 1);
        }
    }
    /* The child is gone: take what is left in the pipes; past a full buffer
     * the rest is dropped (nothing will consume it any more). */
    for (int i = 0; i < 2; i++) {
        int *fd = i ? &p->err_fd : &p->out_fd;
        char *buf = i ? p->err : p->out;
        size_t *len = i ? &p->err_len : &p->out_len;
        while (*fd >= 0) {
            char scratch[4096];
            bool room = *len < PROC_OUT_MAX - 1;
            ssize_t r = room ? read(*fd, buf + *len, PROC_OUT_MAX - 1 - *len)
                             : read(*fd, scratch, sizeof scratch);
            if (r <= 0)
                break; /* EOF; a grandchild holding the pipe cannot make this block: O_NONBLOCK below */
            if (room) {
                *len += (size_t)r;
                buf[*len] = '\0';
            }
        }
    }
    p->exited = true;
    p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->err_fd >= 0)
        close(p->err_fd);
    p->out_fd = p->err_fd = -1;
    return p->status;
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
    if (!p->exited && p->pid > 0) {
        kill(p->pid, SIGTERM);
        proc_wait(p, 3000);
    }
}

#endif
