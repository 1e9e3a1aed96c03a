/* `wirecheck run` and `wirecheck list`: the live conformance matrix.
 *
 *   wirecheck run [CASE...] [--out DIR] [--junit FILE] [--server CMD]
 *                 [--client CMD] [--ipv4|--ipv6] [--format text|json]
 *   wirecheck list
 *
 * CASE is a name from the built-in case directory ("time", or "time-ipv6"
 * for one family) or the path of a .case file. Exit status: 0 every
 * expectation met, 1 one was not, 2 usage or environment error. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cases.h"
#include "checks.h"
#include "command.h"
#include "commands.h"
#include "atomic_file.h"
#include "analysis.h"
#include "capfile.h"
#include "expect.h"
#include "report.h"
#include "install_paths.h"
#include "json.h"
#include "runner.h"

#define MAX_CASES 128
#define MAX_JOBS 256

struct run_args {
    const char *cases[MAX_CASES];
    size_t ncases;
    const char *out_dir;
    const char *junit;
    const char *server;
    const char *client;
    const char *ready;
    const char *ready_timeout;
    const char *serves;
    const char *jobs;
    const char *format;
    bool json;                 /* --format json */
    bool only_ipv4, only_ipv6;
};

/* A case to run: the spec and the families selected for it. */
struct selected_case {
    struct case_spec spec;
    bool ipv4, ipv6;
};

static void run_usage(FILE *to)
{
    fputs("usage: wirecheck run [CASE...] [--out DIR] [--junit FILE] [--server CMD] [--client CMD] [--ipv4|--ipv6]\n"
          "                     [--serves ROLE] [--ready port|line|any] [--ready-timeout MS] [--jobs N]\n"
          "                     [--format text|json]\n"
          "  CASE       a built-in case name (see `wirecheck list`), NAME-ipv4/NAME-ipv6 for one\n"
          "             family, or the path of a .case file; default: every built-in case\n"
          "  --out DIR  where <case>.pcapng captures go (default captures/runs)\n"
          "  --junit F  also write JUnit XML to F (written whole, or not at all; checked\n"
          "             writable before the first case; a bad case file is an error testcase)\n"
          "  --format json  JSON lines on stdout instead of the console text: per case\n"
          "             {\"case\",\"file\",\"outcome\" (pass|fail|error|skip),\"elapsed_ms\",\"capture\",\n"
          "             \"packets\",\"client_status\",\"server_status\",\"expectations\",\"unmet\",\n"
          "             \"unmet_expectations\":[{\"line\",\"expect\",\"expected\",\"seen\",\"frames\"}],\n"
          "             \"details\",\"notes\"}, then one object per verdict of its capture as\n"
          "             `wirecheck check --json` prints it (\"case\",\"flow\",\"rule\",\"verdict\",...),\n"
          "             and last {\"summary\":true,\"cases\",\"passed\",\"failed\",\"errors\",\n"
          "             \"skipped\",\"elapsed_ms\",\"out\"} (see CASES.md)\n"
          "  --server CMD, --client CMD\n"
          "             run CMD instead of each case's server/client; {host} {port} {family}\n"
          "             {bin} are substituted, e.g. --server 'socat -d -d TCP{family}-LISTEN:{port},bind={host} SYSTEM:date'\n"
          "  --serves ROLE  only the cases whose server does ROLE (" CASE_SERVICES "):\n"
          "             the ones your --server or --client fits (`wirecheck list` shows roles)\n"
          "  --ready    when the server is ready for the client: 'port' once a socket in the\n"
          "             case's namespace listens (TCP) or is bound (UDP) on the case's port,\n"
          "             'line' once it prints 'Listening on ...', 'any' (default) the first\n"
          "  --ready-timeout MS  how long the server may take to be ready (default 3000)\n"
          "  --jobs N   run N cases at once, each in its own namespaces (default: twice the\n"
          "             cores online); lines, JUnit and captures are the same as with --jobs 1\n"
          "Exit status: 0 all expectations met, 1 one was not, 2 usage or environment error.\n",
          to);
}

