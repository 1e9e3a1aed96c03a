/* `wirecheck check FILE...`: judge captures taken elsewhere.
 * Streams each file (pcap or pcapng, through libpcap) into an analysis and
 * prints each flow as soon as it is judged. Exit: 0 all rules passed,
 * 1 a rule failed, 2 usage or input error (the message names the file and,
 * where it applies, the frame). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis.h"
#include "capfile.h"
#include "check_feed.h"
#include "check_write.h"
#include "commands.h"
#include "report.h"

/* How `check` prints: the report at a level, or JSON lines. */
struct check_format {
    enum report_level level;
    bool json;
};

/* What `check` asks of the judge: --strict, --ignore, --only, --max-flows,
 * --jobs. */
struct check_policy {
    bool strict;
    uint64_t waived, only;   /* bit 1 << rule_id */
    size_t max_flows;
    unsigned jobs;
};

#define CHECK_MAX_JOBS 64

/* The cores this process may run on (--jobs' default). */
static unsigned cores_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set) > CHECK_MAX_JOBS ? CHECK_MAX_JOBS : (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > CHECK_MAX_JOBS ? CHECK_MAX_JOBS : (unsigned)n;
}

struct check_run {
    FILE *out;
    struct check_format fmt;
    const char *path;
    bool any_fail;
};

static void print_flow(const struct flow_report *r, void *ctx)
{
    struct check_run *run = ctx;
    run->any_fail |= r->verdict_counts[VERDICT_FAIL] != 0;
    if (run->fmt.json)
        report_flow_json(run->out, r, run->path);
    else
        report_flow(run->out, r, run->fmt.level);
}

static void print_packet(const struct packet *p, void *ctx)
{
    struct check_run *run = ctx;
    char line[512];
    report_packet_line(p, line, sizeof line);
    fprintf(run->out, "    %s\n", line);
}

static void usage(FILE *to)
{
    fputs("usage: wirecheck check [--quiet|--verbose|--json] [--strict] [--ignore RULE[,RULE]]\n"
          "                       [--only RULE[,RULE]] [--max-flows N] [--jobs N] [--] FILE...\n"
          "       wirecheck check [OPTIONS] --write OUT.pcapng FILE\n"
          "Judges pcap/pcapng captures: per TCP connection and UDP flow, the handshake,\n"
          "data, teardown and checksum rules (see conformance/RULES.md).\n"
          "  --quiet    print only failures and the summary\n"
          "  --verbose  also print every packet and rules that do not apply\n"
          "  --json     instead of the report, one JSON object per verdict (every rule\n"
          "             evaluated, n/a included), one per line: {\"case\": FILE, \"flow\":\n"
          "             \"TCP a > b (frames 1-9)\" or \"capture\", \"rule\", \"verdict\": pass,\n"
          "             fail, warn, info, waived or n/a, \"text\", \"expected\", \"seen\", \"frames\": [...]}\n"
          "  --strict   a warn (a SHOULD the capture does not follow) fails like a MUST\n"
          "  --ignore RULE[,RULE]  report these rules as waived (\"waived (was fail): ...\")\n"
          "  --only RULE[,RULE]    judge and report only these rules\n"
          "             (rule ids as `wirecheck list` and conformance/RULES.md name them)\n"
          "  --max-flows N  at most N flows open at once (default 524288): beyond, the one\n"
          "             idle longest is judged early, as incomplete, and counted\n"
          "  --jobs N   N threads in all (default: the cores available, at most 64):\n"
          "             one reads the file, N-1 judge the flows, sharded by address;\n"
          "             the same output as --jobs 1, in the same order, unless\n"
          "             --max-flows is reached with N > 2: each of the N-1 shards\n"
          "             then holds max-flows/(N-1) flows, and which flows are judged\n"
          "             early may differ\n"
          "Verdicts: fail where the RFC says MUST/MUST NOT, warn where it says SHOULD.\n"
          "FILE - reads standard input (a pipe: tcpdump -w - | wirecheck check -).\n"
          "  --write OUT.pcapng  also write FILE's packets to OUT.pcapng with the verdicts\n"
          "             as packet comments, as `wirecheck run` does (every interface, link\n"
          "             type, section and timestamp kept; two passes over FILE, which must\n"
          "             be a file; see conformance/RULES.md, \"Packet comments\")\n"
          "Options may come anywhere among the files; after -- every argument is a file.\n"
          "With several files, a last line sums them up (how many passed, failed, could\n"
          "not be judged).\n"
          "Exit status: 0 all checks passed (warnings allowed), 1 a check failed, 2 usage or\n"
          "input error, out of memory, or nothing in the capture could be judged, 3 (several\n"
          "files) a check failed in one file and another could not be judged.\n",
          to);
}

