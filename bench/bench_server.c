/* bench-server: how close the reference servers come to what the kernel
 * allows, in one run on 127.0.0.1 in a private network namespace.
 *
 * TCP: tcp-time-server, floor-tcp (bench/floor_tcp.c: the smallest correct
 * server for the same exchange, no logging) and inetutils-inetd's built-in
 * daytime run side by side and take turns in slices of 0.25 s (so load from
 * elsewhere on the machine falls on all three) at 1, 8 and 64 connections in
 * flight. Each connection connects, reads to EOF, closes. Reported per
 * server: connections/s, the server's CPU per connection (from /proc) and
 * the load generator's CPU (client processes, as reaped), so a client-bound
 * run shows: from 8 in flight the load comes from two client processes, each
 * with half the connections. Ratios are medians of the per-round ratios.
 *
 * UDP: the highest rate udp-server logs with none lost, against floor-udp
 * (bench/floor_udp.c: recvmmsg, count, discard): the offered rate doubles
 * from 25k/s until a datagram is lost, then is bisected; the figure is the
 * highest rate actually sent with none lost. Above 200k/s two sender
 * processes offer it; when they fall below 90% of the offered rate and
 * nothing is lost, the search stops there, flagged "sender-bound" (the
 * receiver is faster than that).
 *
 * Last, the rows of README's Performance table (with the date and load
 * average) and "ratio:" (tcp-time-server's conn/s over inetd's at 8 in
 * flight). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "bench_util.h"
#include "proc_cpu.h" /* testsupport */
#include "process.h"   /* live: process_call */

#define MAX_INFLIGHT 64
static const int loads[] = {1, 8, 64};
#define NLOADS 3

enum { OURS, FLOOR, INETD, NSERVERS };
static const char *const server_name[NSERVERS] = {"tcp-time-server", "floor-tcp", "inetd daytime"};

struct load_result {
    long done, failed;
    long refused, reset, stalled; /* of failed: connect failed, recv error, no progress for 1 s */
    long left; /* still open GRACE_S after the end: neither done nor failed */
    int first_errno;
    double seconds;
};

static int open_connection(const struct sockaddr_in *to)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)to, sizeof *to) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Runs the load for `seconds`: `inflight` connections at all times. */
static struct load_result drive_load(const struct sockaddr_in *to, int inflight, double seconds)
{
    struct load_result r = {0};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int open_count = 0;
    double start = bench_now_s(), end = start + seconds, last_progress = start;
    /* After the end, stragglers get GRACE_S; then they are left (not
     * failures: a SYN waiting for its 1 s retry would otherwise stretch a
     * short slice). A second without progress is a stall (failures). */
    const double GRACE_S = 0.05;
    bool stopping = false;
    for (;;) {
        while (!stopping && open_count < inflight) {
            int fd = open_connection(to);
            if (fd < 0) {
                if (!r.first_errno)
                    r.first_errno = errno;
                r.failed++;
                r.refused++;
                break;
            }
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            open_count++;
        }
        if (open_count == 0)
            break;
        struct epoll_event evs[MAX_INFLIGHT];
        double now = bench_now_s();
        double until = stopping ? end + GRACE_S : last_progress + 1.0;
        int wait_ms = until > now ? (int)((until - now) * 1000.0) + 1 : 0;
        int n = epoll_wait(ep, evs, MAX_INFLIGHT, wait_ms > 1000 ? 1000 : wait_ms);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            char buf[256];
            ssize_t got;
            while ((got = recv(fd, buf, sizeof buf, 0)) > 0) {
            }
            if (got == 0 || (got < 0 && errno != EAGAIN)) {
                if (got == 0) {
                    r.done++;
                } else {
                    if (!r.first_errno)
                        r.first_errno = errno;
                    r.failed++;
                    r.reset++;
                }
                close(fd);
                open_count--;
            }
        }
        now = bench_now_s();
        if (n > 0)
            last_progress = now;
        if (stopping && now >= end + GRACE_S) {
            r.left += open_count; /* closed when the client process exits */
            break;
        }
        if (!stopping && now >= last_progress + 1.0) { /* a second without progress */
            r.failed += open_count;
            r.stalled += open_count;
            break;
        }
        stopping = now >= end;
    }
    close(ep);
    r.seconds = bench_now_s() - start;
    return r;
}

struct load_total {
    long done, failed;
    double seconds;    /* the longest client's */
    double client_cpu; /* seconds, all client processes */
    int clients;
};