static bool parse_run_args(int argc, char **argv, struct run_args *a)
{
    memset(a, 0, sizeof *a);
    a->out_dir = "captures/runs";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **value = NULL;
        if (strcmp(arg, "--out") == 0)
            value = &a->out_dir;
        else if (strcmp(arg, "--junit") == 0)
            value = &a->junit;
        else if (strcmp(arg, "--server") == 0)
            value = &a->server;
        else if (strcmp(arg, "--client") == 0)
            value = &a->client;
        else if (strcmp(arg, "--serves") == 0)
            value = &a->serves;
        else if (strcmp(arg, "--ready") == 0)
            value = &a->ready;
        else if (strcmp(arg, "--ready-timeout") == 0)
            value = &a->ready_timeout;
        else if (strcmp(arg, "--jobs") == 0 || strcmp(arg, "-j") == 0)
            value = &a->jobs;
        else if (strcmp(arg, "--format") == 0)
            value = &a->format;
        else if (strcmp(arg, "--ipv4") == 0)
            a->only_ipv4 = true;
        else if (strcmp(arg, "--ipv6") == 0)
            a->only_ipv6 = true;
        else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            run_usage(stdout);
            exit(0);
        } else if (arg[0] == '-') {
            fprintf(stderr, "wirecheck run: unknown option '%s'\n", arg);
            return false;
        } else if (a->ncases == MAX_CASES) {
            fprintf(stderr, "wirecheck run: too many cases (at most %d)\n", MAX_CASES);
            return false;
        } else {
            a->cases[a->ncases++] = arg;
        }
        if (value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "wirecheck run: %s needs a value\n", arg);
                return false;
            }
            *value = argv[++i];
        }
    }
    if (a->format && strcmp(a->format, "json") != 0 && strcmp(a->format, "text") != 0) {
        fprintf(stderr, "wirecheck run: --format '%s': text or json\n", a->format);
        return false;
    }
    a->json = a->format && strcmp(a->format, "json") == 0;
    if (a->only_ipv4 && a->only_ipv6) {
        fprintf(stderr, "wirecheck run: --ipv4 and --ipv6 exclude each other\n");
        return false;
    }
    const char *commands[2][2] = { { "--server", a->server }, { "--client", a->client } };
    for (int i = 0; i < 2; i++) {
        char bad[64];
        if (commands[i][1] && !command_check_placeholders(commands[i][1], bad, sizeof bad)) {
            fprintf(stderr, "wirecheck run: %s: unknown placeholder '%s' (known: %s; {{ is a "
                            "literal {)\n", commands[i][0], bad, COMMAND_PLACEHOLDERS);
            return false;
        }
    }
    enum case_service service;
    if (a->serves && !case_service_parse(a->serves, &service)) {
        fprintf(stderr, "wirecheck run: --serves '%s': one of %s\n", a->serves, CASE_SERVICES);
        return false;
    }
    if (a->ready && strcmp(a->ready, "port") != 0 && strcmp(a->ready, "line") != 0 &&
        strcmp(a->ready, "any") != 0) {
        fprintf(stderr, "wirecheck run: --ready '%s': port, line or any\n", a->ready);
        return false;
    }
    if (a->ready_timeout) {
        char *end;
        unsigned long v = strtoul(a->ready_timeout, &end, 10);
        if (!isdigit((unsigned char)a->ready_timeout[0]) || *end || v == 0 || v > 600000) {
            fprintf(stderr, "wirecheck run: --ready-timeout '%s': 1..600000 ms\n",
                    a->ready_timeout);
            return false;
        }
    }
    if (a->jobs) {
        char *end;
        unsigned long v = strtoul(a->jobs, &end, 10);
        if (!isdigit((unsigned char)a->jobs[0]) || *end || v == 0 || v > MAX_JOBS) {
            fprintf(stderr, "wirecheck run: --jobs '%s': 1..%d\n", a->jobs, MAX_JOBS);
            return false;
        }
    }
    return true;
}

static bool mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
            fprintf(stderr, "wirecheck run: mkdir %s: %s\n", tmp, strerror(errno));
            return false;
        }
        *s = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "wirecheck run: mkdir %s: %s\n", tmp, strerror(errno));
        return false;
    }
    return true;
}

