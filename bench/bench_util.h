/* Shared by the benchmarks: a private network namespace (so a benchmark
 * never touches the host's ports), child processes whose output line we wait
 * on, medians. Header-only: each bench is one program. */
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
    pid_t pid;
    int out_fd; /* stdout and stderr, merged */
};

/* Starts argv with stdout+stderr on a pipe; waits (bounded) for a line
 * containing ready_text. */
static inline bool bench_start(struct bench_child *c, char *const argv[], const char *ready_text,
                               int timeout_ms)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return false;
    c->pid = fork();
    if (c->pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    c->out_fd = p[0];
    char buf[8192];
    size_t len = 0;
    double end = bench_now_s() + timeout_ms / 1000.0;
    while (bench_now_s() < end) {
        struct pollfd f = {.fd = c->out_fd, .events = POLLIN};
        if (poll(&f, 1, 100) <= 0)
            continue;
        ssize_t n = read(c->out_fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, ready_text))
            return true;
        if (len > sizeof buf / 2) { /* keep the tail only */
            memmove(buf, buf + len / 2, len - len / 2);
            len -= len / 2;
        }
    }
    fprintf(stderr, "bench: %s did not say '%s' in time\n", argv[0], ready_text);
    return false;
}

/* Keeps the child's output pipe from filling up (its log is not needed). */
static inline void bench_drain(struct bench_child *c)
{
    char buf[65536];
    while (read(c->out_fd, buf, sizeof buf) > 0) {
    }
}

static inline void bench_stop(struct bench_child *c)
{
    kill(c->pid, SIGTERM);
    int st;
    for (int i = 0; i < 50; i++) {
        bench_drain(c);
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
            close(c->out_fd);
            return;
        }
        struct pollfd f = {.fd = c->out_fd, .events = POLLIN};
        poll(&f, 1, 100);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    close(c->out_fd);
}

#endif