/* CPU (user + system) of the children reaped so far, in seconds. */
static double children_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Counts newline-ended log lines read from fd so far. */
static long count_lines(int fd, long lines)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    return lines;
}

/* Waits for a load process's result (process_call), counting the server's
 * log lines on out_fd (-1: none) meanwhile; false if it brought none. */
static bool collect(struct process_call *pc, int out_fd, long *logged)
{
    bool over = false;
    while (!over) {
        struct pollfd f[2] = {{.fd = pc->fd, .events = POLLIN}, {.fd = out_fd, .events = POLLIN}};
        poll(f, out_fd >= 0 ? 2 : 1, 1000);
        if (out_fd >= 0)
            *logged = count_lines(out_fd, *logged);
        over = f[0].revents && process_call_read(pc);
    }
    return process_call_finish(pc) == PROCESS_CALL_DONE;
}

struct client_job {
    const struct sockaddr_in *to;
    int inflight;
    double seconds;
    struct load_result r; /* filled in the load process, sent back */
};

static void client_job_run(void *ctx)
{
    struct client_job *j = ctx;
    j->r = drive_load(j->to, j->inflight, j->seconds);
}

/* The load from `clients` processes, each with inflight/clients connections;
 * their CPU from what the reaped children used (nothing else ends meanwhile). */
static struct load_total drive_clients(const struct sockaddr_in *to, int inflight, int clients,
                                       double seconds)
{
    struct load_total t = {.clients = clients};
    struct client_job jobs[2];
    struct process_call calls[2];
    double cpu_before = children_cpu_s();
    for (int k = 0; k < clients; k++) {
        jobs[k] = (struct client_job){to, inflight / clients, seconds, {0}};
        if (process_call_start(&calls[k], client_job_run, &jobs[k], &jobs[k].r, sizeof jobs[k].r) !=
            PROCESS_CALL_DONE)
            exit(2);
    }
    for (int k = 0; k < clients; k++) {
        struct load_result *r = &jobs[k].r;
        long unused = 0;
        if (!collect(&calls[k], -1, &unused))
            *r = (struct load_result){.failed = inflight};
        t.done += r->done;
        t.failed += r->failed;
        if (r->failed)
            fprintf(stderr, "  client: %ld failed (%ld at connect, %ld by a recv error, %ld "
                    "stalled for 1 s; first error: %s)\n", r->failed, r->refused, r->reset,
                    r->stalled, r->first_errno ? strerror(r->first_errno) : "none");
        if (r->seconds > t.seconds)
            t.seconds = r->seconds;
    }
    t.client_cpu = children_cpu_s() - cpu_before;
    return t;
}

static char bin_dir[4096];

static void bin_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", bin_dir, name);
}

static bool start_server(int which, struct bench_child *c)
{
    static char path[4200];
    if (which == OURS) {
        bin_path(path, sizeof path, "tcp-time-server");
        char *argv[] = {path, "--bind", "127.0.0.1", "--port", "1313", NULL};
        return bench_start(c, argv, "Listening on", 5000);
    }
    if (which == FLOOR) {
        bin_path(path, sizeof path, "floor-tcp");
        char *argv[] = {path, "1314", NULL};
        return bench_start(c, argv, "Listening on", 5000);
    }
    static const char conf[] = "/tmp/wirecheck-bench-inetd.conf";
    FILE *f = fopen(conf, "w");
    if (!f)
        return false;
    fputs("127.0.0.1:daytime stream tcp nowait root internal\n", f);
    fclose(f);
    char *argv[] = {"/usr/sbin/inetutils-inetd", "-d", "-R", "100000000", "-p",
                    "/tmp/wirecheck-bench-inetd.pid", (char *)conf, NULL};
    return bench_start(c, argv, "registered", 5000);
}

static const uint16_t server_port[NSERVERS] = {1313, 1314, 13};

/* The three servers run side by side (ours on 1313, the floor on 1314,
 * inetd's daytime on 13); only the one under load uses CPU. */
struct running {
    struct bench_child c[NSERVERS];
    pid_t drainer[NSERVERS];
};

static void start_all(struct running *r)
{
    for (int w = 0; w < NSERVERS; w++) {
        if (!start_server(w, &r->c[w]))
            exit(2);
        /* The server's log goes to a pipe: drain it from a helper process
         * so the measurement loop stays single-purpose. */
        r->drainer[w] = fork();
        if (r->drainer[w] == 0) {
            fcntl(r->c[w].run.out_fd, F_SETFL, 0); /* blocking: EAGAIN must not end the drain */
            char buf[65536];
            while (read(r->c[w].run.out_fd, buf, sizeof buf) > 0) {
            }
            _exit(0);
        }
    }
}