/* How long `check` waits for a writer on a FIFO before it gives up. */
#define FIFO_WAIT_MS 5000

/* Opens a capture for reading: "-" is stdin; a FIFO is opened without
 * blocking (open() of a FIFO waits for a writer, forever if none comes) and
 * must start delivering within FIFO_WAIT_MS. NULL with the reason in why. */
static FILE *open_capture(const char *path, char *why, size_t size)
{
    if (strcmp(path, "-") == 0)
        return stdin;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, size, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(why, size, "%s", strerror(EISDIR));
        close(fd);
        return NULL;
    }
    if (S_ISFIFO(st.st_mode)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, FIFO_WAIT_MS) <= 0 || !(p.revents & POLLIN)) {
            snprintf(why, size, "a FIFO with nothing written to it within %d ms", FIFO_WAIT_MS);
            close(fd);
            return NULL;
        }
    }
    /* Blocking reads from here on: libpcap's fread must not see EAGAIN. */
    FILE *fp = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!fp) {
        snprintf(why, size, "%s", strerror(errno));
        close(fd);
    }
    return fp;
}

/* Adds one file's counts to the total over all files. */
static void summary_add(struct analysis_summary *total, const struct analysis_summary *s)
{
    total->frames += s->frames;
    total->duplicates += s->duplicates;
    total->not_ip += s->not_ip;
    total->malformed += s->malformed;
    total->truncated += s->truncated;
    total->tcp_flows += s->tcp_flows;
    total->udp_flows += s->udp_flows;
    total->untracked_frames += s->untracked_frames;
    total->lost_reports += s->lost_reports;
    total->evicted_flows += s->evicted_flows;
    for (size_t k = 0; k < sizeof s->verdicts / sizeof s->verdicts[0]; k++)
        total->verdicts[k] += s->verdicts[k];
}

/* Returns 0, 1 or 2 for one file. */
static int check_file(const char *path, struct check_format fmt, const struct check_policy *pol,
                      struct analysis_summary *total,
                      FILE *out, FILE *err)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    /* libpcap reads each record with two fread()s through a BUFSIZ stdio
     * buffer: give it 1 MiB so a large file costs few read() calls. */
    FILE *fp = open_capture(path, errbuf, sizeof errbuf);
    static char iobuf[1 << 20]; /* glibc ignores the size when buf is NULL */
    if (fp)
        setvbuf(fp, iobuf, _IOFBF, sizeof iobuf);
    pcap_t *pc = fp ? pcap_fopen_offline(fp, errbuf) : NULL;
    if (!pc) {
        if (fp)
            fclose(fp); /* pcap_fopen_offline leaves a file it rejected to the caller */
        fprintf(err, "wirecheck check: %s: cannot read capture: %s\n", path, errbuf);
        return 2;
    }
    int linktype = pcap_datalink(pc);
    if (!dissect_linktype_supported(linktype)) {
        const char *name = pcap_datalink_val_to_name(linktype);
        fprintf(err, "wirecheck check: %s: unsupported link type %d (%s): only Ethernet-like "
                "and IP link types are judged\n", path, linktype, name ? name : "unknown");
        pcap_close(pc);
        return 2;
    }

    struct check_run run = { out, fmt, path, false };
    enum report_level level = fmt.level;
    struct analysis_options opt;
    analysis_options_default(&opt);
    opt.payload_cap = 0; /* nobody asks `check` for payloads: keep memory small */
    /* Format and keep what is printed (JSON prints every verdict); the rest
     * is only counted. */
    unsigned unprinted = fmt.json ? 0 : report_unprinted_kinds(level);
    opt.verdict_textless_kinds = opt.verdict_unkept_kinds = unprinted;
    opt.on_flow_done = print_flow;
    opt.on_packet = level == REPORT_VERBOSE && !fmt.json ? print_packet : NULL;
    opt.ctx = &run;
    opt.strict = pol->strict;
    opt.waived_rules = pol->waived;
    opt.only_rules = pol->only;
    opt.max_flows = pol->max_flows;
    opt.jobs = pol->jobs; /* the judge runs one thread for --verbose */
    if (pol->strict) /* a warn becomes a fail: keep its text wherever fails are printed */
        opt.verdict_textless_kinds &= ~(1u << VERDICT_WARN);
    struct analysis *a = analysis_create(&opt);
    if (!a) {
        fprintf(err, "wirecheck check: %s: out of memory\n", path);
        pcap_close(pc);
        return 2;
    }
    if (level != REPORT_QUIET && !fmt.json)
        fprintf(out, "%s: link type %s\n", path, dissect_linktype_name(linktype));

    int status = 0;
    uint32_t frame;
    int rc = capfile_feed(pc, a, 0, &frame);
    if (rc == PCAP_ERROR && strcmp(path, "-") != 0) {
        /* libpcap 1.10 stops at a pcapng interface whose link type differs
         * from the first one's; the judge's block reader goes on from there. */
        struct check_feed f = { .path = path, .header = level != REPORT_QUIET && !fmt.json,
                                .out = out, .err = err, .resume_after = frame,
                                .resume_on_link_change = true };
        int resumed = check_feed_interfaces(&f, a);
        if (resumed != CHECK_FEED_NOT_A_LINK_CHANGE) {
            frame = f.frames;
            rc = PCAP_ERROR_BREAK;
            if (resumed != 0)
                status = 2; /* check_feed said why */
        }
    }
    if (rc == PCAP_ERROR) {
        fprintf(err, "wirecheck check: %s: unreadable after frame %u (reading frame %u): %s\n",
                path, frame, frame + 1, pcap_geterr(pc));
        status = 2;
    } else if (frame == 0) {
        fprintf(err, "wirecheck check: %s: the capture holds no packets\n", path);
        status = 2;
    }
    analysis_finish(a);
    struct analysis_summary sum;
    analysis_get_summary(a, &sum);
    if (!fmt.json)
        report_summary(out, path, &sum);
    summary_add(total, &sum);
    if (sum.untracked_frames || sum.lost_reports) {
        /* Not every flow was judged: the capture did not pass. */
        fprintf(err, "wirecheck check: %s: out of memory at frame %u: %" PRIu64
                " frame(s) not judged, %" PRIu64 " flow report(s) lost\n", path, sum.oom_frame,
                sum.untracked_frames, sum.lost_reports);
        status = 2;
    } else if (status == 0 && !run.any_fail && sum.tcp_flows + sum.udp_flows == 0) {
        /* Nothing judged is not a pass: say what could not be. */
        fprintf(err, "wirecheck check: %s: nothing judged: no TCP or UDP flow in %" PRIu64
                " frame(s) (%" PRIu64 " cut by the snapshot length before their headers, %"
                PRIu64 " not IP, %" PRIu64 " malformed, %" PRIu64 " capture duplicate(s), the rest"
                " other IP protocols)\n", path, sum.frames, sum.truncated, sum.not_ip,
                sum.malformed, sum.duplicates);
        status = 2;
    }
    analysis_destroy(a);
    pcap_close(pc);
    if (status == 0 && run.any_fail)
        status = 1;
    return status;
}

