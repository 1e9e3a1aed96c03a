/* bench-server: how close the reference servers come to what the kernel
 * allows, in one run on 127.0.0.1 in a private network namespace.
 *
 * TCP: tcp-time-server, floor-tcp (bench/floor_tcp.c: the smallest correct
 * server for the same exchange, no logging) and inetutils-inetd's built-in
 * daytime, all on port 13, alternated round by round at 1, 8 and 64
 * connections in flight. Each connection connects, reads to EOF, closes.
 * Reported per server: connections/s, the server's CPU per connection (from
 * /proc) and the load generator's CPU (client processes, from wait4), so a
 * client-bound run shows: from 8 in flight the load comes from two client
 * processes, each with half the connections.
 *
 * UDP: the highest rate udp-server logs with none lost, against floor-udp
 * (bench/floor_udp.c: recvmmsg, count, discard): the offered rate doubles
 * from 25k/s until a datagram is lost, then is bisected. Above 200k/s two
 * sender processes offer it; a rate they could not reach (below 90%) counts
 * as not met and is flagged "sender-bound" when nothing was lost.
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

#define MAX_INFLIGHT 64
static const int loads[] = {1, 8, 64};
#define NLOADS 3

enum { OURS, FLOOR, INETD, NSERVERS };
static const char *const server_name[NSERVERS] = {"tcp-time-server", "floor-tcp", "inetd daytime"};

struct load_result {
    long done, failed;
    long refused, reset, stalled; /* of failed: connect failed, recv error, no progress for 1 s */
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
    double start = bench_now_s(), end = start + seconds;
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
        int n = epoll_wait(ep, evs, MAX_INFLIGHT, 1000);
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
        if (n == 0) { /* a whole second without progress: give up on the rest */
            r.failed += open_count;
            r.stalled += open_count;
            break;
        }
        stopping = bench_now_s() >= end;
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

/* The load from `clients` processes, each with inflight/clients connections;
 * their CPU from wait4. */