static void stop_all(struct running *r)
{
    for (int w = 0; w < NSERVERS; w++) {
        struct bench_child *c = &r->c[w];
        siginfo_t si = {0};
        bool gone = waitid(P_PID, (id_t)c->run.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                    si.si_pid != 0;
        bench_stop(c);
        if (gone || (c->run.status != 0 && c->run.status != 128 + SIGTERM))
            fprintf(stderr, "bench: %s %s (status %d)\n", server_name[w],
                    gone ? "exited during the load" : "ended badly on SIGTERM", c->run.status);
        kill(r->drainer[w], SIGKILL);
        waitpid(r->drainer[w], NULL, 0);
    }
}

struct totals {
    long done, failed;
    double seconds, server_us, client_s;
};

/* One slice of load on server w, added to *t. */
static void slice(struct running *r, int w, int inflight, double seconds, struct totals *t)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(server_port[w])};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    long long cpu0 = proc_cpu_usec(r->c[w].run.pid);
    struct load_total lt = drive_clients(&to, inflight, inflight >= 8 ? 2 : 1, seconds);
    long long cpu1 = proc_cpu_usec(r->c[w].run.pid);
    t->done += lt.done;
    t->failed += lt.failed;
    t->seconds += lt.seconds;
    t->server_us += cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - cpu0) : 0;
    t->client_s += lt.client_cpu;
}

struct series {
    double conn_s, cpu_us, client_cpu_us, client_core;
    double cpu_vs_floor, cpu_vs_inetd, rate_vs_inetd; /* medians of per-round ratios */
    long failed;
};

static struct series tcp[NLOADS][NSERVERS];

/* Slices of SLICE_S: the three servers take turns (the first rotating), so
 * a burst of load from elsewhere on the machine falls on all of them. */
#define SLICE_S 0.25

static void run_tcp(int rounds, double seconds)
{
    static double v[NLOADS][NSERVERS][4][64], ratio[NLOADS][3][64];
    int slices = (int)(seconds / SLICE_S + 0.5);
    if (slices < 1)
        slices = 1;
    for (int l = 0; l < NLOADS; l++) {
        struct running r;
        start_all(&r);
        for (int i = 0; i < rounds; i++) {
            struct totals t[NSERVERS] = {{0}};
            for (int k = 0; k < slices; k++)
                for (int j = 0; j < NSERVERS; j++) {
                    int w = (j + k + i) % NSERVERS;
                    slice(&r, w, loads[l], seconds / slices, &t[w]);
                }
            printf("round %d, %2d in flight:", i + 1, loads[l]);
            for (int w = 0; w < NSERVERS; w++) {
                double done = t[w].done ? (double)t[w].done : 1;
                v[l][w][0][i] = t[w].seconds > 0 ? (double)t[w].done / t[w].seconds : 0;
                v[l][w][1][i] = t[w].server_us / done;
                v[l][w][2][i] = t[w].client_s * 1e6 / done;
                v[l][w][3][i] = t[w].seconds > 0 ? t[w].client_s / t[w].seconds : 0;
                tcp[l][w].failed += t[w].failed;
                printf("  %s %.0f conn/s %.1f us%s", server_name[w], v[l][w][0][i], v[l][w][1][i],
                       w + 1 < NSERVERS ? ";" : "\n");
            }
            ratio[l][0][i] = v[l][OURS][1][i] / v[l][FLOOR][1][i];
            ratio[l][1][i] = v[l][OURS][1][i] / v[l][INETD][1][i];
            ratio[l][2][i] = v[l][OURS][0][i] / v[l][INETD][0][i];
            fflush(stdout);
        }
        stop_all(&r);
    }
    for (int l = 0; l < NLOADS; l++) {
        for (int w = 0; w < NSERVERS; w++) {
            struct series *s = &tcp[l][w];
            s->conn_s = bench_median(v[l][w][0], rounds);
            s->cpu_us = bench_median(v[l][w][1], rounds);
            s->client_cpu_us = bench_median(v[l][w][2], rounds);
            s->client_core = bench_median(v[l][w][3], rounds);
            printf("%2d in flight: %-15s median %6.0f conn/s, %5.1f us server CPU/conn, client "
                   "%5.1f us/conn (%.2f cores, %d process%s), %ld failed\n",
                   loads[l], server_name[w], s->conn_s, s->cpu_us, s->client_cpu_us,
                   s->client_core, loads[l] >= 8 ? 2 : 1, loads[l] >= 8 ? "es" : "", s->failed);
        }
        tcp[l][OURS].cpu_vs_floor = bench_median(ratio[l][0], rounds);
        tcp[l][OURS].cpu_vs_inetd = bench_median(ratio[l][1], rounds);
        tcp[l][OURS].rate_vs_inetd = bench_median(ratio[l][2], rounds);
    }
}