/* ---- selecting cases ---------------------------------------------------- */

static int case_file_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".case") == 0;
}

/* The case file that could not be loaded, and why ("FILE:LINE: what"):
 * the JUnit file then holds an error testcase naming it. */
static char bad_case_file[PATH_MAX];
static char bad_case_error[1024];

static bool load_case(const char *path, struct selected_case *out)
{
    char err[1024];
    if (!case_parse_file(path, &out->spec, err, sizeof err)) {
        fprintf(stderr, "wirecheck: %s\n", err);
        if (!bad_case_file[0]) {
            snprintf(bad_case_file, sizeof bad_case_file, "%s", path);
            snprintf(bad_case_error, sizeof bad_case_error, "%s", err);
        }
        return false;
    }
    out->ipv4 = out->spec.ipv4;
    out->ipv6 = out->spec.ipv6;
    return true;
}

/* Every .case file in dir, in name order. Returns the count or -1. */
static int load_all_cases(const char *dir, struct selected_case *cases, size_t max)
{
    struct dirent **names;
    int n = scandir(dir, &names, case_file_filter, alphasort);
    if (n < 0) {
        fprintf(stderr, "wirecheck: scandir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int count = 0;
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (ok && (size_t)count < max)
            ok = load_case(path, &cases[count++]);
        free(names[i]);
    }
    free(names);
    return ok ? count : -1;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/NAME.case, with NAME the first name_len bytes of name. */
static bool case_path(char *buf, size_t size, const char *dir, const char *name, size_t name_len)
{
    int n = snprintf(buf, size, "%s/%.*s.case", dir, (int)name_len, name);
    return n > 0 && (size_t)n < size;
}

/* "time", "time-ipv6" or "path/to/x.case". */
static bool resolve_case(const char *arg, const char *dir, struct selected_case *out)
{
    char path[PATH_MAX];
    if (strchr(arg, '/') || file_exists(arg))
        return load_case(arg, out);
    size_t len = strlen(arg);
    if (dir && case_path(path, sizeof path, dir, arg, len) && file_exists(path))
        return load_case(path, out);
    if (dir && len > 5 && (strcmp(arg + len - 5, "-ipv4") == 0 || strcmp(arg + len - 5, "-ipv6") == 0)) {
        if (case_path(path, sizeof path, dir, arg, len - 5) && file_exists(path) && load_case(path, out)) {
            bool want4 = arg[len - 1] == '4';
            out->ipv4 = out->ipv4 && want4;
            out->ipv6 = out->ipv6 && !want4;
            return true;
        }
    }
    fprintf(stderr, "wirecheck run: no case '%s' (not a file, not in %s; see `wirecheck list`)\n",
            arg, dir ? dir : "the built-in case directory (not found)");
    return false;
}

/* ---- reporting ---------------------------------------------------------- */

/* Each line of text made printable (expect_printable: control bytes,
 * invalid UTF-8 and invisible characters as \xNN; what the runner already
 * made printable, program output with its NULs as \x00, reads the same),
 * with `indent` before it and a newline after it. */
static void print_lines(FILE *f, const char *text, const char *indent)
{
    static char line[4 * sizeof ((struct case_result *)0)->details + 1];
    for (const char *s = text; *s;) {
        size_t len = strcspn(s, "\n");
        expect_printable(s, len, line, sizeof line);
        fprintf(f, "%s%s\n", indent, line);
        s += len + (s[len] == '\n');
    }
}

static void print_result(const struct case_result *r)
{
    printf("%-28s %-5s %6u ms  %s\n", r->name, case_outcome_name(r->outcome), r->elapsed_ms,
           r->capture_path[0] ? r->capture_path : r->outcome == CASE_SKIP ? "(not run)"
                                                                          : "(no capture)");
    /* Indent each detail line under the case; what the programs printed is
     * among them, escaped so it cannot drive the terminal. */
    if (r->outcome != CASE_PASS && r->outcome != CASE_SKIP)
        print_lines(stdout, r->details, "    ");
    print_lines(stdout, r->notes, "    ");
    fflush(stdout);
}

/* XML 1.0 text: each line made printable (so only tab-free, control-free,
 * well-formed UTF-8 is left), the five specials as entities, and the two
 * noncharacters XML forbids (U+FFFE, U+FFFF) as \xNN; lines joined by
 * newlines. Always parses, whatever a program printed. */
static void xml_escaped(FILE *f, const char *text)
{
    static char line[4 * sizeof ((struct case_result *)0)->details + 1];
    for (const char *s = text; *s;) {
        size_t len = strcspn(s, "\n");
        expect_printable(s, len, line, sizeof line);
        for (const char *c = line; *c; c++) {
            const unsigned char *u = (const unsigned char *)c;
            switch (*c) {
            case '<': fputs("&lt;", f); break;
            case '>': fputs("&gt;", f); break;
            case '&': fputs("&amp;", f); break;
            case '"': fputs("&quot;", f); break;
            case '\'': fputs("&apos;", f); break;
            default:
                if (u[0] == 0xef && u[1] == 0xbf && (u[2] == 0xbe || u[2] == 0xbf)) {
                    fprintf(f, "\\xef\\xbf\\x%02x", u[2]);
                    c += 2;
                } else {
                    fputc(*c, f);
                }
            }
        }
        s += len;
        if (*s == '\n') {
            fputc('\n', f);
            s++;
        }
    }
}

/* The JUnit file, written whole or not at all (atomic_file). bad_file: a
 * case file that could not be loaded, reported as an error testcase. */
static bool write_junit(const char *path, const struct case_result *results, size_t n,
                        unsigned total_ms, const char *bad_file, const char *bad_error)
{
    struct atomic_file af;
    char err[PATH_MAX + 100];
    if (!atomic_file_create(&af, path, err, sizeof err)) {
        fprintf(stderr, "wirecheck run: %s\n", err);
        return false;
    }
    FILE *f = af.file;
    size_t failures = 0, errors = 0;
    size_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        failures += results[i].outcome == CASE_FAIL;
        errors += results[i].outcome == CASE_ERROR;
        skipped += results[i].outcome == CASE_SKIP;
    }
    bool bad = bad_file && bad_file[0];
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
               "  <testsuite name=\"wirecheck.conformance\" tests=\"%zu\" failures=\"%zu\" "
               "errors=\"%zu\" ", n + bad, failures, errors + bad);
    if (skipped)
        fprintf(f, "skipped=\"%zu\" ", skipped);
    fprintf(f, "time=\"%.3f\">\n", total_ms / 1000.0);
    if (bad) {
        fprintf(f, "    <testcase classname=\"wirecheck.conformance\" name=\"");
        xml_escaped(f, bad_file);
        fprintf(f, "\" time=\"0.000\">\n      <error message=\"");
        xml_escaped(f, bad_error);
        fprintf(f, "\">the case file could not be read: no case ran\n");
        xml_escaped(f, bad_error);
        fprintf(f, "</error>\n    </testcase>\n");
    }
    for (size_t i = 0; i < n; i++) {
        const struct case_result *r = &results[i];
        fprintf(f, "    <testcase classname=\"wirecheck.conformance\" name=\"");
        xml_escaped(f, r->name);
        fprintf(f, "\" time=\"%.3f\">\n", r->elapsed_ms / 1000.0);
        if (r->outcome == CASE_SKIP) {
            fprintf(f, "      <skipped message=\"");
            xml_escaped(f, r->details);
            fprintf(f, "\"/>\n");
        } else if (r->outcome != CASE_PASS) {
            const char *tag = r->outcome == CASE_FAIL ? "failure" : "error";
            fprintf(f, "      <%s message=\"%u of %u expectations not met\">", tag, r->unmet,
                    r->expectations);
            xml_escaped(f, r->details);
            fprintf(f, "</%s>\n", tag);
        }
        fprintf(f, "      <system-out>capture: ");
        xml_escaped(f, r->capture_path[0] ? r->capture_path : "(none)");
        if (r->notes[0]) {
            fputc('\n', f);
            xml_escaped(f, r->notes);
        }
        fprintf(f, "</system-out>\n    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    if (!atomic_file_commit(&af, err, sizeof err)) {
        fprintf(stderr, "wirecheck run: %s\n", err);
        return false;
    }
    return true;
}

/* Refuses an unwritable --junit path before any case runs: the temporary
 * the JUnit file is written through can be made in its directory, and the
 * path is not a directory. */
static bool junit_writable(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "wirecheck run: --junit %s: is a directory\n", path);
        return false;
    }
    struct atomic_file af;
    char err[PATH_MAX + 100];
    if (!atomic_file_create(&af, path, err, sizeof err)) {
        fprintf(stderr, "wirecheck run: --junit: %s\n", err);
        return false;
    }
    atomic_file_discard(&af);
    return true;
}

