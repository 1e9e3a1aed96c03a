/* bench-server: connections per second of tcp-time-server against
 * inetutils-inetd's built-in daytime service, both on 127.0.0.1:13 in a
 * private network namespace, driven by the same load generator (many
 * connections in flight; each connects, reads to EOF, closes). Rounds
 * alternate between the two; the medians and their ratio are printed.
 * Then datagrams per second that udp-server logs with none lost: the
 * offered rate doubles from 25k/s until the first datagram is lost, then
 * is bisected. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>

#include "bench_util.h"
#include "proc_cpu.h" /* testsupport */

/* "Many connections in flight" (the ratio), and a light load that stays
 * below inetd's fixed listen backlog of 10, reported alongside so the
 * ratio is not read as only inetd's queue overflowing. */
#define INFLIGHT_MANY 64
#define INFLIGHT_FEW 8

struct load_result {
    long done, failed;
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
                r.failed++;
                break;
            }
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            open_count++;
        }
        if (open_count == 0)
            break;
        struct epoll_event evs[INFLIGHT_MANY];
        int n = epoll_wait(ep, evs, INFLIGHT_MANY, 1000);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            char buf[256];
            ssize_t got;
            while ((got = recv(fd, buf, sizeof buf, 0)) > 0) {
            }
            if (got == 0 || (got < 0 && errno != EAGAIN)) {
                if (got == 0)
                    r.done++;
                else
                    r.failed++;
                close(fd);
                open_count--;
            }
        }
        if (n == 0) { /* a whole second without progress: give up on the rest */
            r.failed += open_count;
            break;
        }
        stopping = bench_now_s() >= end;
    }
    close(ep);
    r.seconds = bench_now_s() - start;
    return r;
}

static char ours_path[4096], udp_server_path[4096];

/* --- udp-server: datagrams per second logged with none lost ------------- */

struct udp_result {
    double rate;     /* offered, datagrams/s */
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

/* Offers `rate` datagrams/s of "Hello UDP!" for `seconds`, paced in 1 ms
 * ticks (one sendmmsg per tick); between ticks the bench reads the server's
 * log, so the pacing wait is also the wait on the log. Afterwards waits for
 * the log to catch up (at most 1 s without a new line). */
static struct udp_result offer_udp(int out_fd, const struct sockaddr_in *to, double rate,
                                   double seconds)
{
    struct udp_result r = {.rate = rate};
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
    long total = (long)(rate * seconds);
    double start = bench_now_s();
    while (r.sent < total) {
        double now = bench_now_s();
        long due = (long)(rate * (now - start)) + 1;
        if (due > total)
            due = total;
        while (r.sent < due) {
            long want = due - r.sent > BATCH ? BATCH : due - r.sent;
            int n = sendmmsg(fd, msgs, (unsigned)want, 0);
            if (n <= 0)
                break; /* ENOBUFS: count it as not sent, try next tick */
            r.sent += n;
        }
        r.logged = count_lines(out_fd, r.logged);
        double next_tick = now + 0.001;
        struct pollfd f = {.fd = out_fd, .events = POLLIN};
        int wait_ms = (int)((next_tick - bench_now_s()) * 1000.0);
        poll(&f, 1, wait_ms > 0 ? wait_ms : 0);
    }
    close(fd);
    while (r.logged < r.sent) {
        struct pollfd f = {.fd = out_fd, .events = POLLIN};
        if (poll(&f, 1, 1000) <= 0)
            break;
        r.logged = count_lines(out_fd, r.logged);
    }
    return r;
}

/* One offered rate; true if every datagram was sent and logged. */
static bool udp_lossless(int out_fd, const struct sockaddr_in *to, double rate, double seconds)
{
    struct udp_result r = offer_udp(out_fd, to, rate, seconds);
    long lost = r.sent - r.logged;
    printf("udp-server at %.0f datagrams/s offered: %ld sent, %ld logged, %ld lost\n", rate,
           r.sent, r.logged, lost);
    fflush(stdout);
    return lost == 0 && r.sent == (long)(rate * seconds);
}

/* Doubles the offered rate from 25k/s until udp-server first loses a
 * datagram, then bisects between the last lossless rate and that one. */
static void measure_udp(double seconds)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(3434)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    char *argv[] = {udp_server_path, "--bind", "127.0.0.1", "--port", "3434", NULL};
    struct bench_child c;
    if (!bench_start(&c, argv, "Listening on", 5000))
        exit(2);
    fcntl(c.run.out_fd, F_SETFL, O_NONBLOCK);
    double best = 0, lossy = 25000;
    while (lossy <= 6400000 && udp_lossless(c.run.out_fd, &to, lossy, seconds)) {
        best = lossy;
        lossy *= 2;
    }
    for (int i = 0; i < 3 && best > 0; i++) {
        double mid = (best + lossy) / 2;
        if (udp_lossless(c.run.out_fd, &to, mid, seconds))
            best = mid;
        else
            lossy = mid;
    }
    bench_stop(&c);
    printf("udp-server: %.0f datagrams/s logged with none lost (the highest rate offered "
           "without loss)\n", best);
}