/* --- UDP: datagrams per second handled with none lost ------------------- */

struct udp_result {
    double rate, achieved; /* offered and actually sent, datagrams/s */
    long sent, logged;
};

/* One sender: `rate` datagrams/s of "Hello UDP!" for `seconds`, paced in
 * 1 ms ticks (sendmmsg per tick). Returns how many left; *elapsed the time. */
static long send_paced(const struct sockaddr_in *to, double rate, double seconds, double *elapsed)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
    static char hello[] = "Hello UDP!";
    enum { BATCH = 1024 };
    static struct mmsghdr msgs[BATCH];
    static struct iovec iov = {.iov_base = hello, .iov_len = sizeof hello - 1};
    for (int i = 0; i < BATCH; i++)
        msgs[i].msg_hdr = (struct msghdr){.msg_name = (void *)to, .msg_namelen = sizeof *to,
                                          .msg_iov = &iov, .msg_iovlen = 1};
    long total = (long)(rate * seconds), sent = 0;
    double start = bench_now_s();
    while (sent < total) {
        double now = bench_now_s();
        long due = (long)(rate * (now - start)) + 1;
        if (due > total)
            due = total;
        while (sent < due) {
            long want = due - sent > BATCH ? BATCH : due - sent;
            int n = sendmmsg(fd, msgs, (unsigned)want, 0);
            if (n <= 0)
                break; /* ENOBUFS: count it as not sent, try next tick */
            sent += n;
        }
        int wait_ms = (int)((now + 0.001 - bench_now_s()) * 1000.0);
        if (wait_ms > 0)
            poll(NULL, 0, wait_ms);
    }
    *elapsed = bench_now_s() - start;
    close(fd);
    return sent;
}

/* Offers `rate` datagrams/s for `seconds` from sender processes (two above
 * 200k/s: one cannot always keep up on a busy machine) while this process
 * counts the server's log lines on out_fd (-1: none); then waits for the log
 * to catch up (at most 1 s without a new line). */
struct sender_job {
    const struct sockaddr_in *to;
    double rate, seconds;
    double out[2]; /* datagrams sent, seconds taken: filled in the sender, sent back */
};

static void sender_job_run(void *ctx)
{
    struct sender_job *j = ctx;
    j->out[0] = (double)send_paced(j->to, j->rate, j->seconds, &j->out[1]);
}

static struct udp_result offer_udp(int out_fd, const struct sockaddr_in *to, double rate,
                                   double seconds)
{
    struct udp_result r = {.rate = rate};
    int senders = rate > 200000 ? 2 : 1;
    struct sender_job jobs[2];
    struct process_call calls[2];
    for (int k = 0; k < senders; k++) {
        jobs[k] = (struct sender_job){to, rate / senders, seconds, {0, 0}};
        if (process_call_start(&calls[k], sender_job_run, &jobs[k], jobs[k].out,
                               sizeof jobs[k].out) != PROCESS_CALL_DONE)
            exit(2);
    }
    double longest = 0;
    for (int k = 0; k < senders; k++) { /* the log is counted while the senders run */
        if (!collect(&calls[k], out_fd, &r.logged))
            jobs[k].out[0] = jobs[k].out[1] = 0;
        r.sent += (long)jobs[k].out[0];
        if (jobs[k].out[1] > longest)
            longest = jobs[k].out[1];
    }
    r.achieved = longest > 0 ? (double)r.sent / longest : 0;
    while (out_fd >= 0 && r.logged < r.sent) {
        struct pollfd f = {.fd = out_fd, .events = POLLIN};
        if (poll(&f, 1, 1000) <= 0)
            break;
        r.logged = count_lines(out_fd, r.logged);
    }
    return r;
}