/* Does option `arg` take the next argument as its value? */
static bool takes_value(const char *arg)
{
    return strcmp(arg, "--ignore") == 0 || strcmp(arg, "--only") == 0 ||
           strcmp(arg, "--max-flows") == 0 || strcmp(arg, "--jobs") == 0 ||
           strcmp(arg, "--write") == 0;
}

/* "tcp.no_rst,tcp.handshake.mss" into *rules (bit 1 << rule_id); false,
 * naming the unknown id on err, if one is not a rule. */
static bool parse_rules(const char *opt, const char *list, uint64_t *rules, FILE *err)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf) {
        fprintf(err, "wirecheck check: %s: rule list too long\n", opt);
        return false;
    }
    for (char *save = NULL, *id = strtok_r(buf, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        int r = rule_lookup(id);
        if (r < 0) {
            fprintf(err, "wirecheck check: %s: unknown rule '%s' (`wirecheck list` names them)\n",
                    opt, id);
            return false;
        }
        *rules |= UINT64_C(1) << r;
    }
    return true;
}

/* Parses the value of --ignore/--only/--max-flows/--jobs; false on a bad one. */
static bool parse_value(const char *opt, const char *value, struct check_policy *pol, FILE *err)
{
    if (!value) {
        fprintf(err, "wirecheck check: %s needs a value\n", opt);
        return false;
    }
    if (strcmp(opt, "--ignore") == 0)
        return parse_rules(opt, value, &pol->waived, err);
    if (strcmp(opt, "--only") == 0)
        return parse_rules(opt, value, &pol->only, err);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(value, &end, 10);
    if (strcmp(opt, "--jobs") == 0) {
        if (errno || *end || end == value || value[0] == '-' || n == 0 || n > CHECK_MAX_JOBS) {
            fprintf(err, "wirecheck check: --jobs: '%s' is not a number from 1 to %d\n", value,
                    CHECK_MAX_JOBS);
            return false;
        }
        pol->jobs = (unsigned)n;
        return true;
    }
    if (errno || *end || end == value || value[0] == '-' || n == 0 || n > SIZE_MAX) {
        fprintf(err, "wirecheck check: --max-flows: '%s' is not a positive number\n", value);
        return false;
    }
    pol->max_flows = (size_t)n;
    return true;
}