/* ---- --format json ----------------------------------------------------- */

/* A JSON array of the lines of text. */
static void json_lines(FILE *f, const char *text)
{
    fputc('[', f);
    char line[sizeof ((struct case_result *)0)->details];
    for (const char *s = text; *s;) {
        size_t len = strcspn(s, "\n");
        snprintf(line, sizeof line, "%.*s", (int)len, s);
        if (s != text)
            fputc(',', f);
        json_write_string(f, line);
        s += len + (s[len] == '\n');
    }
    fputc(']', f);
}

static const char *json_outcome(enum case_outcome o)
{
    switch (o) {
    case CASE_PASS: return "pass";
    case CASE_FAIL: return "fail";
    case CASE_ERROR: return "error";
    case CASE_SKIP: return "skip";
    }
    return "error";
}

static void json_flow(const struct flow_report *fr, void *ctx)
{
    report_flow_json(stdout, fr, ctx);
}

/* Every verdict of the case's capture, as `check --json` prints it (the
 * same judgement the run made: loss_injected from the case). */
static void json_verdicts(const struct case_result *r, const struct case_spec *c)
{
    if (!r->capture_path[0] || r->packets == 0)
        return;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(r->capture_path, err);
    if (!pc) {
        fprintf(stderr, "wirecheck run: %s: %s\n", r->capture_path, err);
        return;
    }
    struct analysis_options o;
    analysis_options_default(&o);
    o.loss_injected = c->loss_injected;
    o.on_flow_done = json_flow;
    o.ctx = (void *)r->name;
    struct analysis *a = analysis_create(&o);
    if (a) {
        uint32_t frames;
        capfile_feed(pc, a, 0, &frames);
        analysis_finish(a);
        analysis_destroy(a);
    }
    pcap_close(pc);
}