/* udp-server on 3434, floor-udp on 3435: both run through the search. */
static const struct sockaddr_in *udp_to(uint16_t port)
{
    static struct sockaddr_in to = {.sin_family = AF_INET};
    to.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    return &to;
}

/* udp-server at one rate (one server for the whole search: out_fd its log). */
static bool udp_ours_lossless(int out_fd, double rate, double seconds, double *achieved)
{
    struct udp_result r = offer_udp(out_fd, udp_to(3434), rate, seconds);
    long lost = r.sent - r.logged;
    *achieved = r.achieved;
    printf("udp-server at %.0f/s offered (%.0f/s sent): %ld sent, %ld logged, %ld lost\n", rate,
           r.achieved, r.sent, r.logged, lost);
    fflush(stdout);
    return lost == 0;
}

/* floor-udp at one rate: a fresh floor per rate, its count read at exit. */
static bool udp_floor_lossless(double rate, double seconds, double *achieved)
{
    char path[4200];
    bin_path(path, sizeof path, "floor-udp");
    char *argv[] = {path, "3435", NULL};
    struct bench_child c;
    if (!bench_start(&c, argv, "Listening on", 5000))
        exit(2);
    struct udp_result r = offer_udp(-1, udp_to(3435), rate, seconds);
    poll(NULL, 0, 100); /* what is queued is read within microseconds */
    bench_stop(&c);
    const char *got = strstr(c.text, "Received: ");
    long received = got ? atol(got + 10) : -1;
    long lost = r.sent - received;
    *achieved = r.achieved;
    printf("floor-udp  at %.0f/s offered (%.0f/s sent): %ld sent, %ld received, %ld lost\n", rate,
           r.achieved, r.sent, received, lost);
    fflush(stdout);
    return lost == 0;
}


/* Doubles the offered rate from 25k/s until the first loss, then bisects
 * three times; one probe per call, so the two searches take turns. The
 * result is the highest rate actually sent (not offered) with none lost. If
 * the senders reach less than 90% of a rate and nothing is lost, the search
 * ends there: the receiver was not the limit (sender_bound). */
struct udp_search {
    double best;            /* highest achieved rate with none lost */
    double ok_rate, lossy;  /* offered: the last lossless, the first lossy */
    int bisected;
    bool doubling, done;
    bool sender_bound;
};

static void udp_step(struct udp_search *s, bool floor, int out_fd, double seconds)
{
    if (s->done)
        return;
    double rate = s->doubling ? s->lossy : (s->ok_rate + s->lossy) / 2;
    double achieved = 0;
    bool ok = floor ? udp_floor_lossless(rate, seconds, &achieved)
                    : udp_ours_lossless(out_fd, rate, seconds, &achieved);
    if (ok) {
        if (achieved > s->best)
            s->best = achieved;
        s->ok_rate = rate;
        if (achieved < 0.9 * rate) {
            s->sender_bound = true;
            s->done = true;
            return;
        }
    }
    if (s->doubling) {
        if (ok && rate < 6400000)
            s->lossy = rate * 2;
        else
            s->doubling = false;
        s->done = !s->doubling && s->ok_rate == 0;
    } else {
        if (!ok)
            s->lossy = rate;
        s->done = ++s->bisected == 3;
    }
}

static struct udp_search udp_ours, udp_floor;

static void run_udp(double seconds)
{
    char path[4200];
    bin_path(path, sizeof path, "udp-server");
    char *argv[] = {path, "--bind", "127.0.0.1", "--port", "3434", NULL};
    struct bench_child c;
    if (!bench_start(&c, argv, "Listening on", 5000))
        exit(2);
    fcntl(c.run.out_fd, F_SETFL, O_NONBLOCK);
    udp_ours = udp_floor = (struct udp_search){.lossy = 25000, .doubling = true};
    while (!udp_ours.done || !udp_floor.done) {
        udp_step(&udp_ours, false, c.run.out_fd, seconds);
        udp_step(&udp_floor, true, -1, seconds);
    }
    bench_stop(&c);
    printf("udp-server: %.0f datagrams/s logged with none lost%s; floor-udp: %.0f/s received "
           "with none lost%s\n", udp_ours.best,
           udp_ours.sender_bound ? " (the senders could go no faster: it is higher)" : "",
           udp_floor.best,
           udp_floor.sender_bound ? " (the senders could go no faster: it is higher)" : "");
}

/* --- the README rows ---------------------------------------------------- */

