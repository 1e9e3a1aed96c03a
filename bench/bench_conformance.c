/* bench-conformance: wall time per case of `wirecheck run` over the whole
 * reference matrix, several rounds; prints each case's median and max, the
 * median and max over all cases, and the whole matrix's wall time with
 * --jobs 1, --jobs 2 and the default (each round runs all three, rotating
 * which goes first). There is no other tool to race here, so the ratio is the 100
 * ms-per-case target over the measured median (--jobs 1): >= 1 meets it. */
#include "bench_util.h"

#define MAX_CASES 128

struct case_times {
    char name[64];
    double ms[64];
    int n;
};

static struct case_times cases[MAX_CASES];
static int ncases;

static struct case_times *case_named(const char *name)
{
    for (int i = 0; i < ncases; i++)
        if (strcmp(cases[i].name, name) == 0)
            return &cases[i];
    if (ncases == MAX_CASES)
        return NULL;
    snprintf(cases[ncases].name, sizeof cases[ncases].name, "%s", name);
    return &cases[ncases++];
}

/* Runs the matrix once with --jobs `jobs` (NULL: wirecheck's default);
 * returns the wall time in ms, -1 on failure. Per-case times are kept from
 * the --jobs 1 runs only. */
static double run_matrix(const char *wirecheck, const char *out_dir, const char *jobs)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    double t0 = bench_now_s();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        if (jobs)
            execl(wirecheck, wirecheck, "run", "--out", out_dir, "--jobs", jobs, (char *)NULL);
        else
            execl(wirecheck, wirecheck, "run", "--out", out_dir, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char name[64], verdict[16];
        double ms;
        /* "time-ipv4   pass   98 ms  captures/..." */
        if (jobs && strcmp(jobs, "1") == 0 && sscanf(line, "%63s %15s %lf ms", name, verdict, &ms) == 3 &&
            (strcmp(verdict, "pass") == 0 || strcmp(verdict, "FAIL") == 0)) {
            struct case_times *c = case_named(name);
            if (c && c->n < 64)
                c->ms[c->n++] = ms;
        }
    }
    fclose(f);
    int st;
    waitpid(pid, &st, 0);
    double wall = (bench_now_s() - t0) * 1000;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench-conformance: wirecheck run failed (status %d)\n", st);
        return -1;
    }
    return wall;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    if (rounds < 1 || rounds > 64) {
        fprintf(stderr, "usage: bench-conformance [ROUNDS 1-64]\n");
        return 2;
    }
    char self[4096], wirecheck[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 2;
    self[n] = '\0';
    snprintf(wirecheck, sizeof wirecheck, "%.*s/wirecheck", (int)(strrchr(self, '/') - self), self);
    char out_dir[] = "/tmp/wirecheck-bench-XXXXXX";
    if (!mkdtemp(out_dir))
        return 2;

    /* --jobs 1, --jobs 2 and the default (twice the cores online). */
    enum { SETTINGS = 3 };
    static const char *const setting[SETTINGS] = {"1", "2", NULL};
    static double matrix[SETTINGS][64];
    for (int r = 0; r < rounds; r++) {
        /* Rotate the order so no setting always runs on a warmer machine. */
        for (int k = 0; k < SETTINGS; k++) {
            int s = (r + k) % SETTINGS;
            matrix[s][r] = run_matrix(wirecheck, out_dir, setting[s]);
            if (matrix[s][r] < 0)
                return 1;
        }
        printf("round %d: matrix %.0f ms with --jobs 1, %.0f ms with --jobs 2, %.0f ms with the default\n",
               r + 1, matrix[0][r], matrix[1][r], matrix[2][r]);
        fflush(stdout);
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out_dir);
    if (system(cmd) != 0) {
    }

    static double all[MAX_CASES * 64];
    int nall = 0;
    double worst = 0;
    printf("%-30s %10s %10s\n", "case", "median ms", "max ms");
    for (int i = 0; i < ncases; i++) {
        struct case_times *c = &cases[i];
        double max = 0;
        for (int k = 0; k < c->n; k++) {
            all[nall++] = c->ms[k];
            if (c->ms[k] > max)
                max = c->ms[k];
        }
        if (max > worst)
            worst = max;
        printf("%-30s %10.0f %10.0f\n", c->name, bench_median(c->ms, c->n), max);
    }
    double median_case = bench_median(all, nall);
    printf("all cases: median %.0f ms, max %.0f ms over %d runs of %d cases\n", median_case, worst,
           rounds, ncases);
    double one = bench_median(matrix[0], rounds), two = bench_median(matrix[1], rounds),
           dflt = bench_median(matrix[2], rounds);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("whole matrix: median %.0f ms with --jobs 1, %.0f ms with --jobs 2 (%.2fx), %.0f ms with the "
           "default --jobs %ld (%.2fx; goal <= 2000 ms)\n",
           one, two, one / two, dflt, 2 * cores, one / dflt);
    printf("ratio: %.2f\n", 100.0 / median_case);
    return 0;
}
