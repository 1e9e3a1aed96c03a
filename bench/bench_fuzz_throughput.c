/* bench-fuzz-throughput: the same inputs through the tcp-client receive path
 * (a) in process, through the scripted sockio seam, as the fuzz harness runs
 * it, and (b) over a real loopback TCP connection per input to a server
 * process that sends the input's bytes, the way network fuzzers (AFLNet and
 * kin) feed a target. Rounds alternate; prints execs/s of each and the ratio.
 *
 * Then, per fuzz target, what the fuzzer itself reaches: build-fuzz/bin/fuzz-<target>
 * (libFuzzer + ASan + UBSan, one process, no -fork/-jobs) for SECONDS over a
 * copy of fuzz/corpus/<target>/ with the max_len and dict of fuzz/<target>.options,
 * as run-short and run-overnight run it; prints libFuzzer's average exec/s
 * and the CPU seconds it used (a busy machine lowers exec/s, not the
 * per-CPU-second rate). The recv-path targets aim at >= 10k execs/s.
 *
 *   bench-fuzz-throughput [ROUNDS [SECONDS]]
 *   WIRECHECK_FUZZ_BIN=DIR   where the fuzz-<target> binaries are
 *                            (default: build-fuzz/bin beside this build dir) */
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include "bench_util.h"
#include "netsock.h"
#include "script.h"
#include "session.h"
#include "sockio.h"
#include "timemsg.h"

#define INPUTS 256

struct input {
    uint8_t schedule[512];
    size_t schedule_len;
    uint8_t bytes[256]; /* what the peer sends in all, for the real server */
    size_t bytes_len;
};

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* A time message (sometimes mangled) cut into random chunks, with EINTR and
 * EAGAIN between some of them: the shape of the fuzz corpus. */
static void make_input(struct input *in)
{
    char msg[TIMEMSG_LEN + 1];
    struct timemsg t = {.year = 2026, .month = 11, .day = 25, .hour = 16, .minute = 28,
                        .second = 21, .microsecond = 123456};
    timemsg_format(&t, msg);
    in->bytes_len = TIMEMSG_LEN;
    memcpy(in->bytes, msg, TIMEMSG_LEN);
    if (rng() % 4 == 0)
        in->bytes[rng() % TIMEMSG_LEN] ^= (uint8_t)(1 + rng() % 255);
    struct script_builder b = {.buf = in->schedule, .cap = sizeof in->schedule};
    for (size_t off = 0; off < in->bytes_len;) {
        size_t chunk = 1 + rng() % 16;
        if (chunk > in->bytes_len - off)
            chunk = in->bytes_len - off;
        script_add_data(&b, in->bytes + off, chunk);
        if (rng() % 3 == 0)
            script_add_op(&b, rng() % 2 ? SCRIPT_EINTR : SCRIPT_EAGAIN);
        off += chunk;
    }
    script_add_op(&b, SCRIPT_EOF);
    in->schedule_len = b.len;
}

static uint8_t reply_buf[65536];

static double run_in_process(const struct input *inputs, int n, int reps, long *ok_count)
{
    static struct script s;
    double t0 = bench_now_s();
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < n; i++) {
            script_init(&s, inputs[i].schedule, inputs[i].schedule_len, true);
            struct sockio io = script_sockio(&s);
            struct tcp_client_opts o = {.expect = EXPECT_TIME, .deadline = sockio_deadline_in(&io, 5000)};
            struct tcp_client_result res;
            *ok_count += tcp_client_session(&io, 3, &o, reply_buf, sizeof reply_buf, &res);
        }
    }
    return (double)(n * reps) / (bench_now_s() - t0);
}

