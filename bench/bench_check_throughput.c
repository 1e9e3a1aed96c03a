/* bench-check-throughput: how fast `wirecheck check` judges a large capture,
 * against tshark's TCP conversation table (`tshark -r FILE -q -z conv,tcp`,
 * the reference) and against `tcpdump -r FILE -w /dev/null` (libpcap reading
 * the file and doing nothing: the floor). Two shapes (gen_capture.h), both
 * deterministic and valid:
 *   mixed  PACKETS frames of CONCURRENCY interleaved TCP connections and UDP
 *          flows with large payloads (few flows, many packets each);
 *   conns  a busy time server: CONNS connections of 8 small frames, 16 in
 *          flight, packets 1 us apart (within the 2 s a closed connection
 *          lingers for late packets: the frame bound on lingering, not the
 *          seconds, decides the memory).
 * Rounds alternate between four programs: wirecheck --jobs 1, wirecheck
 * --jobs CORES, tshark and tcpdump (the order rotates each round); CPU time
 * (user + system), wall time and peak RSS (wait4) of each are recorded and
 * the medians printed; --jobs scaling is the wall time ratio (on a shared
 * machine it needs idle cores: the load average is printed, and each round
 * measures how many cores are free, free_cores). Then wirecheck judges each shape
 * again at twice the size (mixed: twice the packets, the same flows open at
 * once; conns: twice the connections): how its peak RSS grows. Last, a
 * SYN flood of 2M SYN-only flows shows the memory bound of the default
 * --max-flows, with --jobs 1 and with the default --jobs.
 * The last line is tshark CPU / wirecheck CPU on the conns shape.
 *
 *   bench-check-throughput [ROUNDS [PACKETS [CONCURRENCY [CONNS]]]]
 *
 * Defaults (3, 1000000, 4000, 125000) take a few minutes on 2 shared cores.
 * The captures go to $TMPDIR (or /tmp) and are deleted at the end. */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "bench_util.h"

#include "gen_capture.h"

#define MAX_ROUNDS 32

struct run_result {
    double seconds;
    double cpu;       /* user + system */
    long maxrss_kb;
    int status;       /* exit status, or 128 + signal */
};

/* Runs argv (execvp) with stdout to `out_path` (or /dev/null) and stderr to
 * /dev/null; wall time from fork to reap, peak RSS from wait4. */