static void print_json_result(const struct case_result *r, const struct case_spec *c)
{
    FILE *f = stdout;
    const char *slash = strrchr(c->origin, '/');
    fputs("{\"case\":", f);
    json_write_string(f, r->name);
    fputs(",\"file\":", f);
    json_write_string(f, slash ? slash + 1 : c->origin);
    fprintf(f, ",\"outcome\":\"%s\",\"elapsed_ms\":%u,\"capture\":", json_outcome(r->outcome),
            r->elapsed_ms);
    json_write_string(f, r->capture_path);
    fprintf(f, ",\"packets\":%u,\"client_status\":%d,\"server_status\":%d,\"expectations\":%u,"
               "\"unmet\":%u,\"unmet_expectations\":[", r->packets, r->client_status,
            r->server_status, r->expectations, r->unmet);
    for (unsigned i = 0; i < r->nlisted; i++) {
        const struct case_expectation *e = &r->unmet_list[i];
        fprintf(f, "%s{\"line\":%u,\"expect\":", i ? "," : "", e->line);
        json_write_string(f, e->what);
        fputs(",\"expected\":", f);
        json_write_string(f, e->expected);
        fputs(",\"seen\":", f);
        json_write_string(f, e->seen);
        fputs(",\"frames\":[", f);
        for (unsigned k = 0; k < e->nframes; k++)
            fprintf(f, "%s%u", k ? "," : "", e->frames[k]);
        fputs("]}", f);
    }
    fputs("],\"details\":", f);
    json_lines(f, r->outcome == CASE_PASS ? "" : r->details);
    fputs(",\"notes\":", f);
    json_lines(f, r->notes);
    fputs("}\n", f);
    if (r->outcome != CASE_SKIP)
        json_verdicts(r, c);
    fflush(f);
}