/* The peer: per connection, sends the next input's bytes and closes. */
static pid_t start_peer(const struct input *inputs, int n, struct net_addr *addr)
{
    char err[NET_ERR_LEN];
    struct net_addr want;
    net_resolve("127.0.0.1", 0, SOCK_STREAM, &want, err);
    int ls = net_tcp_listen(&want, 128, addr, err);
    if (ls < 0) {
        fprintf(stderr, "bench: %s\n", err);
        exit(2);
    }
    pid_t pid = fork();
    if (pid == 0) {
        fcntl(ls, F_SETFL, 0);
        for (unsigned long k = 0;; k++) {
            int c = accept(ls, NULL, NULL);
            if (c < 0)
                continue;
            const struct input *in = &inputs[k % (unsigned long)n];
            if (send(c, in->bytes, in->bytes_len, MSG_NOSIGNAL) < 0) {
            }
            close(c);
        }
    }
    close(ls);
    return pid;
}

static double run_over_loopback(const struct net_addr *addr, int n, long *ok_count)
{
    double t0 = bench_now_s();
    for (int i = 0; i < n; i++) {
        char err[NET_ERR_LEN];
        int connect_errno;
        int fd = net_tcp_connect(addr, 5000, &connect_errno, err);
        if (fd < 0) {
            fprintf(stderr, "bench: %s\n", err);
            exit(2);
        }
        struct tcp_client_opts o = {.expect = EXPECT_TIME,
                                    .deadline = sockio_deadline_in(&sockio_system, 5000)};
        struct tcp_client_result res;
        *ok_count += tcp_client_session(&sockio_system, fd, &o, reply_buf, sizeof reply_buf, &res);
        close(fd);
    }
    return (double)n / (bench_now_s() - t0);
}

extern char **environ;

/* The source tree: build/bin/<this> -> the directory above build/. */
static bool source_root(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return false;
        *slash = '\0';
    }
    return snprintf(out, cap, "%s", exe) < (int)cap;
}

/* The value of "key = value" in a .options file; false if absent. */
static bool options_value(const char *path, const char *key, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    size_t klen = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ')
            p++;
        if (strncmp(p, key, klen) != 0)
            continue;
        p += klen;
        while (*p == ' ' || *p == '=')
            p++;
        p[strcspn(p, "\r\n")] = '\0';
        found = snprintf(out, cap, "%s", p) < (int)cap;
    }
    fclose(f);
    return found;
}

static int spawn_wait(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long log_stat(const char *log, const char *key)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return -1;
    char line[1024];
    long v = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0)
            v = strtol(line + klen, NULL, 10);
    fclose(f);
    return v;
}