static struct run_result run_timed(char *const argv[], const char *out_path)
{
    struct run_result r = {0, 0, 0, -1};
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
    r.cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
            ru.ru_stime.tv_usec / 1e6;
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
static uint64_t generate(const char *path, const struct gen_config *cfg)
{
    struct gen_stats st;
    double t0 = bench_now_s();
    if (!gen_capture_write(path, cfg, &st))
        return 0;
    printf("capture %s: %llu packets, %.1f MB, %llu TCP connections, %llu UDP flows, "
           "%u in flight, %.1f s of capture time (generated in %.1f s)\n",
           path, (unsigned long long)st.packets, st.bytes / 1e6,
           (unsigned long long)st.tcp_conns, (unsigned long long)st.udp_flows, cfg->concurrency,
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

/* How many cores are free right now: `n` processes spinning on the same
 * fixed work at once, against one alone; n x (time of one) / (time of n).
 * On a shared machine this bounds what --jobs can gain in the same minute. */
static double free_cores(int n)
{
    double t[2];
    for (int k = 0; k < 2; k++) {
        int procs = k ? n : 1;
        double start = bench_now_s();
        for (int i = 0; i < procs; i++) {
            pid_t pid = fork();
            if (pid == 0) {
                volatile uint64_t x = 0;
                for (uint64_t j = 0; j < 200000000u; j++)
                    x += j * j;
                _exit(x == 1); /* read: the loop is the point */
            }
            if (pid < 0)
                return 0;
        }
        while (wait(NULL) > 0) {
        }
        t[k] = bench_now_s() - start;
    }
    return n * t[0] / t[1];
}

enum { WC, WJ, TS, TD, NPROG };
static const char *const names[NPROG] = {"wirecheck -j1", "wirecheck -jN", "tshark conv,tcp",
                                         "tcpdump -r"};
static char jobs_arg[24] = "2";

struct shape_result {
    bool ok;
    uint64_t frames;
    double cpu[NPROG], wall[NPROG]; /* medians */
    long rss[NPROG];                /* KB, the largest */
    long rss2;                      /* wirecheck on the doubled capture */
    double cpu2;
};

/* Runs wirecheck check --quiet on cap with --jobs `jobs` (NULL: the
 * default); its summary line to out. */
static struct run_result run_wirecheck(const char *wirecheck, const char *cap, const char *out,
                                       const char *jobs)
{
    char *with_jobs[] = {(char *)wirecheck, "check", "--jobs", (char *)jobs, "--quiet", (char *)cap, NULL};
    char *by_default[] = {(char *)wirecheck, "check", "--quiet", (char *)cap, NULL};
    char **argv = jobs ? with_jobs : by_default;
    struct run_result r = run_timed(argv, out);
    if (r.status != 0 && r.status != 1)
        fprintf(stderr, "bench-check-throughput: wirecheck on %s exited with status %d\n", cap,
                r.status);
    return r;
}

/* One shape: the three programs in rounds, then wirecheck on cfg2. */
static struct shape_result run_shape(const char *label, const char *wirecheck, const char *dir,
                                     int rounds, const struct gen_config *cfg,
                                     const struct gen_config *cfg2)
{
    struct shape_result res;
    memset(&res, 0, sizeof res);
    char cap[4200], out[4200];
    snprintf(cap, sizeof cap, "%s/check-%s.pcap", dir, label);
    snprintf(out, sizeof out, "%s/wirecheck.out", dir);
    printf("== shape %s ==\n", label);
    res.frames = generate(cap, cfg);
    if (!res.frames)
        return res;
    char *argvs[NPROG][8] = {
        {(char *)wirecheck, "check", "--jobs", "1", "--quiet", cap, NULL},
        {(char *)wirecheck, "check", "--jobs", jobs_arg, "--quiet", cap, NULL},
        {"tshark", "-r", cap, "-q", "-z", "conv,tcp", NULL},
        {"tcpdump", "-r", cap, "-w", "/dev/null", NULL},
    };
    double cpu[NPROG][MAX_ROUNDS], wall[NPROG][MAX_ROUNDS], cores[MAX_ROUNDS];
    for (int i = 0; i < rounds; i++) {
        printf("round %d:", i + 1);
        cores[i] = free_cores(atoi(jobs_arg));
        for (int k = 0; k < NPROG; k++) {
            int p = (i + k) % NPROG; /* rotate who goes first */
            /* wirecheck's output (--quiet: the summary line) goes to a file,
             * read once below; the others' to /dev/null. */
            struct run_result r = run_timed(argvs[p], p == WC || p == WJ ? out : NULL);
            cpu[p][i] = r.cpu;
            wall[p][i] = r.seconds;
            if (r.maxrss_kb > res.rss[p])
                res.rss[p] = r.maxrss_kb;
            /* wirecheck: 0 all pass, 1 a rule failed (the generator's bug):
             * both are a finished run; anything else is not. */
            if (r.status != 0 && !((p == WC || p == WJ) && r.status == 1)) {
                fprintf(stderr, "\nbench-check-throughput: %s exited with status %d\n", names[p],
                        r.status);
                unlink(cap);
                return res;
            }
        }
        printf(" CPU s: wirecheck %.2f (--jobs %s: %.2f, wall %.2f / %.2f; cores free %.2f), "
               "tshark %.2f, tcpdump %.2f\n", cpu[WC][i], jobs_arg, cpu[WJ][i], wall[WC][i],
               wall[WJ][i], cores[i], cpu[TS][i], cpu[TD][i]);
        fflush(stdout);
    }
    printf("wirecheck says:\n");
    print_file(out, "  ");
    for (int p = 0; p < NPROG; p++) {
        res.cpu[p] = bench_median(cpu[p], rounds);
        res.wall[p] = bench_median(wall[p], rounds);
    }
    double mp = (double)res.frames / 1e6;
    for (int p = 0; p < NPROG; p++)
        printf("%-16s median CPU %6.2f s (wall %6.2f s)  %6.2f Mpkt/s  %5.2fx the tcpdump floor"
               "  peak RSS %7.1f MB\n",
               names[p], res.cpu[p], res.wall[p], mp / res.cpu[p], res.cpu[p] / res.cpu[TD],
               res.rss[p] / 1024.0);
    printf("--jobs %s: %.2fx the --jobs 1 throughput (wall %.2f s -> %.2f s; median cores free "
           "meanwhile %.2f of %s)\n", jobs_arg, res.wall[WC] / res.wall[WJ], res.wall[WC],
           res.wall[WJ], bench_median(cores, rounds), jobs_arg);
    unlink(cap);

    /* How memory grows with the capture. */
    uint64_t frames2 = generate(cap, cfg2);
    if (!frames2)
        return res;
    struct run_result r2 = run_wirecheck(wirecheck, cap, out, "1");
    unlink(cap);
    unlink(out);
    if (r2.status != 0 && r2.status != 1)
        return res;
    res.rss2 = r2.maxrss_kb;
    res.cpu2 = r2.cpu;
    printf("wirecheck peak RSS: %.1f MB for %llu packets, %.1f MB for %llu packets (%.2fx; "
           "CPU %.2f s, %.2f Mpkt/s)\n",
           res.rss[WC] / 1024.0, (unsigned long long)res.frames, r2.maxrss_kb / 1024.0,
           (unsigned long long)frames2, (double)r2.maxrss_kb / (double)res.rss[WC], r2.cpu,
           frames2 / 1e6 / r2.cpu);
    fflush(stdout);
    res.ok = true;
    return res;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    long long packets = argc > 2 ? atoll(argv[2]) : 1000000;
    long concurrency = argc > 3 ? atol(argv[3]) : 4000;
    long long conns = argc > 4 ? atoll(argv[4]) : 125000;
    if (argc > 5 || rounds < 1 || rounds > MAX_ROUNDS || packets < 1 || concurrency < 1 ||
        conns < 1) {
        fprintf(stderr, "usage: bench-check-throughput [ROUNDS (1-%d, default 3) "
                        "[PACKETS (default 1000000) [CONCURRENCY (default 4000) "
                        "[CONNS (default 125000)]]]]\n",
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

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(jobs_arg, sizeof jobs_arg, "%ld", ncpu > 1 ? ncpu : 2);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) == 3)
        printf("load average %.2f %.2f %.2f on %ld cores\n", load[0], load[1], load[2], ncpu);
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/wirecheck-bench-check-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench-check-throughput: mkdtemp %s: %s\n", dir, strerror(errno));
        return 2;
    }
    struct gen_config mixed = {(uint64_t)packets, (unsigned)concurrency, 1, 0, false};
    struct gen_config mixed2 = mixed;
    mixed2.packets *= 2;
    struct gen_config busy = {0, 16, 1, (uint64_t)conns, false};
    struct gen_config busy2 = busy;
    busy2.connections *= 2;
    struct shape_result m = run_shape("mixed", wirecheck, dir, rounds, &mixed, &mixed2);
    struct shape_result c = m.ok ? run_shape("conns", wirecheck, dir, rounds, &busy, &busy2) : m;

    /* A SYN flood: more half-open flows than --max-flows allows. */
    long flood_rss = 0;
    if (c.ok) {
        char cap[4200], out[4200];
        snprintf(cap, sizeof cap, "%s/check-flood.pcap", dir);
        snprintf(out, sizeof out, "%s/wirecheck.out", dir);
        struct gen_config flood = {0, 16, 1, 2000000, true};
        printf("== SYN flood ==\n");
        if (generate(cap, &flood)) {
            /* The bound holds by default: with the default --jobs too
             * (each shard keeps max-flows/N, plus the chunks in flight). */
            struct run_result r = run_wirecheck(wirecheck, cap, out, "1");
            print_file(out, "  ");
            struct run_result rd = run_wirecheck(wirecheck, cap, out, NULL);
            flood_rss = r.maxrss_kb > rd.maxrss_kb ? r.maxrss_kb : rd.maxrss_kb;
            printf("wirecheck on 2M SYN-only flows: --jobs 1 CPU %.2f s, peak RSS %.1f MiB; "
                   "default --jobs: CPU %.2f s, peak RSS %.1f MiB\n",
                   r.cpu, r.maxrss_kb / 1024.0, rd.cpu, rd.maxrss_kb / 1024.0);
        }
        unlink(cap);
        unlink(out);
    }
    rmdir(dir);
    if (!m.ok || !c.ok)
        return 2;
    printf("targets: mixed: tshark/wirecheck >= 10 (%.1f), wirecheck/tcpdump <= 2 (%.2f), RSS "
           "flat with 2x packets (%.2fx)\n",
           m.cpu[TS] / m.cpu[WC], m.cpu[WC] / m.cpu[TD], (double)m.rss2 / (double)m.rss[WC]);
    printf("targets: conns: tshark/wirecheck >= 25 (%.1f), wirecheck/tcpdump <= 3 (%.2f), peak "
           "RSS <= 32 MiB (%.1f MiB), growth at 2x connections < 10%% (%+.0f%%)\n",
           c.cpu[TS] / c.cpu[WC], c.cpu[WC] / c.cpu[TD], c.rss[WC] / 1024.0,
           100.0 * ((double)c.rss2 / (double)c.rss[WC] - 1));
    printf("targets: SYN flood: peak RSS <= 256 MiB (%.1f MiB)\n", flood_rss / 1024.0);
    printf("targets: --jobs %s >= 1.7x --jobs 1: mixed %.2fx, conns %.2fx\n", jobs_arg,
           m.wall[WC] / m.wall[WJ], c.wall[WC] / c.wall[WJ]);
    if (getloadavg(load, 3) == 3)
        printf("load average %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    printf("ratio: %.2f\n", c.cpu[TS] / c.cpu[WC]);
    return 0;
}