/* ---- the commands ------------------------------------------------------- */

static int select_cases(const struct run_args *a, struct selected_case *cases)
{
    char dir[PATH_MAX];
    bool have_dir = wirecheck_cases_dir(dir, sizeof dir);
    if (a->ncases == 0) {
        if (!have_dir) {
            fprintf(stderr, "wirecheck run: built-in case directory not found "
                            "(set WIRECHECK_CASES_DIR or name .case files)\n");
            return -1;
        }
        return load_all_cases(dir, cases, MAX_CASES);
    }
    for (size_t i = 0; i < a->ncases; i++)
        if (!resolve_case(a->cases[i], have_dir ? dir : NULL, &cases[i]))
            return -1;
    return (int)a->ncases;
}

/* A case that relies on the reference program of a side --server/--client
 * replaces is not run: skipped, with the reason. */
static bool skip_for_replaced_side(const struct case_spec *c, int family,
                                   const struct run_options *o, struct case_result *r)
{
    bool server = c->reference_server && o->server_override && c->server[0];
    bool client = c->reference_client && o->client_override;
    if (!server && !client)
        return false;
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s-ipv%d", c->name, family);
    r->outcome = CASE_SKIP;
    r->client_status = r->server_status = -1;
    const char *slash = strrchr(c->origin, '/');
    case_result_add_note(r, "not run: the case relies on the reference %s (`reference %s` in %s: "
                         "a misbehaviour flag or its timing), which %s replaces",
                         server ? "server" : "client", server ? "server" : "client",
                         slash ? slash + 1 : c->origin, server ? "--server" : "--client");
    memcpy(r->details, r->notes, sizeof r->notes); /* the JUnit <skipped> message */
    return true;
}

static unsigned elapsed_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (unsigned)((now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000);
}

/* One run of the matrix: a case on one family, in matrix order. */
struct planned_run {
    const struct case_spec *spec;
    int family;
    bool done;       /* its result is final */
    bool runnable;   /* false: the environment could not run it (exit 2) */
};

static void on_signal(int sig)
{
    runner_note_signal(sig);
}

/* SIGINT/SIGTERM end the current cases cleanly (runner.h): handlers from
 * here on, inherited by every case process forked after this. */
static void catch_signals(struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
}

/* Twice the cores online: a case mostly waits (on its programs, on the
 * kernel's retransmission timers; the whole matrix uses about 0.5 s of CPU),
 * so cases beyond the core count still shorten the wall time, and the
 * cases that depend on timing keep their margins at this load (CASES.md). */
static unsigned default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > MAX_JOBS / 2 ? MAX_JOBS : (unsigned)(2 * n);
}

/* Runs plan[0..total) with at most `jobs` case processes at once, results
 * in results[i] for plan[i]; each result is printed as soon as it and every
 * earlier one are final, so the console is in matrix order whatever the
 * order they end in. Stops starting cases on an interruption or an
 * environment error (a case that could not run) and lets the running ones
 * end. Returns how many results were printed (a prefix of the plan). */
