/* bench-check-throughput: how fast `wirecheck check` judges a large capture,
 * against tshark's TCP conversation table (`tshark -r FILE -q -z conv,tcp`,
 * the reference) and against `tcpdump -r FILE -w /dev/null` (libpcap reading
 * the file and doing nothing: the floor). The capture (gen_capture.h) holds
 * PACKETS frames of a few thousand interleaved TCP connections and UDP flows,
 * all valid. Rounds alternate between the three programs (the order rotates
 * each round); wall time and peak RSS (wait4) of each are recorded and the
 * medians printed. Then wirecheck judges a capture with twice the packets and
 * the same number of flows open at once: its peak RSS should not move.
 * The last line is tshark time / wirecheck time.
 *
 *   bench-check-throughput [ROUNDS [PACKETS [CONCURRENCY]]]
 *
 * Defaults (3, 1000000, 4000) finish in about two minutes on 2 shared cores.
 * The captures go to $TMPDIR (or /tmp) and are deleted at the end. */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "bench_util.h"

#include "gen_capture.h"

#define MAX_ROUNDS 32

struct run_result {
    double seconds;
    long maxrss_kb;
    int status;       /* exit status, or 128 + signal */
};

/* Runs argv (execvp) with stdout to `out_path` (or /dev/null) and stderr to
 * /dev/null; wall time from fork to reap, peak RSS from wait4. */
static struct run_result run_timed(char *const argv[], const char *out_path)
{
    struct run_result r = {0, 0, -1};
    double start = bench_now_s();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "bench: fork: %s\n", strerror(errno));
        return r;
    }
    if (pid == 0) {
        int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDWR);
        if (out < 0 || null < 0)
            _exit(126);
        dup2(null, 0);
        dup2(out, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid) {
        fprintf(stderr, "bench: wait4 %s: %s\n", argv[0], strerror(errno));
        return r;
    }
    r.seconds = bench_now_s() - start;
    r.maxrss_kb = ru.ru_maxrss;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

/* Reads the file once so every program starts from the page cache. */
static void warm_page_cache(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    static char buf[1 << 20];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
}

/* Writes the capture; returns the frames it holds (0 on error). */
static uint64_t generate(const char *path, uint64_t packets, unsigned concurrency)
{
    struct gen_config cfg = {packets, concurrency, 1, 0, false};
    struct gen_stats st;
    double t0 = bench_now_s();
    if (!gen_capture_write(path, &cfg, &st))
        return 0;
    printf("capture %s: %llu packets, %.1f MB, %llu TCP connections, %llu UDP flows, "
           "%u open at once, %.0f s of capture time (generated in %.1f s)\n",
           path, (unsigned long long)st.packets, st.bytes / 1e6,
           (unsigned long long)st.tcp_conns, (unsigned long long)st.udp_flows, concurrency,
           st.duration_usec / 1e6, bench_now_s() - t0);
    fflush(stdout);
    warm_page_cache(path);
    return st.packets;
}

static void print_file(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) && n++ < 10)
        printf("%s%s", prefix, line);
    fclose(f);
}