static void read_loadavg(char *out, size_t cap)
{
    FILE *f = fopen("/proc/loadavg", "r");
    float a = 0, b = 0, c = 0;
    if (!f || fscanf(f, "%f %f %f", &a, &b, &c) != 3)
        a = b = c = -1;
    if (f)
        fclose(f);
    snprintf(out, cap, "%.2f %.2f %.2f", a, b, c);
}

/* 12345.6 -> "12,346" (README style); one of four rotating buffers. */
static const char *thousands(double v)
{
    static char bufs[4][32];
    static int next;
    char *out = bufs[next++ % 4], digits[32];
    int n = snprintf(digits, sizeof digits, "%.0f", v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0 && digits[i - 1] != '-')
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

static void print_rows(int rounds, double seconds, const char *load0, const char *load1)
{
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%d", localtime_r(&now, &tm));
    printf("\nREADME rows:\n");
    printf("bench-server rows: %s, load average %s at the start and %s at the end, %d rounds "
           "of %g s.\n", date, load0, load1, rounds, seconds);
    for (int l = 0; l < NLOADS; l++) {
        const struct series *o = &tcp[l][OURS], *f = &tcp[l][FLOOR], *i = &tcp[l][INETD];
        double cpu_floor = o->cpu_vs_floor, cpu_inetd = o->cpu_vs_inetd;
        double rate_inetd = o->rate_vs_inetd, rate_floor = o->conn_s / f->conn_s;
        bool target = loads[l] == 8;
        char cmd[128];
        if (l == 0)
            snprintf(cmd, sizeof cmd, "`build/bin/bench-server %d %g` (needs `apt-get install "
                     "inetutils-inetd`)", rounds, seconds);
        else
            snprintf(cmd, sizeof cmd, "same run");
        printf("| tcp-time-server, %d in flight | %s conn/s, %.1f µs server CPU per connection, "
               "%ld failed | floor-tcp %s conn/s, %.1f µs; inetd daytime %s conn/s, %.1f µs, %ld "
               "failed; load generator %.2f / %.2f / %.2f vCPU (%d process%s) | CPU per "
               "connection **%.2f**x floor%s, **%.2f**x inetd%s; conn/s **%.2f**x inetd%s, "
               "%.2fx floor | %s |\n",
               loads[l], thousands(o->conn_s), o->cpu_us, o->failed, thousands(f->conn_s),
               f->cpu_us, thousands(i->conn_s), i->cpu_us, i->failed, o->client_core,
               f->client_core, i->client_core, loads[l] >= 8 ? 2 : 1, loads[l] >= 8 ? "es" : "",
               cpu_floor, target ? " (<= 1.3)" : "", cpu_inetd, target ? " (<= 0.7)" : "",
               rate_inetd, target ? " (>= 1.5)" : "", rate_floor, cmd);
    }
    printf("| udp-server datagrams/s logged, none lost | %s/s%s | floor-udp (recvmmsg, count, "
           "discard): %s/s%s | **%.2f** (>= 0.8) | same run |\n",
           thousands(udp_ours.best), udp_ours.sender_bound ? " (sender-bound)" : "",
           thousands(udp_floor.best), udp_floor.sender_bound ? " (sender-bound)" : "",
           udp_floor.best > 0 ? udp_ours.best / udp_floor.best : 0);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (rounds < 1 || seconds <= 0) {
        fprintf(stderr, "usage: bench-server [ROUNDS] [SECONDS-PER-ROUND]\n");
        return 2;
    }
    if (access("/usr/sbin/inetutils-inetd", X_OK) != 0) {
        fprintf(stderr, "bench-server: needs /usr/sbin/inetutils-inetd (apt-get install inetutils-inetd)\n");
        return 2;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 2;
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(bin_dir, sizeof bin_dir, "%s", self);
    if (!bench_private_netns())
        return 2;
    if (rounds > 64)
        rounds = 64;
    char load0[64], load1[64];
    read_loadavg(load0, sizeof load0);
    printf("load average %s\n", load0);
    run_tcp(rounds, seconds);
    run_udp(seconds / 2);
    read_loadavg(load1, sizeof load1);
    print_rows(rounds, seconds, load0, load1);
    const struct series *o = &tcp[1][OURS];
    printf("ratio at 8 in flight: CPU/conn %.2fx floor, %.2fx inetd (medians of per-round "
           "ratios)\n", o->cpu_vs_floor, o->cpu_vs_inetd);
    printf("ratio: %.2f\n", o->rate_vs_inetd);
    return 0;
}