static struct load_total drive_clients(const struct sockaddr_in *to, int inflight, int clients,
                                       double seconds)
{
    struct load_total t = {.clients = clients};
    pid_t pids[2];
    int fds[2];
    for (int k = 0; k < clients; k++) {
        int p[2];
        if (pipe(p) != 0)
            exit(2);
        pids[k] = fork();
        if (pids[k] == 0) {
            close(p[0]);
            struct load_result r = drive_load(to, inflight / clients, seconds);
            _exit(write(p[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
        }
        close(p[1]);
        fds[k] = p[0];
    }
    for (int k = 0; k < clients; k++) {
        struct load_result r = {0};
        if (read(fds[k], &r, sizeof r) != (ssize_t)sizeof r)
            r.failed = inflight;
        close(fds[k]);
        struct rusage ru;
        if (wait4(pids[k], NULL, 0, &ru) > 0)
            t.client_cpu += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                            (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        t.done += r.done;
        t.failed += r.failed;
        if (r.failed)
            fprintf(stderr, "  client: %ld failed (%ld at connect, %ld by a recv error, %ld "
                    "stalled for 1 s; first error: %s)\n", r.failed, r.refused, r.reset,
                    r.stalled, r.first_errno ? strerror(r.first_errno) : "none");
        if (r.seconds > t.seconds)
            t.seconds = r.seconds;
    }
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
        char *argv[] = {path, "--bind", "127.0.0.1", "--port", "13", NULL};
        return bench_start(c, argv, "Listening on", 5000);
    }
    if (which == FLOOR) {
        bin_path(path, sizeof path, "floor-tcp");
        char *argv[] = {path, "13", NULL};
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

struct sample {
    double conn_s, cpu_us, client_cpu_us, client_core; /* client_core: cores busy */
    long failed;
};

static struct sample measure(int which, int inflight, double seconds)
{
    struct bench_child c;
    if (!start_server(which, &c))
        exit(2);
    /* The server's log goes to a pipe: drain it from a helper process so the
     * measurement loop stays single-purpose. */
    pid_t drainer = fork();
    if (drainer == 0) {
        fcntl(c.run.out_fd, F_SETFL, 0); /* blocking: EAGAIN must not end the drain */
        char buf[65536];
        while (read(c.run.out_fd, buf, sizeof buf) > 0) {
        }
        _exit(0);
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(13)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    long long cpu0 = proc_cpu_usec(c.run.pid);
    struct load_total t = drive_clients(&to, inflight, inflight >= 8 ? 2 : 1, seconds);
    long long cpu1 = proc_cpu_usec(c.run.pid);
    siginfo_t si = {0};
    bool gone = waitid(P_PID, (id_t)c.run.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                si.si_pid != 0;
    bench_stop(&c);
    if (gone || (c.run.status != 0 && c.run.status != 128 + SIGTERM))
        fprintf(stderr, "bench: %s %s (status %d)\n", server_name[which],
                gone ? "exited during the load" : "ended badly on SIGTERM", c.run.status);
    kill(drainer, SIGKILL);
    waitpid(drainer, NULL, 0);
    struct sample s = {.failed = t.failed};
    s.conn_s = t.seconds > 0 ? (double)t.done / t.seconds : 0;
    s.cpu_us = t.done && cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - cpu0) / (double)t.done : 0;
    s.client_cpu_us = t.done ? t.client_cpu * 1e6 / (double)t.done : 0;
    s.client_core = t.seconds > 0 ? t.client_cpu / t.seconds : 0;
    return s;
}

struct series {
    double conn_s, cpu_us, client_cpu_us, client_core;
    long failed;
};

static struct series tcp[NLOADS][NSERVERS];

static void run_tcp(int rounds, double seconds)
{
    static double v[NLOADS][NSERVERS][4][64];
    for (int i = 0; i < rounds; i++) {
        for (int l = 0; l < NLOADS; l++) {
            printf("round %d, %2d in flight:", i + 1, loads[l]);
            for (int w = 0; w < NSERVERS; w++) {
                struct sample s = measure(w, loads[l], seconds);
                v[l][w][0][i] = s.conn_s;
                v[l][w][1][i] = s.cpu_us;
                v[l][w][2][i] = s.client_cpu_us;
                v[l][w][3][i] = s.client_core;
                tcp[l][w].failed += s.failed;
                printf("  %s %.0f conn/s %.1f us%s", server_name[w], s.conn_s, s.cpu_us,
                       w + 1 < NSERVERS ? ";" : "\n");
                fflush(stdout);
            }
        }
    }
    for (int l = 0; l < NLOADS; l++)
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
}

/* --- UDP: datagrams per second handled with none lost ------------------- */

struct udp_result {
    double rate, achieved; /* offered and actually sent, datagrams/s */
    long sent, logged;
};

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
static struct udp_result offer_udp(int out_fd, const struct sockaddr_in *to, double rate,
                                   double seconds)
{
    struct udp_result r = {.rate = rate};
    int senders = rate > 200000 ? 2 : 1, fds[2];
    pid_t pids[2];
    for (int k = 0; k < senders; k++) {
        int p[2];
        if (pipe(p) != 0)
            exit(2);
        pids[k] = fork();
        if (pids[k] == 0) {
            close(p[0]);
            double out[2];
            out[0] = (double)send_paced(to, rate / senders, seconds, &out[1]);
            _exit(write(p[1], out, sizeof out) == (ssize_t)sizeof out ? 0 : 1);
        }
        close(p[1]);
        fds[k] = p[0];
    }
    double longest = 0;
    for (int k = 0; k < senders; k++) {
        double out[2] = {0, 0};
        for (;;) { /* count the log while the senders run */
            struct pollfd f[2] = {{.fd = fds[k], .events = POLLIN}, {.fd = out_fd, .events = POLLIN}};
            poll(f, out_fd >= 0 ? 2 : 1, 1000);
            if (out_fd >= 0)
                r.logged = count_lines(out_fd, r.logged);
            if (f[0].revents)
                break;
        }
        if (read(fds[k], out, sizeof out) != (ssize_t)sizeof out)
            out[0] = out[1] = 0;
        close(fds[k]);
        waitpid(pids[k], NULL, 0);
        r.sent += (long)out[0];
        if (out[1] > longest)
            longest = out[1];
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

static const struct sockaddr_in *udp_to(void)
{
    static struct sockaddr_in to = {.sin_family = AF_INET};
    to.sin_port = htons(3434);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    return &to;
}

/* udp-server at one rate (one server for the whole search: out_fd its log). */
static bool udp_ours_lossless(int out_fd, double rate, double seconds, bool *sender_bound)
{
    struct udp_result r = offer_udp(out_fd, udp_to(), rate, seconds);
    long lost = r.sent - r.logged;
    *sender_bound = r.achieved < 0.9 * rate && lost == 0; /* lossless, but not at this rate */
    printf("udp-server at %.0f/s offered (%.0f/s sent): %ld sent, %ld logged, %ld lost\n", rate,
           r.achieved, r.sent, r.logged, lost);
    fflush(stdout);
    return lost == 0 && r.achieved >= 0.9 * rate;
}

/* floor-udp at one rate: a fresh floor per rate, its count read at exit. */
static bool udp_floor_lossless(double rate, double seconds, bool *sender_bound)
{
    char path[4200];
    bin_path(path, sizeof path, "floor-udp");
    char *argv[] = {path, "3434", NULL};
    struct bench_child c;
    if (!bench_start(&c, argv, "Listening on", 5000))
        exit(2);
    struct udp_result r = offer_udp(-1, udp_to(), rate, seconds);
    poll(NULL, 0, 100); /* what is queued is read within microseconds */
    bench_stop(&c);
    const char *got = strstr(c.text, "Received: ");
    long received = got ? atol(got + 10) : -1;
    long lost = r.sent - received;
    *sender_bound = r.achieved < 0.9 * rate && lost == 0;
    printf("floor-udp  at %.0f/s offered (%.0f/s sent): %ld sent, %ld received, %ld lost\n", rate,
           r.achieved, r.sent, received, lost);
    fflush(stdout);
    return lost == 0 && r.achieved >= 0.9 * rate;
}

struct udp_search {
    double best;
    bool sender_bound; /* the search stopped because the sender fell behind */
};

/* Doubles the offered rate from 25k/s until the first loss, then bisects. */
static struct udp_search udp_search(bool floor, int out_fd, double seconds)
{
    struct udp_search s = {0};
    double lossy = 25000;
    bool sb = false;
    while (lossy <= 6400000 && (floor ? udp_floor_lossless(lossy, seconds, &sb)
                                      : udp_ours_lossless(out_fd, lossy, seconds, &sb))) {
        s.best = lossy;
        lossy *= 2;
    }
    s.sender_bound = sb; /* the first failure: was it the sender's? */
    for (int i = 0; i < 3 && s.best > 0; i++) {
        double mid = (s.best + lossy) / 2;
        if (floor ? udp_floor_lossless(mid, seconds, &sb) : udp_ours_lossless(out_fd, mid, seconds, &sb)) {
            s.best = mid;
        } else {
            lossy = mid;
            s.sender_bound = s.sender_bound || sb;
        }
    }
    return s;
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
    udp_ours = udp_search(false, c.run.out_fd, seconds);
    bench_stop(&c);
    udp_floor = udp_search(true, -1, seconds);
    printf("udp-server: %.0f datagrams/s logged with none lost%s; floor-udp: %.0f/s received "
           "with none lost%s\n", udp_ours.best,
           udp_ours.sender_bound ? " (the sender fell behind)" : "", udp_floor.best,
           udp_floor.sender_bound ? " (the sender fell behind: the floor is higher)" : "");
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

static void print_rows(int rounds, double seconds, const char *load0, const char *load1)
{
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%d", localtime_r(&now, &tm));
    printf("\nREADME rows (%s; load average %s at the start, %s at the end; %d rounds of "
           "%g s):\n", date, load0, load1, rounds, seconds);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "`build/bin/bench-server %d %g`", rounds, seconds);
    for (int l = 0; l < NLOADS; l++) {
        const struct series *o = &tcp[l][OURS], *f = &tcp[l][FLOOR], *i = &tcp[l][INETD];
        double cpu_floor = o->cpu_us / f->cpu_us, cpu_inetd = o->cpu_us / i->cpu_us;
        double rate_inetd = o->conn_s / i->conn_s, rate_floor = o->conn_s / f->conn_s;
        bool target = loads[l] == 8;
        printf("| tcp-time-server, %d in flight%s | %.0f conn/s, %.1f µs server CPU/conn, %ld "
               "failed | floor-tcp %.0f conn/s, %.1f µs; inetd daytime %.0f conn/s, %.1f µs, %ld "
               "failed; client %.2f/%.2f/%.2f cores (%d process%s) | CPU/conn **%.2f**x floor%s, "
               "**%.2f**x inetd%s; conn/s **%.2f**x inetd%s, %.2fx floor | %s |\n",
               loads[l], l == 0 ? " (one at a time)" : "", o->conn_s, o->cpu_us, o->failed,
               f->conn_s, f->cpu_us, i->conn_s, i->cpu_us, i->failed, o->client_core,
               f->client_core, i->client_core, loads[l] >= 8 ? 2 : 1, loads[l] >= 8 ? "es" : "",
               cpu_floor, target ? " (<= 1.3)" : "", cpu_inetd, target ? " (<= 0.7)" : "",
               rate_inetd, target ? " (>= 1.5)" : "", rate_floor, cmd);
    }
    printf("| udp-server datagrams/s logged, none lost | %.0f/s%s | floor-udp (recvmmsg, count, "
           "discard): %.0f/s%s | **%.2f** (>= 0.8) | same run |\n",
           udp_ours.best, udp_ours.sender_bound ? " (sender-bound)" : "", udp_floor.best,
           udp_floor.sender_bound ? " (sender-bound)" : "",
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
    const struct series *o = &tcp[1][OURS], *i = &tcp[1][INETD];
    printf("ratio at 8 in flight: CPU/conn %.2fx floor, %.2fx inetd\n",
           o->cpu_us / tcp[1][FLOOR].cpu_us, o->cpu_us / i->cpu_us);
    printf("ratio: %.2f\n", o->conn_s / i->conn_s);
    return 0;
}
