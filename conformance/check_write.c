/* check --write: see check_write.h. */
#include "check_write.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "capfile.h"
#include "check_feed.h"
#include "comment_spill.h"
#include "pcapng.h"
#include "report.h"
#include "rules.h"

#define APPLICATION "wirecheck check --write"
#define MAX_COMMENTS 256

struct pass1 {
    const struct check_write_options *o;
    struct comment_spill *spill;
};

static void flow_done(const struct flow_report *r, void *ctx)
{
    struct pass1 *p = ctx;
    comment_spill_add(p->spill, r); /* a failure is sticky: reported after the pass */
    if (p->o->on_flow_done)
        p->o->on_flow_done(r, p->o->ctx);
}

static void packet_seen(const struct packet *pk, void *ctx)
{
    struct pass1 *p = ctx;
    p->o->on_packet(pk, p->o->ctx);
}

/* Is this comment line one wirecheck writes (so a new one replaces it)? */
static bool is_our_line(const uint8_t *s, size_t len)
{
    static const char *const prefixes[] = { "wirecheck case ", "capture duplicate of frame " };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (len >= n && memcmp(s, prefixes[i], n) == 0)
            return true;
    }
    char id[64];
    size_t n = 0;
    while (n < len && n < sizeof id - 1 && s[n] != ':')
        n++;
    if (n == len || n + 1 >= len || s[n + 1] != ' ' || n >= sizeof id - 1)
        return false;
    memcpy(id, s, n);
    id[n] = '\0';
    return rule_lookup(id) >= 0;
}

/* Pass 1: judge. Returns 0, 2, or 3 when nothing was read. */
static int judge(const struct check_write_options *o, struct analysis *a, uint32_t *frames)
{
    struct check_feed f = { .path = o->in_path, .header = o->header, .out = o->out, .err = o->err };
    int status = check_feed_interfaces(&f, a);
    *frames = f.frames;
    if (status != 0)
        return status;
    if (f.frames == 0) {
        fprintf(o->err, "wirecheck check: %s: the capture holds no packets\n", o->in_path);
        return 2;
    }
    if (f.fed == 0) {
        fprintf(o->err, "wirecheck check: %s: no frame on an interface of a supported link "
                "type\n", o->in_path);
        return 2;
    }
    return 0;
}

struct pass2 {
    struct pcapng_writer w;
    struct pcapng_option opts[MAX_COMMENTS + 8];
    size_t nopts;
};

static void add_opt(struct pass2 *p, uint16_t code, size_t len, const void *value)
{
    if (p->nopts < sizeof p->opts / sizeof p->opts[0])
        p->opts[p->nopts++] = (struct pcapng_option){ code, (uint16_t)(len > 0xFFFC ? 0xFFFC : len),
                                                      value };
}

static void copy_options(struct pass2 *p, const struct capfile_record *rec, bool drop_ours)
{
    p->nopts = 0;
    for (size_t i = 0; i < rec->noptions; i++) {
        const struct capfile_option *c = &rec->options[i];
        if (drop_ours && c->code == 1 && is_our_line(c->value, c->len))
            continue;
        add_opt(p, c->code, c->len, c->value);
    }
}

/* Adds one opt_comment per line of text (modified in place). */
static void add_comment_lines(struct pass2 *p, char *text)
{
    for (char *s = text; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        add_opt(p, 1, strlen(s), s);
        s = nl ? nl + 1 : NULL;
    }
}