static size_t run_plan(struct planned_run *plan, size_t total, struct case_result *results,
                       const struct run_options *o, unsigned jobs, bool json)
{
    static struct runner_job running[MAX_JOBS];
    static size_t slot_of[MAX_JOBS]; /* plan index of running[k] */
    size_t nrunning = 0, next = 0, printed = 0;
    bool stop = false, forwarded = false;
    for (;;) {
        while (!stop && !runner_interrupted() && next < total && nrunning < jobs) {
            struct planned_run *p = &plan[next];
            struct case_result *r = &results[next];
            if (skip_for_replaced_side(p->spec, p->family, o, r)) {
                p->done = p->runnable = true;
            } else if (runner_start_case(p->spec, p->family, o, r, &running[nrunning])) {
                slot_of[nrunning++] = next;
            } else {
                p->done = true;
                p->runnable = false;
            }
            next++;
        }
        while (printed < next && plan[printed].done) {
            if (json)
                print_json_result(&results[printed], plan[printed].spec);
            else
                print_result(&results[printed]);
            if (!plan[printed].runnable)
                stop = true;
            printed++;
        }
        if (runner_interrupted() && !forwarded) {
            /* The terminal's SIGINT reached the case processes too; a kill
             * aimed at us alone did not: pass it on. */
            for (size_t k = 0; k < nrunning; k++)
                runner_job_signal(&running[k], runner_interrupted());
            forwarded = true;
        }
        if (nrunning == 0 && (stop || runner_interrupted() || next == total))
            return printed;

        struct pollfd fds[MAX_JOBS];
        int64_t now = process_now_ms(), until = INT64_MAX;
        for (size_t k = 0; k < nrunning; k++) {
            fds[k] = (struct pollfd){ .fd = runner_job_fd(&running[k]), .events = POLLIN };
            if (runner_job_deadline(&running[k]) < until)
                until = runner_job_deadline(&running[k]);
        }
        int timeout = until <= now ? 0 : until - now > INT32_MAX ? INT32_MAX : (int)(until - now);
        int rc = poll(fds, nrunning, timeout);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "wirecheck run: poll: %s\n", strerror(errno));
            timeout = 0; /* give every job up at its deadline */
        }
        now = process_now_ms();
        for (size_t k = 0; k < nrunning;) {
            bool over = (rc > 0 && fds[k].revents && runner_job_read(&running[k])) ||
                        now >= runner_job_deadline(&running[k]);
            if (!over) {
                k++;
                continue;
            }
            struct planned_run *p = &plan[slot_of[k]];
            p->runnable = runner_job_finish(&running[k]);
            p->done = true;
            nrunning--;
            running[k] = running[nrunning];
            fds[k] = fds[nrunning];
            slot_of[k] = slot_of[nrunning];
        }
    }
}