static bool start_ours(struct bench_child *c)
{
    char *argv[] = {ours_path, "--bind", "127.0.0.1", "--port", "13", NULL};
    return bench_start(c, argv, "Listening on", 5000);
}

static bool start_inetd(struct bench_child *c)
{
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

static double measure(bool (*start)(struct bench_child *), const struct sockaddr_in *to,
                      int inflight, double seconds, long *failed, double *cpu_us_per_conn)
{
    struct bench_child c;
    if (!start(&c))
        exit(2);
    fcntl(c.run.out_fd, F_SETFL, O_NONBLOCK);
    /* The server's log goes to a pipe: drain it from a helper process so the
     * measurement loop stays single-purpose. */
    pid_t drainer = fork();
    if (drainer == 0) {
        fcntl(c.run.out_fd, F_SETFL, 0);
        char buf[65536];
        while (read(c.run.out_fd, buf, sizeof buf) > 0) {
        }
        _exit(0);
    }
    long long cpu0 = proc_cpu_usec(c.run.pid);
    struct load_result r = drive_load(to, inflight, seconds);
    long long cpu1 = proc_cpu_usec(c.run.pid);
    *cpu_us_per_conn = r.done && cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - cpu0) / (double)r.done : 0;
    bench_stop(&c);
    kill(drainer, SIGKILL);
    waitpid(drainer, NULL, 0);
    *failed += r.failed;
    return (double)r.done / r.seconds;
}

/* Rounds alternating ours and inetd at one load; prints the medians and
 * returns their ratio. */
static double run_series(int inflight, int rounds, double seconds)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(13)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    double ours[64], theirs[64], ours_cpu[64], theirs_cpu[64];
    long failed_ours = 0, failed_theirs = 0;
    for (int i = 0; i < rounds; i++) {
        ours[i] = measure(start_ours, &to, inflight, seconds, &failed_ours, &ours_cpu[i]);
        theirs[i] = measure(start_inetd, &to, inflight, seconds, &failed_theirs, &theirs_cpu[i]);
        printf("%d in flight, round %d: tcp-time-server %.0f conn/s (%.1f us CPU/conn), inetd "
               "daytime %.0f conn/s (%.1f us CPU/conn)\n",
               inflight, i + 1, ours[i], ours_cpu[i], theirs[i], theirs_cpu[i]);
        fflush(stdout);
    }
    double m_ours = bench_median(ours, rounds), m_theirs = bench_median(theirs, rounds);
    printf("%d in flight: tcp-time-server median %.0f conn/s, %.1f us server CPU per connection "
           "(%ld failed)\n", inflight, m_ours, bench_median(ours_cpu, rounds), failed_ours);
    printf("%d in flight: inetd daytime   median %.0f conn/s, %.1f us server CPU per connection "
           "(%ld failed)\n", inflight, m_theirs, bench_median(theirs_cpu, rounds), failed_theirs);
    return m_ours / m_theirs;
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
    int dir_len = (int)(strrchr(self, '/') - self);
    snprintf(ours_path, sizeof ours_path, "%.*s/tcp-time-server", dir_len, self);
    snprintf(udp_server_path, sizeof udp_server_path, "%.*s/udp-server", dir_len, self);
    if (!bench_private_netns())
        return 2;

    if (rounds > 64)
        rounds = 64;
    double few = run_series(INFLIGHT_FEW, rounds, seconds);
    double many = run_series(INFLIGHT_MANY, rounds, seconds);
    printf("ratio at %d in flight: %.2f\n", INFLIGHT_FEW, few);
    measure_udp(seconds / 2);
    printf("ratio: %.2f\n", many);
    return 0;
}
