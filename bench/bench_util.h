/* Shared by the benchmarks: a private network namespace (so a benchmark
 * never touches the host's ports), child processes whose output line we wait
 * on (over the live runner's process.h), medians. Header-only: each bench
 * is one program; link wirecheck_testsupport (it brings wirecheck_live). */
#ifndef WIRECHECK_BENCH_UTIL_H
#define WIRECHECK_BENCH_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process.h"

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void bench_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0) {
        }
        close(fd);
    }
}

/* A fresh network namespace with loopback up; sysctls there are private. */
static inline bool bench_private_netns(void)
{
    if (unshare(CLONE_NEWNET) != 0) {
        fprintf(stderr, "bench: unshare(CLONE_NEWNET): %s (run as root)\n", strerror(errno));
        return false;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    bool ok = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    if (s >= 0)
        close(s);
    /* Many short connections: a wide port range and TIME_WAIT reuse. */
    bench_write_file("/proc/sys/net/ipv4/ip_local_port_range", "1024 65000");
    bench_write_file("/proc/sys/net/ipv4/tcp_tw_reuse", "1");
    return ok;
}

struct bench_child {
    struct process run;          /* pid; out_fd: stdout and stderr, merged */
    struct process_output out;
    char text[8192];
};

static inline int bench_exec(void *ctx)
{
    char *const *argv = ctx;
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    return 127;
}

/* Starts argv with stdout+stderr on a pipe; waits (bounded) for a line
 * containing ready_text. */
static inline bool bench_start(struct bench_child *c, char *const argv[], const char *ready_text,
                               int timeout_ms)
{
    c->text[0] = '\0';
    c->out = (struct process_output){ c->text, sizeof c->text, 0, false };
    struct process_options o = { .what = argv[0], .merge_stderr = true, .exec = bench_exec,
                                 .ctx = (void *)argv };
    char err[512];
    if (!process_spawn(&c->run, &c->out, NULL, &o, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return false;
    }
    int64_t end = process_now_ms() + timeout_ms;
    while (process_now_ms() < end) {
        struct pollfd f[1];
        if (poll(f, process_poll_pipes(&c->run, f, 0), 100) <= 0)
            continue;
        process_read_output(&c->run, &c->run.out_fd);
        if (strstr(c->text, ready_text))
            return true;
        if (c->run.out_fd < 0)
            return false; /* EOF: it exited without saying it */
        if (c->out.len > sizeof c->text / 2) { /* keep the tail only */
            size_t half = c->out.len / 2;
            memmove(c->text, c->text + half, c->out.len - half + 1);
            c->out.len -= half;
        }
    }
    fprintf(stderr, "bench: %s did not say '%s' in time\n", argv[0], ready_text);
    return false;
}

/* SIGTERM, reading (and dropping) its output; SIGKILL after 5 s. */
static inline void bench_stop(struct bench_child *c)
{
    process_signal(&c->run, SIGTERM);
    if (!process_wait(&c->run, process_now_ms() + 5000)) {
        process_signal(&c->run, SIGKILL);
        process_reap(&c->run, true);
    }
}

#endif
