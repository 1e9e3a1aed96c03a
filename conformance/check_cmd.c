/* `wirecheck check FILE...`: judge captures taken elsewhere.
 * Streams each file (pcap or pcapng, through libpcap) into an analysis and
 * prints each flow as soon as it is judged. Exit: 0 all rules passed,
 * 1 a rule failed, 2 usage or input error (the message names the file and,
 * where it applies, the frame). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "capfile.h"
#include "check_write.h"
#include "commands.h"
#include "report.h"

/* How `check` prints: the report at a level, or JSON lines. */
struct check_format {
    enum report_level level;
    bool json;
};

struct check_run {
    FILE *out;
    struct check_format fmt;
    const char *path;
    bool any_fail;
};

static void print_flow(const struct flow_report *r, void *ctx)
{
    struct check_run *run = ctx;
    for (size_t i = 0; i < r->nverdicts; i++)
        run->any_fail |= r->verdicts[i].kind == VERDICT_FAIL;
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
    fputs("usage: wirecheck check [--quiet|--verbose|--json] [--] FILE...\n"
          "       wirecheck check [--quiet|--verbose|--json] --write OUT.pcapng FILE\n"
          "Judges pcap/pcapng captures: per TCP connection and UDP flow, the handshake,\n"
          "data, teardown and checksum rules (see conformance/RULES.md).\n"
          "  --quiet    print only failures and the summary\n"
          "  --verbose  also print every packet and rules that do not apply\n"
          "  --json     instead of the report, one JSON object per verdict (every rule\n"
          "             evaluated, n/a included), one per line: {\"case\": FILE, \"flow\":\n"
          "             \"TCP a > b (frames 1-9)\" or \"capture\", \"rule\", \"verdict\": pass,\n"
          "             fail, info or n/a, \"text\", \"expected\", \"seen\", \"frames\": [...]}\n"
          "  --write OUT.pcapng  also write FILE's packets to OUT.pcapng with the verdicts\n"
          "             as packet comments, as `wirecheck run` does (every interface, link\n"
          "             type, section and timestamp kept; two passes over FILE, which must\n"
          "             be a file; see conformance/RULES.md, \"Packet comments\")\n"
          "Options may come anywhere among the files; after -- every argument is a file.\n"
          "Exit status: 0 all checks passed, 1 a check failed, 2 usage or input error.\n",
          to);
}

/* Returns 0, 1 or 2 for one file. */
static int check_file(const char *path, struct check_format fmt, FILE *out, FILE *err)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    /* libpcap reads each record with two fread()s through a BUFSIZ stdio
     * buffer: give it 1 MiB so a large file costs few read() calls. */
    FILE *fp = fopen(path, "rb");
    static char iobuf[1 << 20]; /* glibc ignores the size when buf is NULL */
    if (fp)
        setvbuf(fp, iobuf, _IOFBF, sizeof iobuf);
    pcap_t *pc = fp ? pcap_fopen_offline(fp, errbuf) : NULL;
    if (!fp)
        snprintf(errbuf, sizeof errbuf, "%s", strerror(errno));
    if (!pc) {
        if (fp)
            fclose(fp); /* pcap_fopen_offline leaves a file it rejected to the caller */
        fprintf(err, "wirecheck check: %s: cannot read capture: %s\n", path, errbuf);
        return 2;
    }
    int linktype = pcap_datalink(pc);
    if (!dissect_linktype_supported(linktype)) {
        const char *name = pcap_datalink_val_to_name(linktype);
        fprintf(err, "wirecheck check: %s: unsupported link type %d (%s)\n", path, linktype,
                name ? name : "unknown");
        pcap_close(pc);
        return 2;
    }

    struct check_run run = { out, fmt, path, false };
    enum report_level level = fmt.level;
    struct analysis_options opt;
    analysis_options_default(&opt);
    opt.payload_cap = 0; /* nobody asks `check` for payloads: keep memory small */
    /* Format what is printed (JSON prints every verdict). */
    opt.verdict_textless_kinds = fmt.json ? 0 : report_unprinted_kinds(level);
    opt.on_flow_done = print_flow;
    opt.on_packet = level == REPORT_VERBOSE && !fmt.json ? print_packet : NULL;
    opt.ctx = &run;
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
    if (sum.untracked_frames || sum.lost_reports) {
        /* Not every flow was judged: the capture did not pass. */
        fprintf(err, "wirecheck check: %s: out of memory: %" PRIu64 " frame(s) not judged, %"
                PRIu64 " flow report(s) lost\n", path, sum.untracked_frames, sum.lost_reports);
        status = 2;
    }
    analysis_destroy(a);
    pcap_close(pc);
    if (status == 0 && run.any_fail)
        status = 1;
    return status;
}

/* `check --write OUT FILE`: check_file's report, through check_write.c's
 * two passes (all interfaces and sections) instead of libpcap. */
static int check_file_write(const char *path, const char *write_path, struct check_format fmt,
                            FILE *out, FILE *err)
{
    struct check_run run = { out, fmt, path, false };
    struct check_write_options o = {
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
    const char *write_path = NULL;
    int nfiles = 0;
    bool done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (is_file_arg(arg, &done)) {
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
        } else if (strcmp(arg, "--write") == 0 || strncmp(arg, "--write=", 8) == 0) {
            write_path = arg[7] == '=' ? arg + 8 : i + 1 < argc ? argv[++i] : NULL;
            if (!write_path || !*write_path) {
                fprintf(err, "wirecheck check: --write needs an output file\n");
                return 2;
            }
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
    done = false;
    for (int i = 1; i < argc; i++) {
        if (!is_file_arg(argv[i], &done)) {
            i += strcmp(argv[i], "--write") == 0; /* its value is no file */
            continue;
        }
        int rc = write_path ? check_file_write(argv[i], write_path, fmt, out, err)
                            : check_file(argv[i], fmt, out, err);
        if (rc > worst)
            worst = rc;
    }
    return worst;
}

int cmd_check(int argc, char **argv)
{
    return check_command(argc, argv, stdout, stderr);
}