/* `check --write OUT FILE`: check_file's report, through check_write.c's
 * two passes (all interfaces and sections) instead of libpcap. */
static int check_file_write(const char *path, const char *write_path, struct check_format fmt,
                            const struct check_policy *pol, FILE *out, FILE *err)
{
    struct check_run run = { out, fmt, path, false };
    struct check_write_options o = {
        .strict = pol->strict, .waived_rules = pol->waived, .only_rules = pol->only,
        .max_flows = pol->max_flows,
        .in_path = path, .out_path = write_path, .on_flow_done = print_flow,
        .on_packet = fmt.level == REPORT_VERBOSE && !fmt.json ? print_packet : NULL,
        .ctx = &run, .header = fmt.level != REPORT_QUIET && !fmt.json, .summary = !fmt.json,
        .out = out, .err = err,
    };
    int status = check_write_file(&o);
    if (status == 0 && run.any_fail)
        status = 1;
    return status;
}

/* Is argv[i] a file (not an option)? `*done` tracks "--". */
static bool is_file_arg(const char *arg, bool *done)
{
    if (*done || arg[0] != '-' || arg[1] == '\0')
        return true; /* a lone "-" is a file name too */
    if (strcmp(arg, "--") == 0)
        *done = true;
    return false;
}

int check_command(int argc, char **argv, FILE *out, FILE *err)
{
    /* Options may come anywhere among the files (`check a.pcap --quiet
     * b.pcap`) and apply to all of them; after "--" every argument is a
     * file, even one named "--quiet". */
    struct check_format fmt = { REPORT_NORMAL, false };
    struct check_policy pol = { .max_flows = ANALYSIS_DEFAULT_MAX_FLOWS, .jobs = cores_available() };
    const char *write_path = NULL;
    int nfiles = 0;
    bool done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!done && (strcmp(arg, "--write") == 0 || strncmp(arg, "--write=", 8) == 0)) {
            write_path = arg[7] == '=' ? arg + 8 : i + 1 < argc ? argv[++i] : NULL;
            if (!write_path || !*write_path) {
                fprintf(err, "wirecheck check: --write needs an output file\n");
                return 2;
            }
        } else if (!done && takes_value(arg)) {
            if (!parse_value(arg, i + 1 < argc ? argv[i + 1] : NULL, &pol, err)) {
                usage(err);
                return 2;
            }
            i++;
        } else if (is_file_arg(arg, &done)) {
            nfiles++;
        } else if (strcmp(arg, "--") == 0) {
            continue;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(out);
            return 0;
        } else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
            fmt.level = REPORT_QUIET;
        } else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) {
            fmt.level = REPORT_VERBOSE;
        } else if (strcmp(arg, "--json") == 0) {
            fmt.json = true;
        } else if (strcmp(arg, "--strict") == 0) {
            pol.strict = true;
        } else {
            fprintf(err, "wirecheck check: unknown option '%s'\n", arg);
            usage(err);
            return 2;
        }
    }
    if (nfiles == 0) {
        fprintf(err, "wirecheck check: no capture file given\n");
        usage(err);
        return 2;
    }
    if (write_path && nfiles != 1) {
        fprintf(err, "wirecheck check: --write takes exactly one capture file (%d given)\n",
                nfiles);
        return 2;
    }
    int worst = 0;
    unsigned by_status[3] = {0, 0, 0}; /* files that passed, failed a check, could not be judged */
    struct analysis_summary total = {0};
    done = false;
    for (int i = 1; i < argc; i++) {
        if (!done && takes_value(argv[i])) {
            i++;
            continue;
        }
        if (!is_file_arg(argv[i], &done))
            continue;
        int rc = write_path ? check_file_write(argv[i], write_path, fmt, &pol, out, err)
                            : check_file(argv[i], fmt, &pol, &total, out, err);
        by_status[rc]++;
        if (rc > worst)
            worst = rc;
    }
    if (nfiles > 1 && !fmt.json) {
        char name[96];
        snprintf(name, sizeof name, "all %d files (%u passed, %u failed, %u not judged)", nfiles,
                 by_status[0], by_status[1], by_status[2]);
        report_summary(out, name, &total);
    }
    /* A check that failed in one file and another file that could not be
     * judged: neither 1 nor 2 alone says it. */
    return by_status[1] && by_status[2] ? 3 : worst;
}

int cmd_check(int argc, char **argv)
{
    return check_command(argc, argv, stdout, stderr);
}
