/* bench-conformance: wall time per case of `wirecheck run` over the whole
 * reference matrix, several rounds; prints each case's median and max, the
 * median and max over all cases, and the whole matrix's wall time with
 * --jobs 1 and with --jobs 2 (each round runs both, alternating which goes
 * first). There is no other tool to race here, so the ratio is the 100
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

/* Runs the matrix once with --jobs `jobs`; returns the wall time in ms, -1
 * on failure. Per-case times are kept from the --jobs 1 runs only. */
static double run_matrix(const char *wirecheck, const char *out_dir, const char *jobs)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    double t0 = bench_now_s();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        execl(wirecheck, wirecheck, "run", "--out", out_dir, "--jobs", jobs, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char name[64], verdict[16];
        double ms;
        /* "time-ipv4   pass   98 ms  captures/..." */
        if (strcmp(jobs, "1") == 0 && sscanf(line, "%63s %15s %lf ms", name, verdict, &ms) == 3 &&
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

    double matrix[64], matrix2[64];
    for (int r = 0; r < rounds; r++) {
        /* Alternate the order so neither setting always runs on a warmer machine. */
        bool one_first = r % 2 == 0;
        for (int k = 0; k < 2; k++) {
            bool one = one_first == (k == 0);
            double *m = one ? &matrix[r] : &matrix2[r];
            *m = run_matrix(wirecheck, out_dir, one ? "1" : "2");
            if (*m < 0)
                return 1;
        }
        printf("round %d: matrix %.0f ms with --jobs 1, %.0f ms with --jobs 2\n", r + 1,
               matrix[r], matrix2[r]);
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
    printf("whole matrix: median %.0f ms with --jobs 1, %.0f ms with --jobs 2 (%.2fx)\n",
           bench_median(matrix, rounds), bench_median(matrix2, rounds),
           bench_median(matrix, rounds) / bench_median(matrix2, rounds));
    printf("ratio: %.2f\n", 100.0 / median_case);
    return 0;
}
