/* case_capture: a case's capture with its comments, as pcapng. See case_capture.h. */
#include "case_capture.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "atomic_file.h"
#include "pcapng.h"

#define COMMENT_MAX 4096

/* Splits a multi-line comment into one pcapng comment per line. */
static size_t split_lines(char *text, const char **lines, size_t max)
{
    size_t n = 0;
    for (char *s = text; *s && n < max;) {
        lines[n++] = s;
        char *nl = strchr(s, '\n');
        if (!nl)
            break;
        *nl = '\0';
        s = nl + 1;
    }
    return n;
}

#define LINES_MAX 64 /* comment lines on one packet */
#define SECTION_MAX 40 /* comment lines in the section header */
#define OPT_COMMENT 1
#define OPT_SHB_USERAPPL 4

static uint16_t option_len(const char *s)
{
    size_t n = strlen(s);
    return (uint16_t)(n > 65532 ? 65532 : n);
}

/* The section header: the application, the case line and the lines saying
 * why it failed. */
static void write_section(struct pcapng_writer *w, const struct case_capture_comments *cc)
{
    static const char application[] = "wirecheck run";
    struct pcapng_option opts[2 + SECTION_MAX];
    size_t n = 0;
    opts[n++] = (struct pcapng_option){ OPT_SHB_USERAPPL, option_len(application), application };
    if (cc->summary)
        opts[n++] = (struct pcapng_option){ OPT_COMMENT, option_len(cc->summary), cc->summary };
    for (size_t i = 0; i < cc->nsection && n < 2 + SECTION_MAX; i++)
        if (cc->section[i])
            opts[n++] = (struct pcapng_option){ OPT_COMMENT, option_len(cc->section[i]),
                                                cc->section[i] };
    pcapng_write_section(w, opts, n);
}

bool case_capture_write(const char *path, const struct capture *cap, const char *ifname,
                        const struct case_capture_comments *cc, const struct analysis *a,
                        char *err, size_t errlen)
{
    char why[600];
    struct atomic_file af;
    if (!atomic_file_create(&af, path, err, errlen))
        return false;
    struct pcapng_writer w;
    pcapng_writer_init(&w, af.file);
    write_section(&w, cc);
    int ifid = pcapng_add_interface(&w, (uint16_t)cap->linktype, cap->snaplen, ifname);
    static char comment[COMMENT_MAX];
    for (size_t i = 0; i < cap->count && ifid >= 0; i++) {
        const struct captured_packet *p = &cap->packets[i];
        uint32_t frame = (uint32_t)(i + 1);
        const char *lines[LINES_MAX];
        size_t n = 0;
        if (i == 0 && cc->summary)
            lines[n++] = cc->summary;
        if (a && analysis_frame_comment(a, frame, comment, sizeof comment) > 0)
            n += split_lines(comment, lines + n, LINES_MAX - n);
        for (size_t k = 0; k < cc->nlines && n < LINES_MAX; k++) {
            uint32_t f = cc->lines[k].frame;
            if (f == 0 || f > cap->count)
                f = 1;
            if (f == frame && cc->lines[k].text)
                lines[n++] = cc->lines[k].text;
        }
        pcapng_write_packet(&w, (uint32_t)ifid, p->ts_usec, p->data, p->caplen, p->wirelen, lines, n);
    }
    if (!pcapng_writer_close(&w, why, sizeof why)) {
        snprintf(err, errlen, "write %s: %s", path, why);
        atomic_file_discard(&af);
        return false;
    }
    return atomic_file_commit(&af, err, errlen);
}