int cmd_run(int argc, char **argv)
{
    struct run_args a;
    if (!parse_run_args(argc, argv, &a)) {
        run_usage(stderr);
        return 2;
    }
    static struct selected_case cases[MAX_CASES];
    static struct case_result results[2 * MAX_CASES];
    static struct planned_run plan[2 * MAX_CASES];
    int ncases = select_cases(&a, cases);
    if (ncases < 0) {
        if (a.junit && bad_case_file[0])
            write_junit(a.junit, results, 0, 0, bad_case_file, bad_case_error);
        return 2;
    }
    if (!mkdir_p(a.out_dir))
        return 2;
    /* An unwritable --junit path is refused before any case runs. */
    if (a.junit && !junit_writable(a.junit))
        return 2;
    char bin_dir[PATH_MAX];
    wirecheck_programs_dir(bin_dir, sizeof bin_dir); /* false: PATH only */
    struct run_options o = { .out_dir = a.out_dir, .bin_dir = bin_dir,
                             .server_override = a.server, .client_override = a.client };
    o.ready = !a.ready || strcmp(a.ready, "any") == 0 ? READY_ANY
            : strcmp(a.ready, "port") == 0 ? READY_PORT : READY_LINE;
    o.ready_timeout_ms = a.ready_timeout ? (unsigned)strtoul(a.ready_timeout, NULL, 10) : 0;
    unsigned jobs = a.jobs ? (unsigned)strtoul(a.jobs, NULL, 10) : default_jobs();

    size_t total = 0;
    enum case_service service = SERVES_UNSET;
    if (a.serves)
        case_service_parse(a.serves, &service);
    for (int i = 0; i < ncases; i++) {
        if (a.serves && cases[i].spec.serves != service)
            continue;
        for (int family = 4; family <= 6; family += 2) {
            const struct selected_case *sc = &cases[i];
            bool wanted = family == 4 ? sc->ipv4 && !a.only_ipv6 : sc->ipv6 && !a.only_ipv4;
            if (wanted)
                plan[total++] = (struct planned_run){ .spec = &sc->spec, .family = family };
        }
    }

    struct sigaction old_actions[2];
    catch_signals(old_actions);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t n = run_plan(plan, total, results, &o, jobs, a.json);
    unsigned total_ms = elapsed_since(&start);
    sigaction(SIGINT, &old_actions[0], NULL);
    sigaction(SIGTERM, &old_actions[1], NULL);
    size_t passed = 0, failed = 0, skipped = 0;
    const struct case_result *cannot_run = NULL;
    for (size_t i = 0; i < n; i++) {
        passed += results[i].outcome == CASE_PASS;
        failed += results[i].outcome == CASE_FAIL;
        skipped += results[i].outcome == CASE_SKIP;
        if (!plan[i].runnable && !cannot_run)
            cannot_run = &results[i];
    }
    int sig = runner_interrupted();
    if (cannot_run && !sig) {
        fprintf(stderr, "wirecheck run: cannot run %s here: %s", cannot_run->name,
                cannot_run->details);
        if (a.junit)
            write_junit(a.junit, results, n, total_ms, NULL, NULL);
        return 2;
    }
    if (a.json) {
        printf("{\"summary\":true,\"cases\":%zu,\"passed\":%zu,\"failed\":%zu,\"errors\":%zu,"
               "\"skipped\":%zu,\"elapsed_ms\":%u,\"out\":", n, passed, failed,
               n - passed - failed - skipped, skipped, total_ms);
        json_write_string(stdout, a.out_dir);
        printf("}\n");
    } else if (skipped)
        printf("%zu cases: %zu passed, %zu failed, %zu skipped in %u ms; captures in %s\n", n,
               passed, failed, skipped, total_ms, a.out_dir);
    else
        printf("%zu cases: %zu passed, %zu failed in %u ms; captures in %s\n", n, passed, failed,
               total_ms, a.out_dir);
    fflush(stdout);
    bool junit_ok = !a.junit || write_junit(a.junit, results, n, total_ms, NULL, NULL);
    if (sig) {
        fprintf(stderr, "wirecheck run: interrupted by %s: %zu of %zu cases ran (those running "
                        "then were stopped, their captures written), %zu not run\n",
                runner_signal_name(sig), n, total, total - n);
        return 128 + sig;
    }
    if (!junit_ok)
        return 2;
    if (n == 0) {
        fprintf(stderr, "wirecheck run: no case selected (%s)\n",
                a.serves ? "no selected case has that --serves role?" : "family filter?");
        return 2;
    }
    return failed ? 1 : 0;
}

int cmd_list(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: wirecheck list\n");
        return 2;
    }
    char dir[PATH_MAX];
    if (!wirecheck_cases_dir(dir, sizeof dir)) {
        fprintf(stderr, "wirecheck list: built-in case directory not found (set WIRECHECK_CASES_DIR)\n");
        return 2;
    }
    static struct selected_case cases[MAX_CASES];
    int n = load_all_cases(dir, cases, MAX_CASES);
    if (n < 0)
        return 2;
    printf("Cases in %s:\n", dir);
    for (int i = 0; i < n; i++) {
        const struct case_spec *c = &cases[i].spec;
        char roles[64];
        snprintf(roles, sizeof roles, "%s%s%s", case_service_name(c->serves),
                 c->reference_server ? ", ref-server" : "", c->reference_client ? ", ref-client" : "");
        printf("  %-22s %-9s %-8s %-23s %s\n", c->name,
               c->ipv4 && c->ipv6 ? "ipv4+ipv6" : c->ipv4 ? "ipv4" : "ipv6",
               c->topology == NETNS_VETH ? "veth" : "loopback", roles, c->description);
    }
    printf("\nRoles: what the case's server serves (`wirecheck run --server CMD --serves ROLE`\n"
           "runs the cases your program fits); ref-server/ref-client: the case relies on the\n"
           "reference program of that side and is skipped when --server/--client replaces it.\n");
    printf("\nRules (for `expect RULE.ID VERDICT` lines):\n");
    for (int r = 0; r < RULE_COUNT; r++) {
        const struct rule_info *info = rule_get((enum rule_id)r);
        if (info)
            printf("  %-38s %s\n", info->id, info->summary);
    }
    return 0;
}