/* Pass 2: copy with comments. Returns 0 or 2. */
static int write_out(const struct check_write_options *o, const struct analysis *a,
                     struct comment_spill *spill)
{
    char err[1300];
    struct capfile_reader *r = capfile_open(o->in_path, err, sizeof err);
    if (!r) {
        fprintf(o->err, "wirecheck check: %s (second pass)\n", err);
        return 2;
    }
    struct atomic_file af;
    if (!atomic_file_create(&af, o->out_path, err, sizeof err)) {
        fprintf(o->err, "wirecheck check: --write: %s\n", err);
        capfile_close(r);
        return 2;
    }
    static struct pass2 p;
    pcapng_writer_init(&p.w, af.file);
    static char dup[512];
    bool section_open = false;
    struct capfile_record rec;
    int rc;
    while ((rc = capfile_next(r, &rec)) == 1) {
        switch (rec.kind) {
        case CAPFILE_SECTION: {
            copy_options(&p, &rec, false);
            bool has_app = false;
            for (size_t i = 0; i < p.nopts; i++)
                has_app |= p.opts[i].code == 4;
            if (!has_app)
                add_opt(&p, 4, strlen(APPLICATION), APPLICATION);
            pcapng_write_section(&p.w, p.opts, p.nopts);
            section_open = true;
            break;
        }
        case CAPFILE_INTERFACE:
            if (!section_open) { /* classic pcap: one section of ours */
                struct pcapng_option app = { 4, (uint16_t)strlen(APPLICATION), APPLICATION };
                pcapng_write_section(&p.w, &app, 1);
                section_open = true;
            }
            copy_options(&p, &rec, false);
            pcapng_add_interface_options(&p.w, rec.iface->linktype, rec.iface->snaplen, p.opts,
                                         p.nopts);
            break;
        case CAPFILE_PACKET: {
            copy_options(&p, &rec, true);
            char *text = NULL;
            if (analysis_frame_comment(a, rec.frame, dup, sizeof dup) > 0)
                text = dup; /* a capture duplicate: not judged, no verdicts */
            else
                text = (char *)(uintptr_t)comment_spill_get(spill, rec.frame);
            add_comment_lines(&p, text);
            pcapng_write_packet_options(&p.w, rec.interface, rec.ts_ticks, rec.data, rec.caplen,
                                        rec.wirelen, p.opts, p.nopts);
            break;
        }
        }
        if (p.w.failed)
            break;
    }
    int status = 0;
    if (rc < 0) {
        fprintf(o->err, "wirecheck check: %s (second pass)\n", capfile_error(r));
        status = 2;
    } else if (comment_spill_failed(spill)) {
        fprintf(o->err, "wirecheck check: --write: %s\n", comment_spill_error(spill));
        status = 2;
    }
    capfile_close(r);
    char why[600];
    if (!pcapng_writer_close(&p.w, why, sizeof why) && status == 0) {
        fprintf(o->err, "wirecheck check: --write %s: %s\n", o->out_path, why);
        status = 2;
    }
    if (status != 0) {
        atomic_file_discard(&af);
        return status;
    }
    if (!atomic_file_commit(&af, err, sizeof err)) {
        fprintf(o->err, "wirecheck check: --write: %s\n", err);
        return 2;
    }
    return 0;
}

int check_write_file(const struct check_write_options *o)
{
    char err[600];
    struct pass1 p1 = { o, comment_spill_create(err, sizeof err) };
    if (!p1.spill) {
        fprintf(o->err, "wirecheck check: --write: %s\n", err);
        return 2;
    }
    struct analysis_options opt;
    analysis_options_default(&opt);
    opt.payload_cap = 0;
    opt.annotate = true;
    opt.strict = o->strict;
    opt.waived_rules = o->waived_rules;
    opt.only_rules = o->only_rules;
    opt.max_flows = o->max_flows;
    opt.on_flow_done = flow_done;
    opt.on_packet = o->on_packet ? packet_seen : NULL;
    opt.ctx = &p1;
    struct analysis *a = analysis_create(&opt);
    if (!a) {
        fprintf(o->err, "wirecheck check: %s: out of memory\n", o->in_path);
        comment_spill_free(p1.spill);
        return 2;
    }
    uint32_t frames = 0;
    int status = judge(o, a, &frames);
    analysis_finish(a);
    struct analysis_summary sum;
    analysis_get_summary(a, &sum);
    if (o->summary && status != 3)
        report_summary(o->out, o->in_path, &sum);
    if (status == 3)
        status = 2;
    if (sum.untracked_frames || sum.lost_reports) {
        fprintf(o->err, "wirecheck check: %s: out of memory: %" PRIu64 " frame(s) not judged, %"
                PRIu64 " flow report(s) lost\n", o->in_path, sum.untracked_frames,
                sum.lost_reports);
        status = 2;
    }
    if (status == 0 && !comment_spill_finish(p1.spill)) {
        fprintf(o->err, "wirecheck check: --write: %s\n", comment_spill_error(p1.spill));
        status = 2;
    }
    if (status == 0)
        status = write_out(o, a, p1.spill);
    analysis_destroy(a);
    comment_spill_free(p1.spill);
    return status;
}