/* One libFuzzer run per target; prints "fuzz target T: N execs/s ...". */
static void bench_targets(int seconds)
{
    static const char *const targets[] = {"tcp_client_recv", "tcp_server_recv",
                                          "udp_server_recvfrom", "udp_client_reply",
                                          "dissect_packet", "analysis_pcap"};
    static const bool recv_path[] = {true, true, true, true, false, false};
    char root[PATH_MAX], bindir[PATH_MAX + 32];
    if (!source_root(root, sizeof root))
        return;
    const char *env = getenv("WIRECHECK_FUZZ_BIN");
    snprintf(bindir, sizeof bindir, "%s", env ? env : "");
    if (!env)
        snprintf(bindir, sizeof bindir, "%s/build-fuzz/bin", root);
    char tmpl[] = "/tmp/bench-fuzz-XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("bench: mkdtemp");
        return;
    }
    int below = 0;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        const char *t = targets[i];
        char bin[PATH_MAX + 64], opts[PATH_MAX + 64], corpus[PATH_MAX + 64], src[PATH_MAX + 64];
        char log[PATH_MAX + 64], maxlen[32] = "", dict[256] = "";
        snprintf(bin, sizeof bin, "%s/fuzz-%s", bindir, t);
        if (access(bin, X_OK) != 0) {
            printf("fuzz target %-20s: not built (%s; cmake --preset libfuzzer && "
                   "cmake --build --preset libfuzzer)\n", t, bin);
            continue;
        }
        snprintf(opts, sizeof opts, "%s/fuzz/%s.options", root, t);
        options_value(opts, "max_len", maxlen, sizeof maxlen);
        options_value(opts, "dict", dict, sizeof dict);
        snprintf(corpus, sizeof corpus, "%s/%s", tmpl, t);
        snprintf(src, sizeof src, "%s/fuzz/corpus/%s/.", root, t);
        snprintf(log, sizeof log, "%s/%s.log", tmpl, t);
        char *cp[] = {"cp", "-r", src, corpus, NULL};
        mkdir(corpus, 0700);
        spawn_wait(cp, log);
        char a_time[64], a_len[64], a_dict[sizeof root + sizeof dict + 16];
        snprintf(a_time, sizeof a_time, "-max_total_time=%d", seconds);
        snprintf(a_len, sizeof a_len, "-max_len=%s", maxlen[0] ? maxlen : "4096");
        snprintf(a_dict, sizeof a_dict, "-dict=%s/fuzz/%s", root, dict);
        char *argv[] = {bin, a_time, a_len, "-print_final_stats=1", "-seed=1",
                        dict[0] ? a_dict : "-verbosity=1", corpus, NULL};
        struct rusage r0, r1;
        getrusage(RUSAGE_CHILDREN, &r0);
        int rc = spawn_wait(argv, log);
        getrusage(RUSAGE_CHILDREN, &r1);
        double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                              r0.ru_stime.tv_sec) +
                     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                              r0.ru_stime.tv_usec) / 1e6;
        long execs = log_stat(log, "stat::number_of_executed_units:");
        long rate = log_stat(log, "stat::average_exec_per_sec:");
        bool low = recv_path[i] && rate < 10000;
        below += low;
        printf("fuzz target %-20s: %7ld execs/s (%ld execs in %d s, %.0f per CPU-second, "
               "max_len %s)%s%s\n", t, rate, execs, seconds, cpu > 0 ? (double)execs / cpu : 0.0,
               maxlen[0] ? maxlen : "4096", rc != 0 ? "  FAILED, log kept" : "",
               low ? "  below the 10k target" : "");
        if (rc != 0)
            printf("  log: %s\n", log);
        fflush(stdout);
    }
    if (below == 0) {
        char *rm[] = {"rm", "-rf", tmpl, NULL};
        spawn_wait(rm, "/dev/null");
    }
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    int seconds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1 || rounds > 64 || seconds < 0 || seconds > 600) {
        fprintf(stderr, "usage: bench-fuzz-throughput [ROUNDS 1-64 [SECONDS per fuzz target, 0: none]]\n");
        return 2;
    }
    if (!bench_private_netns())
        return 2;
    static struct input inputs[INPUTS];
    for (int i = 0; i < INPUTS; i++)
        make_input(&inputs[i]);
    struct net_addr addr;
    pid_t peer = start_peer(inputs, INPUTS, &addr);

    double inproc[64], loop[64];
    long ok_in = 0, ok_loop = 0;
    for (int r = 0; r < rounds; r++) {
        ok_in = ok_loop = 0;
        inproc[r] = run_in_process(inputs, INPUTS, 200, &ok_in);
        loop[r] = run_over_loopback(&addr, INPUTS * 4, &ok_loop);
        printf("round %d: in-process %.0f execs/s, loopback TCP %.0f execs/s\n", r + 1, inproc[r], loop[r]);
        fflush(stdout);
    }
    kill(peer, SIGKILL);
    waitpid(peer, NULL, 0);
    /* Both paths must judge the inputs alike, or the comparison is void. */
    printf("accepted replies: in-process %ld of %d, loopback %ld of %d\n", ok_in, INPUTS * 200,
           ok_loop, INPUTS * 4);
    if (seconds > 0)
        bench_targets(seconds);
    double a = bench_median(inproc, rounds), b = bench_median(loop, rounds);
    printf("in-process (fuzz harness path): median %.0f execs/s\n", a);
    printf("loopback TCP per input:          median %.0f execs/s\n", b);
    printf("ratio: %.1f\n", a / b);
    return 0;
}