static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, name);
        if (access(buf, X_OK) == 0)
            return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    long long packets = argc > 2 ? atoll(argv[2]) : 1000000;
    long concurrency = argc > 3 ? atol(argv[3]) : 4000;
    if (argc > 4 || rounds < 1 || rounds > MAX_ROUNDS || packets < 1 || concurrency < 1) {
        fprintf(stderr, "usage: bench-check-throughput [ROUNDS (1-%d, default 3) "
                        "[PACKETS (default 1000000) [CONCURRENCY (default 4000)]]]\n",
                MAX_ROUNDS);
        return 2;
    }
    for (const char *tool = "tshark"; tool; tool = strcmp(tool, "tshark") ? NULL : "tcpdump") {
        if (!on_path(tool)) {
            fprintf(stderr, "bench-check-throughput: needs %s (apt-get install %s)\n", tool, tool);
            return 2;
        }
    }
    char self[4096], wirecheck[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 2;
    self[n] = '\0';
    snprintf(wirecheck, sizeof wirecheck, "%.*s/wirecheck", (int)(strrchr(self, '/') - self), self);
    if (access(wirecheck, X_OK) != 0) {
        fprintf(stderr, "bench-check-throughput: %s: %s (build the wirecheck target)\n", wirecheck,
                strerror(errno));
        return 2;
    }

    const char *tmp = getenv("TMPDIR");
    char dir[4096], cap[4200], cap2[4200], out[4200];
    snprintf(dir, sizeof dir, "%s/wirecheck-bench-check-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench-check-throughput: mkdtemp %s: %s\n", dir, strerror(errno));
        return 2;
    }
    snprintf(cap, sizeof cap, "%s/check-%lld.pcap", dir, packets);
    snprintf(cap2, sizeof cap2, "%s/check-%lld.pcap", dir, 2 * packets);
    snprintf(out, sizeof out, "%s/wirecheck.out", dir);
    int rc = 2;
    uint64_t frames = generate(cap, (uint64_t)packets, (unsigned)concurrency);
    if (!frames)
        goto cleanup;

    enum { WC, TS, TD, NPROG };
    static const char *names[NPROG] = {"wirecheck check", "tshark conv,tcp", "tcpdump -r"};
    char *argvs[NPROG][8] = {
        {wirecheck, "check", "--quiet", cap, NULL},
        {"tshark", "-r", cap, "-q", "-z", "conv,tcp", NULL},
        {"tcpdump", "-r", cap, "-w", "/dev/null", NULL},
    };
    double secs[NPROG][MAX_ROUNDS];
    long rss[NPROG] = {0};
    bool failed = false;
    for (int i = 0; i < rounds; i++) {
        printf("round %d:", i + 1);
        for (int k = 0; k < NPROG; k++) {
            int p = (i + k) % NPROG; /* rotate who goes first */
            /* wirecheck's output (--quiet: the summary line) goes to a file,
             * read once below; the others' to /dev/null. */
            struct run_result r = run_timed(argvs[p], p == WC ? out : NULL);
            secs[p][i] = r.seconds;
            if (r.maxrss_kb > rss[p])
                rss[p] = r.maxrss_kb;
            /* wirecheck: 0 all pass, 1 a rule failed (the generator's bug):
             * both are a finished run; anything else is not. */
            if (r.status != 0 && !(p == WC && r.status == 1)) {
                fprintf(stderr, "\nbench-check-throughput: %s exited with status %d\n", names[p],
                        r.status);
                failed = true;
            }
        }
        printf(" wirecheck %.2f s, tshark %.2f s, tcpdump %.2f s\n", secs[WC][i], secs[TS][i],
               secs[TD][i]);
        fflush(stdout);
        if (failed)
            goto cleanup;
    }
    printf("wirecheck says:\n");
    print_file(out, "  ");

    double med[NPROG];
    for (int p = 0; p < NPROG; p++)
        med[p] = bench_median(secs[p], rounds);
    double mpps = (double)frames / 1e6;
    for (int p = 0; p < NPROG; p++)
        printf("%-16s median %6.2f s  %6.2f Mpkt/s  %5.2fx the tcpdump floor  peak RSS %7.1f MB\n",
               names[p], med[p], mpps / med[p], med[p] / med[TD], rss[p] / 1024.0);

    /* Memory follows open flows: twice the packets, the same concurrency. */
    unlink(cap);
    uint64_t frames2 = generate(cap2, 2 * (uint64_t)packets, (unsigned)concurrency);
    if (!frames2)
        goto cleanup;
    char *argv2[] = {wirecheck, "check", "--quiet", cap2, NULL};
    struct run_result r2 = run_timed(argv2, out);
    if (r2.status != 0 && r2.status != 1) {
        fprintf(stderr, "bench-check-throughput: wirecheck on %s exited with status %d\n", cap2,
                r2.status);
        goto cleanup;
    }
    print_file(out, "  ");
    printf("wirecheck peak RSS: %.1f MB for %llu packets, %.1f MB for %llu packets "
           "(%ld flows open at once; %.2f s, %.2f Mpkt/s)\n",
           rss[WC] / 1024.0, (unsigned long long)frames, r2.maxrss_kb / 1024.0,
           (unsigned long long)frames2, concurrency, r2.seconds, frames2 / 1e6 / r2.seconds);
    printf("targets: tshark/wirecheck >= 10 (%.1f), wirecheck/tcpdump <= 2 (%.2f), "
           "RSS flat with 2x packets (%.2fx)\n",
           med[TS] / med[WC], med[WC] / med[TD], (double)r2.maxrss_kb / (double)rss[WC]);
    printf("ratio: %.2f\n", med[TS] / med[WC]);
    rc = 0;

cleanup:
    unlink(cap);
    unlink(cap2);
    unlink(out);
    rmdir(dir);
    return rc;
}
